/**
 * Per-lane state estimation from sensor totals.
 *
 * The core is conservation: with lane changing off every vehicle that enters a lane passes its
 * loops in order, so
 *   vehicles on the lane                    N  += in − out   (entrance loop; stop-bar loop)
 *   vehicles in the camera section          Nv += x − out    (x: advance loop = view boundary)
 * and the camera's count in view corrects Nv with a scalar Kalman update. The lane total rests
 * on the loops (unbiased counters); the camera decides what is in its section (and settles the
 * one ambiguity the stop-bar loop has: a vehicle counted as its front reaches the loop, 2 m
 * short of the line, that still stands there). The camera's count is corrected for what it is
 * seen to miss at each density (calibrated against healthy loops, pooled per camera without
 * its most deviant lane), and its measurement noise grows with that miss rate, so occluded
 * cameras barely move the estimate while clean ones pin it. Counts come from running totals,
 * so lost or late messages delay but never lose vehicles.
 *
 * When a sensor is no longer trusted the estimate falls back, source by source:
 * - entrance lost: the upstream intersection's stop-line counts into the road (camera movement
 *   counts) minus the sibling lanes' entrance counts, shared among the lanes that lost theirs
 *   by each lane's share of the road's departures (bled towards flow × travel time while the
 *   advance loop shows free flow); with nothing upstream measured (boundary roads) a model: the
 *   section behind the advance loop holds (advance flow × free travel time);
 * - stop-line departures: stop-bar loop, else the camera's line count, else the advance loop,
 *   else the inflow delayed by the free travel time (exit lanes, which never queue);
 * - advance lost: the lane total by conservation, the camera section from the camera alone.
 * A switch of source is applied retroactively from the moment the sensor went wrong (as far as
 * the fault detector can tell), from the per-second histories; where the camera and the
 * entrance and advance loops are sound the lane is re-anchored on them instead.
 */
import type { TwinContext } from './TwinContext.ts';
import { H, Ring, secOf } from './TwinContext.ts';
import { RING } from './SensorStore.ts';

/**
 * Kalman noise: process noise per vehicle counted by loops and per second (vehicles move within
 * the section in ways counts do not show), and the camera's measurement noise (base, and per
 * vehicle in view; more per vehicle the more the camera misses).
 */
const Q_PER_COUNT = 0.02;
const Q_PER_SECOND = 0.03;
const R_BASE = 0.3;
const R_PER_VEHICLE = 0.12;
/** Relaxation time of model-based sections towards their model (s). */
const MODEL_TAU = 30;
/** Camera visibility calibration: density buckets per camera, and the decay per lane-second. */
const VIS_BUCKETS = 3;
const VIS_DECAY = 0.999;
/** Decay per lane-second of the stop-line visibility sums. */
const LINE_DECAY = 0.9995;

export class LaneEstimator {
  readonly nTot: Float64Array;
  readonly nView: Float64Array;
  readonly pView: Float64Array;
  readonly pUp: Float64Array;
  /**
   * Running sum of how far the upstream section went below zero and was put back (a sign the
   * entrance undercounts; the fault detector watches it).
   */
  readonly deficit: Float64Array;
  readonly deficitHist: Ring;
  /** Vehicles upstream of the advance loop (0 on lanes without one). */
  readonly nUp: Float64Array;
  /** 1 while a vehicle stands on the stop-bar loop. */
  private readonly standing: Uint8Array;
  /** Vehicles between the advance and stop-bar loops by their counts alone (camera calibration). */
  private readonly loopRaw: Float64Array;
  /** Vehicles between the entrance and advance loops by their counts alone. */
  private readonly upRaw: Float64Array;
  /** Visibility (share of vehicles seen) of each lane's camera at the lane's density, as calibrated. */
  readonly visibility: Float64Array;
  private lastVisibility = 1;
  /** Where each lane's inflow comes from: 0 entrance loop, 1 upstream counts, 2 model. */
  readonly inMode: Uint8Array;
  /** Where its outflow comes from: 0 camera, 1 stop-bar / exit loop, 2 advance loop, 3 model. */
  readonly outMode: Uint8Array;
  /** Per-second inflow and outflow (for arrivals and delayed-outflow models). */
  readonly inflow: Ring;
  readonly outCum: Float64Array;
  /** Cumulative departures per movement (estimated) and their history. */
  readonly movementCum: Float64Array;
  readonly movementHist: Ring;
  /** Smoothed flows (veh/s) at the advance loop and speeds of moving vehicles (m/s). */
  readonly rateAdvance: Float64Array;
  readonly rateIn: Float64Array;
  readonly movingSpeed: Float64Array;

