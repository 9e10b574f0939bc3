/**
 * An edge controller's decisions for the intersections it runs: which plan each runs and in
 * which mode. It starts on its local plan (`local`: nothing wrong, the centre has published no
 * plan for it yet, as after a first start or with the central planner off) and follows the
 * centre's plans once one arrives; when the centre goes quiet it keeps the last central plan
 * (`holding`) for a while, then falls back to its local plan (`fallback`: the centre is lost, an
 * operator should look); a centre that never answers leads to `fallback` as well. When the centre
 * comes back it returns to the central plan at a safe boundary, or to `local` if it has none. Every
 * plan, central or local, passes the shared validator here again, and the lights only change
 * through the signal state machine, so no mode ever shows conflicting greens or goes dark.
 * Deterministic; time is an argument.
 */
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import type { IntersectionController } from '../policy.ts';
import { GREEN, validatePlan, type IntersectionSafety, type Verdict } from '../SafetyValidator.ts';
import type { TimingPlan } from '../TimingPlan.ts';
import { IntersectionRunner, type RunnerState } from './IntersectionRunner.ts';
import { EdgePreemption, type PreemptionOrder, type PreemptionState, type ResumePlan } from './Preemption.ts';

export const EDGE_MODES = ['central', 'holding', 'local', 'fallback'] as const;
export type EdgeMode = (typeof EDGE_MODES)[number];

export interface EdgeTiming {
  /** Seconds without an answer from the centre before the controller counts it lost. */
  lostAfter: number;
  /**
   * Seconds it keeps running the last central plan once the centre is lost, before its local plan;
   * on the local plan, `lostAfter + holdFor` seconds without an answer count the centre lost.
   */
  holdFor: number;
}

export interface EdgeSite {
  safety: IntersectionSafety;
  /** The local plan: runs until the centre has a plan for this intersection, and when the centre has been lost too long. */
  fallback: TimingPlan;
  /** Local policy for actuated/adaptive plans, if the edge has one. */
  local?: IntersectionController;
}

export class EdgeController {
  readonly runners = new Map<string, IntersectionRunner>();
  /** Emergency-vehicle pre-emption per intersection (Preemption.ts). */
  readonly preemption = new Map<string, EdgePreemption>();
  private readonly fallbacks = new Map<string, TimingPlan>();
  private readonly central = new Map<string, TimingPlan>();
  private modeNow: EdgeMode = 'local';
  /** Start-up counts as contact: the centre gets the same grace before it is called lost. */
  private lastContact: number;
  /** Plans refused by the validator at this edge (central ones included). */
  refusedPlans = 0;

  constructor(
    sites: EdgeSite[],
    now: number,
    readonly timing: EdgeTiming = { lostAfter: 3, holdFor: 60 },
  ) {
    this.lastContact = now;
    for (const s of sites) {
      this.runners.set(s.safety.id, new IntersectionRunner(s.safety, s.fallback, now, s.local));
      this.fallbacks.set(s.safety.id, s.fallback);
      this.preemption.set(s.safety.id, new EdgePreemption(s.safety));
    }
  }

  get mode(): EdgeMode {
    return this.modeNow;
  }

  /** The centre answered (a plan, or "not modified"). */
  contact(now: number): void {
    this.lastContact = now;
    if (this.modeNow === 'holding') this.modeNow = 'central';
    else if (this.modeNow === 'fallback' && this.central.size > 0) this.resumeCentral(now, null);
    else if (this.modeNow === 'fallback') this.modeNow = 'local';
  }

  /** A central plan for one intersection. Refused plans leave everything as it was. */
  receivePlan(intersection: string, plan: TimingPlan, now: number): Verdict {
    const runner = this.runners.get(intersection);
    if (!runner) return { ok: false, reasons: [{ code: 'wrong-intersection', message: `this controller does not run ${intersection}` }] };
    const prev = this.central.get(intersection);
    if (prev && prev.version >= plan.version) return { ok: true };
    // While a pre-emption holds the signal the plan waits (checked now, run on release).
    const v = this.preemption.get(intersection)!.active ? validatePlan(plan, runner.safety) : runner.offer(plan, now, true);
    if (!v.ok) {
      this.refusedPlans++;
      return v;
    }
    this.central.set(intersection, plan);
    // From fallback the other intersections' central plans come back too (this one is offered).
    if (this.modeNow === 'fallback') this.resumeCentral(now, intersection);
    this.modeNow = 'central';
    this.contact(now);
    return v;
  }

  /** Back from fallback: the central plans take over again at their next safe boundary. */
  private resumeCentral(now: number, except: string | null): void {
    for (const [id, plan] of this.central) if (id !== except && !this.preemption.get(id)?.active) this.runners.get(id)?.offer(plan, now, true);
    this.modeNow = 'central';
  }

  /** Advances every intersection to `now`; changes mode when the centre has been quiet too long. */
  tick(now: number, obs?: TrafficObservation): void {
    const quiet = now - this.lastContact;
    if (this.modeNow === 'central' && quiet > this.timing.lostAfter) this.modeNow = 'holding';
    // Already on the local plans: only the name changes (the centre is now counted lost).
    if (this.modeNow === 'local' && quiet > this.timing.lostAfter + this.timing.holdFor) this.modeNow = 'fallback';
    if (this.modeNow === 'holding' && quiet > this.timing.lostAfter + this.timing.holdFor) {
      this.modeNow = 'fallback';
      for (const [id, plan] of this.fallbacks) if (!this.preemption.get(id)!.active) this.runners.get(id)!.offer(plan, now, false);
    }
    for (const [id, r] of this.runners) r.tick(now, obs, this.preemption.get(id)!.beforeTick(r, now, () => this.resumePlan(id)));
  }

  /** The centre's current pre-emption windows for one intersection (the whole set). */
  receivePreemptions(intersection: string, orders: readonly PreemptionOrder[], now: number): Verdict {
    const p = this.preemption.get(intersection);
    if (!p) return { ok: false, reasons: [{ code: 'wrong-intersection', message: `this controller does not run ${intersection}` }] };
    return p.replace(orders, now);
  }

  preemptionStates(now: number): PreemptionState[] {
    return [...this.preemption.entries()].flatMap(([id, p]) => {
      const r = this.runners.get(id)!;
      return p.states(now, (m) => r.machine.light(m) === GREEN);
    });
  }

  /** What runs after a pre-emption: the central plan unless the controller is in fallback. */
  private resumePlan(intersection: string): ResumePlan {
    const central = this.central.get(intersection);
    return central && (this.modeNow === 'central' || this.modeNow === 'holding') ? { plan: central, central: true } : { plan: this.fallbacks.get(intersection)!, central: false };
  }

  states(now: number): RunnerState[] {
    return [...this.runners.values()].map((r) => r.state(now));
  }
}
