/**
 * Real-data evaluation of the congestion forecaster on Los-loop by the T-GCN protocol:
 * chronological 80/20 split, 12-step (1 hour) input, horizons 15/30/45/60 min (3/6/9/12 steps),
 * RMSE / MAE (mph) and accuracy = 1 − ‖Y − Ŷ‖_F / ‖Y‖_F over all test windows and sensors, for
 * persistence, historical average and the learned model. Two tables:
 *   - pooled 1..h (the T-GCN protocol, and the headline / JSON `horizons` figures): horizon h is
 *     scored over every step 1..h together, as T-GCN's test code scores the whole predicted
 *     sequence (its "15-minute" result pools 5, 10 and 15 minutes ahead);
 *   - at the horizon only (JSON `atHorizon`): the single step h, a stricter figure.
 * The model therefore forecasts every step 1..12 (trained on each, no interpolation). It selects
 * its epoch on the end of the training part; the test part is scored once, at the end.
 *
 *   npm run eval:forecast -- [--data DIR] [--json] [--save DIR] [--seed N] [--inner]
 *                            [--hidden 128,128] [--max-seconds S] [--ensemble N]
 *                            [--budget-clock cpu|wall] [--model-horizons 1,2,…,12]
 *                            [--history-from all|fit] [--horizon-weights W,…]
 *                            [--max-epochs N] [--patience N] [--learning-rate LR]
 *                            [--fold-in-epochs N] [--fold-in-learning-rate LR]
 *                            [--fold-in-mode replay|recent] [--validation-fraction F] [--keep-epoch best|last]
 *                            [--second-hop-lags N] [--neighbour-min-lags N] [--neighbour-anomaly on|off]
 *                            [--anomaly-lags N] [--wide-anomaly on|off] [--dropout P] [--huber-delta D]
 *                            [--lead-lags N] [--lead-top K] [--lead-top-lags N]
 *                            [--neighbour-expected on|off] [--lead-anomaly on|off]
 *                            [--member-features '[{"leadLags":3},{}]']  (per member, cycled)
 *                            [--online-every N] [--online-epochs N] [--online-learning-rate LR]
 *                            [--online-replay R] [--online-replay-rows N] [--cold-start]
 *
 * Training options default to EVALUATED_TRAIN_OPTIONS, the optional feature groups to
 * DEFAULT_FORECASTER_CONFIG (twin/forecast/SpeedForecaster.ts, twin/forecast/features.ts).
 *
 * The learned model is a seed ensemble (3 members by default, forecasts averaged; chosen on the
 * inner protocol). --max-seconds is shared by the members and counts process CPU time by
 * default: on a shared machine that is what an unloaded run takes (wall time is reported too).
 *
 * --inner runs the same protocol inside the training part only (its first 80 % vs the rest):
 * that is where design choices are made, so the real test part is scored once, at the end.
 *
 * Progress and logs go to stderr; stdout carries the tables, or exactly one JSON object (--json).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { initForecastBackend } from '../twin/forecast/backend.ts';
import { FeatureConfigSchema } from '../twin/forecast/features.ts';
import { historicalAverageForecasts, onlineForecasts, persistenceForecasts, scoreForecasts, scorePooled, stepsUpTo, testOrigins } from '../twin/forecast/evaluation.ts';
import { saveForecaster } from '../twin/forecast/forecasterStore.ts';
import { emptyHistoricalAverage, type HistoricalAverage } from '../twin/forecast/HistoricalAverage.ts';
import { loadLosLoop } from '../twin/forecast/losLoop.ts';
import type { ErrorMetrics } from '../twin/forecast/metrics.ts';
import { graphFromEdges, type Edge } from '../twin/forecast/RoadGraph.ts';
import { sliceRows, splitChronological, type SensorSeries, type SlotTime } from '../twin/forecast/series.ts';
import { FORECAST_MODEL_CONFIG, ForecastServiceOptionsSchema, firstTrainingOptions, UPDATE_POLICY } from '../server/ForecastService.ts';
import {
  DEFAULT_FORECASTER_CONFIG,
  EVALUATED_TRAIN_OPTIONS,
  forecast,
  forecastSeries,
  trainForecaster,
  windowOrigins,
  withRoads,
  type FoldInPolicy,
  type SpeedForecaster,
  type TrainOptionsInput,
  type TrainReport,
} from '../twin/forecast/SpeedForecaster.ts';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** An on|off switch as a boolean; absent stays absent (the default applies). */
const onOff = z
  .enum(['on', 'off'])
  .optional()
  .transform((v) => (v === undefined ? undefined : v === 'on'));

