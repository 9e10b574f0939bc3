/**
 * Real-data evaluation of the congestion forecaster on Los-loop by the T-GCN protocol:
 * chronological 80/20 split, 12-step (1 hour) input, horizons 15/30/45/60 min, RMSE / MAE (mph)
 * and accuracy = 1 − ‖Y − Ŷ‖_F / ‖Y‖_F at each horizon over all test windows and sensors, for
 * persistence, historical average and the learned model. The model selects its epoch on the end
 * of the training part; the test part is scored once, at the end.
 *
 *   npm run eval:forecast -- [--data DIR] [--json] [--save DIR] [--max-epochs N] [--seed N]
 *                            [--fold-in-epochs N] [--hidden 128,128] [--max-seconds S] [--inner]
 *                            [--model-horizons 1,2,3,6,9,12] [--history-from all|fit]
 *                            [--ensemble N] [--budget-clock cpu|wall] [--horizon-weights 1,1,4,1,1,1]
 *
 * The learned model is a seed ensemble (3 members by default, forecasts averaged; chosen on the
 * inner protocol). --max-seconds is shared by the members and counts process CPU time by
 * default: on a shared machine that is what an unloaded run takes (wall time is reported too).
 *
 * --inner runs the same protocol inside the training part only (its first 80 % vs the rest):
 * that is where design choices are made, so the real test part is scored once, at the end.
 *
 * Progress and logs go to stderr; stdout carries the table, or exactly one JSON object (--json).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { initForecastBackend } from '../twin/forecast/backend.ts';
import { historicalAverageForecasts, persistenceForecasts, scoreForecasts, testOrigins } from '../twin/forecast/evaluation.ts';
import { saveForecaster } from '../twin/forecast/forecasterStore.ts';
import { emptyHistoricalAverage, type HistoricalAverage } from '../twin/forecast/HistoricalAverage.ts';
import { loadLosLoop } from '../twin/forecast/losLoop.ts';
import { accumulateErrors, finishMetrics, newAccumulator as newErrorAccumulator, type ErrorMetrics } from '../twin/forecast/metrics.ts';
import { graphFromEdges, type Edge } from '../twin/forecast/RoadGraph.ts';
import { splitChronological, type SensorSeries, type SlotTime } from '../twin/forecast/series.ts';
import { DEFAULT_FORECASTER_CONFIG, forecast, forecastSeries, trainForecaster, withRoads, type SpeedForecaster, type TrainReport } from '../twin/forecast/SpeedForecaster.ts';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const OptionsSchema = z.object({
  data: z.string().min(1).default(resolve(projectRoot, '../shared/data/forecast/los-loop')),
  json: z.boolean().default(false),
  save: z.string().min(1).optional(),
  maxEpochs: z.coerce.number().int().positive().default(12),
  seed: z.coerce.number().int().nonnegative().default(1),
  foldInEpochs: z.coerce.number().int().nonnegative().default(3),
  inner: z.boolean().default(false),
  hidden: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'hidden: comma-separated layer widths, e.g. 128,128')
    .default('128,128')
    .transform((v) => v.split(',').map(Number)),
  maxSeconds: z.coerce.number().positive().default(240),
  /** Members of a seed ensemble (seeds seed … seed+N−1), forecasts averaged; the time budget is shared. */
  ensemble: z.coerce.number().int().min(1).max(8).default(3),
  /** What --max-seconds counts: wall time, or process CPU time (fair on a shared machine). */
  budgetClock: z.enum(['wall', 'cpu']).default('cpu'),
  /** Horizons (steps) the model forecasts; must include the protocol's 3, 6, 9, 12. */
  historyFrom: z.enum(['all', 'fit']).default('all'),
  modelHorizons: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'model-horizons: comma-separated steps, e.g. 1,2,3,6,9,12')
    .default('1,2,3,6,9,12')
    .transform((v) => v.split(',').map(Number)),
  /** Per model horizon loss / early-stopping weights (same order as --model-horizons); equal if absent. */
  horizonWeights: z
    .string()
    .regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, 'horizon-weights: comma-separated positive numbers, e.g. 1,1,2,1,1,1')
    .optional()
    .transform((v) => (v === undefined ? undefined : v.split(',').map(Number))),
});

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    json: { type: 'boolean' },
    save: { type: 'string' },
    'max-epochs': { type: 'string' },
    seed: { type: 'string' },
    'fold-in-epochs': { type: 'string' },
    inner: { type: 'boolean' },
    hidden: { type: 'string' },
    'max-seconds': { type: 'string' },
    'model-horizons': { type: 'string' },
    'history-from': { type: 'string' },
    ensemble: { type: 'string' },
    'budget-clock': { type: 'string' },
    'horizon-weights': { type: 'string' },
  },
  strict: true,
});
const opts = OptionsSchema.parse({
  data: values.data,
  json: values.json,
  save: values.save,
  maxEpochs: values['max-epochs'],
  seed: values.seed,
  foldInEpochs: values['fold-in-epochs'],
  inner: values.inner,
  hidden: values.hidden,
  maxSeconds: values['max-seconds'],
  modelHorizons: values['model-horizons'],
  historyFrom: values['history-from'],
  ensemble: values.ensemble,
  budgetClock: values['budget-clock'],
  horizonWeights: values['horizon-weights'],
});

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const PROTOCOL = { inputSteps: 12, horizons: [3, 6, 9, 12], trainFraction: 0.8 } as const;
const missingHorizon = PROTOCOL.horizons.find((h) => !opts.modelHorizons.includes(h));
if (missingHorizon !== undefined) {
  log(`--model-horizons must include every protocol horizon (missing ${missingHorizon})`);
  process.exit(2);
}

