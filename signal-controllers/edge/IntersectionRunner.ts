/**
 * What an edge controller runs for one intersection: the signal state machine on the plan in
 * force, driven by the plan's cycle clock (fixed-time, with its offset: coordination) or by a
 * local policy (actuated/adaptive plans, when the edge has one), and the signal state it reports
 * (SPaT). Deterministic; time is an argument.
 */
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { scheduledPhase } from '../plans.ts';
import type { IntersectionController } from '../policy.ts';
import { validatePlan, type IntersectionSafety, type Verdict } from '../SafetyValidator.ts';
import { SignalStateMachine, type LightLetter } from '../SignalStateMachine.ts';
import type { TimingPlan } from '../TimingPlan.ts';

export interface RunnerState {
  intersection: string;
  /** Roadnet phase index showing (during a change, the phase being left; -1 before the first green). */
  phase: number;
  interval: 'green' | 'change';
  movements: string;
  timeToChange: number;
  /** Version of the central plan running, null when running a local plan. */
  planVersion: number | null;
}

export class IntersectionRunner {
  readonly machine: SignalStateMachine;
  private readonly heads: Uint8Array;
  /**
   * The machine only moves to higher plan versions; central and local (fallback) plans share it,
   * so the edge numbers the plans it adopts itself and remembers which central version runs.
   */
  private localVersion = 0;
  private centralVersion: number | null = null;
  /** The local version of the plan queued in the machine, and the central version it carries. */
  private queuedLocal = -1;
  private queuedCentral: number | null = null;

  constructor(
    readonly safety: IntersectionSafety,
    initialPlan: TimingPlan,
    now: number,
    /** Local policy for actuated/adaptive plans (reads the edge's own observation). */
    private local?: IntersectionController,
  ) {
    this.machine = new SignalStateMachine(safety, { ...initialPlan, version: 0 }, now, { startupAllRed: 0 });
    this.heads = new Uint8Array(safety.n);
  }

  get plan(): TimingPlan {
    return this.machine.plan;
  }

  /**
   * Offers a plan: checked again with the shared validator here at the edge, then queued to take
   * over at the next safe boundary. A refused plan changes nothing.
   */
  offer(plan: TimingPlan, now: number, central: boolean): Verdict {
    const v = validatePlan(plan, this.safety);
    if (!v.ok) return v;
    const r = this.machine.adopt({ ...plan, version: this.localVersion + 1 }, now);
    if (r.ok) {
      this.localVersion++;
      this.queuedCentral = central ? plan.version : null;
      this.queuedLocal = this.localVersion;
    }
    return r;
  }

  /** Central version of the plan in force (once a queued plan has taken over). */
  private syncVersion(): void {
    if (this.machine.plan.version === this.queuedLocal) {
      this.centralVersion = this.queuedCentral;
      this.queuedLocal = -1;
    }
  }

  setLocalPolicy(local: IntersectionController | undefined): void {
    this.local = local;
  }

  /**
   * Decides what to ask for and advances the lights to `now`. `preempt` (a pre-emption's phase,
   * see Preemption.ts) replaces the plan's own choice; the machine still runs every clearance.
   */
  tick(now: number, obs?: TrafficObservation, preempt: number | null = null): void {
    const plan = this.machine.plan;
    let want: number | null = null;
    if (preempt !== null) {
      want = preempt;
    } else if (plan.control !== 'fixed-time' && this.local && obs) {
      const d = this.local.decide(obs, now, this.machine.view());
      if (d?.plan) this.offer(d.plan, now, false);
      want = d?.request ?? null;
    } else {
      want = scheduledPhase(plan, now);
    }
    if (want !== null) this.machine.request(want, now);
    this.machine.advance(now);
    this.syncVersion();
  }

  /** 1 where the movement (local index) may go now. */
  available(): Uint8Array {
    this.machine.forEachGreen((m, g) => (this.heads[m] = g ? 1 : 0));
    return this.heads;
  }

  /** The roadnet phase id shown now (for displays), -1 before the first green. */
  shownPhase(): number {
    const v = this.machine.view();
    return v.phase >= 0 ? this.machine.plan.phases[v.phase].id : -1;
  }

  state(now: number): RunnerState {
    const v = this.machine.view();
    const spat = this.machine.spat(now);
    let letters = '';
    let ttc = Infinity;
    for (const s of spat) {
      letters += s.state satisfies LightLetter;
      if (s.minTimeToChange !== null) ttc = Math.min(ttc, s.minTimeToChange);
    }
    return {
      intersection: this.safety.id,
      phase: this.shownPhase(),
      interval: v.interval,
      movements: letters,
      timeToChange: Number.isFinite(ttc) ? Math.round(ttc * 10) / 10 : 0,
      planVersion: this.centralVersion,
    };
  }
}
