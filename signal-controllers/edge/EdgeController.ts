/**
 * An edge controller's decisions for the intersections it runs: which plan each runs and in
 * which mode. It follows the centre's plans while the centre answers; when the centre goes
 * quiet it keeps the last central plan (`holding`) for a while, then falls back to its local
 * plan; when the centre comes back it returns to the central plan at a safe boundary. Every
 * plan, central or local, passes the shared validator here again, and the lights only change
 * through the signal state machine, so no mode ever shows conflicting greens or goes dark.
 * Deterministic; time is an argument.
 */
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import type { IntersectionController } from '../policy.ts';
import type { IntersectionSafety, Verdict } from '../SafetyValidator.ts';
import type { TimingPlan } from '../TimingPlan.ts';
import { IntersectionRunner, type RunnerState } from './IntersectionRunner.ts';

export type EdgeMode = 'central' | 'holding' | 'fallback';

export interface EdgeTiming {
  /** Seconds without an answer from the centre before the controller counts it lost. */
  lostAfter: number;
  /** Seconds it keeps running the last central plan once the centre is lost, before its local plan. */
  holdFor: number;
}

export interface EdgeSite {
  safety: IntersectionSafety;
  /** The local plan: runs at start-up and when the centre has been lost too long. */
  fallback: TimingPlan;
  /** Local policy for actuated/adaptive plans, if the edge has one. */
  local?: IntersectionController;
}

export class EdgeController {
  readonly runners = new Map<string, IntersectionRunner>();
  private readonly fallbacks = new Map<string, TimingPlan>();
  private readonly central = new Map<string, TimingPlan>();
  private modeNow: EdgeMode = 'fallback';
  private lastContact = -Infinity;
  /** Plans refused by the validator at this edge (central ones included). */
  refusedPlans = 0;

  constructor(
    sites: EdgeSite[],
    now: number,
    readonly timing: EdgeTiming = { lostAfter: 3, holdFor: 60 },
  ) {
    for (const s of sites) {
      this.runners.set(s.safety.id, new IntersectionRunner(s.safety, s.fallback, now, s.local));
      this.fallbacks.set(s.safety.id, s.fallback);
    }
  }

  get mode(): EdgeMode {
    return this.modeNow;
  }

  /** The centre answered (a plan, or "not modified"). */
  contact(now: number): void {
    this.lastContact = now;
    if (this.modeNow === 'holding') this.modeNow = 'central';
    else if (this.modeNow === 'fallback' && this.central.size > 0) {
      // Back from fallback: the central plans take over again at their next safe boundary.
      for (const [id, plan] of this.central) this.runners.get(id)?.offer(plan, now, true);
      this.modeNow = 'central';
    }
  }

  /** A central plan for one intersection. Refused plans leave everything as it was. */
  receivePlan(intersection: string, plan: TimingPlan, now: number): Verdict {
    const runner = this.runners.get(intersection);
    if (!runner) return { ok: false, reasons: [{ code: 'wrong-intersection', message: `this controller does not run ${intersection}` }] };
    const prev = this.central.get(intersection);
    if (prev && prev.version >= plan.version) return { ok: true };
    const v = runner.offer(plan, now, true);
    if (!v.ok) {
      this.refusedPlans++;
      return v;
    }
    this.central.set(intersection, plan);
    if (this.modeNow === 'fallback') this.modeNow = 'central';
    this.contact(now);
    return v;
  }

  /** Advances every intersection to `now`; changes mode when the centre has been quiet too long. */
  tick(now: number, obs?: TrafficObservation): void {
    const quiet = now - this.lastContact;
    if (this.modeNow === 'central' && quiet > this.timing.lostAfter) this.modeNow = 'holding';
    if (this.modeNow === 'holding' && quiet > this.timing.lostAfter + this.timing.holdFor) {
      this.modeNow = 'fallback';
      for (const [id, plan] of this.fallbacks) this.runners.get(id)!.offer(plan, now, false);
    }
    for (const r of this.runners.values()) r.tick(now, obs);
  }

  states(now: number): RunnerState[] {
    return [...this.runners.values()].map((r) => r.state(now));
  }
}
