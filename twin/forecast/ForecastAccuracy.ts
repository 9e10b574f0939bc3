/**
 * Running accuracy of live forecasts against what then happened. Each forecast issued at a
 * minute is kept until its due minute (issue minute + horizon); the caller then hands in the
 * value observed for that minute and every method's error joins its running sums. The learned
 * model and the baselines (persistence, historical average) are scored on the same targets, so
 * their figures stand side by side.
 */
import { z } from 'zod';

export const FORECAST_METHODS = ['model', 'persistence', 'historicalAverage'] as const;
export type ForecastMethod = (typeof FORECAST_METHODS)[number];

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
   * true: the three methods are scored on the same (road, due minute) pairs, those of every
   * forecast the model made; false: the model has not been scored yet at this horizon, and the
   * baselines' figures cover every pair they forecast.
   */
  paired: z.boolean(),
  model: MethodAccuracySchema,
  persistence: MethodAccuracySchema,
  historicalAverage: MethodAccuracySchema,
});
export type HorizonAccuracy = z.infer<typeof HorizonAccuracySchema>;

interface Sums {
  se: number;
  ae: number;
  yy: number;
  count: number;
}

/** What one method forecast for every road at one horizon (null: the method had no forecast). */
export type IssuedForecast = Partial<Record<ForecastMethod, Float32Array | null>>;

interface Pending {
  readonly horizon: number;
  readonly forecasts: IssuedForecast;
}

export class ForecastAccuracy {
  /** [horizon][method] over forecasts the model also made, on the pairs every method scored. */
  private readonly sums: Sums[][];
  /** [horizon][method] over forecasts made before the model existed (baselines only). */
  private readonly unpaired: Sums[][];
  /** Forecasts waiting for their due minute. */
  private readonly pending = new Map<number, Pending[]>();

  constructor(readonly horizonsMinutes: readonly number[]) {
    const zero = () => horizonsMinutes.map(() => FORECAST_METHODS.map(() => ({ se: 0, ae: 0, yy: 0, count: 0 })));
    this.sums = zero();
    this.unpaired = zero();
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
    for (const due of [...this.pending.keys()]) {
      if (due > minute) continue;
      const list = this.pending.get(due) ?? [];
      this.pending.delete(due);
      if (due < minute) continue;
      for (const p of list) {
        const given = FORECAST_METHODS.map((method) => p.forecasts[method] ?? null);
        const sums = given[0] ? this.sums[p.horizon] : this.unpaired[p.horizon];
        for (let j = 0; j < observed.length; j++) {
          const y = observed[j];
          if (!given.every((f) => f === null || Number.isFinite(y - f[j]))) continue;
          given.forEach((f, m) => {
            if (!f) return;
            const e = y - f[j];
            const s = sums[m];
            s.se += e * e;
            s.ae += Math.abs(e);
            s.yy += y * y;
            s.count += 1;
          });
        }
      }
    }
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
      const paired = this.sums[k][0].count > 0;
      const sums = paired ? this.sums[k] : this.unpaired[k];
      return { minutes, paired, model: of(sums[0]), persistence: of(sums[1]), historicalAverage: of(sums[2]) };
    });
  }
}
