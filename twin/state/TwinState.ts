/**
 * The twin's picture of the traffic, built only from sensor messages: it takes them in through
 * `ingest` (the one entry point, see ingest.ts), and `advance(now)` turns what has arrived into
 * per-lane estimates, fault flags and a `TrafficObservation` that controllers read exactly as
 * they read the truth.
 *
 * Time is explicit: `ingest` and `advance` take the current time; nothing reads a clock.
 */
import { z } from 'zod';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import { HybridLogicalClock } from '../sensors/HybridLogicalClock.ts';
import type { SensorLayout } from '../sensors/SensorLayout.ts';
import { DEFAULT_FAULT_OPTIONS, FaultDetector } from './FaultDetector.ts';
import { IngestOptionsSchema, ingest, type IngestOptions, type IngestResult, type IngestTarget } from './ingest.ts';
import { LaneEstimator } from './LaneEstimator.ts';
import { buildLaneTopology, type LaneTopology } from './LaneTopology.ts';
import { SensorStore } from './SensorStore.ts';
import type { TrafficObservation } from './TrafficObservation.ts';
import { Ring, type SensorFlag, type TwinContext } from './TwinContext.ts';

export const TwinStateOptionsSchema = z.object({
  /** Physical ms at simulation time 0 (the sensors' HLC epoch). */
  epochMs: z.number().int().nonnegative().default(0),
  ingest: IngestOptionsSchema.prefault({}),
  /** Window of the arrival and departure counts in the observation (s). */
  observationWindow: z.number().positive().default(60),
  /** Window of the turning ratios (s). */
  turningWindow: z.number().positive().max(590).default(300),
  /** Seconds without a reading before a loop / a camera counts as silent (over their heartbeats). */
  silentAfter: z.number().positive().default(55),
  cameraSilentAfter: z.number().positive().default(55),
});
export type TwinStateOptions = z.infer<typeof TwinStateOptionsSchema>;
export type TwinStateOptionsInput = z.input<typeof TwinStateOptionsSchema>;

/** One lane's estimate with its confidence (0–1) and age (s since the newest reading behind it). */
export interface LaneEstimate {
  lane: number;
  laneId: string;
  vehicles: number;
  queue: number;
  speed: number;
  /** Vehicles entering per hour over the observation window. */
  flow: number;
  confidence: number;
  age: number;
  /** Where the inflow and outflow come from now. */
  inflowSource: 'entrance-loop' | 'upstream-counts' | 'model';
  outflowSource: 'camera' | 'stop-loop' | 'advance-loop' | 'model';
}

export interface TurningRatio {
  /** Approach: the incoming road. */
  road: number;
  movement: number;
  movementId: string;
  ratio: number;
  /** Departures of the approach the ratio rests on. */
  departures: number;
}

export class TwinState implements IngestTarget {
  readonly net: RoadNetwork;
  readonly layout: SensorLayout;
  readonly store: SensorStore;
  readonly topo: LaneTopology;
  readonly clock = new HybridLogicalClock();
  readonly ingestOptions: IngestOptions;
  readonly options: TwinStateOptions;
  readonly estimator: LaneEstimator;
  readonly faults: FaultDetector;
  private readonly ctx: TwinContext;
  private time = 0;
  private updated = -1;

