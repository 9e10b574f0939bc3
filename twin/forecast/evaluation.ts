/**
 * The T-GCN evaluation protocol as pure functions: chronological split, windows taken inside the
 * test part only (inputs and targets), and error metrics over every test window and every sensor.
 * Nothing is dropped from the test targets.
 *
 * Two ways to score a horizon h: `scorePooled` pools every step 1..h (what T-GCN reports as its
 * "15-minute" figure for h = 3: its test code scores the whole predicted sequence), and
 * `scoreForecasts` scores the single step h ("at the horizon", stricter).
 */
import { historicalAverageForecast, type HistoricalAverage } from './HistoricalAverage.ts';
import { accumulateErrors, finishMetrics, newAccumulator, type ErrorMetrics } from './metrics.ts';
import { persistenceForecast } from './Persistence.ts';
import { advance, sliceRows, timeOfRow, type SensorSeries } from './series.ts';
import { disposeForecaster, foldInNewWindows, forecastSeries, windowOrigins, type FoldInPolicy, type SpeedForecaster } from './SpeedForecaster.ts';

export interface Protocol {
  readonly inputSteps: number;
  readonly horizons: readonly number[];
}

/** Origins (last input row) of every test window: inputs and all targets inside the test part. */
export function testOrigins(test: SensorSeries, p: Protocol): number[] {
  return windowOrigins(p, 0, test.rows);
}

/** Scores forecasts laid out [origin][horizon][sensor] against the series' readings. */
export function scoreForecasts(truth: SensorSeries, origins: readonly number[], horizons: readonly number[], forecasts: Float32Array): ErrorMetrics[] {
  const n = truth.sensors.length;
  return horizons.map((h, k) => {
    const acc = newAccumulator();
    origins.forEach((o, i) => {
      const row = o + h;
      accumulateErrors(acc, truth.values.subarray(row * n, (row + 1) * n), forecasts.subarray((i * horizons.length + k) * n, (i * horizons.length + k + 1) * n));
    });
    return finishMetrics(acc);
  });
}

/**
 * Metrics per horizon h, pooled over every step 1..h: forecasts laid out [origin][step][sensor]
 * for `steps`, which must contain each step 1..max(horizons) (a gap would silently change what
 * is pooled). Accuracy is 1 − ‖Y − Ŷ‖_F / ‖Y‖_F over the pooled set.
 */
export function scorePooled(
  truth: SensorSeries,
  origins: readonly number[],
  steps: readonly number[],
  forecasts: Float32Array,
  horizons: readonly number[],
): ErrorMetrics[] {
  const n = truth.sensors.length;
  const S = steps.length;
  if (forecasts.length !== origins.length * S * n) throw new Error('forecasts do not match origins × steps × sensors');
  return horizons.map((h) => {
    const acc = newAccumulator();
    for (let s = 1; s <= h; s++) {
      const k = steps.indexOf(s);
      if (k < 0) throw new Error(`pooled score up to step ${h} needs step ${s}`);
      origins.forEach((o, i) => {
        accumulateErrors(acc, truth.values.subarray((o + s) * n, (o + s + 1) * n), forecasts.subarray((i * S + k) * n, (i * S + k + 1) * n));
      });
    }
    return finishMetrics(acc);
  });
}

/** Every step 1..maxStep: the steps a pooled score up to maxStep needs. */
export function stepsUpTo(maxStep: number): number[] {
  return Array.from({ length: maxStep }, (_, i) => i + 1);
}

export function persistenceForecasts(test: SensorSeries, origins: readonly number[], p: Protocol): Float32Array {
  const n = test.sensors.length;
  const H = p.horizons.length;
  const out = new Float32Array(origins.length * H * n);
  origins.forEach((o, i) => {
    const f = persistenceForecast(test.values.subarray((o - p.inputSteps + 1) * n, (o + 1) * n), n);
    for (let k = 0; k < H; k++) out.set(f, (i * H + k) * n);
  });
  return out;
}

