/**
 * Key figures of one run over its horizon, collected step by step without allocating, and their
 * mean and spread over seeds.
 *
 * - att: CityFlow's average travel time over the horizon — trips finished in it plus every
 *   vehicle still in (or waiting to enter) the network at the end, charged its time so far
 *   (vehicles already in the network at the start count from when they entered it)
 * - attCompleted: mean travel time of the trips finished within the horizon
 * - stoppedDelay: vehicle-seconds standing (below 0.1 m/s) on lanes or waiting to enter
 * - tripDelay: mean delay (travel time beyond free flow) of the trips finished in the horizon
 * - throughput: trips finished in the horizon; stopsPerVehicle: mean stops of those trips
 * - per lane: the largest queue (standing vehicles) seen; per signalised intersection: standing
 *   vehicle-seconds on its approaches (delay), mean and largest queue over its approaches
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { Engine } from '../sim/Engine.ts';
import { z } from 'zod';

export const StatSchema = z.object({ mean: z.number(), min: z.number(), max: z.number(), std: z.number(), n: z.number().int() });
export type Stat = z.infer<typeof StatSchema>;

export const KPI_NAMES = [
  'att',
  'attCompleted',
  'stoppedDelay',
  'tripDelay',
  'throughput',
  'stopsPerVehicle',
  'droppedTrips',
  'reroutedVehicles',
  'strandedVehicles',
] as const;
export type KpiName = (typeof KPI_NAMES)[number];

export interface RunKpis {
  scalars: Record<KpiName, number>;
  laneMaxQueue: Float64Array;
  /** Per signalised intersection (in `signalised` order). */
  intersectionDelay: Float64Array;
  intersectionMeanQueue: Float64Array;
  intersectionMaxQueue: Float64Array;
}

export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  if (n === 0) return { mean: Number.NaN, min: Number.NaN, max: Number.NaN, std: Number.NaN, n: 0 };
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    s += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = s / n;
  let v = 0;
  for (const x of xs) v += (x - mean) * (x - mean);
  return { mean, min, max, std: n > 1 ? Math.sqrt(v / (n - 1)) : 0, n };
}

/** Signalised intersections of a network (the per-intersection tables' order). */
export function signalisedOf(net: RoadNetwork): number[] {
  return net.intersections.filter((i) => !i.virtual && i.phases.length > 0).map((i) => i.index);
}

export class KpiRecorder {
  private readonly vehicles: Int32Array;
  private readonly waiting: Int32Array;
  private readonly laneMax: Float64Array;
  /** Position in `signalised` of the intersection each lane leads to (-1 if none). */
  private readonly laneSite: Int32Array;
  private readonly siteQueue: Float64Array;
  private readonly siteDelay: Float64Array;
  private readonly siteQueueSum: Float64Array;
  private readonly siteMax: Float64Array;
  private stopped = 0;
  private steps = 0;
  private readonly trips0: number;
  private readonly finished0: number;
  private readonly finishedTravelTime0: number;

  constructor(
    private readonly net: RoadNetwork,
    engine: Engine,
    start: { finished: number; finishedTravelTime: number },
  ) {
    const nL = net.lanes.length;
    this.vehicles = new Int32Array(nL);
    this.waiting = new Int32Array(nL);
    this.laneMax = new Float64Array(nL);
    const sites = signalisedOf(net);
    const pos = new Map(sites.map((s, k) => [s, k]));
    this.laneSite = Int32Array.from(net.lanes, (l) => pos.get(net.roads[l.road].to) ?? -1);
    this.siteQueue = new Float64Array(sites.length);
    this.siteDelay = new Float64Array(sites.length);
    this.siteQueueSum = new Float64Array(sites.length);
    this.siteMax = new Float64Array(sites.length);
    this.trips0 = engine.trips.length;
    this.finished0 = start.finished;
    this.finishedTravelTime0 = start.finishedTravelTime;
  }

  afterStep(engine: Engine): void {
    engine.laneCounts(this.vehicles, this.waiting);
    const w = this.waiting;
    const q = this.siteQueue.fill(0);
    let total = 0;
    for (let l = 0; l < w.length; l++) {
      const x = w[l];
      if (x === 0) continue;
      total += x;
      if (x > this.laneMax[l]) this.laneMax[l] = x;
      const s = this.laneSite[l];
      if (s >= 0) q[s] += x;
    }
    const dt = engine.dt;
    for (let s = 0; s < q.length; s++) {
      this.siteDelay[s] += q[s] * dt;
      this.siteQueueSum[s] += q[s];
      if (q[s] > this.siteMax[s]) this.siteMax[s] = q[s];
    }
    this.stopped += (total + engine.waitingToEnter) * dt;
    this.steps++;
  }

  finish(engine: Engine, extra: { droppedTrips: number; reroutedVehicles: number; strandedVehicles: number }): RunKpis {
    const m = engine.metrics();
    const alive = m.finished + m.running + m.waiting;
    const total = m.averageTravelTime * alive - this.finishedTravelTime0;
    const counted = alive - this.finished0;
    let tt = 0;
    let delay = 0;
    let stops = 0;
    const trips = engine.trips;
    for (let k = this.trips0; k < trips.length; k++) {
      tt += trips[k].exitTime - trips[k].enterTime;
      delay += trips[k].delay;
      stops += trips[k].stops;
    }
    const n = trips.length - this.trips0;
    return {
      scalars: {
        att: counted > 0 ? total / counted : 0,
        attCompleted: n > 0 ? tt / n : 0,
        stoppedDelay: this.stopped,
        tripDelay: n > 0 ? delay / n : 0,
        throughput: n,
        stopsPerVehicle: n > 0 ? stops / n : 0,
        droppedTrips: extra.droppedTrips,
        reroutedVehicles: extra.reroutedVehicles,
        strandedVehicles: extra.strandedVehicles,
      },
      laneMaxQueue: this.laneMax.slice(),
      intersectionDelay: this.siteDelay.slice(),
      intersectionMeanQueue: this.siteQueueSum.map((x) => (this.steps > 0 ? x / this.steps : 0)),
      intersectionMaxQueue: this.siteMax.slice(),
    };
  }
}
