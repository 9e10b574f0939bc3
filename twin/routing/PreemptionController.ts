/**
 * Signal pre-emption in the simulation (the engine's external mode): wraps any field signal
 * policy (fixed-time, actuated, max-pressure, …) and, while a pre-emption window is active at an
 * intersection, drives the emergency vehicle's movement to green through that intersection's
 * SignalStateMachine — the same machine, history and validator the normal control uses, so the
 * change runs its yellow and all-red like any other. Otherwise the policy runs as it would
 * under `fieldController`.
 *
 * How a window is served (per intersection):
 *   1. The machine adopts a pre-emption plan: the policy's plan with every phase's maximum green
 *      raised (so the vehicle's green is not maxed out while it is still coming), plus — when no
 *      phase contains the vehicle's movement — one phase built from that movement and every
 *      movement compatible with it, checked by `validatePlan` before use. It takes over at the
 *      machine's next safe boundary (in green, after the minimum green).
 *   2. Every step the controller requests the phase with the vehicle's movement; the machine ends
 *      the current green through yellow and all-red when its minimum green allows.
 *   3. On release (vehicle past, window over, or held too long) the policy's plan is adopted
 *      again and the policy's requests resume.
 * The policy is still asked every step (stateful policies keep counting); its requests and plans
 * are set aside while the window is served (the latest plan is adopted on release).
 *
 * Every step the heads are checked by the shared SignalSafetyMonitor; `report().unsafeStates`
 * must stay 0.
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { Engine } from '../sim/Engine.ts';
import { safetyModels } from '../../signal-controllers/fieldSignals.ts';
import { truthObservation, type ObservationSource, type ObservationSourceFactory } from '../../signal-controllers/observation.ts';
import { phaseClearance, programClearance } from '../../signal-controllers/plans.ts';
import type { SignalPolicy } from '../../signal-controllers/policy.ts';
import { MIN_GREEN_FLOOR_S, SignalSafetyMonitor, conflictingPairs, conflicts, validatePlan, type IntersectionSafety } from '../../signal-controllers/SafetyValidator.ts';
import { SignalStateMachine } from '../../signal-controllers/SignalStateMachine.ts';
import { TimingPlanSchema, type PlanPhase, type TimingPlan } from '../../signal-controllers/TimingPlan.ts';
import type { PreemptionWindow } from './PreemptionWindow.ts';

export interface PreemptionControllerOptions {
  observation?: ObservationSourceFactory;
  /** Longest one vehicle may hold one signal (s). */
  maxHold?: number;
  /** Maximum green of every phase in a pre-emption plan (s). */
  holdMaxGreen?: number;
  /** Off: windows are accepted but never served (the "without pre-emption" run, same code path). */
  enabled?: boolean;
}

export interface PreemptionReport {
  unsafeStates: number;
  phaseSwitches: number;
  refusedPlans: number;
  refusedChanges: number;
  /** Windows that took control of a signal. */
  served: number;
  /** Windows needing nothing (the movement is green in every phase). */
  alwaysGreen: number;
  /** Windows let go because they were held too long. */
  timedOut: number;
  warnings: string[];
}

interface Site {
  intersection: number;
  safety: IntersectionSafety;
  machine: SignalStateMachine | null;
  /** Latest plan of the policy, with our version numbering. */
  policyPlan: TimingPlan;
  version: number;
  /** Window served now, the plan phase it needs, the plan carrying it. */
  serving: PreemptionWindow | null;
  servedSince: number;
  target: number;
  preemptVersion: number;
  /** Phases of the pre-emption plan (null when none is adopted). */
  preemptPhases: PlanPhase[] | null;
  heads: Uint8Array;
  shownBySet: Map<string, number>;
}

const sameSet = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((m) => b.includes(m));

export class PreemptionController {
  readonly signalMode = 'external' as const;
  private readonly models: Map<number, IntersectionSafety>;
  private readonly monitor: SignalSafetyMonitor;
  private readonly sites: Site[];
  private readonly siteOf: Map<number, number>;
  private source: ObservationSource | null = null;
  /** Windows by intersection index, then by id. */
  private readonly windows = new Map<number, Map<string, PreemptionWindow>>();
  private readonly maxHold: number;
  private readonly holdMaxGreen: number;
  private readonly makeSource: ObservationSourceFactory;
  readonly enabled: boolean;
  private refusedPlans = 0;
  private served = 0;
  private alwaysGreen = 0;
  private timedOut = 0;
  private readonly warnings: string[];

