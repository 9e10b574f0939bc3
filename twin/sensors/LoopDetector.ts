/**
 * Simulated inductive loop detectors: truth in, actuations and per-interval aggregates out.
 *
 * A loop at [p, p + ℓ] on a lane has presence while some vehicle's body [head − length, head]
 * overlaps it. After each engine step we know each vehicle's head position before and after the
 * step (tracked here per vehicle slot; a vehicle that crossed onto a new lane or lane link is
 * followed in the coordinates of the lane it left, extended through the link), so presence
 * intervals are interpolated within the step (constant speed over the step). Presence on-edges
 * are the counts; occupancy is the fraction of time with presence; dual loops report the mean
 * speed of the vehicles counted.
 *
 * Faults (deterministic for a seed), active from their onset: stuck-on (presence forever),
 * stuck-off (never), chatter (presence flickers: extra short pulses as a vehicle arrives, plus
 * stray pulses), miscount (a share of vehicles missed, or counted twice, by one detector in one
 * direction). Dropouts (lost messages) happen where messages are sent (see Field.ts).
 *
 * Hot path: typed arrays, no allocation per vehicle; one scratch buffer of presence pieces per
 * step, bucketed by detector.
 */
import { z } from 'zod';
import type { Engine } from '../sim/Engine.ts';
import { Mt19937 } from '../random.ts';
import { VehicleDraws, frac, subSeed } from './noise.ts';
import type { DetectorSpec } from './SensorLayout.ts';

export const DETECTOR_FAULT_TYPES = ['stuck-on', 'stuck-off', 'chatter', 'dropouts', 'miscount'] as const;
export type DetectorFaultType = (typeof DETECTOR_FAULT_TYPES)[number];

export const DetectorFaultSchema = z.object({
  detector: z.number().int().nonnegative(),
  type: z.enum(DETECTOR_FAULT_TYPES),
  /** Simulation time the fault starts (s). */
  onset: z.number().nonnegative(),
  /**
   * Severity: chatter, share of arrivals that bounce; miscount, share of vehicles miscounted
   * (negative = missed, positive = counted twice); dropouts, share of messages lost.
   */
  rate: z.number().min(-1).max(1),
});
export type DetectorFault = z.infer<typeof DetectorFaultSchema>;

export interface LoopBankOptions {
  /** Aggregation interval in engine steps. */
  intervalSteps: number;
  /** Keep raw on/off edges for each interval (costs memory; off by default). */
  recordEdges?: boolean;
  faults?: readonly DetectorFault[];
  seed?: number;
}

/** Stray pulses per second on a chattering loop. */
const STRAY_PULSE_RATE = 0.02;
/** Length of a chatter gap or stray pulse (s). */
const PULSE = 0.04;
const EPS = 1e-9;

const NONE = 0;
const STUCK_ON = 1;
const STUCK_OFF = 2;
const CHATTER = 3;
const MISCOUNT = 4;
const FAULT_CODE: Record<DetectorFaultType, number> = { 'stuck-on': STUCK_ON, 'stuck-off': STUCK_OFF, chatter: CHATTER, dropouts: NONE, miscount: MISCOUNT };

/**
 * Presence of a vehicle moving from head position x0 to x1 during a step of dt over the loop
 * [p, p + loopLength]: the time span [a, b] within the step, or null. Exposed for tests.
 */
export function presenceSpan(x0: number, x1: number, dt: number, p: number, loopLength: number, vehLength: number): [number, number] | null {
  const e = p + loopLength + vehLength;
  if (x1 < p || x0 >= e) return null;
  if (x1 <= x0) return [0, dt];
  const a = x0 >= p ? 0 : ((p - x0) / (x1 - x0)) * dt;
  const b = x1 < e ? dt : ((e - x0) / (x1 - x0)) * dt;
  return [a, b];
}

