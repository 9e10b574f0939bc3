import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initForecastBackend } from '../../twin/forecast/backend.ts';
import { persistenceForecasts, scoreForecasts, testOrigins } from '../../twin/forecast/evaluation.ts';
import { forecasterFromArtefact, forecasterToArtefact, loadForecaster, saveForecaster } from '../../twin/forecast/forecasterStore.ts';
import { sliceRows, splitChronological, timeOfRow } from '../../twin/forecast/series.ts';
import {
  disposeForecaster,
  forecast,
  forecastSeries,
  trainForecaster,
  updateForecaster,
  type SpeedForecaster,
  type TrainReport,
} from '../../twin/forecast/SpeedForecaster.ts';
import { syntheticCorridor } from './synthetic.ts';

// 12 roads, 15-minute steps, 14 days: two hours of input, 15 / 30 / 60 minutes ahead.
const city = syntheticCorridor(12, 14);
const config = { inputSteps: 8, horizons: [1, 2, 4], neighbourLags: 4, stepMinutes: 15, hiddenUnits: [32, 32], seed: 5 };
const protocol = { inputSteps: config.inputSteps, horizons: config.horizons };
// Train on days 1–10, then days 11–12 arrive as new data, days 13–14 are the test.
const trainPart = sliceRows(city.series, 0, 960);
const newPart = sliceRows(city.series, 960, 1152);
const testPart = sliceRows(city.series, 1152, city.series.rows);

let trained: SpeedForecaster;
let report: TrainReport;
const dirs: string[] = [];

beforeAll(async () => {
  await initForecastBackend();
  const result = await trainForecaster(trainPart, city.graph, config, {
    maxEpochs: 8,
    patience: 3,
    batchSize: 256,
    learningRate: 3e-3,
    progress: false,
  });
  trained = result.forecaster;
  report = result.report;
}, 60_000);

