/**
 * The learned short-term forecaster: one small network shared by every road, fed with that
 * road's last hour, its neighbours' (graph diffusion over the adjacency) and the historical
 * averages at the target slots, predicting the change from the last reading at every horizon at
 * once. Sharing one network across roads is what lets it train in a few minutes on two cores and
 * forecast a 1,000-road city in one batched call; the graph and history features give each road
 * its own context.
 *
 * Functional style: training and updating return new forecasters; weight initialisation and
 * batch order are seeded, so a run is reproducible on a given backend.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { Mt19937 } from '../random.ts';
import { congestionLevel, freeFlowSpeeds, type CongestionLevel } from './congestion.ts';
import {
  FeatureConfigSchema,
  diffuseRows,
  featureContext,
  featureCount,
  featureScratch,
  fitStandardiser,
  standardise,
  writeWindowFeatures,
  type FeatureContext,
  type Standardiser,
} from './features.ts';
import { accumulate, buildHistoricalAverage, type HistoricalAverage } from './HistoricalAverage.ts';
import { leadGraph, type RoadGraph } from './RoadGraph.ts';
import { fillMissing, isValidReading, sliceRows, timeOfRow, type SensorSeries, type SlotTime } from './series.ts';

export const ForecasterConfigSchema = FeatureConfigSchema.extend({
  /** What the series measures; congestion levels need speed. */
  quantity: z.enum(['speed', 'flow']).default('speed'),
  stepMinutes: z.number().int().positive().default(5),
  hiddenUnits: z.array(z.number().int().positive()).min(1).default([128, 128]),
  /** Dropout after each hidden layer while training (0: none). */
  dropout: z.number().min(0).max(0.9).default(0),
  seed: z.number().int().nonnegative().default(1),
  /**
   * Training loss: squared error (0), or Huber with this threshold in standardised target units
   * (squared inside it, linear beyond): the rare sudden jumps no input foretells pull the network
   * less. Kept with the model so that updates train on the same loss.
   */
  huberDelta: z.number().nonnegative().default(0),
});
export type ForecasterConfig = z.infer<typeof ForecasterConfigSchema>;
export type ForecasterConfigInput = z.input<typeof ForecasterConfigSchema>;

/**
 * The configuration evaluated on Los-loop: 5-minute data, one hour of input, forecasts at every
 * step 5, 10, …, 60 minutes ahead. Every step because the T-GCN protocol scores horizon h over
 * steps 1..h pooled; on the inner protocol the extra outputs also helped the single-step scores.
 */
export const DEFAULT_FORECASTER_CONFIG: ForecasterConfigInput = {
  inputSteps: 12,
  horizons: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  neighbourLags: 12,
  // Chosen on the inner protocol (pooled 15-min RMSE 4.249 → 4.224, seed 11: 4.250 → 4.229; every
  // horizon better). Tried there and not taken: two-hop means, slowest neighbour, earlier
  // departures, network-wide departure, lead-graph means and leaders one by one, dropout.
  neighbourAnomaly: true,
  // Session 10, inner protocol (3-member ensembles, pooled 15 / 30 / 45 / 60-min RMSE): squared
  // error 4.224 / 4.801 / 5.179 / 5.470, Huber at 3 standard deviations 4.220 / 4.786 / 5.162 /
  // 5.453; seeds 11–13: 4.229 / 4.805 / 5.186 / 5.477 → 4.217 / 4.793 / 5.172 / 5.465. At 2:
  // 4.224 / 4.787 / 5.157 / 5.445; at 1.5 the 15-min score got worse (4.236). On the test part
  // RMSE barely moved (15 min 4.642 → 4.644, 60 min 6.117 → 6.111) and MAE fell 1.2–1.4 %.
  huberDelta: 3,
  stepMinutes: 5,
  hiddenUnits: [128, 128],
  seed: 1,
};

