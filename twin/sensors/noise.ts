/**
 * Seeded draws keyed by vehicle, so that a sensor's view of one vehicle stays consistent across
 * steps (a vehicle is hidden behind a truck for a while, not for one random frame) and does not
 * depend on the order in which vehicles happen to be visited. Values come from an Mt19937
 * stream in vehicle-uid order (uids are assigned 0, 1, 2, … in creation order), so they are a
 * pure function of the seed and the uid.
 */
import { Mt19937 } from '../random.ts';

export class VehicleDraws {
  private values = new Float64Array(1024);
  private filled = 0;
  private readonly rng: Mt19937;

  constructor(seed: number) {
    this.rng = new Mt19937(seed >>> 0);
  }

  /** Uniform in [0, 1) for the vehicle with this uid. */
  get(uid: number): number {
    if (uid >= this.filled) this.fill(uid + 1);
    return this.values[uid];
  }

  private fill(n: number): void {
    if (n > this.values.length) {
      const grown = new Float64Array(Math.max(n, this.values.length * 2));
      grown.set(this.values.subarray(0, this.filled));
      this.values = grown;
    }
    for (let i = this.filled; i < n; i++) this.values[i] = this.rng.nextFloat();
    this.filled = n;
  }
}

/** Fractional part: combines a vehicle's draw with a per-sensor phase into a fresh uniform. */
export function frac(x: number): number {
  return x - Math.floor(x);
}

/** A seed for a sub-stream: mixes a base seed with a stream number (splitmix-style, 32-bit). */
export function subSeed(seed: number, stream: number): number {
  let z = (seed ^ Math.imul(stream + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
