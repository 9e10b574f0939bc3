/**
 * Per-road input features of the learned forecaster, built from one window of recent readings.
 * Everything is expressed relative to the road's last reading L, because the model predicts the
 * change from L (a residual over persistence): that keeps roads with different free-flow speeds
 * on one scale and lets one small network serve every road.
 *
 * For road j and a window ending at row t (the "origin"), in this order:
 *   older readings x[t-k] − L                      k = inputSteps−1 … 1      (temporal encoder input)
 *   L itself                                      (where on the speed scale the road is)
 *   neighbour mean (graph diffusion) at the last `neighbourLags` rows − L (congestion arriving)
 *   historical mean by day type at each target slot − L                    (recurring pattern)
 *   historical mean by time of day at each target slot − L
 *   historical mean by day type at the origin − L  (how unusual "now" is)
 *   sin, cos of the time of day; 1 on weekdays
 * and, when configured (appended so the columns above keep their places):
 *   two-hop neighbour mean at the last `secondHopLags` rows − L   (congestion two links away)
 *   slowest neighbour at the last `neighbourMinLags` rows − L     (a jam a mean would dilute)
 *   neighbours' mean departure from their own day-type mean now   (is the area unusual)
 *   the road's and its neighbours' departure from the day-type mean at the `anomalyLags` rows
 *   before the last one                                             (how the departure grew)
 *   that departure now two hops out, and over the whole network     (`wideAnomaly`: a bad day)
 *   mean of the neighbours whose changes have led the road's, at the last `leadLags` rows − L
 *   (the lead graph, learned from the training data: which way congestion travels)
 *   the `leadTop` strongest leaders one by one: their weight, then their readings at the last
 *   `leadTopLags` rows − L (a missing leader: weight 0, readings equal to L)
 *   the neighbours' usual change: mean of their day-type means at each target slot minus their
 *   readings now (`neighbourExpected`: is the area about to slow down, as most days)
 *   the leading neighbours' departure from their usual level now (`leadAnomaly`)
 */
import { z } from 'zod';
import { hierarchicalMean, overallMean, type HistoricalAverage } from './HistoricalAverage.ts';
import { diffuse, type RoadGraph } from './RoadGraph.ts';
import { advance, isWeekend, type SlotTime } from './series.ts';

export const FeatureConfigSchema = z.object({
  /** Rows of input (12 × 5 min = 1 hour). */
  inputSteps: z.number().int().min(2).max(288),
  /** Forecast horizons in rows after the last input row (3, 6, 9, 12 = 15 … 60 min). */
  horizons: z.array(z.number().int().positive()).min(1),
  /** How many of the most recent rows get a neighbour-mean feature. */
  neighbourLags: z.number().int().min(0).max(288),
  secondHopLags: z.number().int().min(0).max(288).default(0),
  neighbourMinLags: z.number().int().min(0).max(288).default(0),
  neighbourAnomaly: z.boolean().default(false),
  anomalyLags: z.number().int().min(0).max(287).default(0),
  wideAnomaly: z.boolean().default(false),
  leadLags: z.number().int().min(0).max(288).default(0),
  leadTop: z.number().int().min(0).max(16).default(0),
  leadTopLags: z.number().int().min(1).max(288).default(3),
  neighbourExpected: z.boolean().default(false),
  leadAnomaly: z.boolean().default(false),
});
export type FeatureConfig = z.infer<typeof FeatureConfigSchema>;

/** First column of each optional group, in the order documented above; `end` is the width. */
interface FeatureLayout {
  readonly secondHop: number;
  readonly neighbourMin: number;
  readonly neighbourAnomaly: number;
  readonly anomalyLags: number;
  readonly wideAnomaly: number;
  readonly leadLags: number;
  readonly leadTop: number;
  readonly neighbourExpected: number;
  readonly leadAnomaly: number;
  readonly end: number;
}

