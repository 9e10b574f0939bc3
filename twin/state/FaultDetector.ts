/**
 * Finds loops and cameras that should no longer be trusted, with a reason and a time.
 *
 * The physics it leans on: with lane changing off every vehicle passes every loop of its lane in
 * order, so counts along a lane agree up to what the sections between can hold, and the camera's
 * stop-line departures and count in view tie the downstream loops down tightly. Checks:
 * - silent: no reading for `silentAfter` s; dropouts: a CUSUM of lost sequence numbers against
 *   the loss the network as a whole shows (so 5 % network loss flags nobody);
 * - impossible readings over the whole run: several counts within one second, or a count whose
 *   whole presence is shorter than any vehicle (a few prove a fault however quiet the lane);
 * - long balances: stop bar against camera line counts, advance loop against what entered the
 *   camera's view, and a road's entrances against the upstream stop lines, since every
 *   snapshot of the last two hours (a steady 30 % bias outgrows the tolerance);
 * - stuck-on: presence without a break and no counts, while something contradicts a vehicle
 *   standing there (the camera sees none in that lane, more vehicles passed the loops around it
 *   than the space between could hold, or no queue reaches back to it). Time alone proves
 *   nothing: under max-pressure a left turn can wait at red for many minutes;
 * - stuck-off: no presence at all while more vehicles passed downstream than were between;
 * - chatter: dual loops whose effective vehicle length (occupancy time × speed / count) is
 *   implausibly short, i.e. more on-edges than vehicles;
 * - miscount: counts disagreeing over 90 s with the independent reference for that position
 *   (camera departures for the stop bar; departures + change in view for the advance loop; the
 *   upstream stop-line counts into the road for the entrance; the delayed entrance for an exit
 *   loop) by more than the tolerances, persistently.
 * A flagged sensor stays untrusted (a technician resets it by replacing the twin's layout entry).
 */
import type { LaneEstimator } from './LaneEstimator.ts';
import { MIN_SPACING } from './LaneTopology.ts';
import { RING } from './SensorStore.ts';
import type { FaultReason, SensorFlag, TwinContext } from './TwinContext.ts';
import { H, secOf } from './TwinContext.ts';

export interface FaultDetectorOptions {
  /** Seconds without a reading before a loop / a camera is silent (longer than their heartbeats). */
  silentAfter: number;
  cameraSilentAfter: number;
  /** Window of the count-balance check (s). */
  balanceWindow: number;
  /** Consecutive checks (every CHECK_EVERY s) a balance violation must persist. */
  persistence: number;
  /** Seconds after start before balance checks begin (histories need filling). */
  warmup: number;
}

export const DEFAULT_FAULT_OPTIONS: FaultDetectorOptions = { silentAfter: 55, cameraSilentAfter: 55, balanceWindow: 90, persistence: 4, warmup: 120 };

/** Seconds between two looks at one loop. */
const CHECK_EVERY = 2;
/** Seconds readings may arrive after their capture (latency, jitter): evidence skips them. */
const ARRIVAL_SLACK = 5;
/** Long window of the stop-bar count check, for small steady miscounts (s; within the history). */
const LONG_WINDOW = 480;
/** Window of the several-counts-per-second check (s). */
const CHATTER_WINDOW = 180;
/** Shortest road vehicle (m): a presence shorter than (this + loop) at 1.5 × the limit is no vehicle. */
const MIN_VEHICLE_LENGTH = 3;
/** Impossible readings (several counts in one second; pulses too short for a vehicle) that prove a loop wrong over a run. */
const IMPOSSIBLE_EVENTS = 3;
/**
 * Message-loss CUSUM: a loop's lost sequence numbers are tested against the loss the whole
 * network shows (the median loop's), so that a lossy network flags nobody and a loop losing
 * far more than its peers is found however quiet its lane. Threshold on the log-likelihood
 * ratio: with 5 % network loss a healthy loop crosses it about once in 10^5 messages.
 */
const LOSS_CUSUM_H = 12;
/** Long count checks: snapshots of every total each SNAP_EVERY s, kept for SNAP_KEEP snapshots (2 h). */
const SNAP_EVERY = 30;
const SNAP_KEEP = 240;
/** Consecutive long checks (every 10 s) a violation must persist: outlasts counts delayed by lost messages. */
const LONG_PERSISTENCE = 3;
/** Sequence numbers this far behind the newest are final (a late message would have come). */
const LOSS_REORDER = 5;

export class FaultDetector {
  readonly flags: SensorFlag[] = [];
  private readonly processedSeq: Float64Array;
  /** Start (seq) of the current run of full occupancy without counts / of no presence; -1 none. */
  private readonly onRun: Float64Array;
  private readonly offRun: Float64Array;
  /** Second the current off-run began (its first reading may leave the ring on a long silence). */
  private readonly offRunSec: Float64Array;
  private readonly violation: Int32Array;
  /** During an on-run: seconds the camera saw the lane empty, and the vehicles it saw in view (sum, n). */
  private readonly runEmpty: Float64Array;
  private readonly runQueueSum: Float64Array;
  private readonly runQueueN: Float64Array;
  private readonly roadViolation: Int32Array;
  /** Per camera: mean squared residual of the advance-loop check on healthy loops. */
  private readonly camResidual: Float64Array;
  /** Consecutive checks the entrance→advance section of an entrance's lane looked impossible. */
  private readonly sectionSuspect: Int32Array;
  private readonly started: number;
  /** Per loop over the run: total of the last reading processed, readings with several counts, readings with counts, impossibly short pulses, and the time of the first impossible event. */
  private readonly prevTotal: Float64Array;
  private readonly multiRuns: Float64Array;
  private readonly activeRuns: Float64Array;
  private readonly activeSince: Float64Array;
  private readonly shortPulses: Float64Array;
  private readonly firstImpossible: Float64Array;
  /** Per loop: last sequence number judged received or lost, counts of each, and the loss CUSUM (and where it last left zero). */
  private readonly lossSeq: Float64Array;
  private readonly lostN: Float64Array;
  private readonly judgedN: Float64Array;
  private readonly lossCusum: Float64Array;
  private readonly lossSince: Float64Array;
  /** Snapshots for the long checks: second, loop totals, lane departure totals, corrected in-view counts. */
  private readonly snaps: { sec: number; loop: Float64Array; dep: Float64Array; zc: Float64Array; roadIn: Float64Array; up: Float64Array; nv: Float64Array; ntot: Float64Array }[] = [];
  private readonly longViolation: Int32Array;
  private readonly roadLongViolation: Int32Array;
  /** Loss rate of the typical loop (median over loops with enough messages), refreshed every 10 s. */
  networkLoss = NaN;

  constructor(
    private readonly ctx: TwinContext,
    private readonly est: LaneEstimator,
    private readonly opt: FaultDetectorOptions = DEFAULT_FAULT_OPTIONS,
  ) {
    const nD = ctx.store.nDet;
    this.processedSeq = new Float64Array(nD).fill(-1);
    this.onRun = new Float64Array(nD).fill(-1);
    this.offRun = new Float64Array(nD).fill(-1);
    this.offRunSec = new Float64Array(nD);
    this.violation = new Int32Array(nD);
    this.runEmpty = new Float64Array(nD);
    this.runQueueSum = new Float64Array(nD);
    this.runQueueN = new Float64Array(nD);
    this.roadViolation = new Int32Array(ctx.net.roads.length);
    this.sectionSuspect = new Int32Array(nD);
    this.camResidual = new Float64Array(ctx.store.nCam).fill(1);
    this.started = ctx.sec;
    this.prevTotal = new Float64Array(nD).fill(NaN);
    this.multiRuns = new Float64Array(nD);
    this.activeRuns = new Float64Array(nD);
    this.activeSince = new Float64Array(nD);
    this.shortPulses = new Float64Array(nD);
    this.firstImpossible = new Float64Array(nD).fill(NaN);
    this.lossSeq = new Float64Array(nD).fill(-1);
    this.lostN = new Float64Array(nD);
    this.judgedN = new Float64Array(nD);
    this.lossCusum = new Float64Array(nD);
    this.lossSince = new Float64Array(nD);
    this.longViolation = new Int32Array(nD);
    this.roadLongViolation = new Int32Array(ctx.net.roads.length);
  }

