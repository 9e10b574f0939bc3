/**
 * Running accuracy of live forecasts against what then happened. Each forecast issued at a
 * minute is kept until its due minute (issue minute + horizon); the caller then hands in the
 * value observed for that minute and every method's error joins its running sums. The learned
 * model and the baselines (persistence, historical average) are scored on the same targets, so
 * their figures stand side by side.
 *
 * It also keeps each method's recent skill (errors with a half-life in due minutes) so the
 * caller can serve, per horizon, the methods combined in proportion to how accurate each has
 * lately been: a model that has seen only a few hours, or a day unlike its training, must not
 * dominate when the road's usual speed or its last reading has lately forecast better, and
 * forecasts whose errors differ partly cancel. What was served is scored as a fourth method.
 */
import { z } from 'zod';

/** The forecasts a service can choose between. */
export const FORECAST_METHODS = ['model', 'persistence', 'historicalAverage'] as const;
export type ForecastMethod = (typeof FORECAST_METHODS)[number];
/** Scored methods: the candidates, then what was served from them. */
const SCORED = [...FORECAST_METHODS, 'served'] as const;
type ScoredMethod = (typeof SCORED)[number];
const MODEL = 0;

export const MethodAccuracySchema = z.object({
  rmse: z.number().nullable(),
  mae: z.number().nullable(),
  /** T-GCN accuracy, 1 − ‖y − ŷ‖ / ‖y‖. */
  accuracy: z.number().nullable(),
  /** (road, forecast) pairs scored so far. */
  count: z.number().int().nonnegative(),
});
export type MethodAccuracy = z.infer<typeof MethodAccuracySchema>;

export const HorizonAccuracySchema = z.object({
  minutes: z.number().int().positive(),
  /**
   * true: the methods are scored on the same (road, due minute) pairs, those of every forecast
   * the model made; false: the model has not been scored yet at this horizon, and the baselines'
   * figures cover every pair they forecast.
   */
  paired: z.boolean(),
  model: MethodAccuracySchema,
  persistence: MethodAccuracySchema,
  historicalAverage: MethodAccuracySchema,
  /** What was served at this horizon: the candidates combined by their recent skill. */
  served: MethodAccuracySchema,
});
export type HorizonAccuracy = z.infer<typeof HorizonAccuracySchema>;

/** Share of each method in a served forecast (absent: not used). */
export const ServedWeightsSchema = z.object({
  model: z.number().min(0).max(1).optional(),
  persistence: z.number().min(0).max(1).optional(),
  historicalAverage: z.number().min(0).max(1).optional(),
});
export type ServedWeights = z.infer<typeof ServedWeightsSchema>;

/** The served forecast for `n` roads: Σ weight × forecast over the methods the weights name. */
export function combineForecasts(weights: ServedWeights, forecasts: Partial<Record<ForecastMethod, Float32Array | null>>, n: number): Float32Array {
  const out = new Float32Array(n);
  for (const m of FORECAST_METHODS) {
    const w = weights[m];
    const f = forecasts[m];
    if (w === undefined || !f) continue;
    for (let j = 0; j < n; j++) out[j] += w * f[j];
  }
  return out;
}

export const AccuracyOptionsSchema = z.object({
  /** Due minutes after which an error counts half in the recent skill. */
  recentHalfLifeMinutes: z.number().positive().default(60),
  /** Scored minutes (decayed) a method needs before its recent skill is trusted. */
  minRecentMinutes: z.number().positive().default(10),
});
export type AccuracyOptionsInput = z.input<typeof AccuracyOptionsSchema>;

const SumsSchema = z.object({ se: z.number().nonnegative(), ae: z.number().nonnegative(), yy: z.number().nonnegative(), count: z.number().nonnegative() });
type Sums = z.infer<typeof SumsSchema>;

const zeroSums = (): Sums => ({ se: 0, ae: 0, yy: 0, count: 0 });

/** Recent skill of one candidate at one horizon: decayed squared errors and scored minutes. */
const RecentSchema = z.object({ se: z.number().nonnegative(), count: z.number().nonnegative(), minutes: z.number().nonnegative() });
type Recent = z.infer<typeof RecentSchema>;

/**
 * Everything scored so far, as stored so that a restarted service carries on from it: the
 * running sums per horizon and method, and each candidate's recent skill. Forecasts still
 * waiting for their due minute are not part of it (they are lost with the process).
 */
