/**
 * Emergency-vehicle pre-emption at the edge: the centre issues windows ("from `start` to `end`
 * give movement M green for vehicle V, who should arrive at `eta`"), the edge serves them through
 * the same signal state machine and the same validator as every plan, so a pre-emption can only
 * ever ask for a phase change: the green being cut still runs its minimum green, yellow and
 * all-red, and the vehicle's green starts only once every conflicting movement has cleared.
 *
 * How one intersection serves a window (deterministic, time is an argument):
 *   1. A pre-emption plan is built from the plan in force: every phase's maximum green raised
 *      (so the vehicle's green does not max out while it is still coming) plus, when no phase
 *      carries the vehicle's movement, one phase made of that movement and every movement
 *      compatible with it. It is checked by `validatePlan` (the runner checks it again) and
 *      takes over at the machine's next safe boundary.
 *   2. Every tick the phase carrying the movement is requested; the machine ends the current
 *      green through yellow and all-red when its minimum green allows.
 *   3. On release (window withdrawn by the centre, its end passed, or held longer than `maxHold`
 *      for one vehicle) the caller's normal plan is offered again and its requests resume.
 * Windows are dropped by the edge on its own at their end, so a lost link to the centre cannot
 * hold a signal.
 */
import { z } from 'zod';
import { phaseClearance } from '../plans.ts';
import { MIN_GREEN_FLOOR_S, conflictingPairs, conflicts, validatePlan, type IntersectionSafety, type SafetyIssue, type Verdict } from '../SafetyValidator.ts';
import { TimingPlanSchema, type PlanPhase, type TimingPlan } from '../TimingPlan.ts';
import type { IntersectionRunner } from './IntersectionRunner.ts';

/** One window as the centre sends it to an edge (times on the field clock, s). */
export const PreemptionOrderSchema = z
  .object({
    id: z.string().min(1),
    vehicle: z.string().min(1),
    intersection: z.string().min(1),
    /** The movement(s) the vehicle uses, by the intersection's local index. */
    movements: z.array(z.number().int().nonnegative()).min(1),
    eta: z.number().finite(),
    start: z.number().finite(),
    end: z.number().finite(),
  })
  .refine((w) => w.end > w.start, { path: ['end'], message: 'end must be after start' });
export type PreemptionOrder = z.infer<typeof PreemptionOrderSchema>;

/** What the centre answers an edge polling its windows (the whole current set each time). */
export const PreemptionFeedSchema = z.object({
  intersection: z.string().min(1),
  version: z.number().int().nonnegative(),
  windows: z.array(PreemptionOrderSchema),
});
export type PreemptionFeed = z.infer<typeof PreemptionFeedSchema>;

export type PreemptionStatus = 'planned' | 'active' | 'released';

export interface PreemptionState {
  id: string;
  vehicle: string;
  intersection: string;
  start: number;
  end: number;
  status: PreemptionStatus;
  /** The vehicle's movement shows green now. */
  green: boolean;
}

export interface EdgePreemptionOptions {
  /** Longest one vehicle may hold the signal (s). */
  maxHold?: number;
  /** Maximum green of every phase while pre-empting (s). */
  holdMaxGreen?: number;
  /** Released windows remembered for reports (count). */
  keepReleased?: number;
}

/** The plan to go back to after a pre-emption, and whether it is the centre's. */
export interface ResumePlan {
  plan: TimingPlan;
  central: boolean;
}

const sameSet = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((m) => b.includes(m));

/**
 * The plan serving `wanted`: `base` with maximum greens raised, plus a built phase when none of
 * its phases carries `wanted`. Null when `wanted` conflicts with itself or the result is refused.
 */
