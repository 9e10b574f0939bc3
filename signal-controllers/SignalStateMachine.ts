/**
 * The signal state machine of one intersection: green → yellow → all-red → next green, on a
 * timing plan. Deterministic; time is an argument and must not go backwards.
 *
 * - `request(phase)` asks for a phase. It is honoured once the phase now green has had its
 *   minimum green; the machine then ends the green of the movements the new phase does not keep
 *   (yellow, then all-red) and starts the new phase's movements once the validator accepts it,
 *   i.e. once every conflicting movement has run its yellow and all-red. Movements in both
 *   phases stay green. A request made during a change is kept for after the next minimum green.
 * - At the phase's maximum green the machine moves on to the next phase in the sequence by
 *   itself (max-out), whatever is requested.
 * - `adopt(plan)` queues a new plan; it replaces the plan in force at the next safe boundary
 *   (in green, after the minimum green), as the validator decides.
 * - Every change of lights is checked with `checkSignalState`; a state the validator refuses is
 *   never shown (the machine holds its lights instead and counts the refusal — a bug guard).
 * - `spat(now)` gives each movement's light and its time to change (SPaT).
 */
import {
  GREEN,
  RED,
  YELLOW,
  isSignalStateSafe,
  newSignalHistory,
  recordSignalState,
  validatePlan,
  validatePlanChange,
  verdictOf,
  type IntersectionSafety,
  type Light,
  type SafetyIssue,
  type SignalHistory,
  type StateRules,
  type Verdict,
} from './SafetyValidator.ts';
import { nextInSequence, type TimingPlan } from './TimingPlan.ts';

const EPS = 1e-9;

export type Interval = 'green' | 'change';

/** What a control policy sees of its own signal. */
export interface SignalView {
  planVersion: number;
  /** Plan phase index now green, or last green during a change; -1 before the first green. */
  phase: number;
  /** Phase being changed to (= phase when in green). */
  target: number;
  interval: Interval;
  /** Start of the current green (s); NaN before the first green. */
  greenStart: number;
  /** Pending request, if any. */
  requested: number | null;
}

export type LightLetter = 'G' | 'Y' | 'R';

export interface MovementSpat {
  movement: number;
  state: LightLetter;
  /** Earliest and latest time until the light changes (s); null when not determined yet. */
  minTimeToChange: number | null;
  maxTimeToChange: number | null;
}

export interface MachineOptions {
  /** Plan phase to start with (default: the first of the sequence). */
  initialPhase?: number;
  /** All-red at start-up (s) before the first conflicting green; 0 = start green at once. */
  startupAllRed?: number;
  /**
   * Which movements stay green through a change: `shared` = those in both phases (default);
   * `every-phase` = only those green in every phase of the plan, i.e. every change shows the
   * clearance phase (the CityFlow benchmark protocol: phase 0 on every change).
   */
  keepOnChange?: 'shared' | 'every-phase';
}

export class PlanRefusedError extends Error {
  constructor(readonly reasons: SafetyIssue[]) {
    super(`timing plan refused: ${reasons.map((r) => r.message).join('; ')}`);
    this.name = 'PlanRefusedError';
  }
}

const LETTER: LightLetter[] = ['R', 'Y', 'G'];

export class SignalStateMachine {
  private planInForce: TimingPlan;
  private pending: TimingPlan | null = null;
  private readonly history: SignalHistory;
  private readonly lights: Uint8Array;
  private readonly candidate: Uint8Array;
  private readonly yellowEnd: Float64Array;
  /** Clearance (yellow + all-red) each movement owes when its green ends, from the phase it is in. */
  private readonly clearance: Float64Array;
  private readonly allRed: Float64Array;
  private readonly minGreen: Float64Array;
  private readonly rules: StateRules;
  private readonly keepEveryPhase: boolean;
  private phase = -1;
  private target = -1;
  private interval: Interval = 'change';
  private greenStart = Number.NaN;
  private requested: number | null = null;
  private lastTime = -Infinity;
  private hadGreen = false;
  /** Phase changes to a different green phase so far. */
  switches = 0;
  /** Changes the validator refused (should stay 0; a non-zero count is a bug in this class). */
  refusedChanges = 0;