  private snapshot(): void {
    const ctx = this.ctx;
    const now = ctx.sec;
    const nL = ctx.topo.nLanes;
    const nR = ctx.net.roads.length;
    const snap = { sec: now, loop: new Float64Array(ctx.store.nDet), dep: new Float64Array(nL), zc: new Float64Array(nL), roadIn: new Float64Array(nR), up: Float64Array.from(this.est.nUp), nv: Float64Array.from(this.est.nView), ntot: Float64Array.from(this.est.nTot) };
    for (let r = 0; r < nR; r++) snap.roadIn[r] = ctx.histRoadIn.at(r, now, now);
    for (let d = 0; d < ctx.store.nDet; d++) snap.loop[d] = ctx.histLoop.at(d, now, now);
    for (let l = 0; l < nL; l++) {
      snap.dep[l] = ctx.histDep.at(l, now, now);
      snap.zc[l] = ctx.histZc.at(l, now, now);
    }
    this.snaps.push(snap);
    if (this.snaps.length > SNAP_KEEP) this.snaps.shift();
  }

  /**
   * The window checks compare counts over 90 s and 480 s, where a 30 % miscount on a quiet lane
   * is a vehicle or two, inside the tolerance. Counts along a lane must agree over any span,
   * however long, up to what the section holds at its two ends, so a steady bias grows with
   * the span while the tolerance grows only with its square root: each loop is compared with
   * its independent reference since every snapshot of the last two hours (the worst span
   * decides), every 10 s, and flagged when the disagreement persists over 20 s.
   * - stop bar (approach): camera line departures, scaled by the share the camera catches;
   * - advance (camera watching exactly the section to the stop line): what left the view by the
   *   camera's line count plus the change in its corrected count in view.
   * Both only for a shortfall (see below).
   */
  private longBalance(d: number): { reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const now = ctx.sec;
    const l = ctx.store.layout.detectors[d].lane;
    if (now - this.started < this.opt.warmup) return this.noLong(d);
    if (topo.entrance[l] === d) return this.longSection(d);
    const isStop = topo.stop[l] === d && topo.approach[l] === 1;
    const isAdvance = topo.advance[l] === d && topo.viewMeasures[l] === 1;
    if ((!isStop && !isAdvance) || !this.camOk(l)) return this.noLong(d);
    const c = topo.camera[l];
    const g = this.est.lineVisibility(c);
    const own1 = ctx.histLoop.at(d, now, now);
    const dep1 = ctx.histDep.at(l, now, now);
    const z1 = ctx.histZc.at(l, now, now);
    if (isAdvance && z1 !== z1) return this.noLong(d);
    const vis = this.est.visibility[l];
    let worst = 1;
    let found: { own: number; expected: number; tol: number; since: number } | null = null;
    for (let k = this.snaps.length - 1; k >= 0; k--) {
      const sn = this.snaps[k];
      if (now - sn.sec < this.opt.balanceWindow) continue;
      const own = own1 - sn.loop[d];
      const dep = (dep1 - sn.dep[l]) / g;
      let expected: number;
      let tol: number;
      // Only a shortfall against the camera's line count proves anything: vehicles whose trip
      // ends at the stop line cross the loop but never the line, so a healthy loop counts more.
      let oneSided = isStop;
      if (isStop) {
        expected = dep;
        const m = Math.max(own, expected);
        // Binomial spread of what the camera misses, and its miss rate varying with density.
        tol = 2 + 3 * Math.sqrt((m * (1 - g)) / g) + (1 - g) * m + 0.05 * m;
      } else {
        const z0 = sn.zc[l];
        if (z0 !== z0) continue;
        // What left the view by the camera's line count, not the stop-bar loop: a disagreement
        // with the stop bar cannot say which of the two loops is wrong, while a shortfall against
        // the camera can (vehicles ending their trip at the line pass the advance loop but not
        // the line: they only raise its count).
        const out = dep;
        expected = Math.max(0, out + z1 - z0);
        const m = Math.max(own, out);
        tol = 2 + 0.05 * m + 3 * Math.sqrt((m * (1 - g)) / g) + (1 - g) * m + 3 * Math.sqrt(this.camResidual[c]) + 2 * (1 - vis) * (z0 + z1);
        oneSided = true;
      }
      const ratio = (oneSided ? expected - own : Math.abs(own - expected)) / tol;
      if (ratio > worst) {
        worst = ratio;
        found = { own, expected, tol, since: sn.sec };
      }
    }
    if (!found) return this.noLong(d);
    if (++this.longViolation[d] < LONG_PERSISTENCE) return null;
    const { own, expected, tol, since } = found;
    const reason: FaultReason = own === 0 && this.offRun[d] >= 0 ? 'stuck-off' : own > 1.6 * expected + 2 ? 'chatter' : 'miscount';
    return { reason, detail: `counted ${own} since ${since} s where ${isStop ? 'the camera\'s stop-line count implies' : 'the camera\'s section implies'} ${expected.toFixed(0)} ± ${tol.toFixed(0)}`, since };
  }

  /**
   * Entrances of a road against the upstream stop lines' counts into it since every snapshot:
   * a shortfall beyond what the links hold at the two ends and what the cameras miss means an
   * entrance lost vehicles. (Only a shortfall: trips that start on the road pass its entrances
   * unseen upstream.) The culprit is the entrance furthest below its own advance loop over the
   * same span, which must be clearly below it.
   */
  private longRoad(r: number): { detector: number; reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const now = ctx.sec;
    if (now - this.started < this.opt.warmup || this.snaps.length === 0) return null;
    const u1 = ctx.histRoadIn.at(r, now, now);
    if (!Number.isFinite(u1)) return null;
    const lanes = topo.roadLanes[r];
    for (const l of lanes) if (topo.entrance[l] < 0 || !ctx.loopTrusted[topo.entrance[l]]) return null;
    let caught = 0;
    let moves = 0;
    for (const m of topo.roadInMovements[r]) {
      caught += this.est.lineVisibility(topo.movementCamera[m]);
      moves++;
    }
    const g = moves > 0 ? caught / moves : 1;
    let worst = 1;
    let at = -1;
    for (let k = this.snaps.length - 1; k >= 0; k--) {
      const sn = this.snaps[k];
      if (now - sn.sec < this.opt.balanceWindow) continue;
      const u0 = sn.roadIn[r];
      if (!Number.isFinite(u0)) break;
      let sum = 0;
      for (const l of lanes) sum += ctx.histLoop.at(topo.entrance[l], now, now) - sn.loop[topo.entrance[l]];
      const inflow = (u1 - u0) / g;
      const m = Math.max(sum, inflow);
      const tol = 2 + topo.roadLinkCap[r] + 0.05 * m + 3 * Math.sqrt((m * (1 - g)) / g) + (1 - g) * m;
      const ratio = (inflow - sum) / tol;
      if (ratio > worst) {
        worst = ratio;
        at = k;
      }
    }
    if (at < 0) {
      this.roadLongViolation[r] = 0;
      return null;
    }
    if (++this.roadLongViolation[r] < LONG_PERSISTENCE) return null;
    const sn = this.snaps[at];
    let best = -1;
    let bestGap = 0;
    for (const l of lanes) {
      const e = topo.entrance[l];
      const a = topo.advance[l];
      if (a < 0 || !ctx.loopTrusted[a]) continue;
      const own = ctx.histLoop.at(e, now, now) - sn.loop[e];
      const ref = ctx.histLoop.at(a, now, now) - sn.loop[a];
      // (What the section between held at the span's start may have left since: as estimated then.)
      const gap = ref - own - sn.up[l];
      if (gap > bestGap + 2) {
        bestGap = gap;
        best = e;
      }
    }
    if (best < 0) return null;
    this.roadLongViolation[r] = 0;
    const own = ctx.histLoop.at(best, now, now) - sn.loop[best];
    return {
      detector: best,
      reason: own === 0 ? 'stuck-off' : 'miscount',
      detail: `road ${ctx.net.roads[r].id}: its entrances fell short of the upstream stop lines since ${sn.sec} s; this one counted ${own}, ${bestGap.toFixed(0)} below its advance loop`,
      since: sn.sec,
    };
  }

