import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initForecastBackend } from '../../twin/forecast/backend.ts';
import { historicalAverageForecasts, onlineForecasts } from '../../twin/forecast/evaluation.ts';
import { sliceRows, type SensorSeries } from '../../twin/forecast/series.ts';
import { disposeForecaster, forecastSeries, trainForecaster, updateForecaster, type SpeedForecaster } from '../../twin/forecast/SpeedForecaster.ts';
import { syntheticCorridor } from './synthetic.ts';

// 12 roads, 15-minute steps: days 1–10 train, then rows arrive one by one.
const city = syntheticCorridor(12, 12);
const config = { inputSteps: 8, horizons: [1, 2, 4], neighbourLags: 4, stepMinutes: 15, hiddenUnits: [16, 16], seed: 3 };
const trainRows = 960;
const n = city.series.sensors.length;
const steps = { inputSteps: config.inputSteps, horizons: config.horizons };
// 60 test windows: the first origin is the first whose inputs are all new rows.
const origins = Array.from({ length: 60 }, (_, i) => trainRows + config.inputSteps - 1 + i);
const H = config.horizons.length;

let trained: SpeedForecaster;

beforeAll(async () => {
  await initForecastBackend();
  const r = await trainForecaster(sliceRows(city.series, 0, trainRows), city.graph, config, { maxEpochs: 3, batchSize: 256, foldInEpochs: 0, progress: false });
  trained = r.forecaster;
}, 60_000);

afterAll(() => disposeForecaster(trained));

// The new windows alone (no replay), at the updates' usual learning rate.
const fineTuneOnly = (epochs: number) => ({ epochs, learningRate: 2e-4, replayPerNewWindow: 0, replayRows: 0 });

const historyTotal = (f: SpeedForecaster): number => f.history.count.reduce((s, c) => s + c, 0);

describe('online evaluation (forecasts as the running service makes them)', () => {
  it('without a fold-in it is the frozen model', async () => {
    const online = await onlineForecasts([trained], city.series, trainRows, origins, steps, { everyRows: 10_000, policy: fineTuneOnly(3) });
    expect(online.updates).toBe(0);
    expect(Array.from(online.model[0])).toEqual(Array.from(forecastSeries(trained, city.series, origins)));
    expect(Array.from(online.historicalAverage)).toEqual(Array.from(historicalAverageForecasts(trained.history, city.series, origins, steps)));
  });

  it('folds in every 6 new rows, grows the history, and leaves the given members untouched', async () => {
    const weights = trained.model.getWeights().map((w) => Array.from(w.dataSync()));
    const countBefore = historyTotal(trained);
    const online = await onlineForecasts([trained], city.series, trainRows, origins, steps, { everyRows: 6, policy: fineTuneOnly(1) });
    // Rows known at the first origin: 968 (8 new); then a fold-in each time 6 more have arrived.
    const lastEnd = origins[origins.length - 1] + 1;
    const ends = [];
    for (let end = trainRows + config.inputSteps; end <= lastEnd; end += 6) ends.push(end);
    expect(online.updates).toBe(ends.length);
    expect(historyTotal(online.members[0])).toBe(countBefore + (ends[ends.length - 1] - trainRows) * n);
    expect(trained.model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(weights);
    expect(historyTotal(trained)).toBe(countBefore);
    // After the first fold-in the forecasts are no longer the frozen model's.
    const frozen = forecastSeries(trained, city.series, origins);
    expect(Array.from(online.model[0])).not.toEqual(Array.from(frozen));
    online.members.forEach(disposeForecaster);
  }, 60_000);

  it('is causal: a forecast never depends on rows after its origin', async () => {
    const cut = origins[30];
    const changed: SensorSeries = { ...city.series, values: city.series.values.slice() };
    // Everything after the cut: slower by a third (a jam the forecasts at earlier origins cannot know).
    for (let i = (cut + 1) * n; i < changed.values.length; i++) changed.values[i] *= 0.67;
    // A fold-in at every origin, so one that read a row too far would show at the cut.
    const options = { everyRows: 1, policy: { ...fineTuneOnly(1), replayPerNewWindow: 2 } };
    const a = await onlineForecasts([trained], city.series, trainRows, origins, steps, options);
    const b = await onlineForecasts([trained], changed, trainRows, origins, steps, options);
    const upTo = (origins.indexOf(cut) + 1) * H * n;
    expect(Array.from(b.model[0].subarray(0, upTo))).toEqual(Array.from(a.model[0].subarray(0, upTo)));
    expect(Array.from(b.historicalAverage.subarray(0, upTo))).toEqual(Array.from(a.historicalAverage.subarray(0, upTo)));
    expect(Array.from(b.model[0].subarray(upTo))).not.toEqual(Array.from(a.model[0].subarray(upTo)));
    [...a.members, ...b.members].forEach(disposeForecaster);
  }, 60_000);

  it('refuses origins inside the training part or out of order', async () => {
    await expect(onlineForecasts([trained], city.series, trainRows, [trainRows - 1], steps, { everyRows: 6, policy: fineTuneOnly(1) })).rejects.toThrow(/test origins/);
    await expect(onlineForecasts([trained], city.series, trainRows, [origins[5], origins[4]], steps, { everyRows: 6, policy: fineTuneOnly(1) })).rejects.toThrow(/ascending/);
  });
});

describe('fine-tuning with replay', () => {
  it('trains on the new windows and the drawn older ones, seeded; only the new rows join the history', async () => {
    const recent = sliceRows(city.series, 0, 1000);
    // New rows 960..999: the windows whose targets all lie there have origins 960..995 (36 of them).
    const options = { contextRows: 961, historyRows: 960, replayWindows: 20, epochs: 1 };
    const a = await updateForecaster(trained, recent, options);
    const b = await updateForecaster(trained, recent, options);
    const plain = await updateForecaster(trained, recent, { ...options, replayWindows: 0 });
    expect(plain.report.samples).toBe(36 * n);
    expect(a.report.samples).toBe((36 + 20) * n);
    expect(historyTotal(a.forecaster)).toBe(historyTotal(trained) + 40 * n);
    const weights = (f: SpeedForecaster) => f.model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(weights(a.forecaster)).toEqual(weights(b.forecaster));
    expect(weights(a.forecaster)).not.toEqual(weights(plain.forecaster));
    [a, b, plain].forEach((u) => disposeForecaster(u.forecaster));
  }, 60_000);
});