  constructor(
    readonly safety: IntersectionSafety,
    plan: TimingPlan,
    now: number,
    options: MachineOptions = {},
  ) {
    const v = validatePlan(plan, safety);
    if (!v.ok) throw new PlanRefusedError(v.reasons);
    this.planInForce = plan;
    const n = safety.n;
    this.history = newSignalHistory(n);
    this.lights = new Uint8Array(n);
    this.candidate = new Uint8Array(n);
    this.yellowEnd = new Float64Array(n);
    this.clearance = Float64Array.from(safety.requiredYellow, (y, k) => y + safety.requiredAllRed[k]);
    this.allRed = Float64Array.from(safety.requiredAllRed);
    this.minGreen = new Float64Array(n);
    this.rules = { clearance: this.clearance, allRed: this.allRed, minGreen: this.minGreen, yellow: true };
    this.keepEveryPhase = options.keepOnChange === 'every-phase';
    this.target = options.initialPhase ?? plan.sequence[0];
    if (!(this.target >= 0 && this.target < plan.phases.length)) throw new RangeError(`plan has no phase ${options.initialPhase}`);
    // Start-up all-red: nothing may start green before it ends (movements without conflicts aside).
    if ((options.startupAllRed ?? 0) > 0) this.history.clearUntil.fill(now + (options.startupAllRed ?? 0));
    this.lastTime = now;
    this.advance(now);
  }

  get plan(): TimingPlan {
    return this.planInForce;
  }

  view(): SignalView {
    return {
      planVersion: this.planInForce.version,
      phase: this.phase,
      target: this.target,
      interval: this.interval,
      greenStart: this.greenStart,
      requested: this.requested,
    };
  }

  /** The light of local movement m now: 0 red, 1 yellow, 2 green. */
  light(m: number): Light {
    return this.lights[m] as Light;
  }

  /** Whether each local movement may go now (green); yellow and all-red are not "go". */
  forEachGreen(fn: (movement: number, green: boolean) => void): void {
    for (let m = 0; m < this.lights.length; m++) fn(m, this.lights[m] === GREEN);
  }

  /** Asks for plan phase `phase`; refused only if the plan has no such phase. */
  request(phase: number, now: number): Verdict {
    this.checkTime(now);
    if (!Number.isInteger(phase) || phase < 0 || phase >= this.planInForce.phases.length)
      return verdictOf([{ code: 'unknown-phase', message: `${this.safety.id}: plan v${this.planInForce.version} has no phase ${phase}` }]);
    this.requested = phase;
    return { ok: true };
  }

  /** Queues a new plan (checked now and again at the boundary where it takes over). */
  adopt(plan: TimingPlan, now: number): Verdict {
    this.checkTime(now);
    // Checked as if at a boundary: the boundary itself is awaited, not a reason to refuse.
    const v = validatePlanChange(this.safety, this.planInForce, plan, now, { inGreen: true, greenElapsed: Infinity, minGreen: 0 });
    if (v.ok) this.pending = plan;
    return v;
  }

  /** Brings the machine to time `now`, making every change that is due. */
  advance(now: number): void {
    this.checkTime(now);
    this.lastTime = now;
    // 1. Yellows that have run their time turn red (the all-red runs on in `clearUntil`).
    for (let m = 0; m < this.lights.length; m++) {
      if (this.lights[m] === YELLOW && now >= this.yellowEnd[m] - EPS) this.candidate[m] = RED;
      else this.candidate[m] = this.lights[m];
    }
    this.commitIfSafe(now);

    if (this.interval === 'green') this.leaveGreenIfDue(now);
    // 4. Start the target phase as soon as the validator accepts it.
    if (this.interval === 'change') this.tryStartTarget(now);
  }

  private leaveGreenIfDue(now: number): void {
    const elapsed = now - this.greenStart;
    // 2. A queued plan takes over at a safe boundary.
    if (this.pending) {
      const cur = this.planInForce.phases[this.phase];
      const v = validatePlanChange(this.safety, this.planInForce, this.pending, now, { inGreen: true, greenElapsed: elapsed, minGreen: cur.minGreen });
      if (v.ok) {
        this.takeOver(this.pending, now);
        if (this.phase < 0) return; // changing to the new plan's first phase
      } else if (v.reasons.some((r) => r.code !== 'plan-boundary')) this.pending = null;
    }
    const p = this.planInForce;
    const phaseNow = p.phases[this.phase];
    // 3. Leave the green on request (after min green) or at max green.
    let want = this.requested ?? this.phase;
    if (want === this.phase && elapsed >= phaseNow.maxGreen - EPS && p.sequence.length > 1) want = nextInSequence(p, this.phase);
    if (want === this.phase) this.requested = null;
    if (want !== this.phase && elapsed >= phaseNow.minGreen - EPS) this.beginChange(want, now);
  }

