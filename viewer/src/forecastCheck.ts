/**
 * One road's forecasts laid against what followed, from its stored forecast rows (GET
 * /api/forecasts/roads/{road}/history, newest first, one row every 5 simulated minutes): the
 * speed observed at each row's minute, and each horizon's forecast placed at the minute it was
 * for. Where the row of that minute exists, the forecast is scored against its speed, beside
 * persistence (the speed when the forecast was made), so an engineer can see how the forecasts
 * have done on this road rather than over the whole city.
 */
import { z } from 'zod';
import type { Series } from './charts.ts';

export const RoadHistorySchema = z.object({
  road: z.string(),
  horizonsMinutes: z.array(z.number().int().positive()),
  unit: z.string(),
  rows: z.array(
    z
      .object({
        id: z.number().int(),
        minute: z.number().int(),
        speed: z.number().nullable(),
        forecast: z.array(z.number().nullable()),
      })
      .loose(),
  ),
});
export type RoadHistory = z.infer<typeof RoadHistorySchema>;

export interface HorizonCheck {
  minutes: number;
  /** Forecasts whose minute has a stored speed to score them against. */
  count: number;
  /** RMSE of the served forecast and of persistence over those (null: none). */
  servedRmse: number | null;
  persistenceRmse: number | null;
}

export interface RoadForecastCheck {
  /** The speed at each stored minute, oldest first (time in seconds of the week, for the chart). */
  observed: Series;
  /** Per horizon, the forecasts placed at the minute they were for. */
  forecasts: Series[];
  horizons: HorizonCheck[];
  /** Minutes covered, from the first stored row to the last. */
  spanMinutes: number;
}

/**
 * The check over the newest unbroken run of rows: the simulated clock starts again when the
 * service restarts, so rows stop counting where the minutes stop going back in time.
 */
export function roadForecastCheck(history: RoadHistory): RoadForecastCheck {
  const run: RoadHistory['rows'] = [];
  for (const row of history.rows) {
    if (run.length > 0 && row.minute >= run[run.length - 1].minute) break;
    run.push(row);
  }
  run.reverse();
  const speedAt = new Map(run.map((r) => [r.minute, r.speed]));
  const horizons = history.horizonsMinutes.map((minutes, k) => {
    let se = 0;
    let pe = 0;
    let n = 0;
    for (const r of run) {
      const due = speedAt.get(r.minute + minutes);
      const f = r.forecast[k];
      if (due === undefined || due === null || f === null || f === undefined || r.speed === null) continue;
      se += (due - f) ** 2;
      pe += (due - r.speed) ** 2;
      n++;
    }
    return { minutes, count: n, servedRmse: n ? Math.sqrt(se / n) : null, persistenceRmse: n ? Math.sqrt(pe / n) : null };
  });
  const first = run.length ? run[0].minute : 0;
  const last = run.length ? run[run.length - 1].minute : 0;
  return {
    observed: { time: run.map((r) => r.minute * 60), values: run.map((r) => r.speed) },
    forecasts: history.horizonsMinutes.map((minutes, k) => ({ time: run.map((r) => (r.minute + minutes) * 60), values: run.map((r) => r.forecast[k] ?? null) })),
    horizons,
    spanMinutes: last - first,
  };
}
