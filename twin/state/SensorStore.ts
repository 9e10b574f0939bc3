/**
 * What the twin has heard from each sensor, keyed by the sensor's sequence number (never by
 * arrival): a ring of the last readings per sensor, the newest sequence and capture time, and
 * running totals taken from the newest reading. Because everything is placed by `seq`, a late or
 * reordered message lands where it belongs, and a duplicate is recognised by its slot.
 *
 * Running sums kept for the fault detector (occupancy time, occupancy·speed, counts with a
 * speed) are sums over distinct readings, so they too do not depend on arrival order.
 */
import type { CameraFrame, LoopReading } from '../sensors/messages.ts';
import type { SensorLayout } from '../sensors/SensorLayout.ts';
import type { RoadNetwork } from '../network/RoadNetwork.ts';

/** Readings kept per sensor (at 1 s intervals: over 8 minutes). */
export const RING = 512;

export class SensorStore {
  readonly layout: SensorLayout;
  readonly nDet: number;
  readonly nCam: number;

  // ---- loops ----
  readonly loopLastSeq: Float64Array;
  /**
   * Lowest sequence number received (Infinity before any). Numbers below it were never offered to
   * this twin (sent before it started, or before the window a restart re-reads), so they are not
   * counted as lost.
   */
  readonly loopFirstSeq: Float64Array;
  /** Capture time (ms) of the newest reading. */
  readonly loopLastMs: Float64Array;
  /** Newest source time (ms) of any reading, loop or camera: how far the feed as a whole has come. */
  latestMs = -Infinity;
  readonly loopTotal: Float64Array;
  readonly loopIntervalMs: Float64Array;
  readonly rSeq: Float64Array;
  readonly rCount: Int32Array;
  readonly rOcc: Float32Array;
  readonly rPresence: Uint8Array;
  /** Capture time (ms) and length (ms) of each held reading. */
  readonly rTs: Float64Array;
  readonly rSpan: Float64Array;
  /** Running total carried by each held reading (a count lost with a reading shows in the next total). */
  readonly rTotal: Float64Array;
  /** Σ occupancy time (s), Σ occupancy time · speed (m) and Σ count, over readings with a speed. */
  readonly sumOccTime: Float64Array;
  readonly sumOccSpeed: Float64Array;
  readonly sumCountWithSpeed: Float64Array;
  readonly loopReceived: Float64Array;

  // ---- cameras ----
  readonly camLastSeq: Float64Array;
  /** Lowest frame number received (as `loopFirstSeq`). */
  readonly camFirstSeq: Float64Array;
  readonly camLastMs: Float64Array;
  readonly camReceived: Float64Array;
  readonly camRSeq: Float64Array;
  /** Per lane: newest frame's figures (from the camera's newest seq). */
  readonly laneInView: Float64Array;
  readonly laneQueue: Float64Array;
  readonly laneDepTotal: Float64Array;
  readonly laneFrameSeq: Float64Array;
  readonly movementTotal: Float64Array;
  /** 4 per camera: car, bus, truck, emergency in view (newest frame). */
  readonly classes: Float64Array;

  /** Per camera: its lanes and movements by id. */
  private readonly camLanes: Map<string, number>[];
  private readonly camMovements: Map<string, number>[];

  constructor(net: RoadNetwork, layout: SensorLayout) {
    this.layout = layout;
    const nD = layout.detectors.length;
    const nC = layout.cameras.length;
    this.nDet = nD;
    this.nCam = nC;
    this.loopLastSeq = new Float64Array(nD).fill(-1);
    this.loopFirstSeq = new Float64Array(nD).fill(Infinity);
    this.loopLastMs = new Float64Array(nD).fill(-Infinity);
    this.loopTotal = new Float64Array(nD);
    this.loopIntervalMs = new Float64Array(nD).fill(1000);
    this.rSeq = new Float64Array(nD * RING).fill(-1);
    this.rCount = new Int32Array(nD * RING);
    this.rOcc = new Float32Array(nD * RING);
    this.rPresence = new Uint8Array(nD * RING);
    this.rTs = new Float64Array(nD * RING);
    this.rSpan = new Float64Array(nD * RING);
    this.rTotal = new Float64Array(nD * RING);
    this.sumOccTime = new Float64Array(nD);
    this.sumOccSpeed = new Float64Array(nD);
    this.sumCountWithSpeed = new Float64Array(nD);
    this.loopReceived = new Float64Array(nD);
    this.camLastSeq = new Float64Array(nC).fill(-1);
    this.camFirstSeq = new Float64Array(nC).fill(Infinity);
    this.camLastMs = new Float64Array(nC).fill(-Infinity);
    this.camReceived = new Float64Array(nC);
    this.camRSeq = new Float64Array(nC * RING).fill(-1);
    const nL = net.lanes.length;
    this.laneInView = new Float64Array(nL);
    this.laneQueue = new Float64Array(nL);
    this.laneDepTotal = new Float64Array(nL);
    this.laneFrameSeq = new Float64Array(nL).fill(-1);
    this.movementTotal = new Float64Array(net.movements.length);
    this.classes = new Float64Array(nC * 4);
    this.camLanes = layout.cameras.map((c) => new Map(c.lanes.map((l) => [net.lanes[l].id, l])));
    this.camMovements = layout.cameras.map((c) => new Map(c.movements.map((m) => [net.movements[m].id, m])));
  }