  private readonly prevLoop: Float64Array;
  private readonly prevDep: Float64Array;
  private readonly prevMov: Float64Array;
  private readonly prevOccSpeed: Float64Array;
  private readonly prevCountSpeed: Float64Array;
  private readonly roadIn: Float64Array;
  private readonly roadInOk: Uint8Array;
  private readonly roadInCum: Float64Array;
  private readonly dLoop: Float64Array;
  private readonly dDep: Float64Array;
  private readonly dMov: Float64Array;
  private readonly laneIn: Float64Array;
  private readonly laneOut: Float64Array;
  private readonly depFresh: Uint8Array;
  private readonly movFresh: Uint8Array;
  private readonly visSeen: Float64Array;
  private readonly lineSeen: Float64Array;
  private readonly lineGot: Float64Array;
  private readonly visGot: Float64Array;

  constructor(private readonly ctx: TwinContext) {
    const nL = ctx.topo.nLanes;
    const nD = ctx.store.nDet;
    const nM = ctx.topo.nMovements;
    this.nTot = new Float64Array(nL);
    this.nView = new Float64Array(nL);
    this.pView = new Float64Array(nL);
    this.pUp = new Float64Array(nL);
    this.deficit = new Float64Array(nL);
    this.deficitHist = new Ring(nL);
    this.nUp = new Float64Array(nL);
    this.loopRaw = new Float64Array(nL);
    this.upRaw = new Float64Array(nL);
    this.standing = new Uint8Array(nL);
    this.visibility = new Float64Array(nL).fill(1);
    this.inMode = new Uint8Array(nL);
    this.outMode = new Uint8Array(nL);
    this.inflow = new Ring(nL);
    this.outCum = new Float64Array(nL);
    this.movementCum = new Float64Array(nM);
    this.movementHist = new Ring(nM);
    this.rateAdvance = new Float64Array(nL);
    this.rateIn = new Float64Array(nL);
    this.movingSpeed = Float64Array.from(ctx.topo.maxSpeed, (v) => 0.85 * v);
    this.prevLoop = new Float64Array(nD);
    this.prevDep = new Float64Array(nL);
    this.prevMov = new Float64Array(nM);
    this.prevOccSpeed = new Float64Array(nD);
    this.prevCountSpeed = new Float64Array(nD);
    this.roadIn = new Float64Array(ctx.net.roads.length);
    this.roadInOk = new Uint8Array(ctx.net.roads.length);
    this.roadInCum = new Float64Array(ctx.net.roads.length);
    this.dLoop = new Float64Array(nD);
    this.dDep = new Float64Array(nL);
    this.dMov = new Float64Array(nM);
    this.laneIn = new Float64Array(nL);
    this.laneOut = new Float64Array(nL);
    this.depFresh = new Uint8Array(ctx.store.nCam);
    this.movFresh = new Uint8Array(nM);
    this.visSeen = new Float64Array(nL * VIS_BUCKETS);
    this.lineSeen = new Float64Array(nL);
    this.lineGot = new Float64Array(nL);
    this.visGot = new Float64Array(nL * VIS_BUCKETS);
  }