export function preemptionPlan(base: TimingPlan, safety: IntersectionSafety, wanted: readonly number[], version: number, now: number, holdMaxGreen = 600): { plan: TimingPlan; target: number } | null {
  if (wanted.some((m) => m >= safety.n) || conflictingPairs(safety, wanted).length > 0) return null;
  const phases: PlanPhase[] = base.phases.map((p) => ({ ...p, maxGreen: Math.max(p.maxGreen, holdMaxGreen) }));
  let target = -1;
  base.phases.forEach((p, k) => {
    if (wanted.every((x) => p.movements.includes(x)) && (target < 0 || p.movements.length > base.phases[target].movements.length)) target = k;
  });
  if (target < 0) {
    const chosen = [...wanted];
    // Right turns first: they are the most often compatible and cost the cross street least.
    const order = Array.from({ length: safety.n }, (_, k) => k).sort((a, b) => Number(safety.turn[b] === 'turn_right') - Number(safety.turn[a] === 'turn_right') || a - b);
    for (const x of order) if (!chosen.includes(x) && chosen.every((c) => !conflicts(safety, c, x))) chosen.push(x);
    chosen.sort((a, b) => a - b);
    // Never less clearance than the plan itself runs.
    const floor = Math.max(...base.phases.map((p) => p.yellow + p.allRed));
    const clear = phaseClearance(safety, chosen, floor);
    let id = base.phases[0].id;
    let shared = -1;
    for (const p of base.phases) {
      const s = p.movements.filter((x) => chosen.includes(x)).length;
      if (s > shared) [shared, id] = [s, p.id];
    }
    phases.push({ id, movements: chosen, minGreen: MIN_GREEN_FLOOR_S, maxGreen: holdMaxGreen, green: MIN_GREEN_FLOOR_S, yellow: clear.yellow, allRed: clear.allRed });
    target = phases.length - 1;
  }
  const parsed = TimingPlanSchema.safeParse({ ...base, version, control: 'adaptive', validFrom: Math.min(base.validFrom, now), validUntil: null, phases });
  if (!parsed.success || !validatePlan(parsed.data, safety).ok) return null;
  return { plan: parsed.data, target };
}

/** Pre-emption of one intersection at the edge. */
export class EdgePreemption {
  private readonly windows = new Map<string, PreemptionOrder>();
  private readonly released: PreemptionState[] = [];
  private serving: PreemptionOrder | null = null;
  private servedSince = 0;
  private servedVehicle: string | null = null;
  /** Vehicles that held the signal too long: not served again here. */
  private readonly timedOut = new Set<string>();
  private target = -1;
  private targetMovements: number[] | null = null;
  private readonly maxHold: number;
  private readonly holdMaxGreen: number;
  private readonly keepReleased: number;
  /** Windows served, refused (no safe plan), timed out: for reports and tests. */
  readonly counters = { served: 0, refused: 0, timedOut: 0 };

  constructor(
    readonly safety: IntersectionSafety,
    options: EdgePreemptionOptions = {},
  ) {
    this.maxHold = options.maxHold ?? 150;
    this.holdMaxGreen = options.holdMaxGreen ?? 600;
    this.keepReleased = options.keepReleased ?? 20;
  }

  /** Whether a window is being served (the normal plan is set aside). */
  get active(): boolean {
    return this.serving !== null;
  }

  /**
   * Replaces the windows with the centre's current set. Windows for another intersection or
   * naming a movement it does not have are refused (the rest are kept); windows missing from
   * the set are released.
   */
  replace(orders: readonly PreemptionOrder[], now: number): Verdict {
    const reasons: SafetyIssue[] = [];
    const next = new Map<string, PreemptionOrder>();
    for (const o of orders) {
      if (o.intersection !== this.safety.id) reasons.push({ code: 'wrong-intersection', message: `window ${o.id} is for ${o.intersection}, not ${this.safety.id}` });
      else if (o.movements.some((m) => m >= this.safety.n)) reasons.push({ code: 'unknown-movement', message: `window ${o.id}: ${this.safety.id} has ${this.safety.n} movements` });
      else if (conflictingPairs(this.safety, o.movements).length > 0) reasons.push({ code: 'conflicting-greens', message: `window ${o.id} asks for conflicting movements together` });
      else next.set(o.id, o);
    }
    for (const [id, w] of this.windows) if (!next.has(id)) this.remember(w, now);
    this.windows.clear();
    for (const [id, w] of next) this.windows.set(id, w);
    return reasons.length === 0 ? { ok: true } : { ok: false, reasons };
  }