  /**
   * An entrance against its own advance loop since every snapshot, with what the section held
   * then (as estimated): vehicles past the advance loop since then either entered since or were
   * in the section, so a surplus there means the entrance missed vehicles; and while no queue
   * has stood on the advance loop for two free travel times, whatever entered before that has
   * passed it, so a surplus at the entrance means it counted vehicles that are not there (net
   * of any shortfall of the advance loop against the camera). A loop in doubt is no reference.
   */
  private longSection(d: number): { reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const now = ctx.sec;
    const l = ctx.store.layout.detectors[d].lane;
    const a = topo.advance[l];
    if (a < 0 || !ctx.loopTrusted[a] || this.violation[a] > 0 || this.longViolation[a] > 0) return this.noLong(d);
    const T = Math.round(2 * this.est.upstreamTime(l)) + 10;
    const free = !this.est.standingOn(a) && this.est.recentOccupancy(a, T + 10) < 0.3;
    // A surplus at the entrance is as well explained by an advance loop that misses vehicles:
    // it is laid on the entrance only net of how far the advance loop falls short of what the
    // camera saw enter its view (so only where a camera watches that section).
    const cam = this.camOk(l) && topo.viewMeasures[l] === 1;
    const g = cam ? this.est.lineVisibility(topo.camera[l]) : 1;
    const z1 = cam ? ctx.histZc.at(l, now, now) : NaN;
    const dep1 = ctx.histDep.at(l, now, now);
    const e1 = ctx.histLoop.at(d, now, now);
    const eT = ctx.histLoop.at(d, now - T, now);
    const a1 = ctx.histLoop.at(a, now, now);
    let worst = 1;
    let found: { excess: number; over: boolean; since: number; tol: number } | null = null;
    for (let k = this.snaps.length - 1; k >= 0; k--) {
      const sn = this.snaps[k];
      if (now - T - sn.sec < this.opt.balanceWindow) continue;
      const passed = a1 - sn.loop[a];
      const entered = e1 - sn.loop[d];
      const tol = 3 + 0.05 * Math.max(passed, entered);
      const under = passed - entered - sn.up[l];
      if (under / tol > worst) {
        worst = under / tol;
        found = { excess: under, over: false, since: sn.sec, tol };
      }
      const z0 = sn.zc[l];
      if (free && z1 === z1 && z0 === z0) {
        const shortfall = Math.max(0, (dep1 - sn.dep[l]) / g + z1 - z0 - passed);
        const over = eT - sn.loop[d] - passed - sn.up[l] - shortfall;
        if (over / tol > worst) {
          worst = over / tol;
          found = { excess: over, over: true, since: sn.sec, tol };
        }
      }
    }
    if (!found) return this.noLong(d);
    if (++this.longViolation[d] < LONG_PERSISTENCE) return null;
    const { excess, over, since, tol } = found;
    const own = e1 - this.snaps.find((x) => x.sec === since)!.loop[d];
    return {
      reason: !over && own === 0 && this.offRun[d] >= 0 ? 'stuck-off' : 'miscount',
      detail: over
        ? `counted ${excess.toFixed(0)} more since ${since} s than reached the free-flowing advance loop (± ${tol.toFixed(0)})`
        : `counted ${excess.toFixed(0)} fewer since ${since} s than passed its advance loop (± ${tol.toFixed(0)})`,
      since,
    };
  }

  private noLong(d: number): null {
    this.longViolation[d] = 0;
    return null;
  }

  /**
   * The network's loss rate: pooled over trusted loops without the 10 % losing most (where the
   * faulty ones are). NaN until 2000 messages have been judged: before that, no verdicts.
   */
  private refreshNetworkLoss(): void {
    const idx: number[] = [];
    for (let d = 0; d < this.ctx.store.nDet; d++) if (this.ctx.loopTrusted[d] && this.judgedN[d] > 0) idx.push(d);
    const rate = (d: number) => this.lostN[d] / this.judgedN[d];
    idx.sort((a, b) => rate(a) - rate(b));
    let lost = 0;
    let judged = 0;
    for (const d of idx.slice(0, Math.ceil(0.9 * idx.length))) {
      lost += this.lostN[d];
      judged += this.judgedN[d];
    }
    this.networkLoss = judged >= 2000 ? lost / judged : NaN;
  }

  /**
   * Judges loop d's sequence numbers that are final (received, or lost) and runs the CUSUM of
   * "this loop loses messages at p1" against "at the network's rate p0"; a verdict when it
   * crosses the threshold.
   */
  private lossCheck(d: number): { reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const s = ctx.store;
    const last = s.loopLastSeq[d];
    if (last < 0) return null;
    const nowMs = ctx.epochMs + ctx.sec * 1000;
    // (The newest reading is always received; below it, a gap is final once later readings
    // have had time to overtake it, or the newest is itself old.)
    const limit = nowMs - s.loopLastMs[d] > ARRIVAL_SLACK * 1000 ? last : last - LOSS_REORDER;
    // p0 with a margin over the network's rate (loss varies a little from loop to loop);
    // p1: a loop losing several times that is at fault.
    const ready = this.networkLoss === this.networkLoss;
    const p0 = Math.max(0.01, 1.25 * (ready ? this.networkLoss : 0));
    const p1 = Math.min(0.9, Math.max(p0 + 0.2, 2.5 * p0));
    const up = Math.log(p1 / p0);
    const down = Math.log((1 - p1) / (1 - p0));
    for (let q = Math.max(this.lossSeq[d] + 1, last - RING + 1, s.loopFirstSeq[d]); q <= limit; q++) {
      const got = s.rSeq[d * RING + (q % RING)] === q;
      this.judgedN[d]++;
      if (!got) this.lostN[d]++;
      if (!ready) {
        this.lossSeq[d] = q;
        continue;
      }
      const before = this.lossCusum[d];
      this.lossCusum[d] = Math.max(0, before + (got ? down : up));
      if (before === 0 && this.lossCusum[d] > 0) this.lossSince[d] = got ? ctx.sec : this.lossSinceOf(d, q);
      this.lossSeq[d] = q;
    }
    if (this.lossCusum[d] < LOSS_CUSUM_H) return null;
    const share = this.lostN[d] / Math.max(1, this.judgedN[d]);
    return {
      reason: 'dropouts',
      detail: `loses messages far beyond the network's ${(100 * this.networkLoss).toFixed(1)} % (CUSUM ${this.lossCusum[d].toFixed(1)}; ${(100 * share).toFixed(0)} % over the run)`,
      since: this.lossSince[d],
    };
  }