export const TrainOptionsSchema = z.object({
  maxEpochs: z.number().int().positive().default(12),
  /** Stop after this many epochs without a better validation error. */
  patience: z.number().int().positive().default(3),
  batchSize: z.number().int().positive().default(1024),
  /** Peak learning rate; decays along a half cosine over maxEpochs. */
  learningRate: z.number().positive().default(1e-3),
  /** Share of the training rows, taken from its END, used for early stopping. */
  validationFraction: z.number().min(0.01).max(0.5).default(0.15),
  /**
   * Wall-clock budget for the whole training, fold-in included: an epoch starts only if it and
   * the fold-in are expected (from the last epoch's duration) to end within it.
   */
  maxSeconds: z.number().positive().default(240),
  /**
   * After early stopping, the validation rows are folded in as "new data" (history updated,
   * a few epochs of fine-tuning on them) so the most recent days are not wasted: 0 disables.
   */
  foldInEpochs: z.number().int().nonnegative().default(3),
  foldInLearningRate: z.number().positive().default(2e-4),
  /**
   * What the fold-in trains on: only the windows whose targets are the validation rows
   * ('recent'), or every training window ('replay': the recent rows join without the network
   * drifting towards that one period).
   */
  foldInMode: z.enum(['recent', 'replay']).default('recent'),
  /**
   * Rows behind the historical-average features while training: 'all' training rows (each
   * sample leaves its own row out, so no target leaks, and the averages are as rich as at test
   * time) or only the 'fit' rows (validation rows join at fold-in).
   */
  historyFrom: z.enum(['all', 'fit']).default('all'),
  /**
   * Which weights training ends with: the 'best' epoch on the validation rows, or the 'last'
   * (with a tiny validationFraction and no fold-in: every row trains the whole schedule).
   */
  keepEpoch: z.enum(['best', 'last']).default('best'),
  /** Progress on stderr. */
  progress: z.boolean().default(true),
  /**
   * What `maxSeconds` counts: 'wall' time, or this process's 'cpu' time (user + system). On a
   * machine shared with other work, CPU time is what an unloaded run would take in wall time
   * (the wasm backend computes on one thread).
   */
  budgetClock: z.enum(['wall', 'cpu']).default('wall'),
  /** Give the event loop a turn after every batch (training inside a running service). */
  yieldBetweenBatches: z.boolean().default(false),
  /**
   * Relative weight of each horizon (same order as config.horizons) in the training loss and in
   * the early-stopping score; equal when absent. Applied by shrinking that horizon's target scale
   * by √w, so the squared error of its standardised output counts w times (and the fold-in and
   * later updates keep the same weighting through the stored scaler).
   */
  horizonWeights: z.array(z.number().positive()).optional(),
});
export type TrainOptions = z.infer<typeof TrainOptionsSchema>;
export type TrainOptionsInput = z.input<typeof TrainOptionsSchema>;

/**
 * The training evaluated on Los-loop (`npm run eval:forecast`), each choice made on the inner
 * protocol: peak learning rate 2e-3 (1e-3 before), no early stop before maxEpochs (the best epoch
 * is still kept; the cosine decay's last epochs often improve after a plateau), fold-in with
 * replay. Unset options keep the schema defaults; the service passes its own.
 */
export const EVALUATED_TRAIN_OPTIONS: TrainOptionsInput = { maxEpochs: 12, patience: 12, learningRate: 2e-3, foldInEpochs: 3, foldInMode: 'replay' };

export const UpdateOptionsSchema = z.object({
  /** 0: the new rows only join the history (no fine-tuning). */
  epochs: z.number().int().nonnegative().default(3),
  /** Leading rows of the update series already in the history: inputs only, never targets. */
  contextRows: z.number().int().nonnegative().default(0),
  /** false when the new rows are already in the history (fine-tuning only). */
  addToHistory: z.boolean().default(true),
  /**
   * Leading rows already in the history (only the rows after them are added to it); defaults
   * to `contextRows`. Larger when windows completed by the new rows start inside old rows.
   */
  historyRows: z.number().int().nonnegative().optional(),
  learningRate: z.number().positive().default(2e-4),
  /**
   * Older windows of the series (those before the new ones, all in the history) drawn at random
   * and trained on beside the new ones, so the network does not drift towards the latest hours.
   */
  replayWindows: z.number().int().nonnegative().default(0),
  batchSize: z.number().int().positive().default(512),
  seed: z.number().int().nonnegative().default(7),
  progress: z.boolean().default(false),
  yieldBetweenBatches: z.boolean().default(false),
});
export type UpdateOptionsInput = z.input<typeof UpdateOptionsSchema>;

export interface SpeedForecaster {
  readonly config: ForecasterConfig;
  readonly sensors: readonly string[];
  readonly graph: RoadGraph;
  readonly history: HistoricalAverage;
  readonly features: FeatureContext;
  /** Input standardisation, from training windows only. */
  readonly featureScaler: Standardiser;
  /** Per-horizon standardisation of the predicted change. */
  readonly targetScaler: Standardiser;
  /** Per road, for congestion levels (NaN: unknown). */
  readonly freeFlow: Float32Array;
  readonly model: tf.LayersModel;
}

export interface EpochReport {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly validationRmse: readonly number[];
  readonly seconds: number;
}

export interface TrainReport {
  readonly epochs: readonly EpochReport[];
  readonly bestEpoch: number;
  readonly stoppedBy: 'patience' | 'maxEpochs' | 'time';
  readonly seconds: number;
  /** Process CPU time (user + system) over the training. */
  readonly cpuSeconds: number;
  readonly trainSamples: number;
  readonly validationSamples: number;
  /** The fold-in of the validation rows, if done. */
  readonly foldIn: UpdateReport | null;
}