  /**
   * The camera's count in view on lane l divided by the share of vehicles this camera is seen
   * to catch at this density (learned where the advance and stop-bar loops are healthy and the
   * conservation estimate `prior` is exact; 1 until enough is seen).
   */
  private correctedView(l: number, nView: number): number {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const c = topo.camera[l];
    const z = ctx.store.laneInView[l];
    const a = topo.advance[l];
    const s = topo.stop[l];
    // The reference is the loops alone (advance minus stop-bar counts), taken when nothing is
    // on the stop-bar loop (then it is exactly what is in view): the fused estimate would drift
    // towards the camera and teach it nothing.
    // (A vehicle standing on the stop-bar loop was counted out but is in view: add it; one
    // leaving over it is ambiguous: skip.)
    const onStop = s >= 0 ? ctx.store.loopPresence(s) : 0;
    const standing = onStop === 1 && this.standingOn(s) ? 1 : 0;
    const healthy = topo.viewMeasures[l] === 1 && a >= 0 && s >= 0 && ctx.loopTrusted[a] === 1 && ctx.loopTrusted[s] === 1 && (onStop === 0 || standing === 1);
    const prior = healthy ? this.loopRaw[l] + standing : nView;
    const b = Math.min(VIS_BUCKETS - 1, Math.floor((VIS_BUCKETS * Math.max(z, prior)) / topo.capView[l]));
    if (healthy && prior >= 1) {
      const k = l * VIS_BUCKETS + b;
      this.visSeen[k] = this.visSeen[k] * VIS_DECAY + prior;
      this.visGot[k] = this.visGot[k] * VIS_DECAY + z;
    }
    // Learned per lane, pooled per camera without its most deviant lane (a lane whose loops
    // are quietly wrong cannot drag the camera's figure with it). A prior of 20 vehicles seen at
    // full visibility keeps the ratio at 1 until evidence builds.
    const lanes = topo.cameraLanes[c];
    let got = 20;
    let seen = 20;
    for (const x of lanes) {
      got += this.visGot[x * VIS_BUCKETS + b];
      seen += this.visSeen[x * VIS_BUCKETS + b];
    }
    if (lanes.length >= 3) {
      const pooled = got / seen;
      let worst = -1;
      let worstDev = 0;
      for (const x of lanes) {
        const k = x * VIS_BUCKETS + b;
        const dev = Math.abs(this.visGot[k] - pooled * this.visSeen[k]);
        if (dev > worstDev) {
          worstDev = dev;
          worst = k;
        }
      }
      if (worst >= 0) {
        got -= this.visGot[worst];
        seen -= this.visSeen[worst];
      }
    }
    const g = Math.min(1, Math.max(0.5, got / seen));
    this.lastVisibility = g;
    this.visibility[l] = g;
    return z / g;
  }

  /** Weight of lane l in its road's traffic (its departures so far, plus one so none is zero). */
  private share(l: number): number {
    return Math.max(0, this.outCum[l]) + 1;
  }

  /** Share of stop-line crossings camera c catches (against healthy stop-bar loops). */
  lineVisibility(c: number): number {
    // Pooled over the camera's lanes without the most deviant one: a faulty stop-bar loop on
    // one lane cannot teach the camera to expect its errors.
    const lanes = this.ctx.topo.cameraLanes[c];
    let got = 20;
    let seen = 20;
    for (const x of lanes) {
      got += this.lineGot[x];
      seen += this.lineSeen[x];
    }
    if (lanes.length >= 3) {
      const pooled = got / seen;
      let worst = -1;
      let worstDev = 0;
      for (const x of lanes) {
        const dev = Math.abs(this.lineGot[x] - pooled * this.lineSeen[x]);
        if (dev > worstDev) {
          worstDev = dev;
          worst = x;
        }
      }
      if (worst >= 0) {
        got -= this.lineGot[worst];
        seen -= this.lineSeen[worst];
      }
    }
    return Math.min(1, Math.max(0.5, got / seen));
  }

  /** Whether road r's inflow is measured now (all feeding movements watched by trusted cameras). */
  roadInMeasured(r: number): boolean {
    return this.roadInOk[r] === 1;
  }

  /** Upstream free travel time to the advance loop (or the lane end) (s). */
  upstreamTime(l: number): number {
    const t = this.ctx.topo;
    return t.advancePos[l] / (0.9 * t.maxSpeed[l]) + 2;
  }