  /**
   * Before the runner's tick: the phase to request while serving a window (null: run normally).
   * `resume` gives the plan to go back to when the window ends.
   */
  beforeTick(runner: IntersectionRunner, now: number, resume: () => ResumePlan): number | null {
    const w = this.current(now);
    if (w && this.serving && this.servedVehicle === w.vehicle && now - this.servedSince >= this.maxHold) {
      // Held too long for this vehicle (it never came, or stopped): let go, and do not take it again.
      this.counters.timedOut++;
      this.timedOut.add(w.vehicle);
      for (const [id, x] of this.windows) if (x.vehicle === w.vehicle) this.remember(x, now, id);
      this.end(runner, now, resume);
      return null;
    }
    if (!w) {
      if (this.serving) this.end(runner, now, resume);
      return null;
    }
    if (!this.serving || this.serving.id !== w.id || !sameSet(this.serving.movements, w.movements)) this.begin(runner, w, now);
    else this.serving = w;
    if (this.target < 0 || !this.targetMovements) return null;
    // Ask for the vehicle's phase once the plan in force has it at that index (after takeover).
    const inForce = runner.machine.plan;
    return this.target < inForce.phases.length && sameSet(inForce.phases[this.target].movements, this.targetMovements) ? this.target : null;
  }

  /** Every window known here, with its state, plus the last released ones. */
  states(now: number, green?: (m: number) => boolean): PreemptionState[] {
    const out: PreemptionState[] = [];
    for (const w of this.windows.values()) {
      const active = this.serving?.id === w.id;
      out.push({
        id: w.id,
        vehicle: w.vehicle,
        intersection: w.intersection,
        start: w.start,
        end: w.end,
        status: active ? 'active' : 'planned',
        green: active && green !== undefined && w.movements.every((m) => green(m)),
      });
    }
    return [...out, ...this.released];
  }

  // ------------------------------------------------------------------------------------------

  /** Among the open windows, the earliest predicted arrival; expired ones are released. */
  private current(now: number): PreemptionOrder | null {
    let best: PreemptionOrder | null = null;
    for (const [id, w] of this.windows) {
      if (now >= w.end || this.timedOut.has(w.vehicle)) {
        this.remember(w, now, id);
        continue;
      }
      if (now >= w.start && (!best || w.eta < best.eta)) best = w;
    }
    return best;
  }

  private remember(w: PreemptionOrder, now: number, id?: string): void {
    if (id !== undefined) this.windows.delete(id);
    this.released.unshift({ id: w.id, vehicle: w.vehicle, intersection: w.intersection, start: w.start, end: Math.min(w.end, now), status: 'released', green: false });
    this.released.length = Math.min(this.released.length, this.keepReleased);
  }

  private begin(runner: IntersectionRunner, w: PreemptionOrder, now: number): void {
    const sameVehicle = this.serving !== null && this.servedVehicle === w.vehicle;
    if (!sameVehicle) {
      this.servedSince = now;
      this.servedVehicle = w.vehicle;
      this.counters.served++;
    }
    this.serving = w;
    const base = runner.machine.plan;
    if (base.phases.every((p) => w.movements.every((x) => p.movements.includes(x)))) {
      // Green in every phase (a permissive right turn): nothing to change.
      this.target = -1;
      this.targetMovements = null;
      return;
    }
    const built = preemptionPlan(base, this.safety, w.movements, base.version + 1, now, this.holdMaxGreen);
    const adopted = built ? runner.offer(built.plan, now, false) : null;
    if (!built || !adopted?.ok) {
      this.counters.refused++;
      this.target = -1;
      this.targetMovements = null;
      return;
    }
    this.target = built.target;
    this.targetMovements = built.plan.phases[built.target].movements;
  }

  private end(runner: IntersectionRunner, now: number, resume: () => ResumePlan): void {
    const hadPlan = this.targetMovements !== null;
    this.serving = null;
    this.servedVehicle = null;
    this.target = -1;
    this.targetMovements = null;
    if (hadPlan) {
      const r = resume();
      runner.offer(r.plan, now, r.central);
    }
  }
}