if (!existsSync(opts.data)) {
  log(`forecast evaluation: data directory not found: ${opts.data}`);
  log('expected the Los-loop files los_speed.csv and los_adj.csv there (see ../shared/data/README.md); nothing to evaluate.');
  process.exit(0);
}

const backend = await initForecastBackend();
log(`backend: ${backend}`);
const data = await loadLosLoop(opts.data);
const outer = splitChronological(data.series, PROTOCOL.trainFraction);
const { train, test } = opts.inner ? splitChronological(outer.train, PROTOCOL.trainFraction) : outer;
if (opts.inner) log('inner protocol: training part only, split again 80/20; the real test part is not read');
log(`Los-loop: ${data.series.sensors.length} sensors, ${data.series.rows} rows; train ${train.rows} rows, test ${test.rows} rows`);

// The 15-minute horizon (step 3) counts 4× in the loss and early stopping: chosen on the inner
// protocol (seeds 1 and 2: 15-min RMSE −0.02, other horizons equal or better; 8× was worse).
const horizonWeights = opts.horizonWeights ?? opts.modelHorizons.map((h) => (h === 3 ? 4 : 1));
if (horizonWeights.length !== opts.modelHorizons.length) {
  log(`--horizon-weights needs one weight per model horizon (${opts.modelHorizons.length})`);
  process.exit(2);
}
log(`horizon weights: ${opts.modelHorizons.map((h, k) => `${h}:${horizonWeights[k]}`).join(' ')}`);
// Each member gets an equal share of the time budget; members differ only by their seed.
const members: SpeedForecaster[] = [];
const reports: TrainReport[] = [];
const trainStarted = performance.now();
const cpuStarted = process.cpuUsage();
for (let m = 0; m < opts.ensemble; m++) {
  if (opts.ensemble > 1) log(`ensemble member ${m + 1}/${opts.ensemble} (seed ${opts.seed + m})`);
  const r = await trainForecaster(
    train,
    data.graph,
    { ...DEFAULT_FORECASTER_CONFIG, inputSteps: PROTOCOL.inputSteps, horizons: opts.modelHorizons, seed: opts.seed + m, hiddenUnits: opts.hidden },
    { maxEpochs: opts.maxEpochs, foldInEpochs: opts.foldInEpochs, maxSeconds: opts.maxSeconds / opts.ensemble, historyFrom: opts.historyFrom, budgetClock: opts.budgetClock, horizonWeights },
  );
  members.push(r.forecaster);
  reports.push(r.report);
}
const trainSeconds = (performance.now() - trainStarted) / 1000;
const cpuUsed = process.cpuUsage(cpuStarted);
const trainCpuSeconds = (cpuUsed.user + cpuUsed.system) / 1e6;
const trained = { report: reports[0] };
const model = members[0];
log(`trained in ${trainSeconds.toFixed(1)} s (process CPU ${trainCpuSeconds.toFixed(1)} s): best epochs ${reports.map((r) => `${r.bestEpoch}/${r.epochs.length} (${r.stoppedBy})`).join(', ')}`);
if (opts.save) {
  await saveForecaster(model, opts.save);
  log(`saved member 1 to ${opts.save}`);
}