  /** Approximate second of a (lost) reading: that of the nearest received reading before it. */
  private lossSinceOf(d: number, q: number): number {
    const s = this.ctx.store;
    for (let k = q - 1; k >= 0 && k > q - RING; k--) {
      const slot = d * RING + (k % RING);
      if (s.rSeq[slot] === k) return secOf(this.ctx, s.rTs[slot]);
    }
    return this.ctx.sec;
  }

  /**
   * Readings no healthy loop produces, counted over the run: several counts in one second
   * (vehicles keep ~2 s apart; insertion needs a full gap), and a count whose whole presence
   * (no occupancy in the readings either side) is shorter than the shortest vehicle passing at
   * 1.5 × the speed limit. A few of these prove the loop splits vehicles or pulses by itself,
   * however few vehicles pass (a windowed check needs traffic to see it).
   */
  private impossible(d: number): { reason: FaultReason; detail: string; since: number } | null {
    const multi = this.multiRuns[d];
    const pulses = this.shortPulses[d];
    if (multi + pulses < IMPOSSIBLE_EVENTS) return null;
    // (Several counts must also be a visible share of the loop's activity: a rare coincidence
    // on a busy loop is not a fault.)
    if (pulses < IMPOSSIBLE_EVENTS && multi < 0.05 * this.activeSince[d]) return null;
    return {
      reason: pulses >= multi ? 'chatter' : 'miscount',
      detail: `${multi} readings with several counts in a second and ${pulses} pulses too short for a vehicle (of ${this.activeSince[d]} with counts since the first)`,
      since: this.firstImpossible[d],
    };
  }

  /** Seconds since the newest reading of any sensor (since the start if none came yet). */
  feedSilentSeconds(): number {
    const nowMs = this.ctx.epochMs + this.ctx.sec * 1000;
    const from = this.ctx.store.latestMs === -Infinity ? this.ctx.epochMs + this.started * 1000 : this.ctx.store.latestMs;
    return Math.max(0, (nowMs - from) / 1000);
  }

  /** Runs every check; returns the sensors newly flagged. */
  check(): SensorFlag[] {
    const ctx = this.ctx;
    const store = ctx.store;
    const now = ctx.sec;
    const nowMs = ctx.epochMs + now * 1000;
    const out: SensorFlag[] = [];
    // Silence is measured against the feed's newest reading, not the twin's clock: when the whole
    // feed is late (a congested link, a server behind) no single sensor is to blame, and flagging
    // them all would bury the operator (feedSilentSeconds reports the feed itself).
    const feedMs = Math.min(nowMs, store.latestMs);
    const silentStart = store.latestMs === -Infinity ? 0 : (feedMs - (ctx.epochMs + this.started * 1000)) / 1000;
    if (now % 10 === 0) this.refreshNetworkLoss();
    if (now % SNAP_EVERY === 0) this.snapshot();
    const flagLoop = (d: number, reason: FaultReason, detail: string, since: number) => {
      ctx.loopTrusted[d] = 0;
      const f: SensorFlag = { sensorId: store.layout.detectors[d].id, kind: 'loop', index: d, reason, detail, at: now, since: Math.min(now, since) };
      this.flags.push(f);
      out.push(f);
    };
    for (let c = 0; c < store.nCam; c++) {
      if (!ctx.camTrusted[c]) continue;
      const last = store.camLastMs[c];
      const silentFor = last === -Infinity ? silentStart : (feedMs - last) / 1000;
      // Judged once 60 frame numbers have passed since the first one received.
      const dropouts = now % 5 === 0 && store.camLastSeq[c] - store.camFirstSeq[c] >= 59 && store.camReceivedShare(c, 60) < 0.5;
      if (silentFor > this.opt.cameraSilentAfter || dropouts) {
        ctx.camTrusted[c] = 0;
        const since = last === -Infinity ? this.started : secOf(ctx, last);
        const f: SensorFlag = {
          sensorId: store.layout.cameras[c].id,
          kind: 'camera',
          index: c,
          reason: dropouts ? 'dropouts' : 'silent',
          detail: dropouts ? 'most frames lost' : `no frame for ${silentFor.toFixed(0)} s`,
          at: now,
          since,
        };
        this.flags.push(f);
        out.push(f);
      }
    }
    for (let d = 0; d < store.nDet; d++) {
      // Each loop is looked at every other second (staggered): halves the cost, and a second
      // more or less does not matter for detection.
      if (!ctx.loopTrusted[d] || (d + now) % CHECK_EVERY !== 0) continue;
      const last = store.loopLastMs[d];
      const silentFor = last === -Infinity ? silentStart : (feedMs - last) / 1000;
      if (silentFor > this.opt.silentAfter) {
        flagLoop(d, 'silent', `no reading for ${silentFor.toFixed(0)} s`, last === -Infinity ? this.started : secOf(ctx, last));
        continue;
      }
      const lost = this.lossCheck(d);
      if (lost) {
        flagLoop(d, lost.reason, lost.detail, lost.since);
        continue;
      }
      this.advanceRuns(d);
      if (this.onRun[d] >= 0) {
        const l = store.layout.detectors[d].lane;
        const z = ctx.histZ.at(l, now, now);
        const zc = ctx.histZc.at(l, now, now);
        if (z === 0) this.runEmpty[d] += CHECK_EVERY;
        if (zc === zc || z === z) {
          this.runQueueSum[d] += zc === zc ? zc : z;
          this.runQueueN[d]++;
        }
      }
      const verdict = this.stuck(d) ?? this.impossible(d) ?? this.chatter(d) ?? this.balance(d) ?? ((d + now) % 10 === 0 ? this.longBalance(d) : null);
      if (verdict) flagLoop(d, verdict.reason, verdict.detail, verdict.since);
    }
    for (let r = 0; r < ctx.net.roads.length; r++) {
      if ((r + now) % CHECK_EVERY !== 0) continue;
      const verdict = this.roadEntrances(r) ?? ((r + now) % 10 === 0 ? this.longRoad(r) : null);
      if (verdict) flagLoop(verdict.detector, verdict.reason, verdict.detail, verdict.since);
    }
    return out;
  }