export interface TrainProgress {
  readonly phase: 'train' | 'update';
  readonly epoch: number;
  readonly epochs: number;
  readonly batch: number;
  readonly batches: number;
  readonly loss: number;
  readonly elapsedSeconds: number;
}

// ---------------------------------------------------------------------------------------------
// Samples

/** Model inputs and targets for a set of windows (one row per road per window). */
interface SampleSet {
  /** rows × featureCount, standardised once the scaler is known. */
  readonly x: Float32Array;
  /** rows × horizons: change from the last reading (raw units until standardised). */
  readonly y: Float32Array;
  /** rows: the last (filled) reading, to turn predicted changes back into values. */
  readonly last: Float32Array;
  readonly rows: number;
}

/**
 * Windows ending at `origins` (index of the last input row). `inHistory(row)`: that row of the
 * series is part of the forecaster's history (training, updates), so the averages leave it out.
 * Training targets that are missing drop their (window, road) sample: inputs are cleaned, the
 * test set never is.
 */
async function buildSamples(
  ctx: FeatureContext,
  raw: SensorSeries,
  origins: readonly number[],
  inHistory: (row: number) => boolean,
  yieldBetweenWindows = false,
): Promise<SampleSet> {
  const { config } = ctx;
  const n = raw.sensors.length;
  const F = featureCount(config);
  const H = config.horizons.length;
  const filled = fillMissing(raw);
  const diffused = diffuseRows(ctx.graph, filled.values);
  const scratch = featureScratch(n);
  const x = new Float32Array(origins.length * n * F);
  const y = new Float32Array(origins.length * n * H);
  const last = new Float32Array(origins.length * n);
  let rows = 0;
  const windowX = new Float32Array(n * F);
  for (const o of origins) {
    // A large city's windows take a while to build: inside a service, let other work run between them.
    if (yieldBetweenWindows) await new Promise<void>((resolve) => setImmediate(resolve));
    const from = (o - config.inputSteps + 1) * n;
    const to = (o + 1) * n;
    const historyRow = (k: number): Float32Array | null =>
      o + k < raw.rows && inHistory(o + k) ? raw.values.subarray((o + k) * n, (o + k + 1) * n) : null;
    writeWindowFeatures(ctx, filled.values.subarray(from, to), diffused.subarray(from, to), timeOfRow(raw.grid, o), historyRow, scratch, windowX, 0);
    for (let j = 0; j < n; j++) {
      const L = filled.values[o * n + j];
      let ok = Number.isFinite(L);
      for (let k = 0; k < H && ok; k++) ok = isValidReading(raw.values[(o + config.horizons[k]) * n + j]);
      if (!ok) continue;
      x.set(windowX.subarray(j * F, (j + 1) * F), rows * F);
      for (let k = 0; k < H; k++) y[rows * H + k] = raw.values[(o + config.horizons[k]) * n + j] - L;
      last[rows] = L;
      rows++;
    }
  }
  return { x: x.subarray(0, rows * F), y: y.subarray(0, rows * H), last: last.subarray(0, rows), rows };
}

/** All window origins whose inputs and every target lie inside rows [from, to). */
export function windowOrigins(config: { inputSteps: number; horizons: readonly number[] }, from: number, to: number): number[] {
  const maxH = Math.max(...config.horizons);
  const out: number[] = [];
  for (let o = from + config.inputSteps - 1; o + maxH < to; o++) out.push(o);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Model

/** Adam whose learning rate can follow a schedule (the field is protected in tfjs). */
class ScheduledAdam extends tf.AdamOptimizer {
  constructor(learningRate: number) {
    super(learningRate, 0.9, 0.999, 1e-7);
  }
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }
}

function buildModel(config: ForecasterConfig, inputs: number): tf.LayersModel {
  const model = tf.sequential();
  config.hiddenUnits.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: config.seed + i }),
        ...(i === 0 ? { inputShape: [inputs] } : {}),
      }),
    );
    if (config.dropout > 0) model.add(tf.layers.dropout({ rate: config.dropout, seed: config.seed + 200 + i }));
  });
  model.add(
    tf.layers.dense({
      units: config.horizons.length,
      kernelInitializer: tf.initializers.glorotUniform({ seed: config.seed + 100 }),
    }),
  );
  return model;
}

