/**
 * What a signal controller may know about the traffic: per-lane figures at a moment, either
 * measured from the field's truth (for evaluation) or estimated by the twin from sensor messages
 * alone. Controllers take this interface, never the simulation engine, so that the same policy
 * runs on the truth and on the twin's estimate by one switch.
 *
 * Arrays are indexed by the network's lane index (`RoadNetwork.lanes`) or movement index
 * (`RoadNetwork.movements`).
 */
import type { Engine } from '../sim/Engine.ts';

export interface TrafficObservation {
  /** Time the observation describes (s, simulation clock). */
  readonly time: number;
  /** Vehicles on each lane. */
  readonly laneVehicles: Float64Array;
  /** Vehicles standing (below 0.1 m/s) on each lane: the queue. */
  readonly laneQueue: Float64Array;
  /** Mean speed of the vehicles on each lane (m/s); the lane's speed limit when empty. */
  readonly laneSpeed: Float64Array;
  /** Vehicles that entered each lane in the last `interval` seconds. */
  readonly laneArrivals: Float64Array;
  /** Vehicles that crossed each movement's stop line in the last `interval` seconds. */
  readonly movementDepartures: Float64Array;
  /** Length of the window the arrival and departure counts cover (s). */
  readonly interval: number;
  /** Confidence in each lane's figures, 0–1 (1 for the truth). */
  readonly laneConfidence: Float64Array;
}

/**
 * Observes the field's truth from a running engine. Call `update` after every step; it counts
 * arrivals and departures over the last `window` seconds.
 */
export class TruthObserver {
  private readonly arrivals: Float64Array[];
  private readonly departures: Float64Array[];
  private slot = 0;
  private readonly slots: number;
  private readonly linkMovement: Int32Array;
  private readonly laneVehicles: Float64Array;
  private readonly laneQueue: Float64Array;
  private readonly laneSpeed: Float64Array;
  private readonly confidence: Float64Array;
  private steps = 0;

  constructor(
    private readonly engine: Engine,
    private readonly window = 60,
  ) {
    const net = engine.net;
    this.slots = Math.max(1, Math.round(window / engine.dt));
    this.arrivals = Array.from({ length: this.slots }, () => new Float64Array(net.lanes.length));
    this.departures = Array.from({ length: this.slots }, () => new Float64Array(net.movements.length));
    this.linkMovement = Int32Array.from(net.laneLinks, (l) => l.movement);
    this.laneVehicles = new Float64Array(net.lanes.length);
    this.laneQueue = new Float64Array(net.lanes.length);
    this.laneSpeed = new Float64Array(net.lanes.length);
    this.confidence = new Float64Array(net.lanes.length).fill(1);
  }

  /** Records the moves of the step just run. */
  update(): void {
    const e = this.engine;
    const nL = e.nLanes;
    this.slot = (this.slot + 1) % this.slots;
    const arr = this.arrivals[this.slot].fill(0);
    const dep = this.departures[this.slot].fill(0);
    e.forEachMove((_v, from, to, via) => {
      if (to >= 0 && to < nL) arr[to]++;
      if (from < nL && via >= nL) dep[this.linkMovement[via - nL]]++;
    });
    this.steps++;
  }

  observe(): TrafficObservation {
    const e = this.engine;
    const net = e.net;
    const sum = (bufs: Float64Array[], n: number) => {
      const out = new Float64Array(n);
      for (const b of bufs) for (let k = 0; k < n; k++) out[k] += b[k];
      return out;
    };
    for (let l = 0; l < e.nLanes; l++) {
      let n = 0;
      let q = 0;
      let s = 0;
      e.forEachOn(l, (_v, _dis, speed) => {
        n++;
        s += speed;
        if (speed < 0.1) q++;
      });
      this.laneVehicles[l] = n;
      this.laneQueue[l] = q;
      this.laneSpeed[l] = n > 0 ? s / n : net.lanes[l].maxSpeed;
    }
    return {
      time: e.time,
      laneVehicles: this.laneVehicles.slice(),
      laneQueue: this.laneQueue.slice(),
      laneSpeed: this.laneSpeed.slice(),
      laneArrivals: sum(this.arrivals, net.lanes.length),
      movementDepartures: sum(this.departures, net.movements.length),
      interval: Math.min(this.steps, this.slots) * e.dt,
      laneConfidence: this.confidence.slice(),
    };
  }
}
