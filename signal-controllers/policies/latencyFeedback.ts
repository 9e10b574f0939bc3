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
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { makePlan } from '../plans.ts';
import type { IntersectionController, SignalPolicy } from '../policy.ts';
import type { SignalView } from '../SignalStateMachine.ts';
import { MIN_GREEN_FLOOR_S } from '../SafetyValidator.ts';
import { nextInSequence, type TimingPlan } from '../TimingPlan.ts';
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
}

export function latencyFeedbackPolicy(net: RoadNetwork, opts: LatencyFeedbackOptions = {}): SignalPolicy {
  const target = opts.targetDelay ?? DEFAULT_TARGET_DELAY;
  const eta = opts.gain ?? DEFAULT_GAIN;
  const minG = Math.max(MIN_GREEN_FLOOR_S, opts.minGreen ?? 7);
  const maxG = opts.maxGreen ?? 90;
  const alpha = opts.smoothing ?? 0.5;
  const sat = opts.saturationFlow ?? SATURATION_FLOW;
  const { sites, warnings } = controlSites(net, opts);
  const controllers: IntersectionController[] = sites.map((site) => {
    const t = planPhases(site, opts.phases !== undefined);
    const n = t.phaseIds.length;
    const lost = t.yellow.map((y, k) => y + t.allRed[k]);
    const L = lost.reduce((a, b) => a + b, 0);
    let cycle = opts.initialCycle ?? 60;
    let shares = new Array<number>(n).fill(1 / n);
    const greensOf = () => shares.map((p) => p * (cycle - L));
    let plan: TimingPlan = makePlan(t, { control: 'adaptive', green: greensOf(), minGreen: minG, maxGreen: maxG });
    const meter = new DemandMeter(site);
    // Green (by its start time) at whose end the cycle was last re-planned: once per cycle.
    let replannedAt = Number.NaN;
    let delays: number[] | null = null;
    let demand: Float64Array | null = null;
    const served = t.movements.map((ms) => ms.filter((m) => !site.lanes.isRight[m]));
    return {
      intersection: site.index,
      plan,
      decide(obs: TrafficObservation, now: number, sig: SignalView) {
        meter.record(obs, now);
        if (sig.interval !== 'green') return null;
        if (now - sig.greenStart < plan.phases[sig.phase].green - 1e-9) return null;
        const next = nextInSequence(plan, sig.phase);
        if (next !== plan.sequence[0] || sig.greenStart === replannedAt) return { request: next };
        replannedAt = sig.greenStart;
        const d = meter.take(obs, now);
        if (!(d.period > 0)) return { request: next };
        // L_i(t): the phase's worst movement delay over the cycle, smoothed.
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
        plan = makePlan(t, { control: 'adaptive', green: greensOf(), minGreen: minG, maxGreen: maxG, version: plan.version + 1, validFrom: now });
        return { request: next, plan };
      },
    };
  });
  return { controllers, observationWindow: 1, warnings };
}