  /** Free travel time over the whole lane (s). */
  laneTime(l: number): number {
    const t = this.ctx.topo;
    return t.length[l] / (0.9 * t.maxSpeed[l]) + 2;
  }

  /** Whether a vehicle stands on loop d (its newest reading fully occupied, presence at its end). */
  standingOn(d: number): boolean {
    const s = this.ctx.store;
    const last = s.loopLastSeq[d];
    if (last < 0) return false;
    const slot = d * RING + (last % RING);
    return s.rSeq[slot] === last && s.rOcc[slot] >= 0.99 && s.rPresence[slot] === 1;
  }

  /**
   * Mean occupancy of loop d over the last `seconds` (by time: readings after a quiet spell
   * cover it), from the readings held.
   */
  recentOccupancy(d: number, seconds: number): number {
    const ctx = this.ctx;
    const st = ctx.store;
    const fromMs = ctx.epochMs + (ctx.sec - seconds) * 1000;
    const last = st.loopLastSeq[d];
    let occ = 0;
    let span = 0;
    for (let q = last; q >= 0 && q > last - RING; q--) {
      const slot = d * RING + (q % RING);
      if (st.rSeq[slot] !== q) continue;
      const end = st.rTs[slot];
      if (end <= fromMs) break;
      const start = end - st.rSpan[slot];
      const part = start < fromMs ? (end - fromMs) / st.rSpan[slot] : 1;
      occ += st.rOcc[slot] * st.rSpan[slot] * part;
      span += st.rSpan[slot] * part;
    }
    return span > 0 ? occ / span : 0;
  }