  constructor(
    private readonly net: RoadNetwork,
    private readonly policy: SignalPolicy,
    options: PreemptionControllerOptions = {},
  ) {
    this.models = safetyModels(net);
    this.monitor = new SignalSafetyMonitor(net, [...this.models.values()]);
    this.maxHold = options.maxHold ?? 150;
    this.holdMaxGreen = options.holdMaxGreen ?? 600;
    this.makeSource = options.observation ?? truthObservation;
    this.enabled = options.enabled ?? true;
    this.warnings = [...policy.warnings];
    this.sites = policy.controllers.map((c) => {
      const shownBySet = new Map<string, number>();
      for (const p of net.intersections[c.intersection].phases) {
        const key = [...p.movements].sort((a, b) => a - b).join(',');
        if (!shownBySet.has(key)) shownBySet.set(key, p.index);
      }
      return {
        intersection: c.intersection,
        safety: this.models.get(c.intersection)!,
        machine: null,
        policyPlan: c.plan,
        version: c.plan.version,
        serving: null,
        servedSince: 0,
        target: -1,
        preemptVersion: -1,
        preemptPhases: null,
        heads: new Uint8Array(net.intersections[c.intersection].movements.length),
        shownBySet,
      };
    });
    this.siteOf = new Map(this.sites.map((s, k) => [s.intersection, k]));
  }

  /** Adds or replaces windows (by id): the planner re-issues them as the ETA is updated. */
  upsertWindows(ws: readonly PreemptionWindow[]): void {
    for (const w of ws) {
      let m = this.windows.get(w.intersectionIndex);
      if (!m) this.windows.set(w.intersectionIndex, (m = new Map()));
      m.set(w.id, w);
    }
  }

  /** Drops a window (the vehicle has passed, or its route changed). */
  releaseWindow(id: string): void {
    for (const m of this.windows.values()) m.delete(id);
  }

  /** Drops every window of a vehicle. */
  releaseVehicle(vehicle: string): void {
    for (const m of this.windows.values()) for (const [id, w] of m) if (w.vehicle === vehicle) m.delete(id);
  }

  /** Windows still held (planned or being served). */
  pendingWindows(): PreemptionWindow[] {
    return [...this.windows.values()].flatMap((m) => [...m.values()]);
  }

  /** The window an intersection serves at `now`: among those open, the earliest predicted arrival. */
  activeWindow(intersection: number, now: number): PreemptionWindow | null {
    const m = this.windows.get(intersection);
    if (!m) return null;
    let best: PreemptionWindow | null = null;
    for (const [id, w] of m) {
      if (now >= w.end) {
        m.delete(id);
        continue;
      }
      if (now >= w.start && (!best || w.eta < best.eta)) best = w;
    }
    return best;
  }

  /** Whether local movement `m` of `intersection` is green on the heads now. */
  isGreen(engine: Engine, intersection: number, m: number): boolean {
    return engine.lights.movementGreen[this.net.intersections[intersection].movements[m]] === 1;
  }