// The test part, touched once.
const origins = testOrigins(test, PROTOCOL);
const horizons = [...PROTOCOL.horizons];
// The model may forecast more horizons (e.g. 5 and 10 min) than the protocol scores.
const modelForecasts = averageForecasts(members.map((f) => forecastSeries(f, test, origins)));
const scores = {
  model: scoreForecasts(test, origins, horizons, pickHorizons(modelForecasts, opts.modelHorizons, horizons, test.sensors.length)),
  persistence: scoreForecasts(test, origins, horizons, persistenceForecasts(test, origins, PROTOCOL)),
  historicalAverage: scoreForecasts(test, origins, horizons, historicalAverageForecasts(model.history, test, origins, PROTOCOL)),
};

// T-GCN's logged 15-minute figure pools steps 1, 2 and 3; report that too when the model has them.
const pooled15 = [1, 2, 3].every((h) => opts.modelHorizons.includes(h))
  ? pooledMetrics(test, origins, [1, 2, 3], pickHorizons(modelForecasts, opts.modelHorizons, [1, 2, 3], test.sensors.length))
  : null;

const timing = timeThousandRoads(members, test.values.subarray(0, PROTOCOL.inputSteps * test.sensors.length));

const round = (m: ErrorMetrics) => ({ rmse: +m.rmse.toFixed(4), mae: +m.mae.toFixed(4), accuracy: +m.accuracy.toFixed(4) });
const result = {
  backend,
  data: opts.data,
  protocol: opts.inner ? 'inner (training part only)' : 'T-GCN 80/20',
  foldInEpochs: opts.foldInEpochs,
  historyFrom: opts.historyFrom,
  sensors: data.series.sensors.length,
  trainRows: train.rows,
  testRows: test.rows,
  testWindows: origins.length,
  trainSeconds: +trainSeconds.toFixed(1),
  trainCpuSeconds: +trainCpuSeconds.toFixed(1),
  budgetClock: opts.budgetClock,
  ensemble: opts.ensemble,
  bestEpoch: trained.report.bestEpoch,
  epochsRun: trained.report.epochs.length,
  stoppedBy: trained.report.stoppedBy,
  validationRmse: trained.report.epochs[trained.report.bestEpoch - 1]?.validationRmse.map((v) => +v.toFixed(4)),
  membersValidationRmse: reports.map((r) => r.epochs[r.bestEpoch - 1]?.validationRmse.map((v) => +v.toFixed(4))),
  model: {
    kind: 'per-road MLP: 1 h window + graph-diffusion neighbour means + historical averages → change from last reading',
    hiddenUnits: model.config.hiddenUnits,
    horizonsSteps: model.config.horizons,
    seed: model.config.seed,
  },
  horizons: horizons.map((h, k) => ({
    minutes: h * 5,
    model: round(scores.model[k]),
    persistence: round(scores.persistence[k]),
    historicalAverage: round(scores.historicalAverage[k]),
  })),
  tgcnPooled15Min: pooled15 && { ...round(pooled15), note: 'steps 1–3 pooled, as T-GCN logs its 15-min result (5.1264 RMSE, 0.9127 accuracy)' },
  forecastMsFor1000Roads: +timing.medianMs.toFixed(2),
  forecastMsFor1000RoadsP90: +timing.p90Ms.toFixed(2),
  forecastCpuMsFor1000Roads: +timing.cpuMedianMs.toFixed(2),
  targets: {
    beatsBothBaselinesAtEveryHorizon: horizons.every((_, k) => scores.model[k].rmse < Math.min(scores.persistence[k].rmse, scores.historicalAverage[k].rmse)),
    rmse15MinAtMost4_6: scores.model[0].rmse <= 4.6,
    trainAtMost300s: trainSeconds <= 300,
    // On a machine shared with other work the wall figures overstate an unloaded run.
    trainAtMost300sCpu: trainCpuSeconds <= 300,
    forecastAtMost50ms: timing.medianMs <= 50,
    forecastAtMost50msCpu: timing.cpuMedianMs <= 50,
  },
};