export class LoopDetectorBank {
  readonly detectors: readonly DetectorSpec[];
  readonly intervalSteps: number;
  private readonly engine: Engine;
  private readonly nLanes: number;
  private readonly dt: number;
  /** CSR: detectors per lane. */
  private readonly laneStart: Int32Array;
  private readonly laneList: Int32Array;
  /** Lanes whose detectors a vehicle on an out-link can still cover with its tail. */
  private readonly laneReachesLink: Uint8Array;
  private readonly laneLength: Float64Array;
  private readonly linkFrom: Int32Array;
  private readonly linkLength: Float64Array;
  private readonly outStart: Int32Array;
  private readonly outList: Int32Array;

  // ---- per-vehicle tracking, by engine slot ----
  private tUid = new Int32Array(0);
  private tRef = new Int32Array(0);
  private tX = new Float64Array(0);
  private tV = new Float64Array(0);
  private tLen = new Float64Array(0);
  /** Pending change of reference lane this step (set from the move list). */
  private pStep = new Int32Array(0);
  private pRef = new Int32Array(0);
  private pOff = new Float64Array(0);
  private pUid = new Int32Array(0);
  private stepIndex = 0;

  // ---- presence pieces of the current step ----
  private nPieces = 0;
  private pcDet = new Int32Array(1024);
  private pcA = new Float64Array(1024);
  private pcB = new Float64Array(1024);
  private pcSpeed = new Float64Array(1024);
  private pcUid = new Int32Array(1024);
  /** Time the vehicle's head crossed the loop's start / the loop's middle in the step, or -1. */
  private pcOn = new Float64Array(1024);
  private pcMid = new Float64Array(1024);
  private bucketStart: Int32Array;
  private readonly fillPos: Int32Array;
  private order = new Int32Array(1024);
  private segA = new Float64Array(64);
  private segB = new Float64Array(64);
  private segSpeed = new Float64Array(64);

  // ---- detector state ----
  private readonly on: Uint8Array;
  private readonly faultCode: Uint8Array;
  private readonly faultOnset: Float64Array;
  private readonly faultRate: Float64Array;
  private readonly phase: Float64Array;
  private readonly draws: VehicleDraws;
  private readonly rng: Mt19937;
  private readonly recordEdges: boolean;

  // ---- interval aggregates (read after `observe` returns true) ----
  readonly count: Int32Array;
  readonly occupancy: Float64Array;
  readonly speed: Float64Array;
  readonly presence: Uint8Array;
  readonly total: Float64Array;
  readonly edges: { t: number; on: boolean }[][];
  /** End of the interval just completed (s). */
  intervalEnd = 0;
  private occTime: Float64Array;
  private speedSum: Float64Array;
  private speedN: Int32Array;
  private curCount: Int32Array;
  private stepsInInterval = 0;