  beforeStep(engine: Engine): void {
    const now = engine.time;
    if (!this.source) {
      this.source = this.makeSource(engine, this.policy.observationWindow);
      this.sites.forEach((s, k) => {
        s.machine = new SignalStateMachine(s.safety, this.policy.controllers[k].plan, now, {
          startupAllRed: this.policy.startupAllRed ?? 0,
          keepOnChange: this.policy.keepOnChange ?? 'shared',
        });
      });
    }
    const obs = this.source.observe();
    for (let k = 0; k < this.sites.length; k++) {
      const s = this.sites[k];
      const m = s.machine!;
      const d = this.policy.controllers[k].decide(obs, now, m.view());
      if (d?.plan) s.policyPlan = { ...d.plan, version: d.plan.version };
      const w = this.enabled ? this.activeWindow(s.intersection, now) : null;
      if (w && s.serving && now - s.servedSince >= this.maxHold && s.serving.vehicle === w.vehicle) {
        // Held too long for this vehicle: let go, and do not take it again.
        this.timedOut++;
        this.releaseVehicleAt(s.intersection, w.vehicle);
        this.endPreemption(s, now);
      } else if (w) {
        if (!s.serving || s.serving.id !== w.id) this.beginPreemption(s, w, now);
        else s.serving = w;
        if (s.target >= 0 && s.preemptPhases) {
          // Ask for the vehicle's phase as soon as the plan in force has it at that index
          // (at once for a phase of the policy's plan, after the takeover for a built one).
          const inForce = m.plan;
          if (s.target < inForce.phases.length && sameSet(inForce.phases[s.target].movements, s.preemptPhases[s.target].movements)) m.request(s.target, now);
        } else {
          // Nothing to pre-empt here (always green, or no safe phase): the policy runs on.
          if (d?.plan) this.adoptPolicyPlan(s, d.plan, now);
          if (d?.request !== undefined && d.request !== null) m.request(d.request, now);
        }
      } else {
        if (s.serving) this.endPreemption(s, now);
        if (d?.plan) this.adoptPolicyPlan(s, d.plan, now);
        if (d?.request !== undefined && d.request !== null) m.request(d.request, now);
      }
      m.advance(now);
      this.apply(engine, s);
    }
    this.monitor.check(engine.lights.movementGreen, now);
  }

  afterStep(): void {
    this.source?.update();
  }

  report(): PreemptionReport {
    const machines = this.sites.map((s) => s.machine).filter((m): m is SignalStateMachine => m !== null);
    const refusedChanges = machines.reduce((a, m) => a + m.refusedChanges, 0);
    return {
      unsafeStates: this.monitor.unsafeStates,
      phaseSwitches: machines.reduce((a, m) => a + m.switches, 0),
      refusedPlans: this.refusedPlans,
      refusedChanges,
      served: this.served,
      alwaysGreen: this.alwaysGreen,
      timedOut: this.timedOut,
      warnings: [
        ...this.warnings,
        ...(refusedChanges > 0 ? [`the validator refused ${refusedChanges} light changes of the state machines`] : []),
        ...(this.monitor.unsafeStates > 0 ? [`unsafe signal states: ${this.monitor.examples.join(' | ')}`] : []),
      ],
    };
  }

  // ------------------------------------------------------------------------------------------

  private releaseVehicleAt(intersection: number, vehicle: string): void {
    const m = this.windows.get(intersection);
    if (m) for (const [id, w] of m) if (w.vehicle === vehicle) m.delete(id);
  }

  private beginPreemption(s: Site, w: PreemptionWindow, now: number): void {
    const m = s.machine!;
    const sameVehicle = s.serving !== null && s.serving.vehicle === w.vehicle;
    const since = sameVehicle ? s.servedSince : now;
    if (s.serving) this.endPreemption(s, now);
    s.servedSince = since;
    const base = s.policyPlan;
    const wanted = w.movements;
    if (base.phases.every((p) => wanted.every((x) => p.movements.includes(x)))) {
      // Green in every phase (e.g. a permissive right turn): nothing to pre-empt.
      if (!sameVehicle) this.alwaysGreen++;
      s.serving = w;
      s.target = -1;
      return;
    }
    const view = m.view();
    const current = view.phase >= 0 && view.phase < base.phases.length ? view.phase : -1;
    let target = current >= 0 && wanted.every((x) => base.phases[current].movements.includes(x)) ? current : -1;
    if (target < 0) {
      // Of the phases serving the movement, the one showing the most movements.
      let best = -1;
      base.phases.forEach((p, k) => {
        if (wanted.every((x) => p.movements.includes(x)) && (best < 0 || p.movements.length > base.phases[best].movements.length)) best = k;
      });
      target = best;
    }
    const phases: PlanPhase[] = base.phases.map((p) => ({ ...p, maxGreen: Math.max(p.maxGreen, this.holdMaxGreen) }));
    if (target < 0) {
      const built = this.buildPhase(s, wanted);
      if (!built) {
        this.refusedPlans++;
        if (this.warnings.length < 20) this.warnings.push(`${s.safety.id}: no safe phase for movement(s) ${wanted.join(',')}; not pre-empted`);
        s.serving = w;
        s.target = -1;
        return;
      }
      phases.push(built);
      target = phases.length - 1;
    }
    const version = ++s.version;
    const candidate = {
      ...base,
      version,
      control: 'adaptive' as const,
      validFrom: Math.min(base.validFrom, now),
      validUntil: null,
      phases,
    };
    const parsed = TimingPlanSchema.safeParse(candidate);
    const verdict = parsed.success ? validatePlan(parsed.data, s.safety) : { ok: false as const, reasons: [] };
    if (!parsed.success || !verdict.ok) {
      this.refusedPlans++;
      if (this.warnings.length < 20) this.warnings.push(`${s.safety.id}: pre-emption plan refused by the validator`);
      s.serving = w;
      s.target = -1;
      return;
    }
    const adopted = m.adopt(parsed.data, now);
    if (!adopted.ok) {
      this.refusedPlans++;
      if (this.warnings.length < 20) this.warnings.push(`${s.safety.id}: pre-emption plan not adopted: ${adopted.reasons.map((r) => r.message).join('; ')}`);
    }
    s.preemptPhases = phases;
    s.preemptVersion = version;
    if (!sameVehicle) this.served++;
    s.serving = w;
    s.target = target;
  }