export function historicalAverageForecasts(history: HistoricalAverage, test: SensorSeries, origins: readonly number[], p: Protocol): Float32Array {
  const n = test.sensors.length;
  const H = p.horizons.length;
  const out = new Float32Array(origins.length * H * n);
  origins.forEach((o, i) => {
    const t = timeOfRow(test.grid, o);
    p.horizons.forEach((h, k) => out.set(historicalAverageForecast(history, advance(t, h, history.slotsPerDay)), (i * H + k) * n));
  });
  return out;
}

export interface OnlineOptions {
  /** Newly arrived rows are folded in once this many have arrived (the service uses 6). */
  readonly everyRows: number;
  readonly policy: FoldInPolicy;
}

export interface OnlineResult {
  /** Per member, forecasts [origin][model horizon][sensor]. */
  readonly model: Float32Array[];
  /** The historical average from the same (growing) history, [origin][step][sensor]. */
  readonly historicalAverage: Float32Array;
  /** The members after the last fold-in (new objects; the inputs are left as they were). */
  readonly members: SpeedForecaster[];
  readonly updates: number;
  readonly updateCpuSeconds: number;
}

/**
 * Forecasts for test windows as the running service makes them: walking forward through the
 * record, every `everyRows` new rows join the histories and the networks are fine-tuned on the
 * windows those rows complete (`foldInNewWindows`, as `ForecastService` does), and each window is
 * forecast from what was known at its origin only. `series` is the whole record (training part
 * then test part, `trainRows` rows of training, already in every member's history); `origins`
 * are rows of `series` at or after `trainRows + inputSteps − 1`, ascending. `steps` are the
 * historical average's forecast steps.
 */
export async function onlineForecasts(
  members: readonly SpeedForecaster[],
  series: SensorSeries,
  trainRows: number,
  origins: readonly number[],
  steps: Protocol,
  options: OnlineOptions,
): Promise<OnlineResult> {
  const { inputSteps, horizons } = members[0].config;
  const maxH = Math.max(...horizons);
  const n = series.sensors.length;
  const H = horizons.length;
  const S = steps.horizons.length;
  const model = members.map(() => new Float32Array(origins.length * H * n));
  const historicalAverage = new Float32Array(origins.length * S * n);
  let current = [...members];
  let historyEnd = trainRows;
  // Windows with every target inside the training part were trained on; the rest are new.
  let nextOrigin = trainRows - maxH;
  let updates = 0;
  let updateCpu = 0;
  let groupStart = 0;
  const flush = (groupEnd: number): void => {
    if (groupEnd === groupStart) return;
    const group = origins.slice(groupStart, groupEnd);
    current.forEach((f, m) => model[m].set(forecastSeries(f, series, group, historyEnd), groupStart * H * n));
    historicalAverage.set(historicalAverageForecasts(current[0].history, series, group, steps), groupStart * S * n);
    groupStart = groupEnd;
  };
  for (let i = 0; i < origins.length; i++) {
    const end = origins[i] + 1; // rows [0, end) are known at this origin
    if (origins[i] < trainRows + inputSteps - 1 || (i > 0 && origins[i] <= origins[i - 1])) throw new Error('online: origins must be test origins, ascending');
    const lastOrigin = end - 1 - maxH;
    if (end - historyEnd < options.everyRows || lastOrigin < nextOrigin) continue;
    flush(i);
    const known = sliceRows(series, 0, end);
    const cpu0 = process.cpuUsage();
    const next: SpeedForecaster[] = [];
    for (const f of current) next.push((await foldInNewWindows(f, known, nextOrigin, historyEnd, options.policy)).forecaster);
    const used = process.cpuUsage(cpu0);
    updateCpu += (used.user + used.system) / 1e6;
    current.forEach((f) => {
      if (!members.includes(f)) disposeForecaster(f);
    });
    current = next;
    historyEnd = end;
    nextOrigin = lastOrigin + 1;
    updates++;
  }
  flush(origins.length);
  return { model, historicalAverage, members: current, updates, updateCpuSeconds: updateCpu };
}