  /**
   * Entrance loops of a road against the upstream intersection's stop-line counts into it:
   * the sum must match up to what the lane links hold. When it does not, persistently, the
   * culprit is the lane whose entrance count strays furthest, in that direction, from its
   * own advance loop over a longer window.
   */
  private roadEntrances(r: number): { detector: number; reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const now = ctx.sec;
    if (now - this.started < this.opt.warmup) return null;
    const W = this.opt.balanceWindow;
    const s0 = now - W;
    const u1 = ctx.histRoadIn.at(r, now, now);
    const u0 = ctx.histRoadIn.at(r, s0, now);
    if (!Number.isFinite(u1) || !Number.isFinite(u0)) {
      this.roadViolation[r] = 0;
      return null;
    }
    let sum = 0;
    for (const l of topo.roadLanes[r]) {
      const e = topo.entrance[l];
      if (e < 0 || !ctx.loopTrusted[e]) {
        this.roadViolation[r] = 0;
        return null;
      }
      sum += this.loopDelta(e, s0);
    }
    // Upstream cameras catch a learned share of stop-line crossings.
    let caught = 0;
    let moves = 0;
    for (const m of topo.roadInMovements[r]) {
      caught += this.est.lineVisibility(topo.movementCamera[m]);
      moves++;
    }
    const g = moves > 0 ? caught / moves : 1;
    const inflow = (u1 - u0) / g;
    // Vehicles on the links into the road change little unless the road is full back to its
    // entrances (then they wait on the links): the tolerance widens only then.
    let spill = false;
    for (const l of topo.roadLanes[r]) if (this.est.recentOccupancy(topo.entrance[l], 5) > 0.5) spill = true;
    const tol = 3 + 0.08 * Math.max(sum, inflow) + 3 * Math.sqrt(Math.max(sum, inflow) * (1 - g)) + (spill ? topo.roadLinkCap[r] : 0);
    const mismatch = sum - inflow;
    if (Math.abs(mismatch) <= tol) {
      this.roadViolation[r] = 0;
      return null;
    }
    if (++this.roadViolation[r] < this.opt.persistence) return null;
    const sign = Math.sign(mismatch);
    const Wl = Math.min(300, now - this.started);
    let best = -1;
    let bestScore = 0;
    for (const l of topo.roadLanes[r]) {
      const e = topo.entrance[l];
      const own = this.loopDelta(e, now - Wl);
      const a = topo.advance[l] >= 0 && ctx.loopTrusted[topo.advance[l]] ? topo.advance[l] : -1;
      const ref = a >= 0 ? this.loopDelta(a, now - Wl) : topo.approach[l] && this.camOk(l) ? this.depDelta(l, now - Wl) : NaN;
      // A loop counting nothing while the road fills is the obvious suspect.
      const score = ref === ref ? (sign * (own - ref)) / Math.sqrt(ref + 4) : 0;
      if (score > bestScore) {
        bestScore = score;
        best = e;
      }
    }
    if (best < 0 || bestScore < 1.5) return null;
    this.roadViolation[r] = 0;
    const own = this.loopDelta(best, s0);
    // Onset: where the running mismatch (entrances − upstream) was last at its extreme against
    // the drift, within the history kept.
    let since = s0;
    let extreme = Infinity;
    for (let t = Math.max(this.started, now - H + 1); t <= now; t += 5) {
      let m = -ctx.histRoadIn.at(r, t, now);
      for (const l of topo.roadLanes[r]) m += ctx.histLoop.at(topo.entrance[l], t, now);
      if (m === m && sign * m <= extreme) {
        extreme = sign * m;
        since = t;
      }
    }
    return {
      detector: best,
      reason: own === 0 ? 'stuck-off' : 'miscount',
      detail: `road ${ctx.net.roads[r].id}: entrances counted ${sum} in ${W} s, upstream stop lines ${inflow.toFixed(0)} (± ${tol.toFixed(0)})`,
      since: Math.min(since, s0),
    };
  }

  /** Extends the on/off runs with the readings that arrived since the last check. */
  private advanceRuns(d: number): void {
    const s = this.ctx.store;
    const last = s.loopLastSeq[d];
    const det = s.layout.detectors[d];
    const minPulse = (MIN_VEHICLE_LENGTH + det.length) / (1.5 * this.ctx.topo.maxSpeed[det.lane]);
    // (Not at an exit loop: vehicles leave the network at the lane's end, cutting their pulse.)
    const topo = this.ctx.topo;
    const pulsesTell = topo.approach[det.lane] === 1 || topo.stop[det.lane] !== d;
    for (let q = Math.max(this.processedSeq[d] + 1, last - RING + 1); q <= last; q++) {
      const slot = d * RING + (q % RING);
      if (s.rSeq[slot] !== q) continue; // missing: neither breaks nor extends a run
      const occ = s.rOcc[slot];
      // Counts since the previous reading held, by the running total: a count lost with a
      // missing reading still shows (and still breaks an on-run or an off-run).
      const prev = this.prevTotal[d];
      const n = Math.max(s.rCount[slot], prev === prev ? s.rTotal[slot] - prev : 0);
      this.prevTotal[d] = s.rTotal[slot];
      if (s.rCount[slot] > 0) {
        this.activeRuns[d]++;
        if (this.firstImpossible[d] === this.firstImpossible[d]) this.activeSince[d]++;
        if (s.rCount[slot] >= 2) this.noteImpossible(d, q, 'multi');
      }
      // The reading before this one, if its neighbours on both sides are held and empty and it
      // counted: its whole presence lies within it.
      const p = d * RING + ((q - 1) % RING);
      const pp = d * RING + ((q - 2) % RING);
      if (pulsesTell && q >= 2 && occ === 0 && s.rSeq[p] === q - 1 && s.rSeq[pp] === q - 2 && s.rOcc[pp] === 0 && s.rCount[p] === 1) {
        const pulse = (s.rOcc[p] * s.rSpan[p]) / 1000;
        if (pulse < minPulse) this.noteImpossible(d, q - 1, 'pulse');
      }
      if (occ >= 0.999 && (n === 0 || this.onRun[d] < 0)) {
        if (this.onRun[d] < 0) {
          this.onRun[d] = q;
          this.runEmpty[d] = 0;
          this.runQueueSum[d] = 0;
          this.runQueueN[d] = 0;
        }
      } else this.onRun[d] = -1;
      if (occ === 0 && n === 0) {
        if (this.offRun[d] < 0) {
          this.offRun[d] = q;
          this.offRunSec[d] = this.seqSec(d, q);
        }
      } else this.offRun[d] = -1;
    }
    if (last > this.processedSeq[d]) this.processedSeq[d] = last;
  }

  private noteImpossible(d: number, q: number, kind: 'multi' | 'pulse'): void {
    if (kind === 'multi') this.multiRuns[d]++;
    else this.shortPulses[d]++;
    if (this.firstImpossible[d] !== this.firstImpossible[d]) this.firstImpossible[d] = this.seqSec(d, q);
  }

  /** Simulation second at which the reading with this seq of loop d began. */
  private seqSec(d: number, seq: number): number {
    const s = this.ctx.store;
    const slot = d * RING + (seq % RING);
    return secOf(this.ctx, s.rTs[slot] - s.rSpan[slot]);
  }

  /** Loop totals between seconds s0 and now. */
  private loopDelta(d: number, s0: number): number {
    const ctx = this.ctx;
    return ctx.histLoop.at(d, ctx.sec, ctx.sec) - ctx.histLoop.at(d, s0, ctx.sec);
  }

  private depDelta(l: number, s0: number): number {
    const ctx = this.ctx;
    return ctx.histDep.at(l, ctx.sec, ctx.sec) - ctx.histDep.at(l, s0, ctx.sec);
  }

  private camOk(l: number): boolean {
    const c = this.ctx.topo.camera[l];
    return c >= 0 && this.ctx.camTrusted[c] === 1;
  }

  /** Vehicles that entered lane l's camera view since s0 (departures + change in view), or NaN. */
  private viewInflow(l: number, s0: number): number {
    const ctx = this.ctx;
    const now = ctx.sec;
    const z1 = ctx.histZc.at(l, now, now);
    const z0 = ctx.histZc.at(l, s0, now);
    if (z1 !== z1 || z0 !== z0) return NaN;
    const s = ctx.topo.stop[l];
    const left = s >= 0 && ctx.loopTrusted[s] && this.violation[s] === 0 ? this.loopDelta(s, s0) : this.depDelta(l, s0);
    return left + z1 - z0;
  }