  /** Whether a reading with this seq is already held, or too old to hold (slot reused). */
  loopSlotState(d: number, seq: number): 'free' | 'duplicate' | 'expired' {
    if (seq <= this.loopLastSeq[d] - RING) return 'expired';
    return this.rSeq[d * RING + (seq % RING)] === seq ? 'duplicate' : 'free';
  }

  camSlotState(c: number, seq: number): 'free' | 'duplicate' | 'expired' {
    if (seq <= this.camLastSeq[c] - RING) return 'expired';
    return this.camRSeq[c * RING + (seq % RING)] === seq ? 'duplicate' : 'free';
  }

  /** Checks a camera frame's lane and movement ids against the camera's approach. */
  cameraFrameProblem(c: number, m: CameraFrame): string | null {
    const lanes = this.camLanes[c];
    const movements = this.camMovements[c];
    for (const l of m.lanes) if (!lanes.has(l.lane)) return `lane ${l.lane} is not watched by ${this.layout.cameras[c].id}`;
    for (const mv of m.movements) {
      if (!movements.has(mv.movement)) return `movement ${mv.movement} is not on ${this.layout.cameras[c].id}'s approach`;
    }
    return null;
  }

  applyLoop(d: number, m: LoopReading, tsMs: number): void {
    const seq = m.seq;
    const slot = d * RING + (seq % RING);
    this.rSeq[slot] = seq;
    this.rCount[slot] = m.count;
    this.rOcc[slot] = m.occupancy;
    this.rPresence[slot] = m.presence ? 1 : 0;
    this.rTs[slot] = tsMs;
    this.rSpan[slot] = m.intervalMs;
    this.rTotal[slot] = m.total;
    this.loopReceived[d]++;
    if (seq < this.loopFirstSeq[d]) this.loopFirstSeq[d] = seq;
    if (m.speed !== null) {
      const occTime = (m.occupancy * m.intervalMs) / 1000;
      this.sumOccTime[d] += occTime;
      this.sumOccSpeed[d] += occTime * m.speed;
      this.sumCountWithSpeed[d] += m.count;
    }
    if (seq > this.loopLastSeq[d]) {
      this.loopLastSeq[d] = seq;
      this.loopLastMs[d] = tsMs;
      if (tsMs > this.latestMs) this.latestMs = tsMs;
      this.loopTotal[d] = m.total;
      this.loopIntervalMs[d] = m.intervalMs;
    }
  }

  applyCamera(c: number, m: CameraFrame, tsMs: number): void {
    const seq = m.seq;
    this.camRSeq[c * RING + (seq % RING)] = seq;
    this.camReceived[c]++;
    if (seq < this.camFirstSeq[c]) this.camFirstSeq[c] = seq;
    if (seq <= this.camLastSeq[c]) return; // an older frame: its totals are already covered
    this.camLastSeq[c] = seq;
    this.camLastMs[c] = tsMs;
    if (tsMs > this.latestMs) this.latestMs = tsMs;
    const lanes = this.camLanes[c];
    const movements = this.camMovements[c];
    for (const l of m.lanes) {
      const lane = lanes.get(l.lane)!;
      this.laneInView[lane] = l.inView;
      this.laneQueue[lane] = l.queue;
      this.laneDepTotal[lane] = l.departuresTotal;
      this.laneFrameSeq[lane] = seq;
    }
    for (const mv of m.movements) this.movementTotal[movements.get(mv.movement)!] = mv.total;
    const k = c * 4;
    this.classes[k] = m.classes.car;
    this.classes[k + 1] = m.classes.bus;
    this.classes[k + 2] = m.classes.truck;
    this.classes[k + 3] = m.classes.emergency;
  }

  /** Presence at the end of loop d's newest reading (0 or 1). */
  loopPresence(d: number): number {
    const last = this.loopLastSeq[d];
    if (last < 0) return 0;
    const slot = d * RING + (last % RING);
    return this.rSeq[slot] === last ? this.rPresence[slot] : 0;
  }

  /**
   * Readings of loop d due since `fromMs` (sequence numbers from the oldest one held captured
   * after it, up to the newest) and the share of them received.
   */
  loopReceivedSince(d: number, fromMs: number): { due: number; share: number } {
    const last = this.loopLastSeq[d];
    if (last < 0) return { due: 0, share: 1 };
    let oldest = last;
    let got = 0;
    for (let q = last; q >= 0 && q > last - RING; q--) {
      const slot = d * RING + (q % RING);
      if (this.rSeq[slot] !== q) continue;
      if (this.rTs[slot] < fromMs) break;
      oldest = q;
      got++;
    }
    const due = last - oldest + 1;
    return { due, share: got / due };
  }

  /** Share of the last `window` sequence numbers (up to the newest, from the first received) actually received. */
  loopReceivedShare(d: number, window: number): number {
    const last = this.loopLastSeq[d];
    if (last < 0) return 0;
    const from = Math.max(this.loopFirstSeq[d], last - window + 1);
    let got = 0;
    for (let s = from; s <= last; s++) if (this.rSeq[d * RING + (s % RING)] === s) got++;
    return got / (last - from + 1);
  }

  camReceivedShare(c: number, window: number): number {
    const last = this.camLastSeq[c];
    if (last < 0) return 0;
    const from = Math.max(this.camFirstSeq[c], last - window + 1);
    let got = 0;
    for (let s = from; s <= last; s++) if (this.camRSeq[c * RING + (s % RING)] === s) got++;
    return got / (last - from + 1);
  }
}
