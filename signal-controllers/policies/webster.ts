/**
 * Webster's fixed-time plan, recomputed every cycle from measured demand:
 *   C₀ = (1.5 L + 5) / (1 − Y),  g_i = (C₀ − L) · y_i / Y
 * L = Σ lost time per phase (its yellow + all-red), y_i = the phase's critical flow ratio
 * (max over its movements of arrival flow / saturation flow), Y = Σ y_i. The cycle is bounded;
 * at Y ≥ 0.95 (oversaturated) it is the maximum. Demand is smoothed across cycles.
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { coveringPhases, makePlan, restrictTemplate, type PlanTemplate } from '../plans.ts';
import type { IntersectionController, SignalPolicy } from '../policy.ts';
import type { SignalView } from '../SignalStateMachine.ts';
import { MIN_GREEN_FLOOR_S } from '../SafetyValidator.ts';
import { nextInSequence, type TimingPlan } from '../TimingPlan.ts';
import { DemandMeter } from './demandMeter.ts';
import { controlSites, type CommonOptions, type Site } from './sites.ts';

/**
 * Saturation flow per lane (veh/s): 1,450 veh/h, measured in this model (a standing queue of
 * benchmark vehicles discharges at one every 2.49 s). The design figure of ~1,900 veh/h is for
 * real drivers; the CityFlow car-following (2 s headway time) is slower.
 */
export const SATURATION_FLOW = 1450 / 3600;

export interface WebsterOptions extends CommonOptions {
  /** Saturation flow per lane (veh/s). */
  saturationFlow?: number;
  minCycle?: number;
  maxCycle?: number;
  minGreen?: number;
  maxGreen?: number;
  /** Weight of the newest cycle's demand in the smoothed demand (0–1]. */
  smoothing?: number;
  /** Cycle before any demand is measured (s). */
  initialCycle?: number;
}

export interface WebsterTiming {
  cycle: number;
  greens: number[];
  /** Σ critical flow ratios. */
  Y: number;
}

/** Webster's cycle and splits for critical flow ratios `y` and lost times `lost` (one per phase). */
export function websterTiming(y: readonly number[], lost: readonly number[], minCycle = 40, maxCycle = 150): WebsterTiming {
  const L = lost.reduce((a, b) => a + b, 0);
  const Y = y.reduce((a, b) => a + b, 0);
  const c0 = Y < 0.95 ? (1.5 * L + 5) / (1 - Y) : maxCycle;
  const cycle = Math.min(maxCycle, Math.max(minCycle, c0, L + y.length * MIN_GREEN_FLOOR_S));
  const effective = cycle - L;
  const greens = y.map((v) => (Y > 0 ? (effective * v) / Y : effective / y.length));
  return { cycle, greens, Y };
}

/** Critical flow ratio of each template phase. */
export function criticalRatios(t: PlanTemplate, site: Site, flow: ArrayLike<number>, saturation: number): number[] {
  return t.movements.map((ms) => {
    let y = 0;
    for (const m of ms) {
      if (site.lanes.isRight[m]) continue;
      y = Math.max(y, flow[m] / (saturation * site.lanes.inLanes[m].length));
    }
    return y;
  });
}

/** The template's phases that together serve every movement (phases 1–4 on the benchmarks), unless phases were given. */
export function planPhases(site: Site, given: boolean): PlanTemplate {
  return given ? site.template : restrictTemplate(site.template, coveringPhases(site.template, site.lanes.isRight));
}

export function websterPolicy(net: RoadNetwork, opts: WebsterOptions = {}): SignalPolicy {
  const sat = opts.saturationFlow ?? SATURATION_FLOW;
  const minG = Math.max(MIN_GREEN_FLOOR_S, opts.minGreen ?? 7);
  const maxG = opts.maxGreen ?? 90;
  const alpha = opts.smoothing ?? 0.5;
  const { sites, warnings } = controlSites(net, opts);
  const controllers: IntersectionController[] = sites.map((site) => {
    const t = planPhases(site, opts.phases !== undefined);
    const lost = t.yellow.map((y, k) => y + t.allRed[k]);
    const first = websterTiming(
      t.phaseIds.map(() => 0),
      lost,
      opts.minCycle ?? 40,
      opts.maxCycle ?? 150,
    );
    const initialGreen = ((opts.initialCycle ?? 60) - lost.reduce((a, b) => a + b, 0)) / t.phaseIds.length;
    let plan: TimingPlan = makePlan(t, { control: 'fixed-time', green: first.greens.map(() => initialGreen), minGreen: minG, maxGreen: maxG });
    const meter = new DemandMeter(site);
    // Green (by its start time) at whose end the cycle was last re-planned: once per cycle.
    let replannedAt = Number.NaN;
    let demand: Float64Array | null = null;
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
        // End of the cycle: re-plan on the demand measured during it.
        const d = meter.take(obs, now);
        if (d.period > 0) {
          if (!demand) demand = d.flow.slice();
          else for (let m = 0; m < demand.length; m++) demand[m] = alpha * d.flow[m] + (1 - alpha) * demand[m];
        }
        if (!demand) return { request: next };
        const w = websterTiming(criticalRatios(t, site, demand, sat), lost, opts.minCycle ?? 40, opts.maxCycle ?? 150);
        plan = makePlan(t, { control: 'fixed-time', green: w.greens, minGreen: minG, maxGreen: maxG, version: plan.version + 1, validFrom: now });
        return { request: next, plan };
      },
    };
  });
  return { controllers, observationWindow: 1, warnings };
}