  /** Each movement's light and time to change at `now` (call after `advance(now)`). */
  spat(now: number): MovementSpat[] {
    const p = this.planInForce;
    const out: MovementSpat[] = [];
    for (let m = 0; m < this.lights.length; m++) {
      const l = this.lights[m];
      let min: number | null = null;
      let max: number | null = null;
      if (l === YELLOW) min = max = Math.max(0, this.yellowEnd[m] - now);
      else if (l === GREEN && this.interval === 'green') {
        const ph = p.phases[this.phase];
        const minEnd = Math.max(0, this.greenStart + ph.minGreen - now);
        const stays = this.requested === null || p.phases[this.requested].movements.includes(m);
        // A pending request ends this green at the minimum green; otherwise max-out bounds it.
        min = minEnd;
        max = stays ? Math.max(minEnd, this.greenStart + ph.maxGreen - now) : minEnd;
      } else if (l === RED && this.interval === 'change' && p.phases[this.target].movements.includes(m)) {
        let until = now;
        for (const c of this.safety.conflictsOf[m]) until = Math.max(until, this.history.clearUntil[c]);
        min = max = Math.max(0, until - now);
      }
      out.push({ movement: m, state: LETTER[l], minTimeToChange: min, maxTimeToChange: max });
    }
    return out;
  }

  private checkTime(now: number): void {
    if (!Number.isFinite(now)) throw new RangeError(`time must be finite, got ${now}`);
    if (now < this.lastTime - EPS) throw new RangeError(`time went backwards: ${now} < ${this.lastTime}`);
  }

  private takeOver(plan: TimingPlan, now: number): void {
    const old = this.planInForce.phases[this.phase];
    const sameSet = (ms: readonly number[]) => plan.phases.findIndex((p) => p.movements.length === ms.length && p.movements.every((m) => ms.includes(m)));
    const same = sameSet(old.movements);
    // A pending request carries over to the new plan's phase with the same movements, if any.
    const carried = this.requested === null ? -1 : sameSet(this.planInForce.phases[this.requested].movements);
    this.pending = null;
    this.requested = null;
    if (same >= 0) {
      // The same green continues under the new plan.
      this.planInForce = plan;
      this.phase = this.target = same;
      this.requested = carried >= 0 ? carried : null;
      this.setPhaseRules(same);
      return;
    }
    // Otherwise change to the new plan's first phase; the green ending now owes the old plan's
    // yellow and all-red (its movements' clearance was set from the old phase).
    const first = plan.phases[plan.sequence[0]];
    if (this.endGreens(first.movements, old.yellow, now)) {
      this.planInForce = plan;
      this.phase = -1;
      this.target = plan.sequence[0];
      this.interval = 'change';
    }
  }

  private beginChange(to: number, now: number): void {
    const p = this.planInForce;
    const next = p.phases[to].movements;
    const keep = this.keepEveryPhase ? next.filter((m) => p.phases.every((ph) => ph.movements.includes(m))) : next;
    if (this.endGreens(keep, p.phases[this.phase].yellow, now)) {
      this.interval = 'change';
      this.target = to;
      if (this.requested === to) this.requested = null;
    }
  }

  /** Movements green now and not in `keep` go yellow for `yellow` s; false if the validator refuses. */
  private endGreens(keep: readonly number[], yellow: number, now: number): boolean {
    for (let m = 0; m < this.lights.length; m++) {
      this.candidate[m] = this.lights[m];
      if (this.lights[m] === GREEN && !keep.includes(m)) {
        this.candidate[m] = YELLOW;
        this.yellowEnd[m] = now + yellow;
      }
    }
    return this.commitIfSafe(now);
  }

  private tryStartTarget(now: number): void {
    const ph = this.planInForce.phases[this.target];
    for (let m = 0; m < this.lights.length; m++) this.candidate[m] = this.lights[m];
    for (const m of ph.movements) this.candidate[m] = GREEN;
    // Not yet if the validator refuses it: a conflicting movement is still clearing.
    if (!isSignalStateSafe(this.safety, this.history, this.candidate, now, this.rules)) return;
    this.setPhaseRules(this.target);
    this.record(now);
    if (this.hadGreen && this.phase !== this.target) this.switches++;
    this.hadGreen = true;
    this.phase = this.target;
    this.interval = 'green';
    this.greenStart = now;
    if (this.requested === this.target) this.requested = null;
  }

  /** The clearance and minimum green the movements of plan phase k owe while it is green. */
  private setPhaseRules(k: number): void {
    const ph = this.planInForce.phases[k];
    for (const m of ph.movements) {
      this.clearance[m] = ph.yellow + ph.allRed;
      this.allRed[m] = ph.allRed;
      this.minGreen[m] = ph.minGreen;
    }
  }

  private commitIfSafe(now: number): boolean {
    let changed = false;
    for (let m = 0; m < this.lights.length; m++) if (this.candidate[m] !== this.lights[m]) changed = true;
    if (!changed) return true;
    if (!isSignalStateSafe(this.safety, this.history, this.candidate, now, this.rules)) {
      this.refusedChanges++;
      return false;
    }
    this.record(now);
    return true;
  }

  private record(now: number): void {
    recordSignalState(this.history, this.candidate, now, this.rules);
    this.lights.set(this.candidate);
  }
}
