/**
 * Time-of-day demand profile: an off-peak base level plus Gaussian peaks (morning, evening).
 * The profile gives a dimensionless factor; the demand generator multiplies it by the peak
 * rate, so a peak with factor 1 carries exactly the configured peak rate at its centre.
 */
import { z } from 'zod';

export const DAY = 86_400;

const CLOCK = /^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$/;

function clockToSeconds(text: string): number {
  const m = CLOCK.exec(text);
  if (!m) return Number.NaN;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
}

/** A time of day: seconds after midnight, or "HH:MM[:SS]". */
export const ClockTimeSchema = z
  .union([z.number().min(0).max(DAY), z.string().regex(CLOCK, 'expected "HH:MM" or seconds after midnight')])
  .transform((v) => (typeof v === 'number' ? v : clockToSeconds(v)))
  .refine((s) => s >= 0 && s <= DAY, 'must be within one day (00:00–24:00)');

/** A duration: seconds, or "H:MM[:SS]". */
export const DurationSchema = z
  .union([z.number().positive(), z.string().regex(CLOCK, 'expected "H:MM" or seconds')])
  .transform((v) => (typeof v === 'number' ? v : clockToSeconds(v)))
  .refine((s) => s > 0, 'must be positive');

export const PeakSchema = z.object({
  /** Centre of the peak. */
  time: ClockTimeSchema,
  /** Full width at half height: how long the peak "lasts". */
  width: DurationSchema.default(7200),
  /** Demand factor at the centre, relative to the configured peak rate (1 = the peak rate). */
  factor: z.number().nonnegative().default(1),
});

export const DemandProfileSchema = z.object({
  /** Base (night and midday) factor, relative to the peak rate. */
  offPeak: z.number().nonnegative().default(0.3),
  peaks: z.array(PeakSchema).prefault([
    { time: '08:00', width: '2:00', factor: 1 },
    { time: '17:30', width: '2:30', factor: 0.85 },
  ]),
});
export type DemandProfile = z.infer<typeof DemandProfileSchema>;
export type DemandProfileInput = z.input<typeof DemandProfileSchema>;

const HALF_HEIGHT = 4 * Math.LN2;

/**
 * Demand factor at a time of day (s). Peaks wrap around midnight, so a window from 23:00 to
 * 01:00 sees one continuous profile.
 */
export function demandFactor(profile: DemandProfile, timeOfDay: number): number {
  const t = ((timeOfDay % DAY) + DAY) % DAY;
  let f = profile.offPeak;
  for (const p of profile.peaks) {
    let d = Math.abs(t - p.time);
    if (d > DAY / 2) d = DAY - d;
    const x = d / p.width;
    f += (p.factor - profile.offPeak) * Math.exp(-HALF_HEIGHT * x * x);
  }
  return Math.max(0, f);
}

/** Highest factor over the day (sampled each minute): what "the peak" of this profile is. */
export function maxDemandFactor(profile: DemandProfile): number {
  let max = 0;
  for (let t = 0; t < DAY; t += 60) max = Math.max(max, demandFactor(profile, t));
  for (const p of profile.peaks) max = Math.max(max, demandFactor(profile, p.time));
  return max;
}
