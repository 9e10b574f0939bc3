/**
 * The latency-feedback controller (the source paper's law, DESIGN.md):
 *
 *   p_i(t+1) = p_i(t) + η · (L_SLA − L(t)) / L_SLA
 *
 * The paper applies it to a share that *raises* the latency it is measured against (an edge
 * node's share of work). A phase's green share *lowers* its movements' delay, so the law is
 * applied to the complementary share, the phase's share of red ρ_i = 1 − p_i:
 *
 *   ρ_i(t+1) = ρ_i(t) + η (L_SLA − L_i(t)) / L_SLA   ⇔   p_i(t+1) = p_i(t) + η (L_i(t) − L_SLA) / L_SLA
 *
 * so a phase whose movements wait longer than the target gains green, one well under it gives
 * some back; shares are then clamped to the min/max greens and normalised to Σ p_i = 1.
 *
 * Mapping (once per cycle, at its end):
 *   t        one cycle
 *   L_i(t)   the larger of two delays of the phase, each over the cycle:
 *            – its own: the worst mean stopped delay per arriving vehicle of its (non-right)
 *              movements, ∫ standing vehicles dt / arrivals (Little's law), from the
 *              observation's queues and departures;
 *            – as the intersection's vehicles feel it: the mean delay of its vehicles × its
 *              share of the intersection's arrivals × the number of phases (what the
 *              intersection's mean delay would be if every phase were like this one).
 *            At the law's fixed point all L_i are equal, say V: then every movement's own delay
 *            is ≤ V (under target when V ≤ L_SLA, i.e. where capacity allows), and busier
 *            phases, whose vehicles weigh more, get the spare green. With the own delay alone
 *            the law equalises per-vehicle delay, giving a lightly used protected-left phase as
 *            much green as the through phase (ATT 377 vs 365 on Jinan; `phaseDelay: 'max'`).
 *            Smoothed over cycles (one cycle's measurement is noisy).
 *   L_SLA    delay target per vehicle and intersection: 35 s (the HCM's LOS C/D boundary)
 *   η        0.1 (a phase at twice the target gains 0.1 of share per cycle, before
 *            normalising; small enough not to oscillate with cycle-to-cycle noise)
 * The cycle itself is Webster's optimum for the measured demand (bounded 40–150 s, and long
 * enough for 1.5 × every phase's minimum green): the law decides how the green is shared, not
 * how long the cycle is. Note the law is additive: equal delays off target pull the shares
 * toward equal once normalised; equal delays on target leave them alone.
 *
 * Running the cycle. The law's green p_i (C − L) is each phase's budget, an upper bound:
 *   – gap-out: a green ends early (after its minimum) once none of its movements has sent a
 *     vehicle over the stop line for 3 s (queue gone, or exit blocked): green nobody uses is
 *     not held; the cycle shortens by what is not used;
 *   – skipping and order: a cycle serves each phase at most once, only those with a vehicle on
 *     an approach lane, the one with the most standing vehicles first; when none is left the
 *     cycle ends (and is re-planned) and a new one begins; with no vehicle anywhere the green
 *     rests;
 *   – dual ring: when some movements of the green are idle and others still discharge, the rest
 *     of the budget goes to a program phase that keeps the busy movements green and serves
 *     waiting ones instead of the idle ones (benchmark phases 5–8: one approach's through and
 *     left), as a dual-ring controller does.
 * Measured on Hangzhou's 5,816-vehicle flow (ATT, fixed-time 570 s): budgets alone 453 s
 * (−20 %), with gap-out and skipping 425 s, with the dual ring 405 s (−29 %).
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { makePlan } from '../plans.ts';
import type { IntersectionController, SignalPolicy } from '../policy.ts';
import type { SignalView } from '../SignalStateMachine.ts';
import { MIN_GREEN_FLOOR_S } from '../SafetyValidator.ts';
import type { TimingPlan } from '../TimingPlan.ts';
import { sumLanes } from '../movementLanes.ts';
import { DemandMeter } from './demandMeter.ts';
import { controlSites, type CommonOptions } from './sites.ts';
import { SATURATION_FLOW, criticalRatios, planPhases, websterTiming } from './webster.ts';

export const DEFAULT_TARGET_DELAY = 35;
export const DEFAULT_GAIN = 0.1;

/** The paper's law, literally: one update of a share p against latency L and its target. */
export function latencyFeedbackStep(p: number, latency: number, target: number, eta: number): number {
  return p + (eta * (target - latency)) / target;
}