  constructor(net: RoadNetwork, layout: SensorLayout, options: TwinStateOptionsInput = {}) {
    const o = TwinStateOptionsSchema.parse(options);
    this.options = o;
    this.ingestOptions = o.ingest;
    this.net = net;
    this.layout = layout;
    this.store = new SensorStore(net, layout);
    this.topo = buildLaneTopology(net, layout);
    const nL = net.lanes.length;
    const nD = layout.detectors.length;
    this.ctx = {
      net,
      topo: this.topo,
      store: this.store,
      epochMs: o.epochMs,
      sec: 0,
      loopTrusted: new Uint8Array(nD).fill(1),
      camTrusted: new Uint8Array(layout.cameras.length).fill(1),
      histLoop: new Ring(nD),
      histDep: new Ring(nL),
      histZ: new Ring(nL, NaN),
      histQ: new Ring(nL, NaN),
      histZc: new Ring(nL, NaN),
      histOccSpeed: new Ring(nD),
      histCountSpeed: new Ring(nD),
      histNtot: new Ring(nL),
      histNv: new Ring(nL),
      histRoadIn: new Ring(net.roads.length, NaN),
    };
    this.estimator = new LaneEstimator(this.ctx);
    this.faults = new FaultDetector(this.ctx, this.estimator, { ...DEFAULT_FAULT_OPTIONS, silentAfter: o.silentAfter, cameraSilentAfter: o.cameraSilentAfter });
  }

  /** Takes a batch of messages (see ingest.ts); `nowMs` is the receiver's physical time. */
  ingest(body: unknown, nowMs: number): IngestResult {
    return ingest(this, body, nowMs);
  }

  /** Brings the estimate up to simulation time `now` (s): one update per whole second. */
  advance(now: number): void {
    this.time = now;
    const target = Math.floor(now + 1e-9);
    while (this.updated < target) {
      this.updated++;
      this.updateOnce(this.updated);
    }
  }

  private updateOnce(sec: number): void {
    const ctx = this.ctx;
    const store = this.store;
    ctx.sec = sec;
    const nowMs = ctx.epochMs + sec * 1000;
    for (let d = 0; d < store.nDet; d++) {
      ctx.histLoop.set(d, sec, store.loopTotal[d]);
      ctx.histOccSpeed.set(d, sec, store.sumOccSpeed[d]);
      ctx.histCountSpeed.set(d, sec, store.sumCountWithSpeed[d]);
    }
    for (let l = 0; l < this.topo.nLanes; l++) {
      const c = this.topo.camera[l];
      ctx.histDep.set(l, sec, store.laneDepTotal[l]);
      const fresh = c >= 0 && ctx.camTrusted[c] === 1 && store.camLastMs[c] > -Infinity;
      ctx.histZ.set(l, sec, fresh ? store.laneInView[l] : NaN);
      ctx.histQ.set(l, sec, fresh ? store.laneQueue[l] : NaN);
    }
    this.estimator.update();
    const flags = this.faults.check();
    for (const f of flags) {
      if (f.kind === 'loop') this.estimator.distrustLoop(f.index, f.since);
      else this.estimator.distrustCamera(f.index, f.since);
    }
  }

  /** Sensors flagged so far, oldest first. */
  /** Seconds since the newest reading of any sensor: the feed as a whole, not one sensor. */
  feedSilentSeconds(): number {
    return this.faults.feedSilentSeconds();
  }

  sensorFlags(): readonly SensorFlag[] {
    return this.faults.flags;
  }

  isTrusted(sensorId: string): boolean {
    const w = this.layout.byId.get(sensorId);
    if (!w) return false;
    return w.kind === 'loop' ? this.ctx.loopTrusted[w.index] === 1 : this.ctx.camTrusted[w.index] === 1;
  }

  /** Estimated standing vehicles on lane l. */
  private queueOf(l: number, vehicles: number): number {
    const t = this.topo;
    const est = this.estimator;
    const store = this.store;
    if (!t.approach[l]) return 0;
    const c = t.camera[l];
    let q: number;
    const nView = est.nView[l];
    if (c >= 0 && this.ctx.camTrusted[c] && store.camLastMs[c] > -Infinity) {
      const z = store.laneInView[l];
      // Scale the visible queue by what the camera misses (estimate vs what it sees).
      const scale = z > 0 && nView > z ? Math.min(1.6, nView / z) : 1;
      q = store.laneQueue[l] * scale;
    } else {
      const s = t.stop[l];
      const standing = s >= 0 && this.ctx.loopTrusted[s] && est.recentOccupancy(s, 3) > 0.95;
      q = standing ? 0.8 * nView : 0.1 * nView;
    }
    // Behind the advance loop: free-flowing traffic holds about inflow × travel time; what the
    // section holds beyond that stands in a queue reaching back from the loop.
    // Only when a queue is seen to reach the loop (it stands on it, or fills the camera's view).
    const a = t.advance[l];
    const reaches = (a >= 0 && this.ctx.loopTrusted[a] && est.recentOccupancy(a, 10) > 0.5) || q >= 0.6 * t.capView[l];
    if (a >= 0 && reaches) {
      const up = Math.max(0, vehicles - nView);
      q += Math.max(0, up - est.rateIn[l] * est.upstreamTime(l));
    }
    return Math.min(q, vehicles);
  }

