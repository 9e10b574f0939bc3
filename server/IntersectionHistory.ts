/**
 * What the intersection panel shows over time and right now, read from the twin (never from the
 * field's truth): per signalised intersection, queue and delay sampled once a simulated minute for
 * the last hour, and each approach's detector readings.
 *
 * Delay is control delay per vehicle by Little's law: the rate at which the approach lanes lose
 * time, Σ n·(1 − v/v_free) vehicle-seconds per second, over the rate vehicles arrive there.
 * The twin's own histories keep only ten minutes, hence this store.
 */
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { TwinState } from '../twin/state/TwinState.ts';

export interface HistoryOptions {
  /** Seconds (simulation clock) between samples. */
  every: number;
  /** Seconds of history kept. */
  keep: number;
}

export interface IntersectionSeries {
  every: number;
  time: number[];
  /** Standing vehicles on the approach lanes. */
  queue: number[];
  /** Control delay per vehicle (s); null where no vehicle arrived in the window. */
  delay: (number | null)[];
}

export interface DetectorReading {
  id: string;
  kind: string;
  lane: string;
  road: string;
  /** Vehicles counted over the last `window` seconds (null before a full window has passed). */
  count: number | null;
  window: number;
  /** Mean occupancy over the last minute, 0–1. */
  occupancy: number;
  /** Seconds since its newest reading (null: never heard). */
  age: number | null;
  trusted: boolean;
  fault: { reason: string; detail: string; since: number } | null;
}

export interface CameraReading {
  id: string;
  road: string;
  lanes: { lane: string; inView: number; queue: number }[];
  age: number | null;
  trusted: boolean;
  fault: { reason: string; detail: string; since: number } | null;
}

/** Totals of the loops every TOTAL_STEP seconds, enough slots to look back one window. */
const TOTAL_STEP = 10;
const COUNT_WINDOW = 60;

export class IntersectionHistory {
  private readonly slots: number;
  private readonly times: Float64Array;
  private readonly queue: Float64Array;
  private readonly delay: Float64Array;
  private readonly approach: number[][];
  private readonly rowOf = new Map<string, number>();
  private written = 0;
  private lastSample = -Infinity;
  /** Ring of loop totals, TOTAL_STEP apart. */
  private readonly totals: Float64Array[];
  private readonly totalTimes: Float64Array;
  private totalsWritten = 0;
  private lastTotals = -Infinity;

  constructor(
    private readonly net: RoadNetwork,
    private readonly twin: TwinState,
    readonly options: HistoryOptions = { every: 60, keep: 3600 },
  ) {
    this.slots = Math.ceil(options.keep / options.every);
    const signalised = net.intersections.filter((i) => !i.virtual);
    signalised.forEach((i, row) => this.rowOf.set(i.id, row));
    this.approach = signalised.map((i) => net.roads.filter((r) => r.to === i.index).flatMap((r) => r.lanes));
    this.times = new Float64Array(this.slots);
    this.queue = new Float64Array(this.slots * signalised.length);
    this.delay = new Float64Array(this.slots * signalised.length);
    const k = COUNT_WINDOW / TOTAL_STEP + 1;
    this.totals = Array.from({ length: k }, () => new Float64Array(twin.store.nDet));
    this.totalTimes = new Float64Array(k).fill(-Infinity);
  }

  has(intersection: string): boolean {
    return this.rowOf.has(intersection);
  }

  /** Call after the twin advanced to `time` (s); samples when a step is due. */
  record(time: number): void {
    if (time - this.lastTotals >= TOTAL_STEP) {
      this.lastTotals = time;
      const slot = this.totalsWritten % this.totals.length;
      this.totals[slot].set(this.twin.store.loopTotal);
      this.totalTimes[slot] = time;
      this.totalsWritten++;
    }
    if (time - this.lastSample < this.options.every) return;
    this.lastSample = time;
    const o = this.twin.observe();
    const slot = this.written % this.slots;
    this.times[slot] = time;
    const nI = this.approach.length;
    const window = Math.max(1, o.interval);
    for (let row = 0; row < nI; row++) {
      let q = 0;
      let lost = 0;
      let arrivals = 0;
      for (const l of this.approach[row]) {
        const n = o.laneVehicles[l];
        q += o.laneQueue[l];
        lost += n * Math.max(0, 1 - o.laneSpeed[l] / this.net.lanes[l].maxSpeed);
        arrivals += o.laneArrivals[l];
      }
      this.queue[slot * nI + row] = q;
      // Fewer than one arrival in the window: the ratio says nothing.
      this.delay[slot * nI + row] = arrivals >= 1 ? lost / (arrivals / window) : Number.NaN;
    }
    this.written++;
  }