  constructor(engine: Engine, detectors: readonly DetectorSpec[], options: LoopBankOptions) {
    this.engine = engine;
    this.detectors = detectors;
    this.intervalSteps = Math.max(1, Math.round(options.intervalSteps));
    this.recordEdges = options.recordEdges ?? false;
    const net = engine.net;
    const nL = engine.nLanes;
    this.nLanes = nL;
    this.dt = engine.dt;
    const n = detectors.length;
    const perLane: number[][] = net.lanes.map(() => []);
    for (const d of detectors) perLane[d.lane].push(d.index);
    this.laneStart = new Int32Array(nL + 1);
    const list: number[] = [];
    perLane.forEach((ds, l) => {
      this.laneStart[l] = list.length;
      list.push(...ds);
    });
    this.laneStart[nL] = list.length;
    this.laneList = Int32Array.from(list);
    this.laneLength = Float64Array.from(net.lanes, (l) => l.length);
    this.laneReachesLink = new Uint8Array(nL);
    // A vehicle whose head has left the lane still covers [L − length, L]: watch the out-links
    // of lanes with a loop within 30 m (longer than any vehicle) of the end.
    for (const d of detectors) if (d.position + d.length > this.laneLength[d.lane] - 30) this.laneReachesLink[d.lane] = 1;
    this.linkFrom = Int32Array.from(net.laneLinks, (k) => k.fromLane);
    this.linkLength = Float64Array.from(net.laneLinks, (k) => k.length);
    this.outStart = new Int32Array(nL + 1);
    const outs: number[] = [];
    net.lanes.forEach((l, i) => {
      this.outStart[i] = outs.length;
      outs.push(...l.outLinks);
    });
    this.outStart[nL] = outs.length;
    this.outList = Int32Array.from(outs);
    this.bucketStart = new Int32Array(n + 1);
    this.fillPos = new Int32Array(n);

    this.on = new Uint8Array(n);
    this.faultCode = new Uint8Array(n);
    this.faultOnset = new Float64Array(n).fill(Infinity);
    this.faultRate = new Float64Array(n);
    for (const f of options.faults ?? []) {
      if (f.detector >= n) throw new RangeError(`fault on unknown detector ${f.detector}`);
      this.faultCode[f.detector] = FAULT_CODE[f.type];
      this.faultOnset[f.detector] = f.onset;
      this.faultRate[f.detector] = f.rate;
    }
    const seed = options.seed ?? 0;
    this.draws = new VehicleDraws(subSeed(seed, 1));
    this.rng = new Mt19937(subSeed(seed, 2));
    const phaseRng = new Mt19937(subSeed(seed, 3));
    this.phase = Float64Array.from(detectors, () => phaseRng.nextFloat());

    this.count = new Int32Array(n);
    this.occupancy = new Float64Array(n);
    this.speed = new Float64Array(n);
    this.presence = new Uint8Array(n);
    this.total = new Float64Array(n);
    this.edges = detectors.map(() => []);
    this.occTime = new Float64Array(n);
    this.speedSum = new Float64Array(n);
    this.speedN = new Int32Array(n);
    this.curCount = new Int32Array(n);
  }

  /**
   * Call after every engine step. Returns true when an aggregation interval has just ended;
   * its figures are then in `count`, `occupancy`, `speed` (NaN when nothing was counted or the
   * loop is single), `presence`, `total` and (if recorded) `edges`, until the next call.
   */
  observe(): boolean {
    const e = this.engine;
    const dt = this.dt;
    const nL = this.nLanes;
    const k = ++this.stepIndex;
    this.nPieces = 0;
    if (this.stepsInInterval === 0 && this.recordEdges) for (const list of this.edges) list.length = 0;

    // 1. Vehicles that changed reference lane (left a lane or a lane link onto a new lane).
    e.forEachMove((slot, from, to, via) => {
      if (slot >= this.tUid.length) this.growSlots(slot + 1);
      if (to === -1) {
        // Left the network at the end of its route: finish its presence on its lane's loops.
        if (this.tUid[slot] === e.vehicleUid(slot) && this.tRef[slot] >= 0) {
          const ref = this.tRef[slot];
          const x0 = this.tX[slot];
          const x1 = Math.max(this.laneLength[ref] + 0.01, x0 + this.tV[slot] * dt);
          this.evalLane(ref, x0, x1, this.tLen[slot], (x1 - x0) / dt, slot);
          this.tUid[slot] = -1;
        }
        return;
      }
      if (to >= nL) return; // onto a link: same reference lane
      let oldRef: number;
      let off: number;
      if (from >= nL) {
        oldRef = this.linkFrom[from - nL];
        off = this.laneLength[oldRef] + this.linkLength[from - nL];
      } else {
        oldRef = from;
        off = this.laneLength[from] + (via >= nL ? this.linkLength[via - nL] : 0);
      }
      this.pStep[slot] = k;
      this.pRef[slot] = oldRef;
      this.pOff[slot] = off;
      this.pUid[slot] = e.vehicleUid(slot);
    });

    // 2. Vehicles on lanes, then on the out-links of lanes with loops near their end.
    for (let lane = 0; lane < nL; lane++) {
      const hasDet = this.laneStart[lane + 1] > this.laneStart[lane];
      e.forEachOn(lane, (slot, dis, spd, len) => {
        if (slot >= this.tUid.length) this.growSlots(slot + 1);
        const uid = e.vehicleUid(slot);
        let x0: number;
        if (this.tUid[slot] === uid && this.tRef[slot] === lane) {
          x0 = this.tX[slot];
        } else if (this.pStep[slot] === k && this.pUid[slot] === uid) {
          const oldRef = this.pRef[slot];
          const off = this.pOff[slot];
          if (this.tUid[slot] === uid && this.tRef[slot] === oldRef) {
            const ox0 = this.tX[slot];
            this.evalLane(oldRef, ox0, dis + off, len, (dis + off - ox0) / dt, slot);
            x0 = ox0 - off;
          } else x0 = dis - spd * dt;
        } else {
          // Inserted this step at the lane start from standstill: it covered (0 + v)·dt/2.
          x0 = Math.max(0, dis - (spd * dt) / 2);
        }
        if (hasDet) this.evalLane(lane, x0, dis, len, (dis - x0) / dt, slot);
        this.tUid[slot] = uid;
        this.tRef[slot] = lane;
        this.tX[slot] = dis;
        this.tV[slot] = spd;
        this.tLen[slot] = len;
      });
      if (!this.laneReachesLink[lane]) continue;
      const L = this.laneLength[lane];
      for (let o = this.outStart[lane]; o < this.outStart[lane + 1]; o++) {
        const link = this.outList[o];
        e.forEachOn(nL + link, (slot, dis, spd, len) => {
          if (slot >= this.tUid.length) this.growSlots(slot + 1);
          const uid = e.vehicleUid(slot);
          const x1 = L + dis;
          const x0 = this.tUid[slot] === uid && this.tRef[slot] === lane ? this.tX[slot] : x1 - spd * dt;
          this.evalLane(lane, x0, x1, len, (x1 - x0) / dt, slot);
          this.tUid[slot] = uid;
          this.tRef[slot] = lane;
          this.tX[slot] = x1;
          this.tV[slot] = spd;
          this.tLen[slot] = len;
        });
      }
    }

    // 3. Per detector: faults, merge pieces into presence, edges, counts.
    this.finishStep(e.time - dt);
    if (++this.stepsInInterval < this.intervalSteps) return false;
    this.closeInterval(e.time);
    return true;
  }

