import { describe, expect, it } from 'vitest';
import {
  accumulate,
  buildHistoricalAverage,
  decodeHistoricalAverage,
  encodeHistoricalAverage,
  historicalAverageForecast,
  historicalMean,
} from '../../twin/forecast/HistoricalAverage.ts';
import { persistenceForecast } from '../../twin/forecast/Persistence.ts';
import { advance, fillMissing, makeSeries, sliceRows, splitChronological, timeOfRow } from '../../twin/forecast/series.ts';

// A tiny grid: 6-hour steps = 4 slots a day, starting on a Monday at midnight.
const grid = { stepMinutes: 360, startDayOfWeek: 0, startSlot: 0 };

/** Two sensors; sensor a = 10·day + slot, sensor b = 100 + slot. */
function series(days: number) {
  const v: number[] = [];
  for (let d = 0; d < days; d++) for (let s = 0; s < 4; s++) v.push(10 * (d + 1) + s, 100 + s);
  return makeSeries(['a', 'b'], grid, Float32Array.from(v));
}

describe('time grid', () => {
  it('gives slot and weekday of rows and advances over midnight and the week', () => {
    expect(timeOfRow(grid, 0)).toEqual({ slot: 0, dayOfWeek: 0 });
    expect(timeOfRow(grid, 9)).toEqual({ slot: 1, dayOfWeek: 2 });
    expect(timeOfRow({ ...grid, startDayOfWeek: 6, startSlot: 3 }, 1)).toEqual({ slot: 0, dayOfWeek: 0 });
    expect(advance({ slot: 3, dayOfWeek: 6 }, 2, 4)).toEqual({ slot: 1, dayOfWeek: 0 });
    const part = sliceRows(series(3), 5, 9);
    expect(timeOfRow(part.grid, 0)).toEqual({ slot: 1, dayOfWeek: 1 });
    expect(Array.from(part.values.subarray(0, 2))).toEqual([21, 101]);
    const { train, test } = splitChronological(series(5), 0.8);
    expect([train.rows, test.rows]).toEqual([16, 4]);
  });

  it('fills missing readings from the previous one (the first from the next one)', () => {
    const s = makeSeries(['a'], grid, Float32Array.from([0, 50, NaN, -1, 40]));
    expect(Array.from(fillMissing(s).values)).toEqual([50, 50, 50, 50, 40]);
  });
});

describe('persistence', () => {
  it('forecasts the last valid reading of each sensor', () => {
    // rows × sensors, oldest first; sensor 1's last reading is a zero-speed glitch.
    const window = Float32Array.from([50, 60, 52, 61, 54, 0]);
    expect(Array.from(persistenceForecast(window, 2))).toEqual([54, 61]);
    expect(Number.isNaN(persistenceForecast(Float32Array.from([0, 0]), 1)[0])).toBe(true);
  });
});

describe('historical average', () => {
  it('averages by weekday and time of day, falling back to time of day for a weekday without history', () => {
    const ha = buildHistoricalAverage(series(3)); // Monday, Tuesday, Wednesday
    // Tuesday slot 2: only day 2 → a = 22.
    expect(Array.from(historicalAverageForecast(ha, { dayOfWeek: 1, slot: 2 }))).toEqual([22, 102]);
    // Friday has no history: time of day over all days: a = (12 + 22 + 32) / 3.
    expect(Array.from(historicalAverageForecast(ha, { dayOfWeek: 4, slot: 2 }))).toEqual([22, 102]);
    expect(historicalAverageForecast(ha, { dayOfWeek: 4, slot: 1 })[0]).toBeCloseTo((11 + 21 + 31) / 3, 5);
    // Weekday/weekend level: a Saturday query sees no weekend history.
    const out = new Float32Array(2);
    historicalMean(ha, 'dayType', { dayOfWeek: 5, slot: 0 }, out);
    expect(Number.isNaN(out[0])).toBe(true);
    historicalMean(ha, 'dayType', { dayOfWeek: 2, slot: 0 }, out);
    expect(out[0]).toBeCloseTo(20, 5);
  });

  it('falls back per sensor and per slot, and ignores missing readings', () => {
    const v = Float32Array.from([10, 0, 20, NaN, 30, 7, 40, 8]); // 1 day, sensors a, b
    const ha = buildHistoricalAverage(makeSeries(['a', 'b'], grid, v));
    // b has no valid reading at slots 0 and 1: falls back to its overall mean (7 + 8) / 2.
    expect(Array.from(historicalAverageForecast(ha, { dayOfWeek: 0, slot: 0 }))).toEqual([10, 7.5]);
    expect(Array.from(historicalAverageForecast(ha, { dayOfWeek: 3, slot: 3 }))).toEqual([40, 8]);
  });

  it('leaves a row out of its own average', () => {
    const ha = buildHistoricalAverage(series(3));
    const out = new Float32Array(2);
    // Tuesday slot 0 (a = 20) left out: the remaining weekday rows at slot 0 are 10 and 30.
    historicalMean(ha, 'timeOfDay', { dayOfWeek: 1, slot: 0 }, out, Float32Array.from([20, 100]));
    expect(Array.from(out)).toEqual([20, 100]);
    historicalMean(ha, 'dayOfWeek', { dayOfWeek: 1, slot: 0 }, out, Float32Array.from([20, 100]));
    expect(Number.isNaN(out[0])).toBe(true);
  });

  it('updates incrementally to the same sums as a batch build, and round-trips its stored form', () => {
    const all = series(5);
    const batch = buildHistoricalAverage(all);
    const incremental = accumulate(buildHistoricalAverage(sliceRows(all, 0, 7)), sliceRows(all, 7, all.rows));
    expect(Array.from(incremental.sum)).toEqual(Array.from(batch.sum));
    expect(Array.from(incremental.count)).toEqual(Array.from(batch.count));
    const restored = decodeHistoricalAverage(JSON.parse(JSON.stringify(encodeHistoricalAverage(batch))));
    expect(Array.from(restored.sum)).toEqual(Array.from(batch.sum));
    expect(Array.from(restored.count)).toEqual(Array.from(batch.count));
  });
});