function compile(model: tf.LayersModel, lr: number, huberDelta: number): ScheduledAdam {
  const optimizer = new ScheduledAdam(lr);
  model.compile({ optimizer, loss: huberDelta > 0 ? (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.huberLoss(yTrue, yPred, undefined, huberDelta) : 'meanSquaredError' });
  return optimizer;
}

/** Standardised model outputs for rows of standardised inputs, in chunks to bound memory. */
function predictStandardised(model: tf.LayersModel, x: Float32Array, width: number, outWidth: number): Float32Array {
  const rows = x.length / width;
  const out = new Float32Array(rows * outWidth);
  const chunk = 16384;
  for (let r = 0; r < rows; r += chunk) {
    const m = Math.min(chunk, rows - r);
    // Read the data outside tidy: tidy scans a returned typed array element by element.
    // predictOnBatch: predict() would split the rows into batches of 32.
    const result = tf.tidy(() => model.predictOnBatch(tf.tensor2d(x.subarray(r * width, (r + m) * width), [m, width])) as tf.Tensor);
    out.set(result.dataSync(), r * outWidth);
    result.dispose();
  }
  return out;
}

/** Turns standardised predicted changes back into values: last + change. */
function toValues(pred: Float32Array, last: Float32Array, scaler: Standardiser): Float32Array {
  const H = scaler.mean.length;
  const out = new Float32Array(pred.length);
  for (let r = 0; r < last.length; r++) {
    for (let k = 0; k < H; k++) out[r * H + k] = last[r] + pred[r * H + k] * scaler.std[k] + scaler.mean[k];
  }
  return out;
}

function rmsePerHorizon(pred: Float32Array, set: SampleSet, scaler: Standardiser): number[] {
  const H = scaler.mean.length;
  const values = toValues(pred, set.last, scaler);
  const sums = new Float64Array(H);
  for (let r = 0; r < set.rows; r++) {
    for (let k = 0; k < H; k++) {
      const e = values[r * H + k] - (set.last[r] + set.y[r * H + k]);
      sums[k] += e * e;
    }
  }
  return Array.from(sums, (s) => Math.sqrt(s / Math.max(1, set.rows)));
}

function seededPermutation(rng: Mt19937, n: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** One pass over `set` in seeded random batches; returns the mean training loss. */
async function runEpoch(
  model: tf.LayersModel,
  set: SampleSet,
  width: number,
  outWidth: number,
  batchSize: number,
  rng: Mt19937,
  onBatch: (batch: number, batches: number, loss: number) => void,
  yieldBetweenBatches = false,
): Promise<number> {
  const order = seededPermutation(rng, set.rows);
  const batches = Math.ceil(set.rows / batchSize);
  const bx = new Float32Array(batchSize * width);
  const by = new Float32Array(batchSize * outWidth);
  let total = 0;
  for (let b = 0; b < batches; b++) {
    const m = Math.min(batchSize, set.rows - b * batchSize);
    for (let i = 0; i < m; i++) {
      const r = order[b * batchSize + i];
      bx.set(set.x.subarray(r * width, (r + 1) * width), i * width);
      by.set(set.y.subarray(r * outWidth, (r + 1) * outWidth), i * outWidth);
    }
    const xs = tf.tensor2d(bx.subarray(0, m * width), [m, width]);
    const ys = tf.tensor2d(by.subarray(0, m * outWidth), [m, outWidth]);
    const loss = await model.trainOnBatch(xs, ys);
    xs.dispose();
    ys.dispose();
    const l = Array.isArray(loss) ? loss[0] : loss;
    total += l * m;
    onBatch(b + 1, batches, l);
    // trainOnBatch resolves as a microtask: without this, a whole epoch would hold up timers and I/O.
    if (yieldBetweenBatches) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return total / Math.max(1, set.rows);
}

// ---------------------------------------------------------------------------------------------
// Progress on stderr

function stderrProgress(enabled: boolean): (p: TrainProgress) => void {
  let lastDraw = 0;
  return (p) => {
    if (!enabled) return;
    const now = Date.now();
    if (p.batch !== p.batches && now - lastDraw < 250) return;
    lastDraw = now;
    const width = 24;
    const done = Math.round((p.batch / p.batches) * width);
    const bar = '#'.repeat(done) + '.'.repeat(width - done);
    const line = `${p.phase} epoch ${p.epoch}/${p.epochs} [${bar}] ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} ${p.elapsedSeconds.toFixed(0)}s`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
    else if (p.batch === p.batches) process.stderr.write(`${line}\n`);
  };
}

function logLine(enabled: boolean, line: string): void {
  if (!enabled) return;
  process.stderr.write(process.stderr.isTTY ? `\r${line}\x1b[K\n` : `${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Training

export interface TrainResult {
  readonly forecaster: SpeedForecaster;
  readonly report: TrainReport;
}

/**
 * Trains on `train` (chronological; the test part must not be in it). The last
 * `validationFraction` of its rows serve early stopping; the best epoch's weights are kept.
 * Historical averages, free-flow speeds and standardisation all come from `train` only.
 */
export async function trainForecaster(
  train: SensorSeries,
  graph: RoadGraph,
  configInput: ForecasterConfigInput,
  optionsInput: TrainOptionsInput = {},
  onProgress?: (p: TrainProgress) => void,
): Promise<TrainResult> {
  const config = ForecasterConfigSchema.parse(configInput);
  const opts = TrainOptionsSchema.parse(optionsInput);
  if (graph.nodeCount !== train.sensors.length) throw new Error('graph size differs from the number of sensors');
  if (train.grid.stepMinutes !== config.stepMinutes) throw new Error('series step differs from config.stepMinutes');
  const progress = onProgress ?? stderrProgress(opts.progress);
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const cpuElapsed = (): number => {
    const u = process.cpuUsage(cpuStarted);
    return (u.user + u.system) / 1e6;
  };
  const budgetElapsed = opts.budgetClock === 'cpu' ? cpuElapsed : elapsed;

  const valStart = train.rows - Math.max(1, Math.round(train.rows * opts.validationFraction));
  const history = buildHistoricalAverage(opts.historyFrom === 'all' ? train : sliceRows(train, 0, valStart));
  const filledTrain = config.leadLags > 0 || config.leadTop > 0 || config.leadAnomaly ? fillMissing(train) : null;
  const ctx = featureContext(config, graph, history, filledTrain ? leadGraph(graph, filledTrain.values, filledTrain.rows) : graph);
  const inHistory = (row: number): boolean => opts.historyFrom === 'all' || row < valStart;
  const maxH = Math.max(...config.horizons);
  // Fit windows have every target before the validation part; validation windows' targets all
  // lie inside it (their inputs may reach back into the fit part, as at test time).
  const fitOrigins = windowOrigins(config, 0, valStart);
  const valOrigins = windowOrigins(config, 0, train.rows).filter((o) => o + 1 >= valStart);
  if (fitOrigins.length === 0 || valOrigins.length === 0) {
    throw new Error(`not enough rows to train: ${train.rows} rows, need well over ${config.inputSteps + maxH}`);
  }
  const fit = await buildSamples(ctx, train, fitOrigins, inHistory, opts.yieldBetweenBatches);
  const val = await buildSamples(ctx, train, valOrigins, inHistory, opts.yieldBetweenBatches);
  const F = featureCount(config);
  const H = config.horizons.length;
  const featureScaler = fitStandardiser(fit.x, F);
  const fitted = fitStandardiser(fit.y, H);
  const weights = opts.horizonWeights ?? config.horizons.map(() => 1);
  if (weights.length !== H) throw new Error(`horizonWeights: expected ${H} weights, got ${weights.length}`);
  const targetScaler: Standardiser = { mean: fitted.mean, std: fitted.std.map((v, k) => v / Math.sqrt(weights[k])) };
  const weightSum = weights.reduce((a, b) => a + b, 0);
  for (const set of [fit, val]) {
    standardise(set.x, featureScaler);
    standardise(set.y, targetScaler);
  }
  logLine(opts.progress, `features built: ${fit.rows} training and ${val.rows} validation samples × ${F} inputs (${elapsed().toFixed(1)} s)`);

  const model = buildModel(config, F);
  const optimizer = compile(model, opts.learningRate, config.huberDelta);
  const rng = new Mt19937(config.seed);
  const epochs: EpochReport[] = [];
  let best = Number.POSITIVE_INFINITY;
  let bestEpoch = 0;
  let bestWeights: tf.Tensor[] | null = null;
  let stoppedBy: TrainReport['stoppedBy'] = 'maxEpochs';
  // Validation scores are in the data's units (mph), target scaling undone.
  const valTargets: SampleSet = { ...val, y: toValues(val.y, new Float32Array(val.rows), targetScaler) };

  let lastEpochSeconds = 0;
  for (let e = 1; e <= opts.maxEpochs; e++) {
    const foldInRows = opts.foldInMode === 'replay' ? fit.rows + val.rows : val.rows;
    const foldInSeconds = 1.2 * opts.foldInEpochs * lastEpochSeconds * (foldInRows / fit.rows);
    if (e > 1 && budgetElapsed() + lastEpochSeconds + foldInSeconds > opts.maxSeconds) {
      stoppedBy = 'time';
      break;
    }
    const epochStarted = budgetElapsed();
    optimizer.setLearningRate(opts.learningRate * 0.5 * (1 + Math.cos((Math.PI * (e - 1)) / opts.maxEpochs)));
    const trainLoss = await runEpoch(model, fit, F, H, opts.batchSize, rng, (batch, batches, loss) =>
      progress({ phase: 'train', epoch: e, epochs: opts.maxEpochs, batch, batches, loss, elapsedSeconds: elapsed() }),
      opts.yieldBetweenBatches,
    );
    const validationRmse = rmsePerHorizon(predictStandardised(model, val.x, F, H), valTargets, targetScaler);
    const score = validationRmse.reduce((s, v, k) => s + v * weights[k], 0) / weightSum;
    epochs.push({ epoch: e, trainLoss, validationRmse, seconds: elapsed() });
    lastEpochSeconds = budgetElapsed() - epochStarted;
    const improved = score < best;
    logLine(
      opts.progress,
      `epoch ${e}: train loss ${trainLoss.toFixed(4)}, validation RMSE ${validationRmse.map((v) => v.toFixed(3)).join(' / ')}${improved ? ' *' : ''} (${elapsed().toFixed(0)} s)`,
    );
    if (improved) {
      best = score;
      bestEpoch = e;
      bestWeights?.forEach((w) => w.dispose());
      bestWeights = model.getWeights().map((w) => w.clone());
    } else if (e - bestEpoch >= opts.patience) {
      stoppedBy = 'patience';
      break;
    }
  }
  if (bestWeights) {
    if (opts.keepEpoch === 'best') model.setWeights(bestWeights);
    bestWeights.forEach((w) => w.dispose());
  }
  const selected: SpeedForecaster = {
    config,
    sensors: train.sensors,
    graph,
    history,
    features: ctx,
    featureScaler,
    targetScaler,
    freeFlow: freeFlowSpeeds(train),
    model,
  };
  let forecaster = selected;
  let foldIn: UpdateReport | null = null;
  if (opts.foldInEpochs > 0) {
    // 'recent': context rows so that the first fold-in window's inputs end just before the new
    // rows; 'replay': every training window (rows before valStart are already in the history).
    const replay = opts.foldInMode === 'replay';
    const from = replay ? 0 : valStart - config.inputSteps;
    const updated = await updateForecaster(
      selected,
      sliceRows(train, from, train.rows),
      {
        epochs: opts.foldInEpochs,
        learningRate: opts.foldInLearningRate,
        contextRows: replay ? 0 : config.inputSteps,
        historyRows: valStart - from,
        // A pass over every window: the training batch size, not the small one of updates.
        ...(replay ? { batchSize: opts.batchSize } : {}),
        addToHistory: opts.historyFrom === 'fit',
        seed: config.seed + 1,
        progress: opts.progress,
        yieldBetweenBatches: opts.yieldBetweenBatches,
      },
      onProgress,
    );
    disposeForecaster(selected);
    forecaster = updated.forecaster;
    foldIn = updated.report;
    logLine(opts.progress, `validation rows folded in (${opts.foldInMode}): ${foldIn.samples} samples, loss ${foldIn.lossBefore.toFixed(4)} → ${foldIn.lossAfter.toFixed(4)} (${elapsed().toFixed(0)} s)`);
  } else if (opts.historyFrom === 'fit') {
    // Without fold-in the history must still cover every training row.
    const all = buildHistoricalAverage(train);
    forecaster = { ...selected, history: all, features: featureContext(config, graph, all, ctx.leadGraph) };
  }
  return {
    forecaster,
    report: { epochs, bestEpoch, stoppedBy, seconds: elapsed(), cpuSeconds: cpuElapsed(), trainSamples: fit.rows, validationSamples: val.rows, foldIn },
  };
}

// ---------------------------------------------------------------------------------------------
// Forecasting

/**
 * Forecasts for many windows of one series (evaluation): for each origin (index of the last
 * input row) and horizon, every road's value; layout [origin][horizon][road].
 * Rows from `historyRows` on must not be part of the forecaster's history (e.g. a test part);
 * the rows before it are (an online evaluation that has folded them in), so their readings are
 * left out of the averages as in training.
 */
export function forecastSeries(f: SpeedForecaster, series: SensorSeries, origins: readonly number[], historyRows = 0): Float32Array {
  const n = f.sensors.length;
  const H = f.config.horizons.length;
  const F = featureCount(f.config);
  const out = new Float32Array(origins.length * H * n);
  // The live path's feature code, window by window, with the network run per chunk of windows.
  const chunk = 64;
  const filled = fillMissing(series);
  const scratch = featureScratch(n);
  for (let c = 0; c < origins.length; c += chunk) {
    const part = origins.slice(c, c + chunk);
    const x = new Float32Array(part.length * n * F);
    const last = new Float32Array(part.length * n);
    part.forEach((o, i) => {
      const from = (o - f.config.inputSteps + 1) * n;
      const window = filled.values.subarray(from, (o + 1) * n);
      const historyRow = (k: number): Float32Array | null => (o + k < historyRows ? series.values.subarray((o + k) * n, (o + k + 1) * n) : null);
      writeWindowFeatures(f.features, window, diffuseRows(f.graph, window), timeOfRow(series.grid, o), historyRow, scratch, x, i * n);
      last.set(window.subarray((f.config.inputSteps - 1) * n), i * n);
    });
    standardise(x, f.featureScaler);
    const values = toValues(predictStandardised(f.model, x, F, H), last, f.targetScaler);
    // [origin][road][horizon] → [origin][horizon][road]
    part.forEach((_, i) => {
      for (let j = 0; j < n; j++) {
        for (let k = 0; k < H; k++) out[((c + i) * H + k) * n + j] = values[(i * n + j) * H + k];
      }
    });
  }
  return out;
}

/**
 * One forecast from the latest `inputSteps` rows (rows × roads, oldest first, raw readings;
 * missing ones ≤ 0 or NaN are filled from the road's previous reading). `lastRowTime` is the
 * time of the newest row. Returns [horizon][road].
 */
export function forecastWindow(f: SpeedForecaster, recent: Float32Array, lastRowTime: SlotTime): Float32Array {
  const n = f.sensors.length;
  const { inputSteps, horizons } = f.config;
  if (recent.length !== inputSteps * n) throw new Error(`expected ${inputSteps} rows × ${n} roads of readings`);
  const F = featureCount(f.config);
  const H = horizons.length;
  const window = fillMissing({ sensors: f.sensors, grid: { stepMinutes: f.config.stepMinutes, startDayOfWeek: 0, startSlot: 0 }, values: recent, rows: inputSteps }).values;
  const x = new Float32Array(n * F);
  writeWindowFeatures(f.features, window, diffuseRows(f.graph, window), lastRowTime, () => null, featureScratch(n), x, 0);
  standardise(x, f.featureScaler);
  const values = toValues(predictStandardised(f.model, x, F, H), window.subarray((inputSteps - 1) * n), f.targetScaler);
  const out = new Float32Array(H * n);
  for (let j = 0; j < n; j++) for (let k = 0; k < H; k++) out[k * n + j] = values[j * H + k];
  return out;
}

export interface RoadForecast {
  readonly road: string;
  /** One value per horizon (mph for speed). */
  readonly values: readonly number[];
  /** One level per horizon; null when the quantity is not speed or free flow is unknown. */
  readonly levels: readonly CongestionLevel[] | null;
}

export interface ForecastResult {
  readonly horizonsMinutes: readonly number[];
  readonly roads: readonly RoadForecast[];
}

/** The service-facing forecast: per road, a value and a congestion level per horizon. */
export function forecast(f: SpeedForecaster, recent: Float32Array, lastRowTime: SlotTime): ForecastResult {
  const n = f.sensors.length;
  const grid = forecastWindow(f, recent, lastRowTime);
  const H = f.config.horizons.length;
  const roads: RoadForecast[] = f.sensors.map((road, j) => {
    const values = Array.from({ length: H }, (_, k) => grid[k * n + j]);
    const ff = f.freeFlow[j];
    const levels = f.config.quantity === 'speed' && Number.isFinite(ff) ? values.map((v) => congestionLevel(v, ff)) : null;
    return { road, values, levels };
  });
  return { horizonsMinutes: f.config.horizons.map((h) => h * f.config.stepMinutes), roads };
}

// ---------------------------------------------------------------------------------------------
// Incremental updates

export interface UpdateReport {
  readonly samples: number;
  readonly lossBefore: number;
  readonly lossAfter: number;
  readonly seconds: number;
}

/** A forecaster with its own copy of the model (weights cloned), sharing nothing mutable. */
export function cloneForecaster(f: SpeedForecaster): SpeedForecaster {
  const model = buildModel(f.config, featureCount(f.config));
  model.setWeights(f.model.getWeights());
  return { ...f, model };
}

/**
 * Folds newly arrived rows into the forecaster: they join the historical averages, and the
 * network is fine-tuned for a few epochs on the windows they contain, starting from the
 * current weights (not retrained). `recent` holds `contextRows` rows already in the history
 * (inputs for the first windows) followed by the new rows; each window's targets are new rows.
 * Returns a new forecaster; `f` is unchanged.
 */
export async function updateForecaster(
  f: SpeedForecaster,
  recent: SensorSeries,
  optionsInput: UpdateOptionsInput = {},
  onProgress?: (p: TrainProgress) => void,
): Promise<{ forecaster: SpeedForecaster; report: UpdateReport }> {
  const opts = UpdateOptionsSchema.parse(optionsInput);
  const started = performance.now();
  if (recent.sensors.length !== f.sensors.length) throw new Error('update: the series has a different number of roads');
  if (opts.contextRows >= recent.rows) throw new Error('update: no new rows');
  const historyRows = opts.historyRows ?? opts.contextRows;
  if (historyRows > recent.rows) throw new Error('update: historyRows exceeds the rows given');
  const history = opts.addToHistory && historyRows < recent.rows ? accumulate(f.history, sliceRows(recent, historyRows, recent.rows)) : f.history;
  const ctx = opts.addToHistory ? featureContext(f.config, f.graph, history, f.features.leadGraph) : f.features;
  const all = windowOrigins(f.config, 0, recent.rows);
  const fresh = all.filter((o) => o + 1 >= opts.contextRows);
  if (fresh.length === 0) throw new Error('update: not enough rows for one training window');
  const older = all.filter((o) => o + 1 < opts.contextRows);
  const drawn = seededPermutation(new Mt19937(opts.seed + 1), older.length).subarray(0, Math.min(opts.replayWindows, older.length));
  const origins = [...Array.from(drawn, (i) => older[i]).sort((a, b) => a - b), ...fresh];
  const set = await buildSamples(ctx, recent, origins, () => true, opts.yieldBetweenBatches);
  const F = featureCount(f.config);
  const H = f.config.horizons.length;
  standardise(set.x, f.featureScaler);
  standardise(set.y, f.targetScaler);

  const next = cloneForecaster(f);
  compile(next.model, opts.learningRate, f.config.huberDelta);
  const lossOf = (m: tf.LayersModel): number => {
    const pred = predictStandardised(m, set.x, F, H);
    let s = 0;
    for (let i = 0; i < pred.length; i++) s += (pred[i] - set.y[i]) ** 2;
    return s / Math.max(1, pred.length);
  };
  const lossBefore = lossOf(next.model);
  const progress = onProgress ?? stderrProgress(opts.progress);
  const rng = new Mt19937(opts.seed);
  for (let e = 1; e <= opts.epochs; e++) {
    await runEpoch(next.model, set, F, H, opts.batchSize, rng, (batch, batches, loss) =>
      progress({ phase: 'update', epoch: e, epochs: opts.epochs, batch, batches, loss, elapsedSeconds: (performance.now() - started) / 1000 }),
      opts.yieldBetweenBatches,
    );
  }
  const lossAfter = lossOf(next.model);
  return {
    forecaster: { ...next, history, features: ctx },
    report: { samples: set.rows, lossBefore, lossAfter, seconds: (performance.now() - started) / 1000 },
  };
}

/** How a running forecaster folds in new rows (the service's policy; the online evaluation's). */
export interface FoldInPolicy {
  readonly epochs: number;
  readonly learningRate: number;
  /** Older windows replayed per new window (0: the new windows only). */
  readonly replayPerNewWindow: number;
  /** How far back (rows before the first new window's inputs) replayed windows are drawn from. */
  readonly replayRows: number;
}

/**
 * Folds the newly completed windows of `series` into `f` by `policy`: windows with origins from
 * `firstOrigin` on whose targets are all in `series` (row indices of `series`) are fine-tuned on,
 * beside older windows drawn from the `replayRows` rows before; rows from `historyEnd` on join
 * the history. Returns the new forecaster and the origin after the last window trained on.
 */
export async function foldInNewWindows(
  f: SpeedForecaster,
  series: SensorSeries,
  firstOrigin: number,
  historyEnd: number,
  policy: FoldInPolicy,
  options: { seed?: number; yieldBetweenBatches?: boolean } = {},
): Promise<{ forecaster: SpeedForecaster; nextOrigin: number }> {
  const { inputSteps, horizons } = f.config;
  const lastOrigin = series.rows - 1 - Math.max(...horizons);
  if (lastOrigin < firstOrigin) throw new Error('fold-in: no completed window');
  const replay = policy.replayPerNewWindow > 0;
  const from = Math.max(0, firstOrigin - inputSteps + 1 - (replay ? policy.replayRows : 0));
  const { forecaster } = await updateForecaster(f, sliceRows(series, from, series.rows), {
    epochs: policy.epochs,
    learningRate: policy.learningRate,
    // The new windows (origin ≥ firstOrigin) are those whose targets all lie past contextRows.
    contextRows: firstOrigin - from + 1,
    historyRows: Math.max(0, Math.min(series.rows, historyEnd) - from),
    addToHistory: true,
    replayWindows: Math.round(policy.replayPerNewWindow * (lastOrigin - firstOrigin + 1)),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    yieldBetweenBatches: options.yieldBetweenBatches ?? false,
  });
  return { forecaster, nextOrigin: lastOrigin + 1 };
}

/** Releases the model's tensors. */
export function disposeForecaster(f: SpeedForecaster): void {
  f.model.dispose();
}

/**
 * The same trained network serving another set of roads (another city or a synthetic one):
 * the weights are shared because the network is per road and sees roads only via features.
 * A learned lead graph does not carry over: the new roads' graph stands in for it.
 */
export function withRoads(
  f: SpeedForecaster,
  roads: { sensors: readonly string[]; graph: RoadGraph; history: HistoricalAverage; freeFlow: Float32Array },
): SpeedForecaster {
  return { ...f, ...roads, features: featureContext(f.config, roads.graph, roads.history) };
}