const OptionsSchema = z.object({
  data: z.string().min(1).default(resolve(projectRoot, '../shared/data/forecast/los-loop')),
  json: z.boolean().default(false),
  save: z.string().min(1).optional(),
  seed: z.coerce.number().int().nonnegative().default(1),
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
  historyFrom: z.enum(['all', 'fit']).default('all'),
  /** Steps the model forecasts; must include every step 1..12 (the pooled scores need them all). */
  modelHorizons: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'model-horizons: comma-separated steps, e.g. 1,2,3,4,5,6,7,8,9,10,11,12')
    .default('1,2,3,4,5,6,7,8,9,10,11,12')
    .transform((v) => v.split(',').map(Number)),
  // Optional feature groups (twin/forecast/features.ts); DEFAULT_FORECASTER_CONFIG's unless given.
  // Switches are written on|off.
  secondHopLags: z.coerce.number().int().nonnegative().optional(),
  neighbourMinLags: z.coerce.number().int().nonnegative().optional(),
  neighbourAnomaly: onOff,
  anomalyLags: z.coerce.number().int().nonnegative().optional(),
  wideAnomaly: onOff,
  dropout: z.coerce.number().min(0).max(0.9).optional(),
  /** Huber threshold of the training loss in standardised units (0: squared error). */
  huberDelta: z.coerce.number().nonnegative().optional(),
  leadLags: z.coerce.number().int().nonnegative().optional(),
  leadTop: z.coerce.number().int().nonnegative().optional(),
  leadTopLags: z.coerce.number().int().positive().optional(),
  neighbourExpected: onOff,
  leadAnomaly: onOff,
  /** Per-member feature options, JSON array cycled over the members (on top of the common ones). */
  memberFeatures: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const parsed = z.array(FeatureConfigSchema.partial().strict()).min(1).safeParse(JSON.parse(v));
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', message: `member-features: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` });
        return z.NEVER;
      }
      return parsed.data;
    }),
  // Training options: EVALUATED_TRAIN_OPTIONS unless given.
  maxEpochs: z.coerce.number().int().positive().optional(),
  patience: z.coerce.number().int().positive().optional(),
  learningRate: z.coerce.number().positive().optional(),
  foldInEpochs: z.coerce.number().int().nonnegative().optional(),
  foldInLearningRate: z.coerce.number().positive().optional(),
  foldInMode: z.enum(['recent', 'replay']).optional(),
  validationFraction: z.coerce.number().min(0.01).max(0.5).optional(),
  keepEpoch: z.enum(['best', 'last']).optional(),
  /**
   * Online evaluation (0: off, the frozen model): every N new test rows join the histories and
   * the networks are fine-tuned on the windows they complete, as the running service does, by
   * the service's policy (UPDATE_POLICY) unless the options below say otherwise.
   */
  onlineEvery: z.coerce.number().int().nonnegative().default(0),
  onlineEpochs: z.coerce.number().int().nonnegative().default(UPDATE_POLICY.epochs),
  onlineLearningRate: z.coerce.number().positive().default(UPDATE_POLICY.learningRate),
  /** Older windows replayed per new window. */
  onlineReplay: z.coerce.number().nonnegative().default(UPDATE_POLICY.replayPerNewWindow),
  onlineReplayRows: z.coerce.number().int().nonnegative().default(UPDATE_POLICY.replayRows),
  /**
   * The service's life on this record: its small model trained from the first rows
   * (`trainAfterRows`), then online through the rest; scored on the same test windows.
   */
  coldStart: z.boolean().default(false),
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
    seed: { type: 'string' },
    inner: { type: 'boolean' },
    hidden: { type: 'string' },
    'max-seconds': { type: 'string' },
    'model-horizons': { type: 'string' },
    'history-from': { type: 'string' },
    ensemble: { type: 'string' },
    'budget-clock': { type: 'string' },
    'max-epochs': { type: 'string' },
    patience: { type: 'string' },
    'learning-rate': { type: 'string' },
    'fold-in-epochs': { type: 'string' },
    'fold-in-learning-rate': { type: 'string' },
    'fold-in-mode': { type: 'string' },
    'horizon-weights': { type: 'string' },
    'validation-fraction': { type: 'string' },
    'keep-epoch': { type: 'string' },
    'second-hop-lags': { type: 'string' },
    'neighbour-min-lags': { type: 'string' },
    'neighbour-anomaly': { type: 'string' },
    'anomaly-lags': { type: 'string' },
    'wide-anomaly': { type: 'string' },
    dropout: { type: 'string' },
    'huber-delta': { type: 'string' },
    'lead-lags': { type: 'string' },
    'lead-top': { type: 'string' },
    'lead-top-lags': { type: 'string' },
    'neighbour-expected': { type: 'string' },
    'lead-anomaly': { type: 'string' },
    'member-features': { type: 'string' },
    'online-every': { type: 'string' },
    'online-epochs': { type: 'string' },
    'online-learning-rate': { type: 'string' },
    'online-replay': { type: 'string' },
    'online-replay-rows': { type: 'string' },
    'cold-start': { type: 'boolean' },
  },
  strict: true,
});
const opts = OptionsSchema.parse({
  data: values.data,
  json: values.json,
  save: values.save,
  seed: values.seed,
  inner: values.inner,
  hidden: values.hidden,
  maxSeconds: values['max-seconds'],
  modelHorizons: values['model-horizons'],
  historyFrom: values['history-from'],
  ensemble: values.ensemble,
  budgetClock: values['budget-clock'],
  maxEpochs: values['max-epochs'],
  patience: values.patience,
  learningRate: values['learning-rate'],
  foldInEpochs: values['fold-in-epochs'],
  foldInLearningRate: values['fold-in-learning-rate'],
  foldInMode: values['fold-in-mode'],
  horizonWeights: values['horizon-weights'],
  validationFraction: values['validation-fraction'],
  keepEpoch: values['keep-epoch'],
  secondHopLags: values['second-hop-lags'],
  neighbourMinLags: values['neighbour-min-lags'],
  neighbourAnomaly: values['neighbour-anomaly'],
  anomalyLags: values['anomaly-lags'],
  wideAnomaly: values['wide-anomaly'],
  dropout: values.dropout,
  huberDelta: values['huber-delta'],
  leadLags: values['lead-lags'],
  leadTop: values['lead-top'],
  leadTopLags: values['lead-top-lags'],
  neighbourExpected: values['neighbour-expected'],
  leadAnomaly: values['lead-anomaly'],
  memberFeatures: values['member-features'],
  onlineEvery: values['online-every'],
  onlineEpochs: values['online-epochs'],
  onlineLearningRate: values['online-learning-rate'],
  onlineReplay: values['online-replay'],
  onlineReplayRows: values['online-replay-rows'],
  coldStart: values['cold-start'],
});

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const PROTOCOL = { inputSteps: 12, horizons: [3, 6, 9, 12], trainFraction: 0.8 } as const;
// Every step up to the longest horizon: pooled scoring needs each of them.
const STEPS = stepsUpTo(Math.max(...PROTOCOL.horizons));
const missingStep = STEPS.find((h) => !opts.modelHorizons.includes(h));
if (missingStep !== undefined) {
  log(`--model-horizons must include every step 1..${STEPS.length} (missing ${missingStep})`);
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
// The record the protocol splits: the whole series, or (inner) its training part.
const record = opts.inner ? outer.train : data.series;
const { train, test } = opts.inner ? splitChronological(outer.train, PROTOCOL.trainFraction) : outer;
if (opts.inner) log('inner protocol: training part only, split again 80/20; the real test part is not read');
log(`Los-loop: ${data.series.sensors.length} sensors, ${data.series.rows} rows; train ${train.rows} rows, test ${test.rows} rows`);

// Equal weights over steps 1..12: chosen on the inner protocol (a rule weighting each step by
// its share of the four pooled scores moved the pooled 15-min RMSE by < 0.01 and 60 min by +0.02).
const horizonWeights = opts.horizonWeights ?? opts.modelHorizons.map(() => 1);
if (horizonWeights.length !== opts.modelHorizons.length) {
  log(`--horizon-weights needs one weight per model horizon (${opts.modelHorizons.length})`);
  process.exit(2);
}
log(`horizon weights: ${opts.modelHorizons.map((h, k) => `${h}:${horizonWeights[k]}`).join(' ')}`);
// Command-line overrides of the evaluated training options.
const trainOptions: TrainOptionsInput = {
  ...EVALUATED_TRAIN_OPTIONS,
  ...Object.fromEntries(
    Object.entries({
      maxEpochs: opts.maxEpochs,
      patience: opts.patience,
      learningRate: opts.learningRate,
      foldInEpochs: opts.foldInEpochs,
      foldInLearningRate: opts.foldInLearningRate,
      foldInMode: opts.foldInMode,
      validationFraction: opts.validationFraction,
      keepEpoch: opts.keepEpoch,
    }).filter(([, v]) => v !== undefined),
  ),
  maxSeconds: opts.maxSeconds / opts.ensemble,
  historyFrom: opts.historyFrom,
  budgetClock: opts.budgetClock,
  horizonWeights,
};
log(`training: ${JSON.stringify({ ...trainOptions, horizonWeights: undefined })}`);
const featureOptions = Object.fromEntries(
  Object.entries({
    secondHopLags: opts.secondHopLags,
    neighbourMinLags: opts.neighbourMinLags,
    neighbourAnomaly: opts.neighbourAnomaly,
    anomalyLags: opts.anomalyLags,
    wideAnomaly: opts.wideAnomaly,
    dropout: opts.dropout,
    huberDelta: opts.huberDelta,
    leadLags: opts.leadLags,
    leadTop: opts.leadTop,
    leadTopLags: opts.leadTopLags,
    neighbourExpected: opts.neighbourExpected,
    leadAnomaly: opts.leadAnomaly,
  }).filter(([, v]) => v !== undefined),
);
log(`features: ${JSON.stringify({ ...DEFAULT_FORECASTER_CONFIG, ...featureOptions, horizons: undefined })}`);
// Each member gets an equal share of the time budget; members differ by their seed (and by
// --member-features when given).
const members: SpeedForecaster[] = [];
const reports: TrainReport[] = [];
const trainStarted = performance.now();
const cpuStarted = process.cpuUsage();
// Cold start: the service's model, trained as the service trains it once it has enough rows.
const serviceDefaults = ForecastServiceOptionsSchema.parse({});
const coldRows = serviceDefaults.trainAfterRows;
if (opts.coldStart) {
  log(`cold start: the service's model (${serviceDefaults.hiddenUnits.join(' × ')} units) trained on the first ${coldRows} rows, then online every ${opts.onlineEvery || serviceDefaults.updateEveryRows} rows`);
  const r = await trainForecaster(
    sliceRows(record, 0, coldRows),
    data.graph,
    { ...FORECAST_MODEL_CONFIG, ...(opts.huberDelta === undefined ? {} : { huberDelta: opts.huberDelta }), horizons: opts.modelHorizons, seed: opts.seed, hiddenUnits: serviceDefaults.hiddenUnits },
    { ...firstTrainingOptions(coldRows, serviceDefaults.trainSeconds), budgetClock: opts.budgetClock },
  );
  members.push(r.forecaster);
  reports.push(r.report);
}
for (let m = 0; m < (opts.coldStart ? 0 : opts.ensemble); m++) {
  if (opts.ensemble > 1) log(`ensemble member ${m + 1}/${opts.ensemble} (seed ${opts.seed + m}${opts.memberFeatures ? `, ${JSON.stringify(opts.memberFeatures[m % opts.memberFeatures.length])}` : ''})`);
  const r = await trainForecaster(
    train,
    data.graph,
    {
      ...DEFAULT_FORECASTER_CONFIG,
      ...featureOptions,
      ...(opts.memberFeatures?.[m % opts.memberFeatures.length] ?? {}),
      inputSteps: PROTOCOL.inputSteps,
      horizons: opts.modelHorizons,
      seed: opts.seed + m,
      hiddenUnits: opts.hidden,
    },
    trainOptions,
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

// The test part, touched once. Every method forecasts every step 1..12 of every window.
const origins = testOrigins(test, PROTOCOL);
const horizons = [...PROTOCOL.horizons];
const n = test.sensors.length;
const stepProtocol = { inputSteps: PROTOCOL.inputSteps, horizons: STEPS };
const onlineEvery = opts.coldStart && opts.onlineEvery === 0 ? serviceDefaults.updateEveryRows : opts.onlineEvery;
const policy: FoldInPolicy = { epochs: opts.onlineEpochs, learningRate: opts.onlineLearningRate, replayPerNewWindow: opts.onlineReplay, replayRows: opts.onlineReplayRows };
const online = onlineEvery > 0 ? await runOnline() : null;
if (online) log(`online: ${online.updates} fold-ins of every ${onlineEvery} new rows (${JSON.stringify(policy)}), ${online.updateCpuSeconds.toFixed(1)} s CPU in all`);

/** Online forecasts of the test windows; a cold start walks (and forecasts) every window from its first row on. */
async function runOnline(): Promise<{ model: Float32Array[]; historicalAverage: Float32Array; updates: number; updateCpuSeconds: number }> {
  const start = opts.coldStart ? coldRows : train.rows;
  const walk = windowOrigins(stepProtocol, start, record.rows);
  const r = await onlineForecasts(members, record, start, walk, stepProtocol, { everyRows: onlineEvery, policy });
  // The test windows' rows of the walk's [origin][step][road] forecasts.
  const first = walk.indexOf(origins[0] + train.rows);
  const pick = (f: Float32Array, steps: number) => f.slice(first * steps * n, (first + origins.length) * steps * n);
  return { model: r.model.map((f) => pick(f, opts.modelHorizons.length)), historicalAverage: pick(r.historicalAverage, STEPS.length), updates: r.updates, updateCpuSeconds: r.updateCpuSeconds };
}
const forecastsBy = {
  model: pickHorizons(averageForecasts(online ? online.model : members.map((f) => forecastSeries(f, test, origins))), opts.modelHorizons, STEPS, n),
  persistence: persistenceForecasts(test, origins, stepProtocol),
  historicalAverage: online ? online.historicalAverage : historicalAverageForecasts(model.history, test, origins, stepProtocol),
};
type Method = keyof typeof forecastsBy;
const scoresBy = (score: (f: Float32Array) => ErrorMetrics[]): Record<Method, ErrorMetrics[]> => ({
  model: score(forecastsBy.model),
  persistence: score(forecastsBy.persistence),
  historicalAverage: score(forecastsBy.historicalAverage),
});
const pooled = scoresBy((f) => scorePooled(test, origins, STEPS, f, horizons));
const atHorizon = scoresBy((f) => scoreForecasts(test, origins, horizons, pickHorizons(f, STEPS, horizons, n)));

const timing = timeThousandRoads(members, test.values.subarray(0, PROTOCOL.inputSteps * test.sensors.length));

const round = (m: ErrorMetrics) => ({ rmse: +m.rmse.toFixed(4), mae: +m.mae.toFixed(4), accuracy: +m.accuracy.toFixed(4) });
const result = {
  backend,
  data: opts.data,
  protocol: opts.inner ? 'inner (training part only)' : 'T-GCN 80/20',
  // null: the trained model is frozen over the test part (the T-GCN convention).
  coldStart: opts.coldStart ? { rows: coldRows, hiddenUnits: serviceDefaults.hiddenUnits } : null,
  online: online ? { everyRows: onlineEvery, ...policy, updates: online.updates, updateCpuSeconds: +online.updateCpuSeconds.toFixed(1) } : null,
  training: { ...trainOptions, horizonWeights: undefined },
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
  scoring: 'horizons[].model/persistence/historicalAverage: steps 1..h pooled (T-GCN protocol); horizons[].atHorizon: step h only',
  horizons: horizons.map((h, k) => ({
    minutes: h * 5,
    model: round(pooled.model[k]),
    persistence: round(pooled.persistence[k]),
    historicalAverage: round(pooled.historicalAverage[k]),
    atHorizon: {
      model: round(atHorizon.model[k]),
      persistence: round(atHorizon.persistence[k]),
      historicalAverage: round(atHorizon.historicalAverage[k]),
    },
  })),
  forecastMsFor1000Roads: +timing.medianMs.toFixed(2),
  forecastMsFor1000RoadsP90: +timing.p90Ms.toFixed(2),
  forecastCpuMsFor1000Roads: +timing.cpuMedianMs.toFixed(2),
  targets: {
    // Pooled 1..h, the protocol the 4.6 mph target and the T-GCN reference (5.1264) use.
    beatsBothBaselinesAtEveryHorizon: horizons.every((_, k) => pooled.model[k].rmse < Math.min(pooled.persistence[k].rmse, pooled.historicalAverage[k].rmse)),
    beatsBothBaselinesAtEveryHorizonAtHorizonOnly: horizons.every((_, k) => atHorizon.model[k].rmse < Math.min(atHorizon.persistence[k].rmse, atHorizon.historicalAverage[k].rmse)),
    rmse15MinAtMost4_6: pooled.model[0].rmse <= 4.6,
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
  const table = (scores: Record<Method, ErrorMetrics[]>): string[] => [
    `horizon | ${pad('model: RMSE     MAE     acc', 26)} | ${pad('persistence: RMSE  MAE     acc', 30)} | ${pad('hist. average: RMSE  MAE     acc', 32)}`,
    ...horizons.map((h, k) => `${pad(`${h * 5} min`, 7)} | ${pad(cell(scores.model[k]), 26)} | ${pad(cell(scores.persistence[k]), 30)} | ${pad(cell(scores.historicalAverage[k]), 32)}`),
  ];
  const lines = [
    `Los-loop forecasting (${result.protocol} protocol), backend ${backend}, trained in ${trainSeconds.toFixed(1)} s (CPU ${trainCpuSeconds.toFixed(1)} s; ${opts.ensemble} member(s), first: best epoch ${result.bestEpoch}/${result.epochsRun}), ${origins.length} test windows × ${result.sensors} sensors`,
    '',
    'pooled 1..h, T-GCN protocol (h = 15 min pools 5, 10 and 15 min ahead; T-GCN best logged run: RMSE 5.1264, acc 0.9127):',
    ...table(pooled),
    '',
    'at the horizon only (step h alone):',
    ...table(atHorizon),
    '',
    `one forecast for 1,000 roads (${opts.ensemble} member(s)): median ${timing.medianMs.toFixed(1)} ms wall, p90 ${timing.p90Ms.toFixed(1)} ms; median ${timing.cpuMedianMs.toFixed(1)} ms CPU`,
    `targets (pooled): beats both baselines at every horizon ${result.targets.beatsBothBaselinesAtEveryHorizon ? 'yes' : 'NO'} (at the horizon only: ${result.targets.beatsBothBaselinesAtEveryHorizonAtHorizonOnly ? 'yes' : 'NO'}); ` +
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