/**
 * One update of the green shares of the phases from their delays: the law on each phase's red
 * share, then the shares kept within [minShare_i, maxShare_i] and summing to 1.
 */
export function updateGreenShares(
  shares: readonly number[],
  delays: readonly number[],
  target: number,
  eta: number,
  minShare: readonly number[],
  maxShare: readonly number[],
): number[] {
  const raw = shares.map((p, i) => 1 - latencyFeedbackStep(1 - p, delays[i], target, eta));
  return boundedNormalise(raw, minShare, maxShare);
}

/** Scales to Σ = 1 while keeping each value within its bounds (water-filling). */
export function boundedNormalise(values: readonly number[], lo: readonly number[], hi: readonly number[]): number[] {
  const n = values.length;
  const v = values.map((x, i) => Math.min(hi[i], Math.max(lo[i], x)));
  const fixed = new Array<boolean>(n).fill(false);
  for (let iter = 0; iter < n + 1; iter++) {
    let sumFree = 0;
    let sumFixed = 0;
    for (let i = 0; i < n; i++) (fixed[i] ? (sumFixed += v[i]) : (sumFree += Math.max(v[i], 1e-9)));
    const room = 1 - sumFixed;
    let changed = false;
    for (let i = 0; i < n; i++) {
      if (fixed[i]) continue;
      const x = (Math.max(v[i], 1e-9) * room) / sumFree;
      if (x < lo[i]) {
        v[i] = lo[i];
        fixed[i] = changed = true;
      } else if (x > hi[i]) {
        v[i] = hi[i];
        fixed[i] = changed = true;
      } else v[i] = x;
    }
    if (!changed) break;
  }
  return v;
}

export interface LatencyFeedbackOptions extends CommonOptions {
  /** L_SLA: delay target per vehicle (s). */
  targetDelay?: number;
  /** η: gain per cycle. */
  gain?: number;
  minGreen?: number;
  maxGreen?: number;
  minCycle?: number;
  maxCycle?: number;
  saturationFlow?: number;
  /** Weight of the newest cycle in the smoothed delays and demand (0–1]. */
  smoothing?: number;
  /** Cycle before any demand is measured (s). */
  initialCycle?: number;
  /**
   * L_i from its movements' delays: the larger of the worst movement's and the vehicle-weighted
   * figure (`weighted`, default; see the header), the worst movement alone (`max`) or the mean
   * per arriving vehicle (`mean`).
   */
  phaseDelay?: 'max' | 'mean' | 'weighted';
  /** End a green early when none of its movements has discharged for this long (s); 0 = never. */
  gapOut?: number;
  /** Skip phases with no vehicle on their approach lanes. */
  skipEmpty?: boolean;
  /** Order of the phases within a cycle: the plan's sequence, or the most standing vehicles first (`queue`). */
  order?: 'sequence' | 'queue';
  /** Let a partly idle green hand its budget's rest to a phase keeping its busy movements (needs the program's single-approach phases). */
  dualRing?: boolean;
}

