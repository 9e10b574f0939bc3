/**
 * Congestion level of a road from its (forecast) speed against its free-flow speed.
 *
 * Bands follow the Highway Capacity Manual's urban-street levels of service, which are defined
 * by travel speed as a share of base free-flow speed (A > 85 %, B > 67 %, C > 50 %, D > 40 %,
 * E > 30 %, F ≤ 30 %), grouped into the four levels the viewer colours:
 *   free     v/vff > 0.67   (LOS A–B)
 *   moderate v/vff > 0.40   (LOS C–D)
 *   heavy    v/vff > 0.30   (LOS E)
 *   severe   v/vff ≤ 0.30   (LOS F)
 * For a 65 mph freeway: free above 43.6 mph, moderate 26–43.6, heavy 19.5–26, severe below 19.5.
 */
import { z } from 'zod';
import { isValidReading, type SensorSeries } from './series.ts';

export const CongestionLevelSchema = z.enum(['free', 'moderate', 'heavy', 'severe']);
export type CongestionLevel = z.infer<typeof CongestionLevelSchema>;

export const CongestionThresholdsSchema = z.object({
  moderateBelow: z.number().positive().max(1),
  heavyBelow: z.number().positive().max(1),
  severeBelow: z.number().positive().max(1),
});
export type CongestionThresholds = z.infer<typeof CongestionThresholdsSchema>;

export const HCM_THRESHOLDS: CongestionThresholds = { moderateBelow: 0.67, heavyBelow: 0.4, severeBelow: 0.3 };

export function congestionLevel(speed: number, freeFlowSpeed: number, t: CongestionThresholds = HCM_THRESHOLDS): CongestionLevel {
  const ratio = speed / freeFlowSpeed;
  if (!Number.isFinite(ratio)) return 'free';
  if (ratio <= t.severeBelow) return 'severe';
  if (ratio <= t.heavyBelow) return 'heavy';
  if (ratio <= t.moderateBelow) return 'moderate';
  return 'free';
}

/**
 * Free-flow speed per road: the 85th percentile of its valid readings (the traffic engineer's
 * usual definition), optionally capped by the posted limit. NaN for a road that never reported.
 */
export function freeFlowSpeeds(series: SensorSeries, percentile = 0.85, speedLimits?: ArrayLike<number>): Float32Array {
  const n = series.sensors.length;
  const out = new Float32Array(n);
  const column: number[] = [];
  for (let j = 0; j < n; j++) {
    column.length = 0;
    for (let r = 0; r < series.rows; r++) {
      const v = series.values[r * n + j];
      if (isValidReading(v)) column.push(v);
    }
    if (column.length === 0) {
      out[j] = NaN;
      continue;
    }
    column.sort((a, b) => a - b);
    let v = column[Math.min(column.length - 1, Math.floor(percentile * column.length))];
    if (speedLimits && isValidReading(speedLimits[j])) v = Math.min(v, speedLimits[j]);
    out[j] = v;
  }
  return out;
}
