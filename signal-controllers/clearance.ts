/**
 * Change and clearance intervals after a green (ITE, "Determining Vehicle Signal Change and
 * Clearance Intervals"):
 *
 *   yellow  y  = t + v / (2a + 2·G·g)      t = 1 s perception–reaction, a = 3.05 m/s² comfortable
 *                                          deceleration, G = 9.81 m/s², g = approach grade (rise/run)
 *                                          clamped to 3–6 s
 *   all-red r  = (W + L) / v               W = intersection width, L = vehicle length
 *
 * Engineer overrides may only raise the computed values: a value below the formula is refused,
 * since a short yellow or all-red is exactly the unsafe thing the formulas guard against.
 */
export const PERCEPTION_REACTION_S = 1;
export const COMFORT_DECEL = 3.05;
export const GRAVITY = 9.81;
export const YELLOW_MIN_S = 3;
export const YELLOW_MAX_S = 6;
/** Design vehicle for the all-red: a passenger car (the benchmark vehicle is 5 m long). */
export const DESIGN_VEHICLE_LENGTH = 5;

export interface ApproachGeometry {
  /** Approach speed (m/s), normally the speed limit. */
  speed: number;
  /** Approach grade as rise/run (uphill positive); 0 when unknown. */
  grade?: number;
  /** Width to clear (m): stop line to the far side of the intersection. */
  intersectionWidth: number;
  vehicleLength?: number;
}

export interface ClearanceOverride {
  yellow?: number;
  allRed?: number;
}

export interface Clearance {
  yellow: number;
  allRed: number;
}

export function iteYellow(speed: number, grade = 0): number {
  if (!(speed > 0)) throw new RangeError(`approach speed must be positive, got ${speed}`);
  const denom = 2 * COMFORT_DECEL + 2 * GRAVITY * grade;
  // A steep downgrade makes the denominator vanish: the yellow is then as long as allowed.
  if (!(denom > 0)) return YELLOW_MAX_S;
  const y = PERCEPTION_REACTION_S + speed / denom;
  return Math.min(YELLOW_MAX_S, Math.max(YELLOW_MIN_S, y));
}

export function iteAllRed(speed: number, intersectionWidth: number, vehicleLength = DESIGN_VEHICLE_LENGTH): number {
  if (!(speed > 0)) throw new RangeError(`approach speed must be positive, got ${speed}`);
  if (!(intersectionWidth >= 0)) throw new RangeError(`intersection width must be non-negative, got ${intersectionWidth}`);
  return (intersectionWidth + vehicleLength) / speed;
}

/** The formula values for an approach. */
export function requiredClearance(a: ApproachGeometry): Clearance {
  return { yellow: iteYellow(a.speed, a.grade ?? 0), allRed: iteAllRed(a.speed, a.intersectionWidth, a.vehicleLength) };
}

export class ClearanceOverrideError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClearanceOverrideError';
  }
}

/**
 * The intervals to run: the formula values, raised by an engineer's override. An override below
 * the formula throws (it may only raise them); a yellow above 6 s is refused too, since drivers
 * learn to treat a long yellow as green — put extra time into the all-red instead.
 */
export function clearanceFor(a: ApproachGeometry, override: ClearanceOverride = {}): Clearance {
  const req = requiredClearance(a);
  const eps = 1e-9;
  if (override.yellow !== undefined && override.yellow < req.yellow - eps)
    throw new ClearanceOverrideError(`yellow override ${override.yellow} s is below the required ${req.yellow.toFixed(2)} s`);
  if (override.yellow !== undefined && override.yellow > YELLOW_MAX_S + eps)
    throw new ClearanceOverrideError(`yellow override ${override.yellow} s exceeds ${YELLOW_MAX_S} s; lengthen the all-red instead`);
  if (override.allRed !== undefined && override.allRed < req.allRed - eps)
    throw new ClearanceOverrideError(`all-red override ${override.allRed} s is below the required ${req.allRed.toFixed(2)} s`);
  return { yellow: Math.max(req.yellow, override.yellow ?? 0), allRed: Math.max(req.allRed, override.allRed ?? 0) };
}

/**
 * Raises a clearance so that yellow + all-red lasts at least `total` seconds (e.g. the 5 s
 * clearance phase of the CityFlow benchmarks), putting the extra into the all-red.
 */
export function withTotalAtLeast(c: Clearance, total: number): Clearance {
  const extra = total - (c.yellow + c.allRed);
  return extra > 0 ? { yellow: c.yellow, allRed: c.allRed + extra } : c;
}
