import { describe, expect, it } from 'vitest';
import { congestionLevel, freeFlowSpeeds } from '../../twin/forecast/congestion.ts';
import { historicalAverageForecasts, persistenceForecasts, scoreForecasts, scorePooled, stepsUpTo, testOrigins } from '../../twin/forecast/evaluation.ts';
import { buildHistoricalAverage } from '../../twin/forecast/HistoricalAverage.ts';
import { accumulateErrors, errorMetrics, finishMetrics, newAccumulator } from '../../twin/forecast/metrics.ts';
import { diffuse, graphFromDense, graphFromEdges } from '../../twin/forecast/RoadGraph.ts';
import { makeSeries } from '../../twin/forecast/series.ts';

describe('metrics', () => {
  it('computes RMSE, MAE and T-GCN accuracy on a hand example', () => {
    const m = errorMetrics([1, 2, 3, 4], [1, 3, 2, 4]); // errors 0, −1, 1, 0
    expect(m.rmse).toBeCloseTo(Math.sqrt(2 / 4), 12);
    expect(m.mae).toBeCloseTo(0.5, 12);
    // 1 − ‖Y − Ŷ‖_F / ‖Y‖_F = 1 − √2 / √30
    expect(m.accuracy).toBeCloseTo(1 - Math.sqrt(2) / Math.sqrt(30), 12);
    expect(m.count).toBe(4);
  });

  it('accumulates in parts to the same result and refuses non-finite pairs', () => {
    const acc = newAccumulator();
    accumulateErrors(acc, [1, 2], [1, 3]);
    accumulateErrors(acc, [3, 4], [2, 4]);
    expect(finishMetrics(acc)).toEqual(errorMetrics([1, 2, 3, 4], [1, 3, 2, 4]));
    expect(() => errorMetrics([1], [NaN])).toThrow();
  });

  it('scores windows inside the test part at each horizon', () => {
    // One sensor, 4 slots a day; readings 1..8 over two days.
    const grid = { stepMinutes: 360, startDayOfWeek: 0, startSlot: 0 };
    const s = makeSeries(['a'], grid, Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    const p = { inputSteps: 2, horizons: [1, 2] };
    const origins = testOrigins(s, p);
    expect(origins).toEqual([1, 2, 3, 4, 5]); // last input row; targets up to row 7
    const persistence = persistenceForecasts(s, origins, p);
    const scores = scoreForecasts(s, origins, p.horizons, persistence);
    expect(scores[0].rmse).toBeCloseTo(1, 12); // always one step behind
    expect(scores[1].mae).toBeCloseTo(2, 12);
    // The average of day 1 forecasting day 2: slot k → k + 1, so the error is 4 everywhere.
    const ha = buildHistoricalAverage(makeSeries(['a'], grid, Float32Array.from([1, 2, 3, 4])));
    const day2 = makeSeries(['a'], { ...grid, startDayOfWeek: 1 }, Float32Array.from([5, 6, 7, 8]));
    const o2 = testOrigins(day2, p);
    expect(scoreForecasts(day2, o2, p.horizons, historicalAverageForecasts(ha, day2, o2, p))[0].rmse).toBeCloseTo(4, 12);
  });
});

describe('pooled scoring (T-GCN protocol)', () => {
  // One sensor rising by 1 a step: persistence is off by s at step s.
  const grid = { stepMinutes: 5, startDayOfWeek: 0, startSlot: 0 };
  const s = makeSeries(['a'], grid, Float32Array.from({ length: 10 }, (_, i) => 10 + i));
  const p = { inputSteps: 2, horizons: stepsUpTo(3) };
  const origins = testOrigins(s, p);
  const persistence = persistenceForecasts(s, origins, p);

  it('pools every step 1..h of every window, where the single-step score takes step h alone', () => {
    const [h1, h3] = scorePooled(s, origins, p.horizons, persistence, [1, 3]);
    expect(h1.rmse).toBeCloseTo(1, 12);
    // Errors 1, 2, 3 at steps 1, 2, 3 of each window: √((1 + 4 + 9) / 3), MAE 2.
    expect(h3.rmse).toBeCloseTo(Math.sqrt(14 / 3), 12);
    expect(h3.mae).toBeCloseTo(2, 12);
    expect(h3.count).toBe(3 * origins.length);
    expect(scoreForecasts(s, origins, p.horizons, persistence)[2].rmse).toBeCloseTo(3, 12);
    // Accuracy over the pooled set: 1 − ‖Y − Ŷ‖_F / ‖Y‖_F with Y every pooled target.
    let yy = 0;
    for (const o of origins) for (let k = 1; k <= 3; k++) yy += s.values[o + k] ** 2;
    expect(h3.accuracy).toBeCloseTo(1 - Math.sqrt(14 * origins.length) / Math.sqrt(yy), 12);
  });

  it('refuses to pool over a missing step', () => {
    const steps = [1, 3];
    const picked = new Float32Array(origins.length * steps.length);
    expect(() => scorePooled(s, origins, steps, picked, [3])).toThrow(/step 2/);
  });
});

describe('congestion levels', () => {
  it('follows the HCM speed-ratio bands', () => {
    expect(congestionLevel(60, 65)).toBe('free');
    expect(congestionLevel(0.5 * 65, 65)).toBe('moderate');
    expect(congestionLevel(0.35 * 65, 65)).toBe('heavy');
    expect(congestionLevel(10, 65)).toBe('severe');
  });

  it('takes free-flow speed as the 85th percentile of valid readings', () => {
    const v = Float32Array.from([...Array.from({ length: 20 }, (_, i) => i + 1), 0]);
    const s = makeSeries(['a'], { stepMinutes: 60, startDayOfWeek: 0, startSlot: 0 }, v);
    expect(freeFlowSpeeds(s)[0]).toBe(18);
  });
});

describe('road graph', () => {
  it('diffuses to the weighted neighbour mean, leaving isolated roads alone', () => {
    const g = graphFromDense(3, [1, 0.5, 0.25, 0.5, 1, 0, 0, 0, 1]);
    const out = new Float32Array(3);
    diffuse(g, [10, 20, 40], out);
    expect(out[0]).toBeCloseTo((0.5 * 20 + 0.25 * 40) / 0.75, 5);
    expect(out[1]).toBeCloseTo(10, 5);
    expect(out[2]).toBe(40);
    const h = graphFromEdges(2, [{ from: 0, to: 1, weight: 2 }, { from: 0, to: 1, weight: 1 }]);
    expect(Array.from(h.weight)).toEqual([1]);
  });
});