export const AccuracyRecordSchema = z.object({
  horizonsMinutes: z.array(z.number().int().positive()),
  /** Clock minute of the last scoring (null: none). */
  lastResolved: z.number().int().nullable(),
  /** [horizon][method in SCORED order] over the forecasts the model also made. */
  sums: z.array(z.array(SumsSchema).length(SCORED.length)),
  /** [horizon][method] before the model existed. */
  unpaired: z.array(z.array(SumsSchema).length(SCORED.length)),
  /** [horizon][candidate in FORECAST_METHODS order]. */
  recent: z.array(z.array(RecentSchema).length(FORECAST_METHODS.length)),
});
export type AccuracyRecord = z.infer<typeof AccuracyRecordSchema>;

/** What each method forecast for every road at one horizon (null: the method had no forecast). */
export type IssuedForecast = Partial<Record<ScoredMethod, Float32Array | null>>;

interface Pending {
  readonly horizon: number;
  readonly forecasts: IssuedForecast;
}

export class ForecastAccuracy {
  private readonly options: z.infer<typeof AccuracyOptionsSchema>;
  /** [horizon][method] over forecasts the model also made, on the pairs every method scored. */
  private readonly sums: Sums[][];
  /** [horizon][method] over forecasts made before the model existed (baselines only). */
  private readonly unpaired: Sums[][];
  /** [horizon][candidate] recent skill. */
  private readonly recent: Recent[][];
  private lastResolved: number | null = null;
  /** Forecasts waiting for their due minute. */
  private readonly pending = new Map<number, Pending[]>();

  constructor(
    readonly horizonsMinutes: readonly number[],
    options: AccuracyOptionsInput = {},
  ) {
    this.options = AccuracyOptionsSchema.parse(options);
    const table = () => horizonsMinutes.map(() => SCORED.map(zeroSums));
    this.sums = table();
    this.unpaired = table();
    this.recent = horizonsMinutes.map(() => FORECAST_METHODS.map(() => ({ se: 0, count: 0, minutes: 0 })));
  }

  /** Records the forecasts made at `minute`, one entry per horizon (same order as the constructor's). */
  issue(minute: number, perHorizon: readonly IssuedForecast[]): void {
    if (perHorizon.length !== this.horizonsMinutes.length) throw new Error('one forecast set per horizon expected');
    perHorizon.forEach((forecasts, k) => {
      const due = minute + this.horizonsMinutes[k];
      const list = this.pending.get(due) ?? [];
      list.push({ horizon: k, forecasts });
      this.pending.set(due, list);
    });
  }

  /**
   * Scores every forecast due at `minute` against `observed` (per road; NaN where nothing was
   * observed, which scores nothing). Forecasts due earlier that were never resolved are dropped.
   * Where the model forecast, a road counts only if every method given has a finite error there,
   * so the methods stand side by side on the same targets; before the model exists the baselines
   * are scored apart, so that hours the model never forecast (often the easy, quiet first hours)
   * do not flatter or burden them in the comparison.
   */
  resolve(minute: number, observed: Float32Array): void {
    this.decayRecent(minute);
    for (const due of [...this.pending.keys()]) {
      if (due > minute) continue;
      const list = this.pending.get(due) ?? [];
      this.pending.delete(due);
      if (due < minute) continue;
      for (const p of list) {
        const given = SCORED.map((method) => p.forecasts[method] ?? null);
        const sums = given[MODEL] ? this.sums[p.horizon] : this.unpaired[p.horizon];
        const recent = this.recent[p.horizon];
        let scored = false;
        // Plain loops: this runs for every road and horizon each minute (thousands of roads).
        roads: for (let j = 0; j < observed.length; j++) {
          const y = observed[j];
          for (const f of given) if (f !== null && !Number.isFinite(y - f[j])) continue roads;
          for (let m = 0; m < given.length; m++) {
            const f = given[m];
            if (f === null) continue;
            const e = y - f[j];
            const s = sums[m];
            s.se += e * e;
            s.ae += Math.abs(e);
            s.yy += y * y;
            s.count += 1;
            if (m < recent.length) {
              recent[m].se += e * e;
              recent[m].count += 1;
            }
            scored = true;
          }
        }
        if (scored) {
          recent.forEach((r, m) => {
            if (given[m]) r.minutes += 1;
          });
        }
      }
    }
  }