  /** Per-slot arrays follow the engine's slot numbers, growing by doubling. */
  private growSlots(min: number): void {
    const cap = Math.max(min, 1024, this.tUid.length * 2);
    const gi = (a: Int32Array, fill: number) => {
      const b = new Int32Array(cap).fill(fill);
      b.set(a);
      return b;
    };
    const gf = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.tUid = gi(this.tUid, -1);
    this.tRef = gi(this.tRef, -1);
    this.tX = gf(this.tX);
    this.tV = gf(this.tV);
    this.tLen = gf(this.tLen);
    this.pStep = gi(this.pStep, 0);
    this.pRef = gi(this.pRef, -1);
    this.pOff = gf(this.pOff);
    this.pUid = gi(this.pUid, -1);
  }

  /** Presence pieces of one vehicle over the loops of `lane`, in that lane's coordinates. */
  private evalLane(lane: number, x0: number, x1: number, len: number, speed: number, slot: number): void {
    const dt = this.dt;
    for (let j = this.laneStart[lane]; j < this.laneStart[lane + 1]; j++) {
      const d = this.laneList[j];
      const det = this.detectors[d];
      const p = det.position;
      const span = presenceSpanInline(x0, x1, dt, p, det.length, len);
      if (span < 0) continue;
      const a = spanA;
      const b = spanB;
      if (b - a <= EPS && x1 > x0) continue;
      const moving = x1 > x0;
      const on = moving && x0 <= p && x1 >= p ? ((p - x0) / (x1 - x0)) * dt : -1;
      const mid = p + (det.length + len) / 2;
      const midT = moving && x0 < mid && x1 >= mid ? ((mid - x0) / (x1 - x0)) * dt : -1;
      this.pushPiece(d, a, b, speed, this.engine.vehicleUid(slot), on, midT);
    }
  }