if (opts.json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const pad = (s: string, w: number) => s.padStart(w);
  const cell = (m: ErrorMetrics) => `${pad(m.rmse.toFixed(3), 7)} ${pad(m.mae.toFixed(3), 7)} ${pad(m.accuracy.toFixed(4), 7)}`;
  const lines = [
    `Los-loop forecasting (${result.protocol} protocol), backend ${backend}, trained in ${trainSeconds.toFixed(1)} s (CPU ${trainCpuSeconds.toFixed(1)} s; ${opts.ensemble} member(s), first: best epoch ${result.bestEpoch}/${result.epochsRun}), ${origins.length} test windows × ${result.sensors} sensors`,
    '',
    `horizon | ${pad('model: RMSE     MAE     acc', 26)} | ${pad('persistence: RMSE  MAE     acc', 30)} | ${pad('hist. average: RMSE  MAE     acc', 32)}`,
    ...horizons.map((h, k) => `${pad(`${h * 5} min`, 7)} | ${pad(cell(scores.model[k]), 26)} | ${pad(cell(scores.persistence[k]), 30)} | ${pad(cell(scores.historicalAverage[k]), 32)}`),
    '',
    ...(pooled15 ? [`model, 15 min with steps 1–3 pooled (how T-GCN logs it: RMSE 5.126, acc 0.9127): RMSE ${pooled15.rmse.toFixed(3)}, MAE ${pooled15.mae.toFixed(3)}, acc ${pooled15.accuracy.toFixed(4)}`] : []),
    `one forecast for 1,000 roads (${opts.ensemble} member(s)): median ${timing.medianMs.toFixed(1)} ms wall, p90 ${timing.p90Ms.toFixed(1)} ms; median ${timing.cpuMedianMs.toFixed(1)} ms CPU`,
    `targets: beats both baselines at every horizon ${result.targets.beatsBothBaselinesAtEveryHorizon ? 'yes' : 'NO'}; ` +
      `15-min RMSE ≤ 4.6 ${result.targets.rmse15MinAtMost4_6 ? 'yes' : 'NO'}; training ≤ 300 s wall ${result.targets.trainAtMost300s ? 'yes' : 'NO'}, CPU ${result.targets.trainAtMost300sCpu ? 'yes' : 'NO'}; ` +
      `forecast ≤ 50 ms wall ${result.targets.forecastAtMost50ms ? 'yes' : 'NO'}, CPU ${result.targets.forecastAtMost50msCpu ? 'yes' : 'NO'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Element-wise mean of the members' forecasts (same layout). */
function averageForecasts(all: readonly Float32Array[]): Float32Array {
  if (all.length === 1) return all[0];
  const out = new Float32Array(all[0].length);
  for (const f of all) for (let i = 0; i < out.length; i++) out[i] += f[i] / all.length;
  return out;
}

/** Forecasts [origin][from-horizon][road] reduced to the horizons `to` (a subset of `from`). */
function pickHorizons(forecasts: Float32Array, from: readonly number[], to: readonly number[], n: number): Float32Array {
  const origins = forecasts.length / (from.length * n);
  const out = new Float32Array(origins * to.length * n);
  for (let i = 0; i < origins; i++) {
    to.forEach((h, k) => {
      const src = (i * from.length + from.indexOf(h)) * n;
      out.set(forecasts.subarray(src, src + n), (i * to.length + k) * n);
    });
  }
  return out;
}

/** Metrics over several horizons pooled into one set. */
function pooledMetrics(truth: SensorSeries, origins: readonly number[], steps: readonly number[], forecasts: Float32Array): ErrorMetrics {
  const n = truth.sensors.length;
  const acc = newErrorAccumulator();
  origins.forEach((o, i) => {
    steps.forEach((h, k) => {
      accumulateErrors(acc, truth.values.subarray((o + h) * n, (o + h + 1) * n), forecasts.subarray((i * steps.length + k) * n, (i * steps.length + k + 1) * n));
    });
  });
  return finishMetrics(acc);
}

/**
 * Time of one service forecast (features, network, congestion levels) for a synthetic city of
 * 1,000 roads: the trained network with a 1,000-road corridor graph, histories and readings
 * tiled from the real sensors.
 */
function timeThousandRoads(ensemble: readonly SpeedForecaster[], realWindow: Float32Array): { medianMs: number; p90Ms: number; cpuMedianMs: number } {
  const f = ensemble[0];
  const roads = 1000;
  const n = f.sensors.length;
  const spd = f.history.slotsPerDay;
  const history: HistoricalAverage = emptyHistoricalAverage(spd, roads);
  for (let cell = 0; cell < 7 * spd; cell++) {
    for (let j = 0; j < roads; j++) {
      history.sum[cell * roads + j] = f.history.sum[cell * n + (j % n)];
      history.count[cell * roads + j] = f.history.count[cell * n + (j % n)];
    }
  }
  const edges: Edge[] = [];
  for (let j = 0; j < roads; j++) {
    for (const d of [-2, -1, 1, 2]) {
      const k = j + d;
      if (k >= 0 && k < roads) edges.push({ from: j, to: k, weight: 1 / Math.abs(d) });
    }
  }
  const cityRoads = {
    sensors: Array.from({ length: roads }, (_, j) => `road-${j}`),
    graph: graphFromEdges(roads, edges),
    history,
    freeFlow: Float32Array.from({ length: roads }, (_, j) => f.freeFlow[j % n]),
  };
  const cities = ensemble.map((member) => withRoads(member, cityRoads));
  const steps = f.config.inputSteps;
  const window = new Float32Array(steps * roads);
  for (let r = 0; r < steps; r++) for (let j = 0; j < roads; j++) window[r * roads + j] = realWindow[r * n + (j % n)];
  const at: SlotTime = { dayOfWeek: 2, slot: 17 * 12 };
  // An ensemble forecast is every member's forecast (then a cheap mean).
  const run = () => cities.map((city) => forecast(city, window, at));
  for (let i = 0; i < 5; i++) run(); // warm-up: kernels, JIT
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const out = run();
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuTimes.push((c.user + c.system) / 1000);
    if (out.some((o) => o.roads.length !== roads)) throw new Error('1,000-road forecast returned the wrong number of roads');
  }
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)], p90Ms: times[Math.floor(times.length * 0.9)], cpuMedianMs: cpuTimes[Math.floor(cpuTimes.length / 2)] };
}