  /** The vehicle's movements plus every movement compatible with them (right turns first), as a plan phase. */
  private buildPhase(s: Site, wanted: readonly number[]): PlanPhase | null {
    const sf = s.safety;
    if (conflictingPairs(sf, wanted).length > 0) return null;
    const chosen = [...wanted];
    const order = Array.from({ length: sf.n }, (_, k) => k).sort((a, b) => Number(sf.turn[b] === 'turn_right') - Number(sf.turn[a] === 'turn_right') || a - b);
    for (const x of order) {
      if (chosen.includes(x)) continue;
      if (chosen.every((c) => !conflicts(sf, c, x))) chosen.push(x);
    }
    chosen.sort((a, b) => a - b);
    const inter = this.net.intersections[s.intersection];
    const clear = phaseClearance(sf, chosen, programClearance(inter));
    // The roadnet phase shown for it: the one sharing most movements.
    let id = 0;
    let bestShared = -1;
    for (const p of inter.phases) {
      const shared = p.movements.filter((x) => chosen.includes(x)).length;
      if (shared > bestShared) {
        bestShared = shared;
        id = p.index;
      }
    }
    return { id, movements: chosen, minGreen: MIN_GREEN_FLOOR_S, maxGreen: this.holdMaxGreen, green: MIN_GREEN_FLOOR_S, yellow: clear.yellow, allRed: clear.allRed };
  }

  private endPreemption(s: Site, now: number): void {
    s.serving = null;
    s.target = -1;
    if (s.preemptVersion >= 0) this.adoptPolicyPlan(s, s.policyPlan, now);
    s.preemptVersion = -1;
    s.preemptPhases = null;
  }

  private adoptPolicyPlan(s: Site, plan: TimingPlan, now: number): void {
    const version = ++s.version;
    const v = s.machine!.adopt({ ...plan, version, validFrom: Math.min(plan.validFrom, now) }, now);
    if (!v.ok) {
      this.refusedPlans++;
      if (this.warnings.length < 20) this.warnings.push(`plan refused at t=${now}: ${v.reasons.map((r) => r.message).join('; ')}`);
    }
    s.policyPlan = plan;
  }

  private apply(engine: Engine, s: Site): void {
    const m = s.machine!;
    const h = s.heads;
    const greens: number[] = [];
    m.forEachGreen((mv, g) => {
      h[mv] = g ? 1 : 0;
      if (g) greens.push(mv);
    });
    const v = m.view();
    const shown = v.interval === 'green' ? m.plan.phases[v.phase].id : (s.shownBySet.get(greens.join(',')) ?? engine.phaseOf(s.intersection));
    engine.lights.setMovements(s.intersection, h, shown);
  }
}