  /** One update (a second of simulation time): integrate flows, fuse camera counts. */
  update(): void {
    const ctx = this.ctx;
    const { topo, store, loopTrusted, camTrusted, sec } = ctx;
    const nL = topo.nLanes;
    const nowMs = ctx.epochMs + sec * 1000;

    // 1. Increments of every count source since the last update (from running totals).
    for (let d = 0; d < store.nDet; d++) {
      const tot = store.loopTotal[d];
      this.dLoop[d] = tot - this.prevLoop[d];
      this.prevLoop[d] = tot;
    }
    for (let c = 0; c < store.nCam; c++) this.depFresh[c] = camTrusted[c] && store.camLastMs[c] > -Infinity ? 1 : 0;
    for (let l = 0; l < nL; l++) {
      const tot = store.laneDepTotal[l];
      this.dDep[l] = tot - this.prevDep[l];
      this.prevDep[l] = tot;
    }
    for (let m = 0; m < topo.nMovements; m++) {
      const tot = store.movementTotal[m];
      this.dMov[m] = tot - this.prevMov[m];
      this.prevMov[m] = tot;
      const c = topo.movementCamera[m];
      this.movFresh[m] = c >= 0 && camTrusted[c] ? 1 : 0;
    }

    // 2. Road inflow from the upstream intersection's stop-line counts, where fully watched.
    for (let r = 0; r < ctx.net.roads.length; r++) {
      const mv = topo.roadInMovements[r];
      let ok = mv.length > 0 && !topo.roadFromBoundary[r];
      let sum = 0;
      for (const m of mv) {
        if (!this.movFresh[m]) {
          ok = false;
          break;
        }
        sum += this.dMov[m];
      }
      this.roadInOk[r] = ok ? 1 : 0;
      this.roadIn[r] = ok ? sum : 0;
      if (ok) this.roadInCum[r] += sum;
      ctx.histRoadIn.set(r, sec, ok ? this.roadInCum[r] : NaN);
    }

    // 3. Inflow per lane.
    for (let r = 0; r < ctx.net.roads.length; r++) {
      const lanes = topo.roadLanes[r];
      let pool = this.roadIn[r];
      let wSum = 0;
      for (const l of lanes) {
        const e = topo.entrance[l];
        if (e >= 0 && loopTrusted[e]) {
          this.inMode[l] = 0;
          this.laneIn[l] = this.dLoop[e];
          pool -= this.dLoop[e];
        } else {
          this.inMode[l] = this.roadInOk[r] ? 1 : 2;
          wSum += this.share(l);
        }
      }
      for (const l of lanes) {
        if (this.inMode[l] === 1) this.laneIn[l] = (pool * this.share(l)) / wSum;
        else if (this.inMode[l] === 2) this.laneIn[l] = 0;
      }
    }

    // 4. Outflow, integration and camera fusion per lane.
    for (let l = 0; l < nL; l++) {
      const e = topo.entrance[l];
      const a = topo.advance[l];
      const s = topo.stop[l];
      const c = topo.camera[l];
      const aOk = a >= 0 && loopTrusted[a] === 1;
      const sOk = s >= 0 && loopTrusted[s] === 1;
      const camOk = c >= 0 && this.depFresh[c] === 1;
      let out: number;
      // A healthy stop-bar loop counts every vehicle (a moment early: as its front reaches the
      // loop; the camera's count in view puts back one standing there); the camera misses some
      // when the scene is dense, so its line count is the second choice.
      if (sOk) {
        // The loop counts a vehicle as its front reaches the loop, up to 2 m before the line; one
        // still on the loop may be short of the line (standing at it) or past it (leaving).
        // The camera tells which (it sees one more in the lane than the loops leave there);
        // without it, a vehicle on the loop for two full readings is taken to be standing.
        let standing = 0;
        if (topo.approach[l] && store.loopPresence(s) === 1) {
          const byLoop = this.standingOn(s);
          if (camOk && topo.viewMeasures[l] === 1 && aOk) {
            const seen = store.laneInView[l] / this.visibility[l] >= this.loopRaw[l] + 0.5;
            // A camera that misses vehicles cannot rule one out.
            standing = seen || (byLoop && this.visibility[l] < 0.97) ? 1 : 0;
          } else standing = byLoop ? 1 : 0;
        }
        this.outMode[l] = 1;
        out = this.dLoop[s] - (standing - this.standing[l]);
        this.standing[l] = standing;
      } else if (topo.approach[l] && camOk) {
        this.outMode[l] = 0;
        out = this.dDep[l];
      } else if (topo.approach[l] && aOk) {
        this.outMode[l] = 2;
        out = this.dLoop[a];
      } else {
        this.outMode[l] = 3;
        out = Math.max(0, this.inflow.at(l, sec - Math.round(this.laneTime(l)), sec - 1));
      }
      if (sOk && camOk && topo.approach[l]) {
        this.lineSeen[l] = this.lineSeen[l] * LINE_DECAY + this.dLoop[s];
        this.lineGot[l] = this.lineGot[l] * LINE_DECAY + this.dDep[l];
      }
      const inc = this.laneIn[l];
      this.laneOut[l] = out;
      this.inflow.set(l, sec, inc);
      this.outCum[l] += out;
      this.rateIn[l] += (inc - this.rateIn[l]) / 120;
      this.rateAdvance[l] += ((aOk ? this.dLoop[a] : out) - this.rateAdvance[l]) / 120;
      if (aOk) this.trackSpeed(l, a);
      else if (e >= 0 && loopTrusted[e]) this.trackSpeed(l, e);

      // Conservation. The lane total rests on what enters and leaves it; the camera section
      // on the advance loop and what leaves; the camera corrects the section it sees.
      const hasSplit = a >= 0;
      let total = this.nTot[l] + inc - out;
      let nView = this.nView[l];
      const qOut = this.outMode[l] === 1 ? Q_PER_COUNT : Q_PER_COUNT * 5;
      if (!hasSplit) nView = total;
      else if (aOk) {
        nView += this.dLoop[a] - out;
        this.pView[l] += Q_PER_COUNT * this.dLoop[a];
        this.loopRaw[l] = sOk ? Math.max(0, this.loopRaw[l] + this.dLoop[a] - this.dLoop[s]) : nView;
        // The entrance and advance counts alone: the section between them can never hold
        // fewer than none; when it would, the entrance missed vehicles (or the advance loop
        // counted extra) — recorded for the fault detector.
        if (this.inMode[l] === 0) {
          this.upRaw[l] += inc - this.dLoop[a];
          if (this.upRaw[l] < 0) {
            this.deficit[l] -= this.upRaw[l];
            this.upRaw[l] = 0;
          }
        } else this.upRaw[l] = Math.max(0, total - nView);
      } else {
        // Advance loop lost: what enters the view is unknown; the camera decides.
        nView -= out;
        this.pView[l] += 0.3;
      }
      this.pView[l] += Q_PER_SECOND + qOut * Math.abs(out);
      if (this.inMode[l] !== 0) this.pUp[l] += Q_PER_SECOND * 5 + Q_PER_COUNT * 3 * Math.abs(inc);

      // Camera count in view. Cameras report by exception: no frame means no change, so the
      // newest count is a measurement of now. It is corrected for what this camera is seen to
      // miss at this density (calibrated against healthy loops), and trusted less the more it
      // misses.
      const measures = topo.viewMeasures[l];
      const zc = camOk && measures > 0 ? this.correctedView(l, nView) : NaN;
      ctx.histZc.set(l, sec, zc);
      if (zc === zc) {
        const miss = 1 - this.lastVisibility;
        const R = (R_BASE + (R_PER_VEHICLE + 5 * miss) * zc) ** 2;
        const P = this.pView[l];
        const K = P / (P + R);
        const delta = K * (zc - nView);
        nView += delta;
        this.pView[l] = (1 - K) * P;
        if (measures === 2) total = nView;
      }

      // Model for the section behind the advance loop where nothing measures its inflow.
      if (this.inMode[l] === 2 && hasSplit) {
        const up = total - nView;
        const target = this.rateAdvance[l] * this.upstreamTime(l);
        total = nView + up + (target - up) / MODEL_TAU;
      } else if (this.inMode[l] === 2 && measures !== 2) {
        const target = this.rateAdvance[l] * this.laneTime(l);
        total += (target - total) / MODEL_TAU;
        nView = total;
      }

      // Inflow shared out from the upstream counts drifts a little (vehicles still on the links,
      // lanes' shares): where the advance loop shows free flow, bleed the section behind it
      // towards flow × travel time.
      if (this.inMode[l] === 1 && hasSplit && aOk && this.recentOccupancy(a, 60) < 0.2) {
        const up = total - nView;
        total += (this.rateAdvance[l] * this.upstreamTime(l) - up) / 300;
      }
      // Exit lanes never queue: they hold at most what entered within a little over one free
      // travel time.
      if (!topo.approach[l] && this.inMode[l] !== 2) {
        const cap = this.arrivals(l, Math.round(1.5 * this.laneTime(l))) + 2;
        if (total > cap) total = cap;
      }

      // Physical bounds. With the entrance and the stop line counted by trusted loops the lane
      // total is the firmer figure: the camera section cannot exceed it. Otherwise the camera
      // may raise the total.
      if (nView < 0) nView = 0;
      if (hasSplit && nView > topo.capView[l]) nView = topo.capView[l];
      if (total < 0) total = 0;
      if (nView > total) {
        if (this.inMode[l] === 0 && this.outMode[l] === 1) nView = total;
        else total = nView;
      }
      if (total > topo.capLane[l]) total = topo.capLane[l];
      this.nUp[l] = total - nView;
      this.nView[l] = nView;
      this.nTot[l] = total;
      this.deficitHist.set(l, sec, this.deficit[l]);
      ctx.histNtot.set(l, sec, total);
      ctx.histNv.set(l, sec, nView);
    }

    // 5. Departures per movement: camera counts, else the lanes' outflow shared out.
    for (let m = 0; m < topo.nMovements; m++) {
      if (this.movFresh[m]) {
        this.movementCum[m] += this.dMov[m];
        continue;
      }
      let sum = 0;
      for (const l of topo.movementLanes[m]) sum += this.laneOut[l] / Math.max(1, topo.laneMovements[l].length);
      this.movementCum[m] += sum;
    }
    for (let m = 0; m < topo.nMovements; m++) this.movementHist.set(m, sec, this.movementCum[m]);
  }