  /** Inflow to lane l's road since s0 from the upstream stop lines, less the other lanes' entrance counts (NaN if not measured). */
  private roadPool(l: number, s0: number): number {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const now = ctx.sec;
    const r = topo.road[l];
    const u1 = ctx.histRoadIn.at(r, now, now);
    const u0 = ctx.histRoadIn.at(r, s0, now);
    if (!Number.isFinite(u1) || !Number.isFinite(u0)) return NaN;
    let pool = u1 - u0;
    for (const sib of topo.roadLanes[r]) {
      if (sib === l) continue;
      const e = topo.entrance[sib];
      if (e < 0 || !ctx.loopTrusted[e]) return NaN;
      pool -= this.loopDelta(e, s0);
    }
    return pool;
  }

  /** Trusted count source downstream of loop d on its lane: [delta since s0, position] or null. */
  private downstream(d: number, s0: number): { delta: number; pos: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const det = ctx.store.layout.detectors[d];
    const l = det.lane;
    const L = topo.length[l];
    const cands: number[] = [];
    if (topo.entrance[l] === d) cands.push(topo.advance[l], topo.stop[l]);
    else if (topo.advance[l] === d) cands.push(topo.stop[l]);
    for (const j of cands) {
      if (j < 0 || !ctx.loopTrusted[j]) continue;
      if (topo.stop[l] === j && this.camOk(l) && topo.approach[l]) break; // prefer the camera's line
      return { delta: this.loopDelta(j, s0), pos: ctx.store.layout.detectors[j].position };
    }
    if (topo.approach[l] && this.camOk(l) && topo.stop[l] !== d) return { delta: this.depDelta(l, s0), pos: L };
    if (topo.approach[l] && this.camOk(l) && topo.stop[l] === d) return { delta: this.depDelta(l, s0), pos: L };
    return null;
  }

  /** Trusted count source upstream of loop d on its lane. */
  private upstream(d: number, s0: number): { delta: number; pos: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const l = ctx.store.layout.detectors[d].lane;
    const cands: number[] = [];
    if (topo.stop[l] === d) cands.push(topo.advance[l], topo.entrance[l]);
    else if (topo.advance[l] === d) cands.push(topo.entrance[l]);
    for (const j of cands) {
      if (j < 0 || !ctx.loopTrusted[j]) continue;
      return { delta: this.loopDelta(j, s0), pos: ctx.store.layout.detectors[j].position };
    }
    return null;
  }

  private stuck(d: number): { reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const det = ctx.store.layout.detectors[d];
    const l = det.lane;
    const now = ctx.sec;
    const last = ctx.store.loopLastSeq[d];
    if (this.onRun[d] >= 0) {
      const s0 = this.seqSec(d, this.onRun[d]);
      const dur = now - s0;
      if (dur >= 10) {
        const cap = (from: number, to: number) => Math.abs(to - from) / MIN_SPACING + 1;
        // A vehicle standing on a loop in view must be seen (not so at the stop bar: a vehicle
        // waiting inside the intersection still covers it with its tail, unseen in the lane).
        if (this.camOk(l) && det.position >= topo.viewStart[l] - 1) {
          const atStop = det.position + det.length + 15 > topo.length[l];
          const empty = this.runEmpty[d];
          if ((!atStop && empty >= 8) || (atStop && dur >= 45 && empty >= dur - 5)) {
            return { reason: 'stuck-on', detail: `occupied ${dur} s while the camera saw no vehicle in the lane for ${empty} s`, since: s0 };
          }
        }
        // (Histories are kept by arrival: readings from just before the run may still come in
        // during its first seconds, so the evidence starts a little later.)
        const down = this.downstream(d, s0 + ARRIVAL_SLACK);
        // (At the stop bar, two vehicles leaving under an unbroken presence is already
        // impossible: each leaves a gap of at least 2 m behind it as it goes.)
        const margin = topo.stop[l] === d && topo.approach[l] ? 0.5 : 2;
        if (down && down.delta > cap(det.position, down.pos) + margin) {
          return { reason: 'stuck-on', detail: `occupied ${dur} s without a count while ${down.delta} vehicles passed downstream`, since: s0 };
        }
        // Vehicles entering the camera's view must cross the advance loop: what left the view
        // plus how much more it holds now.
        if (topo.advance[l] === d && this.camOk(l) && topo.viewMeasures[l] === 1) {
          const crossed = this.viewInflow(l, s0 + ARRIVAL_SLACK);
          // (Hidden vehicles reappear as the camera's view changes: margin for what it misses.)
          const z = Math.max(ctx.histZc.at(l, now, now) || 0, ctx.histZc.at(l, s0 + ARRIVAL_SLACK, now) || 0);
          if (dur >= 20 && crossed === crossed && crossed > 4 + 0.35 * z + 2 * (1 - this.est.visibility[l]) * topo.capView[l]) {
            return { reason: 'stuck-on', detail: `occupied ${dur} s without a count while ${crossed.toFixed(0)} vehicles entered the camera's view past it`, since: s0 };
          }
        }
        const up = this.upstream(d, s0 + ARRIVAL_SLACK);
        if (up && up.delta > cap(up.pos, det.position) + 2) {
          return { reason: 'stuck-on', detail: `occupied ${dur} s without a count while ${up.delta} vehicles arrived upstream`, since: s0 };
        }
        // A vehicle standing away from the stop line needs a queue reaching back to it: at
        // least one vehicle per 15 m in front of it (in view), or a full view if it is beyond.
        // (The camera count is corrected for what it misses; beyond the view, a queue reaching
        // back also covers the advance loop on its way.)
        const dist = topo.length[l] - det.position;
        const a = topo.advance[l];
        const advanceCovered = a >= 0 && a !== d && ctx.loopTrusted[a] && this.est.recentOccupancy(a, Math.min(dur, 120)) > 0.3;
        if (dur >= 40 && this.camOk(l) && topo.approach[l] && dist > 20 && !advanceCovered) {
          const viewLen = topo.length[l] - topo.viewStart[l];
          const need = dist <= viewLen + 5 ? dist / 15 - 1 : topo.capView[l] * 0.4;
          const n = this.runQueueN[d];
          if (n >= 5 && this.runQueueSum[d] / n < need) return { reason: 'stuck-on', detail: `occupied ${dur} s but no queue reaches back to it`, since: s0 };
        }
        // Exit lanes never queue (vehicles leave freely at their end).
        if (!topo.approach[l] && dur >= 30) return { reason: 'stuck-on', detail: `occupied ${dur} s on a lane that does not queue`, since: s0 };
      }
    }
    if (this.offRun[d] >= 0 && last - this.offRun[d] >= 10) {
      const s0 = this.offRunSec[d];
      const dur = now - s0;
      const down = this.downstream(d, s0 + ARRIVAL_SLACK);
      if (down) {
        // What was between this loop and the downstream source when the silence began.
        let between: number;
        const toEnd = down.pos >= topo.length[l] - 5;
        if (topo.stop[l] === d) between = 1;
        else if (topo.advance[l] === d) {
          // (A camera that misses vehicles saw fewer than there were.)
          const miss = 1 - this.est.visibility[l];
          between = Math.max(ctx.histNv.at(l, s0, now), ctx.histZc.at(l, s0, now) || 0) * (1 + 3 * miss);
        }
        else if (toEnd) between = ctx.histNtot.at(l, s0, now);
        else between = ctx.histNtot.at(l, s0, now) - ctx.histNv.at(l, s0, now);
        if (down.delta > between + 3) {
          return { reason: 'stuck-off', detail: `no presence for ${dur} s while ${down.delta} vehicles passed downstream`, since: s0 };
        }
      }
      if (topo.entrance[l] === d) {
        // What the upstream stop lines sent into the road beyond what the sibling entrances
        // counted, and more than the links can hold: some of it came in here unseen.
        // (Over the last two minutes at most: small disagreements between the other counters
        // add up over a long quiet spell.)
        const from = Math.max(s0 + ARRIVAL_SLACK, now - 120);
        const pool = this.roadPool(l, from);
        const r = topo.road[l];
        let siblings = 0;
        for (const sib of topo.roadLanes[r]) if (sib !== l && topo.entrance[sib] >= 0) siblings += this.loopDelta(topo.entrance[sib], from);
        if (pool === pool && pool > topo.roadLinkCap[r] / topo.roadLanes[r].length + 3 + 0.1 * siblings) {
          return { reason: 'stuck-off', detail: `no presence for ${dur} s while ${pool.toFixed(0)} vehicles entered the road unseen by its other entrances`, since: s0 };
        }
      }
      const long = this.longOff(d, s0);
      if (long) return long;
      if (!topo.approach[l] && topo.stop[l] === d) {
        const e = topo.entrance[l];
        const T = Math.round(this.est.laneTime(l)) + 5;
        if (e >= 0 && ctx.loopTrusted[e] && this.roadViolation[topo.road[l]] === 0 && this.sectionSuspect[e] === 0 && now - s0 > T) {
          const entered = ctx.histLoop.at(e, now - T, now) - ctx.histLoop.at(e, s0, now);
          if (entered > 3) return { reason: 'stuck-off', detail: `no presence for ${dur} s while ${entered} vehicles should have passed`, since: s0 };
        }
      }
    }
    return null;
  }