  private pushPiece(d: number, a: number, b: number, speed: number, uid: number, on: number, mid: number): void {
    if (this.nPieces === this.pcDet.length) {
      const cap = this.nPieces * 2;
      const gi = (x: Int32Array) => {
        const y = new Int32Array(cap);
        y.set(x);
        return y;
      };
      const gf = (x: Float64Array) => {
        const y = new Float64Array(cap);
        y.set(x);
        return y;
      };
      this.pcDet = gi(this.pcDet);
      this.pcUid = gi(this.pcUid);
      this.pcA = gf(this.pcA);
      this.pcB = gf(this.pcB);
      this.pcSpeed = gf(this.pcSpeed);
      this.pcOn = gf(this.pcOn);
      this.pcMid = gf(this.pcMid);
      this.order = new Int32Array(cap);
    }
    const i = this.nPieces++;
    this.pcDet[i] = d;
    this.pcA[i] = a;
    this.pcB[i] = b;
    this.pcSpeed[i] = speed;
    this.pcUid[i] = uid;
    this.pcOn[i] = on;
    this.pcMid[i] = mid;
  }

  private finishStep(t0: number): void {
    const n = this.detectors.length;
    const dt = this.dt;
    // Bucket pieces by detector (counting sort), then sort each bucket by start.
    const bs = this.bucketStart.fill(0);
    for (let i = 0; i < this.nPieces; i++) bs[this.pcDet[i] + 1]++;
    for (let d = 0; d < n; d++) bs[d + 1] += bs[d];
    const fillPos = this.fillPos;
    fillPos.set(bs.subarray(0, n));
    for (let i = 0; i < this.nPieces; i++) this.order[fillPos[this.pcDet[i]]++] = i;

    for (let d = 0; d < n; d++) {
      const lo = bs[d];
      const hi = bs[d + 1];
      const fault = this.faultOnset[d] <= t0 + dt - EPS ? this.faultCode[d] : NONE;
      if (hi === lo && !this.on[d] && fault !== STUCK_ON && fault !== CHATTER) continue;
      for (let x = lo + 1; x < hi; x++) {
        const v = this.order[x];
        let y = x - 1;
        while (y >= lo && this.pcA[this.order[y]] > this.pcA[v]) {
          this.order[y + 1] = this.order[y];
          y--;
        }
        this.order[y + 1] = v;
      }
      let nSeg = 0;
      if (fault === STUCK_ON) {
        nSeg = this.addSeg(0, 0, dt, NaN);
      } else if (fault !== STUCK_OFF) {
        for (let x = lo; x < hi; x++) {
          const i = this.order[x];
          let a = this.pcA[i];
          const b = this.pcB[i];
          const speed = this.pcOn[i] >= 0 ? this.pcSpeed[i] : NaN;
          if (fault === MISCOUNT) {
            const rate = this.faultRate[d];
            const u = frac(this.draws.get(this.pcUid[i]) + this.phase[d]);
            if (rate < 0 && u < -rate) continue; // this loop never sees this vehicle
            if (rate > 0 && u < rate && this.pcMid[i] >= 0) {
              // Counted twice: presence drops out for an instant mid-vehicle.
              const m = this.pcMid[i];
              if (m - PULSE > a) nSeg = this.addSeg(nSeg, a, m - PULSE, speed);
              a = Math.min(b, m);
            }
          } else if (fault === CHATTER && this.pcOn[i] >= 0) {
            const u = frac(this.draws.get(this.pcUid[i]) + this.phase[d]);
            if (u < this.faultRate[d]) {
              // Contact bounce as the vehicle arrives: one or two short gaps.
              const gaps = u < this.faultRate[d] / 2 ? 2 : 1;
              let s = this.pcOn[i];
              for (let g = 0; g < gaps && s + 2 * PULSE < b; g++) {
                nSeg = this.addSeg(nSeg, Math.max(a, s), s + PULSE, speed);
                s += 2 * PULSE;
                a = s;
              }
            }
          }
          nSeg = this.addSeg(nSeg, a, b, speed);
        }
        if (fault === CHATTER && this.rng.nextFloat() < STRAY_PULSE_RATE * dt) {
          const s = this.rng.nextFloat() * (dt - PULSE);
          nSeg = this.addSeg(nSeg, s, s + PULSE, NaN);
        }
        if (nSeg > 1) this.sortSegs(nSeg);
      }
      this.applySegments(d, nSeg, t0);
    }
  }