function featureLayout(c: FeatureConfig): FeatureLayout {
  const widths = {
    secondHop: c.secondHopLags,
    neighbourMin: c.neighbourMinLags,
    neighbourAnomaly: c.neighbourAnomaly ? 1 : 0,
    anomalyLags: 2 * c.anomalyLags,
    wideAnomaly: c.wideAnomaly ? 2 : 0,
    leadLags: c.leadLags,
    leadTop: c.leadTop * (1 + c.leadTopLags),
    neighbourExpected: c.neighbourExpected ? c.horizons.length : 0,
    leadAnomaly: c.leadAnomaly ? 1 : 0,
  };
  // The columns before the optional groups.
  let col = c.inputSteps - 1 + 1 + c.neighbourLags + 2 * c.horizons.length + 1 + 3;
  const starts = {} as Record<keyof typeof widths, number>;
  for (const key of Object.keys(widths) as (keyof typeof widths)[]) {
    starts[key] = col;
    col += widths[key];
  }
  return { ...starts, end: col };
}

export function featureCount(c: FeatureConfig): number {
  return featureLayout(c).end;
}

/** What the features need besides the window; built once per forecaster. */
export interface FeatureContext {
  readonly config: FeatureConfig;
  readonly graph: RoadGraph;
  readonly history: HistoricalAverage;
  /** overallMean(history), the last fallback. */
  readonly historyFallback: Float32Array;
  /** Neighbours weighted by how their changes lead the road's (`leadGraph`); `graph` when none was learned. */
  readonly leadGraph: RoadGraph;
  /** Per road, its lead-graph edge indices, strongest first (only when `leadTop` uses them). */
  readonly leadOrder: readonly (readonly number[])[];
}

export function featureContext(config: FeatureConfig, graph: RoadGraph, history: HistoricalAverage, leadGraph: RoadGraph = graph): FeatureContext {
  if (graph.nodeCount !== history.sensorCount || leadGraph.nodeCount !== graph.nodeCount) throw new Error('graph, lead graph and history disagree on the number of roads');
  // Lags reach back inside the input window only.
  for (const [name, lags, max] of [
    ['neighbourLags', config.neighbourLags, config.inputSteps],
    ['secondHopLags', config.secondHopLags, config.inputSteps],
    ['neighbourMinLags', config.neighbourMinLags, config.inputSteps],
    ['leadLags', config.leadLags, config.inputSteps],
    ['leadTopLags', config.leadTop > 0 ? config.leadTopLags : 0, config.inputSteps],
    ['anomalyLags', config.anomalyLags, config.inputSteps - 1],
  ] as const) {
    if (lags > max) throw new Error(`feature config: ${name} is ${lags}, at most ${max} with inputSteps ${config.inputSteps}`);
  }
  const leadOrder =
    config.leadTop > 0
      ? Array.from({ length: leadGraph.nodeCount }, (_, j) => {
          const edges: number[] = [];
          for (let e = leadGraph.rowStart[j]; e < leadGraph.rowStart[j + 1]; e++) edges.push(e);
          return edges.sort((a, b) => leadGraph.weight[b] - leadGraph.weight[a] || a - b);
        })
      : [];
  return { config, graph, history, historyFallback: overallMean(history), leadGraph, leadOrder };
}

/** Reusable buffers, so that building features allocates almost nothing per window. */
export interface FeatureScratch {
  readonly typeMean: Float32Array;
  readonly todMean: Float32Array;
  readonly levelScratch: Float32Array;
  readonly roadValues: Float32Array;
  readonly roadDiffused: Float32Array;
  readonly anomalyNow: Float32Array;
}

export function featureScratch(n: number): FeatureScratch {
  const f = () => new Float32Array(n);
  return { typeMean: f(), todMean: f(), levelScratch: f(), roadValues: f(), roadDiffused: f(), anomalyNow: f() };
}

/**
 * Diffused copy of rows (rows × n, row-major): each row's neighbour means. Computed once per
 * series in training, per window in live forecasting.
 */
export function diffuseRows(graph: RoadGraph, rows: Float32Array): Float32Array {
  const n = graph.nodeCount;
  const out = new Float32Array(rows.length);
  for (let r = 0; r < rows.length / n; r++) diffuse(graph, rows.subarray(r * n, (r + 1) * n), out.subarray(r * n, (r + 1) * n));
  return out;
}

/** Each road's reading at row offset `at` of `values` minus its usual level `mean` (0 where it has none). */
function departures(values: Float32Array, at: number, mean: Float32Array, out: Float32Array): void {
  for (let j = 0; j < out.length; j++) out[j] = Number.isNaN(mean[j]) ? 0 : values[at + j] - mean[j];
}