  private trackSpeed(l: number, d: number): void {
    const s = this.ctx.store;
    const occV = s.sumOccSpeed[d];
    const cntV = s.sumOccTime[d];
    const dv = occV - this.prevOccSpeed[d];
    const dt = cntV - this.prevCountSpeed[d];
    this.prevOccSpeed[d] = occV;
    this.prevCountSpeed[d] = cntV;
    if (dt > 0.05) this.movingSpeed[l] += (Math.min(dv / dt, this.ctx.topo.maxSpeed[l] * 1.2) - this.movingSpeed[l]) * Math.min(1, dt / 10);
  }

  /**
   * A sensor is no longer trusted from `since` (s): redo what it contributed since then with
   * the source that replaces it.
   */
  distrustLoop(d: number, since: number): void {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const det = ctx.store.layout.detectors[d];
    const l = det.lane;
    const now = ctx.sec;
    const s0 = Math.max(0, Math.min(now, Math.floor(since)));
    const spent = ctx.histLoop.at(d, now, now) - ctx.histLoop.at(d, s0, now);
    if (topo.entrance[l] === d) {
      const r = topo.road[l];
      const u1 = ctx.histRoadIn.at(r, now, now);
      const u0 = ctx.histRoadIn.at(r, s0, now);
      if (Number.isFinite(u1) && Number.isFinite(u0)) {
        let pool = u1 - u0;
        let wSum = 0;
        for (const sib of topo.roadLanes[r]) {
          const e = topo.entrance[sib];
          if (sib !== l && e >= 0 && ctx.loopTrusted[e]) pool -= ctx.histLoop.at(e, now, now) - ctx.histLoop.at(e, s0, now);
          else wSum += this.share(sib);
        }
        const replace = (pool * this.share(l)) / wSum;
        this.nTot[l] = Math.max(this.nView[l], this.nTot[l] + replace - spent);
      } else if (topo.advance[l] < 0 && !topo.approach[l]) {
        // Exit lane with nothing upstream: what left in the last lane-time is what is on it.
        this.nTot[l] = this.recentOut(l);
        this.nView[l] = this.nTot[l];
      }
      // An exit lane never queues: it holds about its outflow × its travel time.
      const x = topo.stop[l];
      if (!topo.approach[l] && x >= 0 && ctx.loopTrusted[x]) {
        const T = this.laneTime(l);
        const W = Math.min(Math.max(60, Math.round(2 * T)), now);
        const rate = W > 0 ? (ctx.histLoop.at(x, now, now) - ctx.histLoop.at(x, now - W, now)) / W : 0;
        this.nTot[l] = rate * T;
        this.nView[l] = this.nTot[l];
      }
      // The fault may have started before the history reaches, or been seen late: where the
      // advance loop shows free flow, the section behind it holds about flow × travel time, an
      // anchor independent of the lost loop. Take it when the corrected count disagrees.
      const a = topo.advance[l];
      if (a >= 0 && ctx.loopTrusted[a] && this.recentOccupancy(a, 60) < 0.2) {
        const anchor = this.rateAdvance[l] * this.upstreamTime(l);
        if (Math.abs(this.nTot[l] - this.nView[l] - anchor) > 3 * Math.sqrt(anchor) + 3) this.nTot[l] = this.nView[l] + anchor;
      }
      this.pUp[l] += 4;
    } else if (topo.advance[l] === d) {
      // Its counts only split the lane between the sections; the camera re-measures the split.
      this.pView[l] += 25;
    } else if (topo.stop[l] === d) {
      if (!topo.approach[l]) {
        // Exit loop lost: the lane holds what entered within one free travel time.
        this.nTot[l] = this.recentOut(l);
        this.nView[l] = this.nTot[l];
      } else if (this.outMode[l] === 1) {
        // A vehicle it held as standing is in `spent` and still in the lane: no double count.
        this.nTot[l] -= this.standing[l];
        this.standing[l] = 0;
        // Its departures since the fault are redone from the camera (else the advance loop).
        const c = topo.camera[l];
        const a = topo.advance[l];
        const alt =
          c >= 0 && ctx.camTrusted[c]
            ? ctx.histDep.at(l, now, now) - ctx.histDep.at(l, s0, now)
            : a >= 0 && ctx.loopTrusted[a]
              ? ctx.histLoop.at(a, now, now) - ctx.histLoop.at(a, s0, now)
              : spent;
        // Where the camera watches the section its count stands; where the entrance and advance
        // loops are sound the lane is what they leave behind the advance loop plus that (the
        // bounds may have swallowed part of the error, which increments cannot know).
        const e = topo.entrance[l];
        const camWatches = c >= 0 && ctx.camTrusted[c] && topo.viewMeasures[l] === 1;
        if (camWatches && e >= 0 && a >= 0 && ctx.loopTrusted[e] && ctx.loopTrusted[a] && this.inMode[l] === 0) {
          this.nTot[l] = this.upRaw[l] + this.nView[l];
        } else {
          this.nTot[l] = Math.max(0, this.nTot[l] + spent - alt);
          if (!camWatches) this.nView[l] = Math.max(0, Math.min(this.nTot[l], this.nView[l] + spent - alt));
        }
      }
      this.pView[l] += 4;
    }
    this.nUp[l] = Math.max(0, this.nTot[l] - this.nView[l]);
  }