afterAll(() => {
  disposeForecaster(trained);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function rmsePerHorizon(f: SpeedForecaster, part = testPart): number[] {
  const origins = testOrigins(part, protocol);
  return scoreForecasts(part, origins, config.horizons, forecastSeries(f, part, origins)).map((m) => m.rmse);
}

describe('speed forecaster', () => {
  it('trains with early stopping on the end of the training part and beats persistence', () => {
    expect(report.epochs.length).toBeGreaterThan(0);
    expect(report.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(report.foldIn).not.toBeNull();
    const origins = testOrigins(testPart, protocol);
    const persistence = scoreForecasts(testPart, origins, config.horizons, persistenceForecasts(testPart, origins, protocol));
    const model = rmsePerHorizon(trained);
    model.forEach((rmse, k) => expect(rmse).toBeLessThan(persistence[k].rmse));
  });

  it('forecasts every road at every horizon with a congestion level', () => {
    const n = city.series.sensors.length;
    const last = testPart.rows - 1;
    const recent = testPart.values.subarray((last - config.inputSteps + 1) * n, (last + 1) * n);
    const out = forecast(trained, recent, timeOfRow(testPart.grid, last));
    expect(out.horizonsMinutes).toEqual([15, 30, 60]);
    expect(out.roads.map((r) => r.road)).toEqual(city.series.sensors);
    for (const road of out.roads) {
      expect(road.values).toHaveLength(3);
      road.values.forEach((v) => expect(Number.isFinite(v)).toBe(true));
      expect(road.levels).toHaveLength(3);
    }
  });

  it('treats zero-speed glitches in the input as missing readings', () => {
    const n = city.series.sensors.length;
    const last = testPart.rows - 1;
    const recent = testPart.values.slice((last - config.inputSteps + 1) * n, (last + 1) * n);
    const clean = forecast(trained, recent, timeOfRow(testPart.grid, last));
    recent[recent.length - 1] = 0; // the last road's newest reading is a glitch
    const glitch = forecast(trained, recent, timeOfRow(testPart.grid, last));
    const road = glitch.roads[n - 1];
    road.values.forEach((v) => expect(Number.isFinite(v) && v > 0).toBe(true));
    // Other roads see the same window, except through the neighbour mean of the last road's neighbour.
    expect(glitch.roads[0].values).toEqual(clean.roads[0].values);
  });

  it('is deterministic: the same seed gives the same weights', async () => {
    const again = await trainForecaster(trainPart, city.graph, config, { maxEpochs: 1, foldInEpochs: 0, progress: false });
    const once = await trainForecaster(trainPart, city.graph, config, { maxEpochs: 1, foldInEpochs: 0, progress: false });
    const a = again.forecaster.model.getWeights().map((w) => Array.from(w.dataSync()));
    const b = once.forecaster.model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(a).toEqual(b);
    disposeForecaster(again.forecaster);
    disposeForecaster(once.forecaster);
  });

  it('round-trips through a directory (model.json + weights.bin) with identical predictions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forecaster-'));
    dirs.push(dir);
    await saveForecaster(trained, dir);
    expect(readdirSync(dir).sort()).toEqual(['forecaster.json', 'model.json', 'weights.bin']);
    const loaded = await loadForecaster(dir);
    const origins = testOrigins(testPart, protocol);
    expect(Array.from(forecastSeries(loaded, testPart, origins))).toEqual(Array.from(forecastSeries(trained, testPart, origins)));
    disposeForecaster(loaded);
  });

  it('refuses a damaged model directory with a message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forecaster-'));
    dirs.push(dir);
    await saveForecaster(trained, dir);
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [] }));
    await expect(loadForecaster(dir)).rejects.toThrow(/weightsManifest/);
  });

  it('round-trips through the in-memory JSON artefact with identical predictions', async () => {
    const artefact = JSON.parse(JSON.stringify(await forecasterToArtefact(trained)));
    const loaded = await forecasterFromArtefact(artefact);
    const origins = testOrigins(testPart, protocol);
    expect(Array.from(forecastSeries(loaded, testPart, origins))).toEqual(Array.from(forecastSeries(trained, testPart, origins)));
    disposeForecaster(loaded);
    await expect(forecasterFromArtefact({ ...artefact, meta: { ...artefact.meta, format: 'other' } })).rejects.toThrow();
  });

  it('updates incrementally: weights change, the original is untouched, error on new data does not grow much', async () => {
    const before = trained.model.getWeights().map((w) => Array.from(w.dataSync()));
    const errorBefore = rmsePerHorizon(trained);
    const { forecaster: updated, report: upd } = await updateForecaster(trained, newPart, { epochs: 3 });
    const after = updated.model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(after).not.toEqual(before);
    expect(trained.model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    expect(upd.lossAfter).toBeLessThan(upd.lossBefore);
    // The new days joined the history.
    const countBefore = trained.history.count.reduce((s, c) => s + c, 0);
    expect(updated.history.count.reduce((s, c) => s + c, 0)).toBe(countBefore + newPart.rows * newPart.sensors.length);
    const errorAfter = rmsePerHorizon(updated);
    errorAfter.forEach((e, k) => expect(e).toBeLessThan(errorBefore[k] * 1.05));
    disposeForecaster(updated);
  });
});

describe('chronological split of the synthetic data', () => {
  it('keeps the test part after the training part', () => {
    const { train, test } = splitChronological(city.series, 0.8);
    expect(train.rows + test.rows).toBe(city.series.rows);
    expect(timeOfRow(test.grid, 0)).toEqual(timeOfRow(city.series.grid, train.rows));
  });
});

describe('horizon-weighted training', () => {
  it('weights a horizon through its target scale and still forecasts in the data units', async () => {
    const { forecaster: weighted } = await trainForecaster(trainPart, city.graph, config, {
      maxEpochs: 8,
      patience: 3,
      batchSize: 256,
      learningRate: 3e-3,
      foldInEpochs: 0,
      horizonWeights: [1, 1, 4],
      progress: false,
    });
    // Same training rows → same fitted scale; weight 4 halves the last horizon's scale.
    expect(weighted.targetScaler.std[0]).toBeCloseTo(trained.targetScaler.std[0], 5);
    expect(weighted.targetScaler.std[2]).toBeCloseTo(trained.targetScaler.std[2] / 2, 5);
    const origins = testOrigins(testPart, protocol);
    const persistence = scoreForecasts(testPart, origins, config.horizons, persistenceForecasts(testPart, origins, protocol));
    const model = rmsePerHorizon(weighted);
    model.forEach((rmse, k) => expect(rmse).toBeLessThan(persistence[k].rmse));
    disposeForecaster(weighted);
  }, 60_000);

  it('rejects a weight list that does not match the horizons', async () => {
    await expect(trainForecaster(trainPart, city.graph, config, { maxEpochs: 1, foldInEpochs: 0, horizonWeights: [1, 2], progress: false })).rejects.toThrow(
      /horizonWeights/,
    );
  });
});