  /**
   * A silence older than the per-second histories reach (10 min): the same evidence as above —
   * vehicles passing the next counter downstream (beyond what lay between when it began), or an
   * exit lane's entrance counts one lane-time earlier — taken from the first snapshot after it
   * began. On a quiet lane a stuck-off loop misses a vehicle every few minutes; only a span as
   * long as the silence gathers enough of them.
   */
  private longOff(d: number, s0: number): { reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const now = ctx.sec;
    if (s0 + ARRIVAL_SLACK > now - H + 1) return null;
    const sn = this.snaps.find((x) => x.sec >= s0 + ARRIVAL_SLACK);
    if (!sn || now - sn.sec < this.opt.balanceWindow) return null;
    const l = ctx.store.layout.detectors[d].lane;
    const dur = now - s0;
    const loopSince = (j: number) => ctx.histLoop.at(j, now, now) - sn.loop[j];
    // The next trusted counter downstream, as in downstream(): the camera's line before a stop bar.
    let delta = NaN;
    let toEnd = false;
    const cands = topo.entrance[l] === d ? [topo.advance[l], topo.stop[l]] : topo.advance[l] === d ? [topo.stop[l]] : [];
    for (const j of cands) {
      if (j < 0 || !ctx.loopTrusted[j]) continue;
      if (topo.stop[l] === j && this.camOk(l) && topo.approach[l]) break;
      delta = loopSince(j);
      toEnd = topo.stop[l] === j;
      break;
    }
    if (delta !== delta && topo.approach[l] && this.camOk(l)) {
      delta = ctx.histDep.at(l, now, now) - sn.dep[l];
      toEnd = true;
    }
    if (delta === delta) {
      let between: number;
      if (topo.stop[l] === d) between = 1;
      else if (topo.advance[l] === d) between = Math.max(sn.nv[l], sn.zc[l] || 0) * (1 + 3 * (1 - this.est.visibility[l]));
      else between = toEnd ? sn.ntot[l] : sn.up[l];
      if (delta > between + 3) return { reason: 'stuck-off', detail: `no presence for ${dur} s while ${delta} vehicles passed downstream since ${sn.sec} s`, since: s0 };
    }
    if (!topo.approach[l] && topo.stop[l] === d) {
      const e = topo.entrance[l];
      const T = Math.round(this.est.laneTime(l)) + 5;
      if (e >= 0 && ctx.loopTrusted[e] && this.roadViolation[topo.road[l]] === 0 && this.sectionSuspect[e] === 0 && now - T > sn.sec) {
        const entered = ctx.histLoop.at(e, now - T, now) - sn.loop[e] - sn.ntot[l];
        if (entered > 3) return { reason: 'stuck-off', detail: `no presence for ${dur} s while ${entered.toFixed(0)} vehicles should have passed since ${sn.sec} s`, since: s0 };
      }
    }
    return null;
  }

  /**
   * Chatter (and double counting): vehicles keep at least ~1.5 s apart at a loop (2 s headway
   * in the model; insertion needs a full gap), so two counts within one 1-s reading do not
   * happen in healthy traffic (none in whole runs on the demo city, Jinan or Hangzhou); a loop
   * that bounces or splits vehicles produces them again and again.
   */
  private chatter(d: number): { reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const now = ctx.sec;
    if ((d + now) % 10 !== 0) return null;
    const s = ctx.store;
    const last = s.loopLastSeq[d];
    const nowMs = ctx.epochMs + now * 1000;
    let active = 0;
    let multi = 0;
    let first = now;
    for (let q = last; q >= 0 && q > last - RING; q--) {
      const slot = d * RING + (q % RING);
      if (s.rSeq[slot] !== q) continue;
      if (s.rTs[slot] < nowMs - CHATTER_WINDOW * 1000) break;
      // (A reading after a quiet spell spans it, but its counts all fall in its last tick.)
      if (s.rCount[slot] === 0) continue;
      active++;
      if (s.rCount[slot] >= 2) {
        multi++;
        first = secOf(ctx, s.rTs[slot]) - 1;
      }
    }
    if (multi >= 2 && multi >= 0.1 * active) {
      const share = multi / active;
      // Onset: the earliest several-counts reading still held (it may predate the window).
      for (let q = last; q >= 0 && q > last - RING; q--) {
        const slot = d * RING + (q % RING);
        if (s.rSeq[slot] === q && s.rCount[slot] >= 2) first = secOf(ctx, s.rTs[slot]) - 1;
      }
      return {
        reason: share > 0.3 ? 'chatter' : 'miscount',
        detail: `${multi} of ${active} active seconds with several counts (vehicles are never that close)`,
        since: first,
      };
    }
    return null;
  }