/**
 * Writes the n × featureCount features of one window into `out` at row offset `outRow`.
 * `window` and `diffused` hold the last `inputSteps` rows (oldest first, missing readings
 * already filled). `historyRow(k)` returns the raw readings of the row k steps after the origin
 * when that row is itself part of `history` (training), else null: those readings are left out
 * of the averages.
 */
export function writeWindowFeatures(
  ctx: FeatureContext,
  window: Float32Array,
  diffused: Float32Array,
  originTime: SlotTime,
  historyRow: (stepsAfterOrigin: number) => Float32Array | null,
  scratch: FeatureScratch,
  out: Float32Array,
  outRow: number,
): void {
  const { config, history } = ctx;
  const n = ctx.graph.nodeCount;
  const layout = featureLayout(config);
  const F = layout.end;
  const steps = config.inputSteps;
  const last = (steps - 1) * n;
  const spd = history.slotsPerDay;
  // Writes one column of every road's row from a per-road array.
  const writeColumn = (col: number, values: ArrayLike<number>, scale = 1): void => {
    for (let j = 0; j < n; j++) out[(outRow + j) * F + col] = scale * values[j];
  };

  // Temporal and spatial parts.
  for (let j = 0; j < n; j++) {
    const L = window[last + j];
    let o = (outRow + j) * F;
    for (let r = 0; r < steps - 1; r++) out[o++] = window[r * n + j] - L;
    out[o++] = L;
    for (let r = steps - config.neighbourLags; r < steps; r++) out[o++] = diffused[r * n + j] - L;
  }
  const historyBase = steps - 1 + 1 + config.neighbourLags;
  const H = config.horizons.length;

  // Historical means at the target slots (and at the origin), relative to L.
  const writeMeans = (t: SlotTime, leaveOut: Float32Array | null, typeCol: number, todCol: number): void => {
    hierarchicalMean(history, ['dayType', 'timeOfDay'], t, scratch.typeMean, ctx.historyFallback, scratch.levelScratch, leaveOut);
    if (todCol >= 0) {
      hierarchicalMean(history, ['timeOfDay'], t, scratch.todMean, ctx.historyFallback, scratch.levelScratch, leaveOut);
    }
    for (let j = 0; j < n; j++) {
      const L = window[last + j];
      const o = (outRow + j) * F;
      // A road with no history at all gets "no different from now".
      const m1 = scratch.typeMean[j];
      out[o + typeCol] = Number.isNaN(m1) ? 0 : m1 - L;
      if (todCol >= 0) {
        const m2 = scratch.todMean[j];
        out[o + todCol] = Number.isNaN(m2) ? 0 : m2 - L;
      }
    }
  };
  config.horizons.forEach((h, k) => {
    writeMeans(advance(originTime, h, spd), historyRow(h), historyBase + k, historyBase + H + k);
    if (config.neighbourExpected) {
      // Usual level minus now: the departure with its sign turned (diffusion is linear).
      departures(window, last, scratch.typeMean, scratch.roadValues);
      diffuse(ctx.graph, scratch.roadValues, scratch.roadDiffused);
      writeColumn(layout.neighbourExpected + k, scratch.roadDiffused, -1);
    }
  });
  writeMeans(originTime, historyRow(0), historyBase + 2 * H, -1);

  // Departures from the usual level now (scratch.typeMean holds the origin's day-type means from
  // the last writeMeans), read before the optional groups below reuse the scratch.
  const anomaly = scratch.anomalyNow;
  if (config.neighbourAnomaly || config.wideAnomaly || config.leadAnomaly) departures(window, last, scratch.typeMean, anomaly);
  if (config.leadAnomaly) {
    diffuse(ctx.leadGraph, anomaly, scratch.roadDiffused);
    writeColumn(layout.leadAnomaly, scratch.roadDiffused);
  }
  if (config.neighbourAnomaly || config.wideAnomaly) diffuse(ctx.graph, anomaly, scratch.roadDiffused);
  if (config.neighbourAnomaly) writeColumn(layout.neighbourAnomaly, scratch.roadDiffused);
  if (config.wideAnomaly) {
    diffuse(ctx.graph, scratch.roadDiffused, scratch.roadValues);
    let total = 0;
    for (let j = 0; j < n; j++) total += anomaly[j];
    writeColumn(layout.wideAnomaly, scratch.roadValues);
    for (let j = 0; j < n; j++) out[(outRow + j) * F + layout.wideAnomaly + 1] = total / n;
  }

  // Calendar.
  const angle = (2 * Math.PI * originTime.slot) / spd;
  const s = Math.sin(angle);
  const c = Math.cos(angle);
  const weekday = isWeekend(originTime.dayOfWeek) ? 0 : 1;
  for (let j = 0; j < n; j++) {
    const o = (outRow + j) * F + historyBase + 2 * H + 1;
    out[o] = s;
    out[o + 1] = c;
    out[o + 2] = weekday;
  }

  // Two hops: the one-hop means diffused once more.
  for (let r = steps - config.secondHopLags, col = layout.secondHop; r < steps; r++, col++) {
    diffuse(ctx.graph, diffused.subarray(r * n, (r + 1) * n), scratch.roadDiffused);
    for (let j = 0; j < n; j++) out[(outRow + j) * F + col] = scratch.roadDiffused[j] - window[last + j];
  }
  // Slowest neighbour (a road without neighbours: its own reading).
  const g = ctx.graph;
  for (let r = steps - config.neighbourMinLags, col = layout.neighbourMin; r < steps; r++, col++) {
    for (let j = 0; j < n; j++) {
      let m = window[r * n + j];
      if (g.rowStart[j] < g.rowStart[j + 1]) {
        m = Number.POSITIVE_INFINITY;
        for (let k = g.rowStart[j]; k < g.rowStart[j + 1]; k++) m = Math.min(m, window[r * n + g.col[k]]);
      }
      out[(outRow + j) * F + col] = m - window[last + j];
    }
  }
  // The road's and its neighbours' departures at earlier rows.
  for (let back = 1, col = layout.anomalyLags; back <= config.anomalyLags; back++, col += 2) {
    hierarchicalMean(history, ['dayType', 'timeOfDay'], advance(originTime, -back, spd), scratch.typeMean, ctx.historyFallback, scratch.levelScratch, historyRow(-back));
    departures(window, (steps - 1 - back) * n, scratch.typeMean, scratch.roadValues);
    diffuse(ctx.graph, scratch.roadValues, scratch.roadDiffused);
    writeColumn(col, scratch.roadValues);
    writeColumn(col + 1, scratch.roadDiffused);
  }
  for (let r = steps - config.leadLags, col = layout.leadLags; r < steps; r++, col++) {
    diffuse(ctx.leadGraph, window.subarray(r * n, (r + 1) * n), scratch.roadDiffused);
    for (let j = 0; j < n; j++) out[(outRow + j) * F + col] = scratch.roadDiffused[j] - window[last + j];
  }
  if (config.leadTop > 0) {
    const lg = ctx.leadGraph;
    const lags = config.leadTopLags;
    for (let j = 0; j < n; j++) {
      const L = window[last + j];
      let o = (outRow + j) * F + layout.leadTop;
      const leaders = ctx.leadOrder[j];
      for (let k = 0; k < config.leadTop; k++) {
        const e = leaders[k];
        out[o++] = e === undefined ? 0 : lg.weight[e];
        for (let r = steps - lags; r < steps; r++) out[o++] = e === undefined ? 0 : window[r * n + lg.col[e]] - L;
      }
    }
  }
}

/** Per-feature (or per-target) mean and standard deviation, from training samples only. */
export interface Standardiser {
  readonly mean: Float32Array;
  readonly std: Float32Array;
}

export function fitStandardiser(data: Float32Array, width: number): Standardiser {
  const rows = data.length / width;
  const sum = new Float64Array(width);
  const sq = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < width; k++) {
      const v = data[r * width + k];
      sum[k] += v;
      sq[k] += v * v;
    }
  }
  const mean = new Float32Array(width);
  const std = new Float32Array(width);
  for (let k = 0; k < width; k++) {
    mean[k] = sum[k] / rows;
    const variance = Math.max(0, sq[k] / rows - mean[k] * mean[k]);
    // A constant feature (e.g. weekday flag in a weekday-only set) must not blow up.
    std[k] = Math.sqrt(variance) > 1e-6 ? Math.sqrt(variance) : 1;
  }
  return { mean, std };
}

/** In place: (v − mean) / std. */
export function standardise(data: Float32Array, s: Standardiser): void {
  const width = s.mean.length;
  for (let i = 0; i < data.length; i++) {
    const k = i % width;
    data[i] = (data[i] - s.mean[k]) / s.std[k];
  }
}