  /** Older errors count less: halved every `recentHalfLifeMinutes` of due time. */
  private decayRecent(minute: number): void {
    if (this.lastResolved !== null && minute > this.lastResolved) {
      const f = 0.5 ** ((minute - this.lastResolved) / this.options.recentHalfLifeMinutes);
      for (const row of this.recent) {
        for (const r of row) {
          r.se *= f;
          r.count *= f;
          r.minutes *= f;
        }
      }
    }
    this.lastResolved = minute;
  }

  /**
   * Weights for combining the candidates at horizon index `k`: in proportion to the inverse of
   * each one's recent mean squared error (Bates and Granger's combination), over those in
   * `available` with a record; null when none has one. A new model joins once it has a record.
   */
  recentWeights(k: number, available: readonly ForecastMethod[] = FORECAST_METHODS): ServedWeights | null {
    const w: ServedWeights = {};
    let total = 0;
    FORECAST_METHODS.forEach((method, m) => {
      const r = this.recent[k][m];
      if (!available.includes(method) || r.minutes < this.options.minRecentMinutes || r.count <= 0) return;
      // A method with no error at all takes (almost) everything.
      w[method] = r.count / Math.max(r.se, 1e-9 * r.count);
      total += w[method]!;
    });
    if (total === 0) return null;
    for (const m of FORECAST_METHODS) if (w[m] !== undefined) w[m]! /= total;
    return w;
  }

  /** What has been scored so far (see AccuracyRecordSchema), a copy. */
  record(): AccuracyRecord {
    const copy = <T extends object>(table: T[][]): T[][] => table.map((row) => row.map((x) => ({ ...x })));
    return { horizonsMinutes: [...this.horizonsMinutes], lastResolved: this.lastResolved, sums: copy(this.sums), unpaired: copy(this.unpaired), recent: copy(this.recent) };
  }

  /**
   * Adds a stored record to what this one has scored (sums add, so scoring that started before
   * the record was read is kept). `withModel: false` when the model that record scored is gone:
   * its recent skill would vouch for another network, so it is left out, and so are its paired
   * sums (nothing left to pair a new model's figures with). Returns false, changing nothing,
   * when the record is for other horizons.
   */
  merge(stored: AccuracyRecord, options: { withModel: boolean }): boolean {
    const r = AccuracyRecordSchema.parse(stored);
    if (r.horizonsMinutes.length !== this.horizonsMinutes.length || r.horizonsMinutes.some((m, k) => m !== this.horizonsMinutes[k])) return false;
    if (r.sums.length !== this.sums.length || r.unpaired.length !== this.unpaired.length || r.recent.length !== this.recent.length) return false;
    const add = <T extends Record<string, number>>(into: T, from: T) => {
      for (const key of Object.keys(into) as (keyof T)[]) (into[key] as number) += from[key];
    };
    r.horizonsMinutes.forEach((_, k) => {
      SCORED.forEach((_, m) => {
        add(this.unpaired[k][m], r.unpaired[k][m]);
        if (options.withModel) add(this.sums[k][m], r.sums[k][m]);
      });
      FORECAST_METHODS.forEach((_, m) => {
        if (m !== MODEL || options.withModel) add(this.recent[k][m], r.recent[k][m]);
      });
    });
    // A clock that carried on decays the record by the time between; one that started over
    // (an earlier minute) keeps it as it was.
    this.lastResolved ??= r.lastResolved;
    return true;
  }

  /** Forecasts still waiting for their due minute. */
  get pendingCount(): number {
    let c = 0;
    for (const list of this.pending.values()) c += list.length;
    return c;
  }

  summary(): HorizonAccuracy[] {
    const round = (v: number) => Math.round(v * 1000) / 1000;
    const of = (s: Sums): MethodAccuracy =>
      s.count === 0
        ? { rmse: null, mae: null, accuracy: null, count: 0 }
        : { rmse: round(Math.sqrt(s.se / s.count)), mae: round(s.ae / s.count), accuracy: s.yy > 0 ? round(1 - Math.sqrt(s.se) / Math.sqrt(s.yy)) : null, count: s.count };
    return this.horizonsMinutes.map((minutes, k) => {
      const paired = this.sums[k][MODEL].count > 0;
      const sums = paired ? this.sums[k] : this.unpaired[k];
      return { minutes, paired, model: of(sums[0]), persistence: of(sums[1]), historicalAverage: of(sums[2]), served: of(sums[3]) };
    });
  }
}