  /**
   * A camera is no longer trusted from `since` (s). Where it was counting departures (the
   * stop-bar loop already lost), those since then are redone from the advance loop.
   */
  distrustCamera(c: number, since: number): void {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const now = ctx.sec;
    const s0 = Math.max(0, Math.min(now, Math.floor(since)));
    for (const l of ctx.store.layout.cameras[c].lanes) {
      this.pView[l] += 4;
      if (this.outMode[l] !== 0) continue;
      const a = topo.advance[l];
      if (a < 0 || !ctx.loopTrusted[a]) continue;
      const camSpent = ctx.histDep.at(l, now, now) - ctx.histDep.at(l, s0, now);
      const alt = ctx.histLoop.at(a, now, now) - ctx.histLoop.at(a, s0, now);
      this.nTot[l] = Math.max(0, this.nTot[l] + camSpent - alt);
      this.nView[l] = Math.max(0, Math.min(this.nTot[l], this.nView[l] + camSpent - alt));
      this.nUp[l] = this.nTot[l] - this.nView[l];
    }
  }

  private recentOut(l: number): number {
    const now = this.ctx.sec;
    const T = Math.round(this.laneTime(l));
    let n = 0;
    for (let k = 0; k < T; k++) n += this.inflow.at(l, now - k, now);
    return n;
  }

  /** Sum of a lane's inflow over the last `seconds`. */
  arrivals(l: number, seconds: number): number {
    const now = this.ctx.sec;
    let n = 0;
    for (let k = 0; k < Math.min(seconds, H); k++) n += this.inflow.at(l, now - k, now);
    return n;
  }

  /** Departures of movement m over the last `seconds`. */
  departures(m: number, seconds: number): number {
    const now = this.ctx.sec;
    return this.movementCum[m] - this.movementHist.at(m, now - seconds, now);
  }

  /** Time (s) since the freshest reading behind lane l's estimate. */
  age(l: number): number {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const store = ctx.store;
    let newest = -Infinity;
    const consider = (d: number) => {
      if (d >= 0 && ctx.loopTrusted[d]) newest = Math.max(newest, store.loopLastMs[d]);
    };
    consider(topo.entrance[l]);
    consider(topo.advance[l]);
    consider(topo.stop[l]);
    const c = topo.camera[l];
    if (c >= 0 && ctx.camTrusted[c]) newest = Math.max(newest, store.camLastMs[c]);
    if (newest === -Infinity) return Infinity;
    return Math.max(0, ctx.sec - secOf(ctx, newest));
  }
}