  /** Per-lane estimates with confidence and age. */
  laneEstimates(): LaneEstimate[] {
    const obs = this.observe();
    const est = this.estimator;
    const inSrc = ['entrance-loop', 'upstream-counts', 'model'] as const;
    const outSrc = ['camera', 'stop-loop', 'advance-loop', 'model'] as const;
    return this.net.lanes.map((lane, l) => ({
      lane: l,
      laneId: lane.id,
      vehicles: obs.laneVehicles[l],
      queue: obs.laneQueue[l],
      speed: obs.laneSpeed[l],
      flow: (obs.laneArrivals[l] * 3600) / Math.max(1, obs.interval),
      confidence: obs.laneConfidence[l],
      age: est.age(l),
      inflowSource: inSrc[est.inMode[l]],
      outflowSource: outSrc[est.outMode[l]],
    }));
  }

  /** The estimate as the interface controllers read (same shape as the truth). */
  observe(): TrafficObservation {
    const nL = this.topo.nLanes;
    const est = this.estimator;
    const t = this.topo;
    const vehicles = new Float64Array(nL);
    const queue = new Float64Array(nL);
    const speed = new Float64Array(nL);
    const arrivals = new Float64Array(nL);
    const confidence = new Float64Array(nL);
    const window = Math.min(this.options.observationWindow, this.updated + 1);
    for (let l = 0; l < nL; l++) {
      const n = est.nTot[l];
      vehicles[l] = n;
      const q = this.queueOf(l, n);
      queue[l] = q;
      speed[l] = n < 0.5 ? t.maxSpeed[l] : (Math.max(0, n - q) * est.movingSpeed[l]) / n;
      arrivals[l] = est.arrivals(l, window);
      const age = est.age(l);
      confidence[l] = (1 / (1 + Math.sqrt(est.pView[l] + est.pUp[l]))) * (age > 10 ? 10 / age : 1);
    }
    const departures = new Float64Array(t.nMovements);
    for (let m = 0; m < t.nMovements; m++) departures[m] = est.departures(m, window);
    return {
      time: this.time,
      laneVehicles: vehicles,
      laneQueue: queue,
      laneSpeed: speed,
      laneArrivals: arrivals,
      movementDepartures: departures,
      interval: window,
      laneConfidence: confidence,
    };
  }

  /** Turning ratios per signalised approach over the turning window. */
  turningRatios(): TurningRatio[] {
    const out: TurningRatio[] = [];
    const W = Math.min(this.options.turningWindow, this.updated + 1);
    for (const inter of this.net.intersections) {
      if (inter.virtual) continue;
      const byRoad = new Map<number, number[]>();
      for (const m of inter.movements) {
        const r = this.net.movements[m].fromRoad;
        const list = byRoad.get(r) ?? [];
        list.push(m);
        byRoad.set(r, list);
      }
      for (const [road, ms] of byRoad) {
        const deps = ms.map((m) => this.estimator.departures(m, W));
        const total = deps.reduce((a, b) => a + b, 0);
        ms.forEach((m, k) => out.push({ road, movement: m, movementId: this.net.movements[m].id, ratio: total > 0 ? deps[k] / total : 0, departures: total }));
      }
    }
    return out;
  }
}