export function latencyFeedbackPolicy(net: RoadNetwork, opts: LatencyFeedbackOptions = {}): SignalPolicy {
  const target = opts.targetDelay ?? DEFAULT_TARGET_DELAY;
  const eta = opts.gain ?? DEFAULT_GAIN;
  const minG = Math.max(MIN_GREEN_FLOOR_S, opts.minGreen ?? 7);
  const maxG = opts.maxGreen ?? 90;
  const alpha = opts.smoothing ?? 0.5;
  const sat = opts.saturationFlow ?? SATURATION_FLOW;
  const passage = opts.gapOut ?? 3;
  const skipEmpty = opts.skipEmpty ?? true;
  const order = opts.order ?? 'queue';
  const dualRing = opts.dualRing ?? true;
  const { sites, warnings } = controlSites(net, opts);
  const controllers: IntersectionController[] = sites.map((site) => {
    // t: the phases whose shares the law sets (those that together serve every movement);
    // full: every phase the plan may show (t plus, with `dualRing`, the program's other greens).
    const t = planPhases(site, opts.phases !== undefined);
    const full = dualRing ? site.template : t;
    const n = t.phaseIds.length;
    const coverIdx = t.phaseIds.map((id) => full.phaseIds.indexOf(id));
    const coverOf = full.phaseIds.map((_, q) => coverIdx.indexOf(q));
    const lost = t.yellow.map((y, k) => y + t.allRed[k]);
    const L = lost.reduce((a, b) => a + b, 0);
    let cycle = opts.initialCycle ?? 60;
    let shares = new Array<number>(n).fill(1 / n);
    const planOf = (version: number, validFrom: number) => {
      const green = full.phaseIds.map((_, q) => (coverOf[q] >= 0 ? shares[coverOf[q]] * (cycle - L) : minG));
      return makePlan(full, { control: 'adaptive', green, minGreen: minG, maxGreen: maxG, sequence: coverIdx, version, validFrom });
    };
    let plan: TimingPlan = planOf(0, 0);
    const meter = new DemandMeter(site);
    // Green (by its start time) at whose end the cycle was last re-planned: once per cycle.
    let replannedAt = Number.NaN;
    let delays: number[] | null = null;
    let demand: Float64Array | null = null;
    const moving = (ms: readonly number[]) => ms.filter((m) => !site.lanes.isRight[m]);
    const served = t.movements.map(moving);
    const fullServed = full.movements.map(moving);
    const g = site.safety.globalMovement;
    const calling = (obs: TrafficObservation, m: number) => sumLanes(obs.laneVehicles, site.lanes.inLanes[m]) > 0;
    const hasCall = (obs: TrafficObservation, i: number) => served[i].some((m) => calling(obs, m));
    let greenStart = Number.NaN;
    // The t-phase whose green budget is running, and when it began.
    let cur = -1;
    let curStart = Number.NaN;
    let partial = -1;
    const lastDeparture = new Float64Array(site.safety.n).fill(Number.NEGATIVE_INFINITY);
    const servedInCycle = new Array<boolean>(n).fill(false);
    return {
      intersection: site.index,
      plan,
      decide(obs: TrafficObservation, now: number, sig: SignalView) {
        meter.record(obs, now);
        if (sig.interval !== 'green') return null;
        const p = sig.phase;
        if (sig.greenStart !== greenStart) {
          greenStart = sig.greenStart;
          // A phase asked for within a budget continues it; any other green starts its own.
          if (p !== partial || cur < 0) {
            cur = coverOf[p] >= 0 ? coverOf[p] : Math.max(0, cur);
            curStart = greenStart;
          }
          if (coverOf[p] >= 0) servedInCycle[coverOf[p]] = true;
          partial = -1;
          for (const m of fullServed[p]) lastDeparture[m] = Math.max(lastDeparture[m], greenStart);
        }
        for (const m of fullServed[p]) if (obs.movementDepartures[g[m]] > 0) lastDeparture[m] = now;
        if (now - sig.greenStart < plan.phases[p].minGreen - 1e-9) return null;
        const budgetEnd = curStart + plan.phases[coverIdx[cur]].green;
        const busy = fullServed[p].filter((m) => now - lastDeparture[m] < passage - 1e-9);
        const budgetUsed = now >= budgetEnd - 1e-9;
        const gapOut = passage > 0 && busy.length === 0;
        if (!budgetUsed && !gapOut) {
          // Part of the green idle: a phase that keeps the busy movements green and serves
          // waiting ones instead runs out the budget (what a dual-ring controller does).
          if (!dualRing || passage <= 0 || busy.length === fullServed[p].length) return null;
          if (budgetEnd - now < minG + plan.phases[p].yellow + plan.phases[p].allRed) return null;
          let best = -1;
          let most = 0;
          for (let q = 0; q < full.phaseIds.length; q++) {
            if (q === p || !busy.every((m) => fullServed[q].includes(m))) continue;
            let waiting = 0;
            for (const m of fullServed[q]) if (!fullServed[p].includes(m) && calling(obs, m)) waiting += sumLanes(obs.laneVehicles, site.lanes.inLanes[m]);
            if (waiting > most) {
              best = q;
              most = waiting;
            }
          }
          if (best < 0) return null;
          partial = best;
          return { request: best };
        }
        // Next: a phase with a call not yet served this cycle (empty phases skipped); in sequence
        // order, or the one with the most standing vehicles. None left: the cycle ends.
        const seq = plan.sequence;
        const at = seq.indexOf(coverIdx[cur]);
        const pick = (fresh: boolean) => {
          let best = -1;
          let most = -1;
          for (let s = 1; s <= seq.length; s++) {
            const j = seq[(at + s) % seq.length];
            const i = coverOf[j];
            if (j === p || (fresh && servedInCycle[i]) || (skipEmpty && !hasCall(obs, i))) continue;
            if (order === 'sequence') return j;
            let q = 0;
            for (const m of served[i]) q += sumLanes(obs.laneQueue, site.lanes.inLanes[m]);
            if (q > most) {
              best = j;
              most = q;
            }
          }
          return best;
        };
        let next = pick(true);
        if (next >= 0) return { request: next };
        next = pick(false);
        // None called anywhere: the green rests.
        if (next < 0) return null;
        // The cycle is over: re-plan once, at this green's end.
        if (sig.greenStart === replannedAt) return { request: next };
        replannedAt = sig.greenStart;
        servedInCycle.fill(false);
        const d = meter.take(obs, now);
        if (!(d.period > 0)) return { request: next };
        // L_i(t) over the cycle (see the header), smoothed.
        let all = 0;
        for (const ms of served) for (const m of ms) all += d.flow[m] * d.period;
        const measured = served.map((ms) => {
          if ((opts.phaseDelay ?? 'weighted') === 'weighted') {
            let veh = 0;
            let wait = 0;
            for (const m of ms) {
              const a = d.flow[m] * d.period;
              veh += a;
              wait += d.delay[m] * Math.max(1, a);
            }
            const worst = ms.reduce((mx, m) => Math.max(mx, d.delay[m]), 0);
            return Math.max(worst, all > 0 ? (wait / Math.max(1, veh)) * (veh / all) * served.length : 0);
          }
          if (opts.phaseDelay === 'mean') {
            let veh = 0;
            let wait = 0;
            for (const m of ms) {
              const a = d.flow[m] * d.period;
              veh += a;
              wait += d.delay[m] * Math.max(1, a);
            }
            return wait / Math.max(1, veh);
          }
          return ms.reduce((mx, m) => Math.max(mx, d.delay[m]), 0);
        });
        delays = delays ? delays.map((x, i) => alpha * measured[i] + (1 - alpha) * x) : measured;
        demand = demand ? demand.map((x, m) => alpha * d.flow[m] + (1 - alpha) * x) : d.flow.slice();
        // Room for every phase's minimum green with some to share: G ≥ 1.5 n · minGreen.
        cycle = Math.max(
          websterTiming(criticalRatios(t, site, demand, sat), lost, opts.minCycle ?? 40, opts.maxCycle ?? 150).cycle,
          L + 1.5 * n * minG,
        );
        const G = cycle - L;
        const lo = t.phaseIds.map(() => Math.min(1 / n, minG / G));
        const hi = t.phaseIds.map(() => Math.max(1 / n, Math.min(1, maxG / G)));
        shares = updateGreenShares(shares, delays, target, eta, lo, hi);
        plan = planOf(plan.version + 1, now);
        return { request: next, plan };
      },
    };
  });
  return { controllers, observationWindow: 1, warnings };
}
