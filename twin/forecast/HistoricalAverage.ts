/**
 * Historical-average baseline: the mean reading of each sensor at the same time of day, on the
 * same day of the week. Where that weekday has no history at that slot (e.g. a service only a
 * few days old) it falls back to the same time of day over all days, then to the sensor's mean.
 *
 * Kept as running sums and counts per (day of week, slot, sensor) so it updates incrementally as
 * data arrives and the coarser levels (weekday/weekend, all days) are derived, not stored.
 * Sums are Float32 so that the stored form round-trips exactly.
 */
import { z } from 'zod';
import { isValidReading, isWeekend, slotsPerDay, timeOfRow, type SensorSeries, type SlotTime } from './series.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';

export interface HistoricalAverage {
  readonly slotsPerDay: number;
  readonly sensorCount: number;
  /** [dayOfWeek][slot][sensor] sums of valid readings. */
  readonly sum: Float32Array;
  /** [dayOfWeek][slot][sensor] counts of valid readings. */
  readonly count: Uint16Array;
}

/** Aggregation levels, finest first. `dayType` groups Monday–Friday and Saturday–Sunday. */
export type HistoryLevel = 'dayOfWeek' | 'dayType' | 'timeOfDay';

export function emptyHistoricalAverage(slots: number, sensorCount: number): HistoricalAverage {
  const size = 7 * slots * sensorCount;
  return { slotsPerDay: slots, sensorCount, sum: new Float32Array(size), count: new Uint16Array(size) };
}

/** A new average with every valid reading of `series` added (the input is not modified). */
export function accumulate(ha: HistoricalAverage, series: SensorSeries): HistoricalAverage {
  const copy = { slotsPerDay: ha.slotsPerDay, sensorCount: ha.sensorCount, sum: ha.sum.slice(), count: ha.count.slice() };
  addReadings(copy, series);
  return copy;
}

/**
 * Adds every valid reading of `series` to `ha` itself: for an owner that appends a row at a
 * time to a large average (a live service), where copying every cell per row would dominate.
 */
export function addReadings(ha: HistoricalAverage, series: SensorSeries): void {
  const n = ha.sensorCount;
  if (series.sensors.length !== n) throw new Error('accumulate: sensor count differs');
  if (slotsPerDay(series.grid) !== ha.slotsPerDay) throw new Error('accumulate: time grid differs');
  const { sum, count } = ha;
  for (let r = 0; r < series.rows; r++) {
    const t = timeOfRow(series.grid, r);
    const base = (t.dayOfWeek * ha.slotsPerDay + t.slot) * n;
    for (let j = 0; j < n; j++) {
      const v = series.values[r * n + j];
      if (!isValidReading(v) || count[base + j] === 0xffff) continue;
      sum[base + j] += v;
      count[base + j] += 1;
    }
  }
}

export function buildHistoricalAverage(series: SensorSeries): HistoricalAverage {
  return accumulate(emptyHistoricalAverage(slotsPerDay(series.grid), series.sensors.length), series);
}

function daysOf(level: HistoryLevel, dayOfWeek: number): readonly number[] {
  if (level === 'dayOfWeek') return [dayOfWeek];
  if (level === 'timeOfDay') return [0, 1, 2, 3, 4, 5, 6];
  return isWeekend(dayOfWeek) ? [5, 6] : [0, 1, 2, 3, 4];
}

/**
 * Mean at `level` for the slot `t` of every sensor, written into `out` (NaN where no history).
 * `leaveOut`: the readings of the row at `t` when that row is itself part of the history; they
 * are taken out so a training sample never sees its own target through the average (otherwise
 * the model learns to trust the average far more than it deserves on unseen days).
 */
export function historicalMean(
  ha: HistoricalAverage,
  level: HistoryLevel,
  t: SlotTime,
  out: Float32Array,
  leaveOut: Float32Array | null = null,
): void {
  const n = ha.sensorCount;
  const days = daysOf(level, t.dayOfWeek);
  for (let j = 0; j < n; j++) {
    let s = 0;
    let c = 0;
    for (const d of days) {
      const k = (d * ha.slotsPerDay + t.slot) * n + j;
      s += ha.sum[k];
      c += ha.count[k];
    }
    if (leaveOut !== null && isValidReading(leaveOut[j]) && c > 0) {
      s -= leaveOut[j];
      c -= 1;
    }
    out[j] = c > 0 ? s / c : NaN;
  }
}

/** Per-sensor mean over all history (the last fallback). */
export function overallMean(ha: HistoricalAverage): Float32Array {
  const n = ha.sensorCount;
  const s = new Float64Array(n);
  const c = new Float64Array(n);
  for (let k = 0; k < ha.sum.length; k++) {
    s[k % n] += ha.sum[k];
    c[k % n] += ha.count[k];
  }
  return Float32Array.from(s, (v, j) => (c[j] > 0 ? v / c[j] : NaN));
}

/**
 * Hierarchical mean: the first of `levels` that has history, per sensor, then the sensor's
 * overall mean. `scratch` must hold `sensorCount` values; `fallback` is `overallMean(ha)`.
 */
export function hierarchicalMean(
  ha: HistoricalAverage,
  levels: readonly HistoryLevel[],
  t: SlotTime,
  out: Float32Array,
  fallback: Float32Array,
  scratch: Float32Array,
  leaveOut: Float32Array | null = null,
): void {
  out.fill(NaN);
  for (const level of levels) {
    historicalMean(ha, level, t, scratch, leaveOut);
    for (let j = 0; j < ha.sensorCount; j++) if (Number.isNaN(out[j])) out[j] = scratch[j];
  }
  for (let j = 0; j < ha.sensorCount; j++) if (Number.isNaN(out[j])) out[j] = fallback[j];
}

/** The baseline forecast for slot `t`: day of week → time of day → overall mean. */
export function historicalAverageForecast(ha: HistoricalAverage, t: SlotTime): Float32Array {
  const out = new Float32Array(ha.sensorCount);
  hierarchicalMean(ha, ['dayOfWeek', 'timeOfDay'], t, out, overallMean(ha), new Float32Array(ha.sensorCount));
  return out;
}

export const StoredHistoricalAverageSchema = z.object({
  slotsPerDay: z.number().int().positive(),
  sensorCount: z.number().int().positive(),
  sumBase64: z.string(),
  countBase64: z.string(),
});
export type StoredHistoricalAverage = z.infer<typeof StoredHistoricalAverageSchema>;

export function encodeHistoricalAverage(ha: HistoricalAverage): StoredHistoricalAverage {
  return {
    slotsPerDay: ha.slotsPerDay,
    sensorCount: ha.sensorCount,
    sumBase64: encodeBase64(ha.sum),
    countBase64: encodeBase64(ha.count),
  };
}

export function decodeHistoricalAverage(stored: unknown): HistoricalAverage {
  const s = StoredHistoricalAverageSchema.parse(stored);
  const size = 7 * s.slotsPerDay * s.sensorCount;
  const sum = new Float32Array(decodeBase64(s.sumBase64));
  const count = new Uint16Array(decodeBase64(s.countBase64));
  if (sum.length !== size || count.length !== size) throw new Error('stored historical average has the wrong size');
  return { slotsPerDay: s.slotsPerDay, sensorCount: s.sensorCount, sum, count };
}