  /** The samples of the last `seconds`, oldest first. */
  series(intersection: string, seconds: number): IntersectionSeries | null {
    const row = this.rowOf.get(intersection);
    if (row === undefined) return null;
    const nI = this.approach.length;
    const out: IntersectionSeries = { every: this.options.every, time: [], queue: [], delay: [] };
    const n = Math.min(this.written, this.slots);
    const newest = this.written > 0 ? this.times[(this.written - 1) % this.slots] : 0;
    for (let k = this.written - n; k < this.written; k++) {
      const slot = k % this.slots;
      if (newest - this.times[slot] > seconds) continue;
      out.time.push(this.times[slot]);
      out.queue.push(Math.round(this.queue[slot * nI + row] * 10) / 10);
      const d = this.delay[slot * nI + row];
      out.delay.push(Number.isFinite(d) ? Math.round(d * 10) / 10 : null);
    }
    return out;
  }

  /** Loop and camera readings of the intersection's approaches as the twin holds them at `time`. */
  readings(intersection: string, time: number): { detectors: DetectorReading[]; cameras: CameraReading[] } | null {
    const row = this.rowOf.get(intersection);
    if (row === undefined) return null;
    const twin = this.twin;
    const store = twin.store;
    const layout = twin.layout;
    const nowMs = twin.options.epochMs + time * 1000;
    const faults = new Map<string, { reason: string; detail: string; since: number }>();
    for (const f of twin.sensorFlags()) faults.set(f.sensorId, { reason: f.reason, detail: f.detail, since: f.since });
    // The oldest kept totals at least a window back.
    let past = -1;
    for (let k = 0; k < this.totals.length; k++) {
      const t = this.totalTimes[k];
      if (time - t >= COUNT_WINDOW && (past < 0 || t > this.totalTimes[past])) past = k;
    }
    const lanes = this.approach[row];
    const detectors: DetectorReading[] = [];
    for (const l of lanes) {
      for (const d of layout.laneDetectors[l]) {
        const spec = layout.detectors[d];
        const last = store.loopLastMs[d];
        detectors.push({
          id: spec.id,
          kind: spec.kind,
          lane: spec.laneId,
          road: this.net.roads[this.net.lanes[l].road].id,
          count: past >= 0 ? store.loopTotal[d] - this.totals[past][d] : null,
          window: past >= 0 ? Math.round(time - this.totalTimes[past]) : COUNT_WINDOW,
          occupancy: Math.round(twin.estimator.recentOccupancy(d, COUNT_WINDOW) * 1000) / 1000,
          age: Number.isFinite(last) ? Math.max(0, Math.round((nowMs - last) / 100) / 10) : null,
          trusted: twin.isTrusted(spec.id),
          fault: faults.get(spec.id) ?? null,
        });
      }
    }
    const cams = new Set<number>();
    for (const l of lanes) if (layout.laneCamera[l] >= 0) cams.add(layout.laneCamera[l]);
    const cameras: CameraReading[] = [...cams].map((c) => {
      const spec = layout.cameras[c];
      const last = store.camLastMs[c];
      return {
        id: spec.id,
        road: this.net.roads[spec.road].id,
        lanes: spec.lanes.map((l) => ({ lane: this.net.lanes[l].id, inView: store.laneInView[l], queue: store.laneQueue[l] })),
        age: Number.isFinite(last) ? Math.max(0, Math.round((nowMs - last) / 100) / 10) : null,
        trusted: twin.isTrusted(spec.id),
        fault: faults.get(spec.id) ?? null,
      };
    });
    return { detectors, cameras };
  }
}