  private addSeg(nSeg: number, a: number, b: number, speed: number): number {
    if (nSeg === this.segA.length) {
      const grow = (x: Float64Array) => {
        const y = new Float64Array(x.length * 2);
        y.set(x);
        return y;
      };
      this.segA = grow(this.segA);
      this.segB = grow(this.segB);
      this.segSpeed = grow(this.segSpeed);
    }
    this.segA[nSeg] = a;
    this.segB[nSeg] = b;
    this.segSpeed[nSeg] = speed;
    return nSeg + 1;
  }

  private sortSegs(n: number): void {
    for (let x = 1; x < n; x++) {
      const a = this.segA[x];
      const b = this.segB[x];
      const s = this.segSpeed[x];
      let y = x - 1;
      while (y >= 0 && this.segA[y] > a) {
        this.segA[y + 1] = this.segA[y];
        this.segB[y + 1] = this.segB[y];
        this.segSpeed[y + 1] = this.segSpeed[y];
        y--;
      }
      this.segA[y + 1] = a;
      this.segB[y + 1] = b;
      this.segSpeed[y + 1] = s;
    }
  }

  /** Merges sorted presence segments with the loop's state and records edges and counts. */
  private applySegments(d: number, nSeg: number, t0: number): void {
    const dt = this.dt;
    let on = this.on[d] === 1;
    let curEnd = on ? 0 : -1;
    const dual = this.detectors[d].dual;
    const edges = this.recordEdges ? this.edges[d] : null;
    if (on && (nSeg === 0 || this.segA[0] > EPS)) {
      on = false;
      edges?.push({ t: Math.round(t0 * 1000), on: false });
    }
    for (let s = 0; s < nSeg; s++) {
      const a = this.segA[s];
      const b = this.segB[s];
      if (on && a <= curEnd + EPS) {
        // Overlaps the current presence: extend it.
        if (b > curEnd) {
          this.occTime[d] += b - curEnd;
          curEnd = b;
        }
        continue;
      }
      if (on) {
        // The current presence ended before this piece began.
        edges?.push({ t: Math.round((t0 + curEnd) * 1000), on: false });
      }
      on = true;
      curEnd = b;
      this.occTime[d] += b - a;
      this.curCount[d]++;
      this.total[d]++;
      edges?.push({ t: Math.round((t0 + a) * 1000), on: true });
      const sp = this.segSpeed[s];
      if (dual && sp === sp) {
        this.speedSum[d] += sp;
        this.speedN[d]++;
      }
    }
    if (on && curEnd < dt - EPS) {
      on = false;
      edges?.push({ t: Math.round((t0 + curEnd) * 1000), on: false });
    }
    this.on[d] = on ? 1 : 0;
  }

  private closeInterval(t: number): void {
    const span = this.intervalSteps * this.dt;
    for (let d = 0; d < this.detectors.length; d++) {
      this.count[d] = this.curCount[d];
      this.occupancy[d] = Math.min(1, this.occTime[d] / span);
      this.speed[d] = this.speedN[d] > 0 ? this.speedSum[d] / this.speedN[d] : NaN;
      this.presence[d] = this.on[d];
      this.curCount[d] = 0;
      this.occTime[d] = 0;
      this.speedSum[d] = 0;
      this.speedN[d] = 0;
    }
    this.intervalEnd = t;
    this.stepsInInterval = 0;
  }
}

// presenceSpan without allocating: returns 1 and sets spanA/spanB, or -1.
let spanA = 0;
let spanB = 0;
function presenceSpanInline(x0: number, x1: number, dt: number, p: number, loopLength: number, vehLength: number): number {
  const e = p + loopLength + vehLength;
  if (x1 < p || x0 >= e) return -1;
  if (x1 <= x0) {
    spanA = 0;
    spanB = dt;
    return 1;
  }
  spanA = x0 >= p ? 0 : ((p - x0) / (x1 - x0)) * dt;
  spanB = x1 < e ? dt : ((e - x0) / (x1 - x0)) * dt;
  return 1;
}
