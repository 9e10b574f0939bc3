/**
 * Per-movement demand and delay measured from successive observations, for the policies that
 * plan on demand (Webster, latency feedback, coordination). Counts are integrated over time as
 * rate × Δt, so a coarser observation window works too (exact when the window is one step).
 *
 *   arrivals on lane l over a period = departures from l + (vehicles on l now − at the start)
 *   (conservation; it also counts vehicles inserted at the boundary, which are not "moves")
 *   delay of movement m = ∫ standing vehicles on its lanes dt / arrivals   (Little's law)
 * A lane shared by several movements is split between them by their departures.
 */
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import type { Site } from './sites.ts';

export interface MovementDemand {
  /** Seconds measured. */
  period: number;
  /** Arrival flow per local movement (veh/s). */
  flow: Float64Array;
  /** Mean stopped delay per vehicle per local movement (s). */
  delay: Float64Array;
  /** Departures per local movement over the period. */
  departures: Float64Array;
}

export class DemandMeter {
  private readonly n: number;
  private readonly lanes: number[];
  /** For each lane (position in `lanes`): the movements using it. */
  private readonly laneMovements: number[][];
  private readonly startVehicles: Float64Array;
  private readonly dep: Float64Array;
  private readonly stoppedSeconds: Float64Array;
  private readonly gmov: number[];
  private start = Number.NaN;
  private last = Number.NaN;

  constructor(site: Site) {
    this.n = site.safety.n;
    this.gmov = Array.from(site.safety.globalMovement);
    const lanes: number[] = [];
    const byLane: number[][] = [];
    site.lanes.inLanes.forEach((ls, m) => {
      for (const l of ls) {
        let k = lanes.indexOf(l);
        if (k < 0) {
          k = lanes.length;
          lanes.push(l);
          byLane.push([]);
        }
        byLane[k].push(m);
      }
    });
    this.lanes = lanes;
    this.laneMovements = byLane;
    this.startVehicles = new Float64Array(lanes.length);
    this.dep = new Float64Array(this.n);
    this.stoppedSeconds = new Float64Array(lanes.length);
  }

  /** Integrates one observation made at `now`. */
  record(obs: TrafficObservation, now: number): void {
    if (Number.isNaN(this.start)) {
      this.begin(obs, now);
      return;
    }
    const dt = now - this.last;
    this.last = now;
    if (!(dt > 0)) return;
    // Departures of the window, as a rate over the step just gone.
    const scale = obs.interval > 0 ? dt / obs.interval : 0;
    for (let m = 0; m < this.n; m++) this.dep[m] += obs.movementDepartures[this.gmov[m]] * scale;
    for (let k = 0; k < this.lanes.length; k++) this.stoppedSeconds[k] += obs.laneQueue[this.lanes[k]] * dt;
  }

  /** Demand since the last `take` (or the first record), and a fresh start at `now`. */
  take(obs: TrafficObservation, now: number): MovementDemand {
    const period = Number.isNaN(this.start) ? 0 : now - this.start;
    const flow = new Float64Array(this.n);
    const delay = new Float64Array(this.n);
    const arrivals = new Float64Array(this.n);
    const stopped = new Float64Array(this.n);
    this.lanes.forEach((l, k) => {
      const ms = this.laneMovements[k];
      let d = 0;
      for (const m of ms) d += this.dep[m];
      const a = Math.max(0, d + obs.laneVehicles[l] - this.startVehicles[k]);
      for (const m of ms) {
        const share = d > 0 ? this.dep[m] / d : 1 / ms.length;
        arrivals[m] += a * share;
        stopped[m] += this.stoppedSeconds[k] * share;
      }
    });
    for (let m = 0; m < this.n; m++) {
      flow[m] = period > 0 ? arrivals[m] / period : 0;
      delay[m] = stopped[m] / Math.max(1, arrivals[m]);
    }
    const out = { period, flow, delay, departures: this.dep.slice() };
    this.begin(obs, now);
    return out;
  }

  private begin(obs: TrafficObservation, now: number): void {
    this.start = this.last = now;
    this.lanes.forEach((l, k) => (this.startVehicles[k] = obs.laneVehicles[l]));
    this.dep.fill(0);
    this.stoppedSeconds.fill(0);
  }
}
