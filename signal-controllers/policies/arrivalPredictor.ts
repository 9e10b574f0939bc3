/**
 * Predicted arrivals at an intersection's stop lines over a short horizon — the interface a
 * forecasting module (twin/forecast) can fill later — and a simple predictor of our own.
 *
 * `KinematicArrivalPredictor` follows the vehicles on each approach lane from the observation
 * alone (one-step window): a vehicle entering the lane — from upstream (`laneArrivals`) or
 * inserted at the boundary (what the lane count gained beyond arrivals and departures) — is due
 * at the stop line after the lane length at the lane's speed (plus the time to reach it from a
 * standstill when inserted); departures leave in order of arrival. Vehicles due already and not
 * gone are at the line (queued or discharging). If its count drifts from the observed lane
 * count it resynchronises (adds vehicles at the line, or drops the earliest).
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import type { Site } from './sites.ts';

export interface ArrivalForecast {
  /** Per local movement: times (s, absolute) at which its vehicles are due at the stop line, ascending; ≤ now = at the line now. */
  due: number[][];
}

export interface ArrivalPredictor {
  /** Takes the observation of `now` (called once per step, in time order). */
  observe(obs: TrafficObservation, now: number): void;
  /** Vehicles due at each movement's stop line before `now + horizon`. */
  forecast(now: number, horizon: number): ArrivalForecast;
}

export type ArrivalPredictorFactory = (net: RoadNetwork, site: Site) => ArrivalPredictor;

export class KinematicArrivalPredictor implements ArrivalPredictor {
  private readonly lanes: number[];
  /** Per lane (position in `lanes`): due times, ascending by entry. */
  private readonly queues: number[][];
  private readonly travel: number[];
  private readonly startUp: number[];
  /** Movements leaving from each lane, and lanes of each movement. */
  private readonly laneMovements: number[][];
  private readonly movementLanes: number[][];
  private readonly gmov: Int32Array;
  private readonly prevCount: Float64Array;
  private started = false;

  constructor(net: RoadNetwork, site: Site) {
    const lanes: number[] = [];
    const byLane: number[][] = [];
    site.lanes.inLanes.forEach((ls, m) =>
      ls.forEach((l) => {
        let k = lanes.indexOf(l);
        if (k < 0) {
          k = lanes.push(l) - 1;
          byLane.push([]);
        }
        byLane[k].push(m);
      }),
    );
    this.lanes = lanes;
    this.laneMovements = byLane;
    this.movementLanes = site.lanes.inLanes.map((ls) => ls.map((l) => lanes.indexOf(l)));
    this.queues = lanes.map(() => []);
    this.travel = lanes.map((l) => net.lanes[l].length / net.lanes[l].maxSpeed);
    // From a standstill at the lane start: v/(2a) longer at the benchmark's 2 m/s².
    this.startUp = lanes.map((l) => net.lanes[l].maxSpeed / (2 * 2));
    this.gmov = site.safety.globalMovement;
    this.prevCount = new Float64Array(lanes.length);
  }

  observe(obs: TrafficObservation, now: number): void {
    for (let k = 0; k < this.lanes.length; k++) {
      const l = this.lanes[k];
      const q = this.queues[k];
      const count = obs.laneVehicles[l];
      if (this.started) {
        let departed = 0;
        for (const m of this.laneMovements[k]) departed += obs.movementDepartures[this.gmov[m]] / this.movementLanes[m].length;
        const arrived = obs.laneArrivals[l];
        const inserted = Math.max(0, Math.round(count - this.prevCount[k] - arrived + departed));
        for (let d = Math.round(departed); d > 0 && q.length > 0; d--) q.shift();
        for (let a = 0; a < arrived; a++) q.push(now + this.travel[k]);
        for (let a = 0; a < inserted; a++) q.push(now + this.travel[k] + this.startUp[k]);
      }
      // Resynchronise with the observed count.
      while (q.length > count) q.shift();
      while (q.length < count) q.unshift(now);
      this.prevCount[k] = count;
    }
    this.started = true;
  }

  forecast(now: number, horizon: number): ArrivalForecast {
    // A vehicle on a lane shared by several movements is demand for each of them: whichever it
    // takes, the lane waits for it.
    const due = this.movementLanes.map((ks) => {
      const out: number[] = [];
      for (const k of ks) {
        for (const t of this.queues[k]) {
          if (t >= now + horizon) break;
          out.push(t);
        }
      }
      return ks.length > 1 ? out.sort((a, b) => a - b) : out;
    });
    return { due };
  }
}

export const kinematicPredictor: ArrivalPredictorFactory = (net, site) => new KinematicArrivalPredictor(net, site);