  private balance(d: number): { reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const now = ctx.sec;
    if (now - this.started < this.opt.warmup) return null;
    const det = ctx.store.layout.detectors[d];
    const l = det.lane;
    let W = this.opt.balanceWindow;
    let s0 = now - W;
    let own = this.loopDelta(d, s0);
    let expected = NaN;
    let tol = 0;
    if (topo.stop[l] === d && topo.approach[l]) {
      if (!this.camOk(l)) return this.noViolation(d);
      // The camera misses some crossings when the scene is dense: expect what it catches to
      // be its learned share of the loop's count, give or take the binomial spread.
      const g = this.est.lineVisibility(topo.camera[l]);
      const against = (from: number) => {
        const o = this.loopDelta(d, from);
        const e = this.depDelta(l, from) / g;
        const m = Math.max(o, e);
        return { own: o, expected: e, tol: 2 + 0.12 * m + 3 * Math.sqrt(m * (1 - g)) };
      };
      let c = against(s0);
      // A steady bias of a few tens of per cent hides in the short window's tolerance on a
      // quiet lane; over a long window the counts are large enough to show it.
      if (Math.abs(c.own - c.expected) <= c.tol && now - this.started >= LONG_WINDOW + this.opt.warmup) {
        const long = against(now - LONG_WINDOW);
        if (Math.abs(long.own - long.expected) > long.tol) {
          c = long;
          W = LONG_WINDOW;
          s0 = now - W;
        }
      }
      ({ own, expected, tol } = c);
    } else if (topo.advance[l] === d) {
      // Under a standing queue for much of the window the camera looks at a dense scene and
      // the loop rightly counts little: nothing to learn here.
      if (this.est.recentOccupancy(d, W) > 0.5) return this.noViolation(d);
      if (this.camOk(l) && topo.viewMeasures[l] === 1) {
        // What entered the view = what left it + how much more it holds.
        const z1 = ctx.histZc.at(l, now, now);
        const z0 = ctx.histZc.at(l, s0, now);
        if (z1 !== z1 || z0 !== z0) return this.noViolation(d);
        const s = topo.stop[l];
        const dep = s >= 0 && ctx.loopTrusted[s] && this.violation[s] === 0 ? this.loopDelta(s, s0) : this.depDelta(l, s0);
        expected = Math.max(0, dep + z1 - z0);
        // The camera's misses come and go (a vehicle hidden for a while, more so in a dense
        // scene): the tolerance is learned from how far this camera's lanes usually are off
        // (the spread of the residual on healthy loops), three of its standard deviations.
        const c = topo.camera[l];
        const r = own - expected;
        tol = 2 + 0.1 * Math.max(own, dep) + 3 * Math.sqrt(this.camResidual[c]) + 2 * (1 - this.est.visibility[l]) * (z0 + z1);
        if (Math.abs(r) <= tol && this.violation[d] === 0) this.camResidual[c] += (r * r - this.camResidual[c]) / 50;
      } else {
        const s = topo.stop[l];
        if (s < 0 || !ctx.loopTrusted[s]) return this.noViolation(d);
        expected = this.loopDelta(s, s0);
        tol = 2 + topo.capView[l] + 0.1 * expected;
      }
    } else if (topo.entrance[l] === d) {
      // Against the upstream stop lines road by road (roadEntrances), where a culprit can be
      // told from its siblings; here, against what its own lane's section can hold.
      return this.upstreamSection(d);
    } else if (topo.stop[l] === d) {
      // Exit loop: what entered one lane-time earlier (unless that entrance is itself in doubt).
      const e = topo.entrance[l];
      if (e < 0 || !ctx.loopTrusted[e] || this.roadViolation[topo.road[l]] > 0) return this.noViolation(d);
      const T = Math.round(this.est.laneTime(l));
      expected = ctx.histLoop.at(e, now - T, now) - ctx.histLoop.at(e, s0 - T, now);
      // Travel times vary by a few seconds: platoons at either edge of the shifted window may
      // fall in or out of it.
      const dT = Math.max(5, Math.round(0.15 * T));
      const edges =
        ctx.histLoop.at(e, now - T + dT, now) - ctx.histLoop.at(e, now - T - dT, now) + ctx.histLoop.at(e, s0 - T + dT, now) - ctx.histLoop.at(e, s0 - T - dT, now);
      tol = 3 + 0.15 * Math.max(own, expected) + edges;
    }
    if (expected !== expected) return this.noViolation(d);
    if (Math.abs(own - expected) <= tol) return this.noViolation(d);
    this.violation[d]++;
    if (this.violation[d] < this.opt.persistence) return null;
    const over = own > expected;
    const reason: FaultReason = own === 0 && this.offRun[d] >= 0 ? 'stuck-off' : over && own > 1.6 * expected + 2 ? 'chatter' : 'miscount';
    return { reason, detail: `counted ${own} in ${W} s where the neighbours imply ${expected.toFixed(0)} ± ${tol.toFixed(0)}`, since: s0 };
  }

  /**
   * The section between an entrance and the advance loop (where no camera looks) must hold a
   * plausible number: never fewer than none (else the entrance missed vehicles), and, while
   * nothing stands at the advance loop, no more than free-flowing traffic fits (else the
   * entrance counted vehicles that are not there). The advance loop is checked against the
   * camera, so the entrance takes the blame when the advance loop is itself in good standing.
   */
  private upstreamSection(d: number): { reason: FaultReason; detail: string; since: number } | null {
    const ctx = this.ctx;
    const topo = ctx.topo;
    const now = ctx.sec;
    const l = ctx.store.layout.detectors[d].lane;
    const a = topo.advance[l];
    const W = this.opt.balanceWindow;
    if (a < 0 || !ctx.loopTrusted[a] || this.violation[a] > 0) return this.noSuspect(d);
    const clamped = this.est.deficitHist.at(l, now, now) - this.est.deficitHist.at(l, now - W, now);
    if (clamped >= 4) {
      if (++this.sectionSuspect[d] >= this.opt.persistence) {
        return { reason: 'miscount', detail: `undercounts: ${clamped.toFixed(0)} more vehicles passed the advance loop than it counted in`, since: now - W };
      }
      return null;
    }
    // Moving traffic keeps ~2 s apart: at 8 m/s or more, 16 m per vehicle (a whole platoon from
    // the upstream signal fits; anything more would have to stand, and the advance loop is
    // free).
    const up = ctx.histNtot.at(l, now, now) - ctx.histNv.at(l, now, now);
    const freeCap = topo.advancePos[l] / 16 + 3;
    let excess = up > freeCap ? `${up.toFixed(0)} vehicles would be between it and a free-flowing advance loop` : null;
    if (excess === null && topo.roadFromBoundary[topo.road[l]]) {
      // Traffic from outside comes in bursts, not platoons, and a burst may fill the section
      // legitimately. What it counts must still reach the free-flowing advance loop one
      // section travel time later (as for exit loops, platoons at the window's edges excused).
      const T = Math.round(this.est.upstreamTime(l));
      const entered = ctx.histLoop.at(d, now - T, now) - ctx.histLoop.at(d, now - T - W, now);
      const reached = this.loopDelta(a, now - W);
      const dT = Math.max(5, Math.round(0.15 * T));
      const edges =
        ctx.histLoop.at(d, now - T + dT, now) - ctx.histLoop.at(d, now - T - dT, now) + ctx.histLoop.at(d, now - T - W + dT, now) - ctx.histLoop.at(d, now - T - W - dT, now);
      const tol = 3 + 0.15 * Math.max(entered, reached) + edges;
      if (now - T - W - dT >= this.started && entered - reached > tol && this.est.recentOccupancy(a, W) < 0.2)
        excess = `${entered} counted in where ${reached} reached the free-flowing advance loop ${T} s later`;
    }
    if (excess !== null && this.est.recentOccupancy(a, 60) < 0.2) {
      if (++this.sectionSuspect[d] >= this.opt.persistence * 2) {
        return { reason: 'miscount', detail: `overcounts: ${excess}`, since: now - W };
      }
      return null;
    }
    return this.noSuspect(d);
  }

  private noSuspect(d: number): null {
    this.sectionSuspect[d] = 0;
    return null;
  }

  private noViolation(d: number): null {
    this.violation[d] = 0;
    return null;
  }
}