describe('fold-in modes', () => {
  it("folds in the validation windows only ('recent') or every training window ('replay')", async () => {
    const options = { maxEpochs: 2, batchSize: 256, foldInEpochs: 1, progress: false } as const;
    const recent = await trainForecaster(trainPart, city.graph, config, { ...options, foldInMode: 'recent' });
    const replay = await trainForecaster(trainPart, city.graph, config, { ...options, foldInMode: 'replay' });
    const r = recent.report;
    const p = replay.report;
    expect(r.foldIn?.samples).toBe(r.validationSamples);
    // Every window: also those whose targets straddle the fit/validation boundary (in neither set).
    const straddling = (Math.max(...config.horizons) - 1) * city.series.sensors.length;
    expect(p.foldIn?.samples).toBe(p.trainSamples + p.validationSamples + straddling);
    // Same seed and epochs: the two differ only by what the fold-in trained on.
    const weights = (f: SpeedForecaster) => f.model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(weights(replay.forecaster)).not.toEqual(weights(recent.forecaster));
    // The history already held every training row; replay must not add them twice.
    expect(replay.forecaster.history.count).toEqual(recent.forecaster.history.count);
    disposeForecaster(recent.forecaster);
    disposeForecaster(replay.forecaster);
  }, 60_000);
});

describe('optional features in a stored model', () => {
  it('a model with the lead graph and the neighbours’ departure round-trips with its lead graph and identical predictions', async () => {
    const { forecaster } = await trainForecaster(
      trainPart,
      city.graph,
      { ...config, neighbourAnomaly: true, leadLags: 2 },
      { maxEpochs: 2, patience: 2, batchSize: 256, progress: false, foldInEpochs: 0 },
    );
    // Learned from the data, not the adjacency itself.
    expect(forecaster.features.leadGraph).not.toBe(forecaster.graph);
    const artefact = JSON.parse(JSON.stringify(await forecasterToArtefact(forecaster)));
    const loaded = await forecasterFromArtefact(artefact);
    expect(Array.from(loaded.features.leadGraph.col)).toEqual(Array.from(forecaster.features.leadGraph.col));
    expect(Array.from(loaded.features.leadGraph.weight)).toEqual(Array.from(forecaster.features.leadGraph.weight));
    const origins = testOrigins(testPart, protocol);
    expect(Array.from(forecastSeries(loaded, testPart, origins))).toEqual(Array.from(forecastSeries(forecaster, testPart, origins)));
    disposeForecaster(loaded);
    disposeForecaster(forecaster);
  }, 60_000);
});

describe('training loss', () => {
  it('trains and updates with the Huber loss stored in the model, which changes what is learned', async () => {
    const options = { maxEpochs: 2, patience: 2, batchSize: 256, progress: false, foldInEpochs: 0 } as const;
    const weights = (f: SpeedForecaster) => f.model.getWeights().map((w) => Array.from(w.dataSync()));
    const squared = await trainForecaster(trainPart, city.graph, config, options);
    // A threshold of 0.1 standard deviations: most residuals fall in the linear part.
    const huber = await trainForecaster(trainPart, city.graph, { ...config, huberDelta: 0.1 }, options);
    expect(squared.forecaster.config.huberDelta).toBe(0);
    expect(weights(huber.forecaster)).not.toEqual(weights(squared.forecaster));

    const loaded = await forecasterFromArtefact(JSON.parse(JSON.stringify(await forecasterToArtefact(huber.forecaster))));
    expect(loaded.config.huberDelta).toBe(0.1);
    // The same update from the same weights: only the loss the model carries differs.
    const asSquared: SpeedForecaster = { ...loaded, config: { ...loaded.config, huberDelta: 0 } };
    const update = { epochs: 1, learningRate: 1e-3, contextRows: config.inputSteps, progress: false } as const;
    const recent = sliceRows(city.series, 960 - config.inputSteps, 1152);
    const a = await updateForecaster(loaded, recent, update);
    const b = await updateForecaster(asSquared, recent, update);
    expect(weights(a.forecaster)).not.toEqual(weights(b.forecaster));
    for (const f of [squared.forecaster, huber.forecaster, loaded, a.forecaster, b.forecaster]) disposeForecaster(f);
  }, 60_000);
});
