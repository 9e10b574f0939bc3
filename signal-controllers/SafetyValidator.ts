/**
 * The one safety validator. Everything that changes a signal asks it: the centre before it
 * publishes a plan, every edge controller before it applies one, the signal state machine before
 * every change of lights, and the simulation's monitor, which counts unsafe states on every step.
 *
 * Which conflicts are tolerated (may be green together)? Conflicts come from the lane-link
 * geometry (`movementConflicts`: links that cross or merge; diverging links never conflict).
 *   - A conflict with a right turn is tolerated. Right turns are permissive: the driver yields to
 *     everything at the conflict point (in the model the right turn has the lowest priority and
 *     yields at the merge), which is how every phase of the CityFlow benchmarks keeps all four
 *     right turns green. In the benchmark geometry a right turn even "crosses" the straight it
 *     merges with, because both fan out over all exit lanes; it is still a merge in traffic terms.
 *   - Movements from the same approach road are tolerated: they leave side by side and diverge.
 *   - Any other crossing or merging pair — straight and left movements of different approaches —
 *     is never green together: no permissive lefts, no two streams into one exit on green.
 * Yellow counts as green for conflicts (vehicles still enter on yellow).
 *
 * Rules on changes: a movement's green ends through its yellow (where yellow exists), lasts at
 * least its minimum green, never goes yellow → green, and a movement may start green only when
 * every conflicting movement has finished its yellow and all-red since it was last green, and a
 * movement whose green has ended runs its own yellow and all-red before it is served again.
 * Plans change only at a safe boundary: in green, after the current phase's minimum green.
 */
import { movementConflicts, type ConflictKind, type RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { TurnType } from '../twin/network/cityflowFormat.ts';
import { DESIGN_VEHICLE_LENGTH, YELLOW_MAX_S, requiredClearance } from './clearance.ts';
import { TimingPlanSchema, plannedCycle, shortestCycle, type TimingPlan } from './TimingPlan.ts';

/** Below this no green is safe: drivers and pedestrians need time to react to the start of green. */
export const MIN_GREEN_FLOOR_S = 5;
const EPS = 1e-9;

export type SafetyCode =
  | 'structure'
  | 'wrong-intersection'
  | 'unknown-movement'
  | 'conflicting-greens'
  | 'min-green'
  | 'yellow-short'
  | 'yellow-long'
  | 'all-red-short'
  | 'cycle'
  | 'no-yellow'
  | 'yellow-to-green'
  | 'no-clearance'
  | 'plan-version'
  | 'plan-validity'
  | 'plan-boundary'
  | 'unknown-phase';

export interface SafetyIssue {
  code: SafetyCode;
  message: string;
}

export type Verdict = { ok: true } | { ok: false; reasons: SafetyIssue[] };

export function verdictOf(reasons: SafetyIssue[]): Verdict {
  return reasons.length === 0 ? { ok: true } : { ok: false, reasons };
}

/** Why a conflicting pair may be green together, or null when it may not. */
export function toleratedConflict(a: { type: TurnType; fromRoad: number }, b: { type: TurnType; fromRoad: number }): string | null {
  if (a.type === 'turn_right' || b.type === 'turn_right') return 'right turns are permissive and yield at the conflict point';
  if (a.fromRoad === b.fromRoad) return 'movements of one approach diverge';
  return null;
}

/** What the validator knows about one signalised intersection, derived once from the network. */
export interface IntersectionSafety {
  /** Network intersection index and id. */
  index: number;
  id: string;
  /** Number of movements (local indices 0..n-1). */
  n: number;
  turn: TurnType[];
  fromRoad: number[];
  /** n×n, row-major: 1 where the two movements must never be green together. */
  conflict: Uint8Array;
  /** n×n: the geometric kind of each conflict (tolerated ones included), for reasons. */
  kind: (ConflictKind | null)[];
  /** Conflicting movements of each movement (the non-tolerated ones). */
  conflictsOf: number[][];
  /** ITE yellow and all-red for each movement's approach (s). */
  requiredYellow: Float64Array;
  requiredAllRed: Float64Array;
  /** Global movement index of each local one. */
  globalMovement: Int32Array;
}

export interface SafetyModelOptions {
  grade?: number;
  vehicleLength?: number;
}

export function intersectionSafety(net: RoadNetwork, index: number, opts: SafetyModelOptions = {}): IntersectionSafety {
  const inter = net.intersections[index];
  const n = inter.movements.length;
  const mv = inter.movements.map((g) => net.movements[g]);
  const geo = movementConflicts(net, index);
  const conflict = new Uint8Array(n * n);
  const kind: (ConflictKind | null)[] = new Array(n * n).fill(null);
  const conflictsOf: number[][] = Array.from({ length: n }, () => []);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      const k = geo[a][b];
      kind[a * n + b] = k;
      if (a !== b && k !== null && toleratedConflict(mv[a], mv[b]) === null) {
        conflict[a * n + b] = 1;
        conflictsOf[a].push(b);
      }
    }
  }
  const requiredYellow = new Float64Array(n);
  const requiredAllRed = new Float64Array(n);
  mv.forEach((m, k) => {
    // Approach speed: the fastest lane the movement starts from (its speed limit).
    let speed = 0;
    for (const l of m.laneLinks) speed = Math.max(speed, net.lanes[net.laneLinks[l].fromLane].maxSpeed);
    const c = requiredClearance({
      speed: speed > 0 ? speed : 1,
      grade: opts.grade ?? 0,
      intersectionWidth: inter.width,
      vehicleLength: opts.vehicleLength ?? DESIGN_VEHICLE_LENGTH,
    });
    requiredYellow[k] = c.yellow;
    requiredAllRed[k] = c.allRed;
  });
  return {
    index,
    id: inter.id,
    n,
    turn: mv.map((m) => m.type),
    fromRoad: mv.map((m) => m.fromRoad),
    conflict,
    kind,
    conflictsOf,
    requiredYellow,
    requiredAllRed,
    globalMovement: Int32Array.from(inter.movements),
  };
}

export function conflicts(s: IntersectionSafety, a: number, b: number): boolean {
  return s.conflict[a * s.n + b] === 1;
}

/** Non-tolerated conflicting pairs within a set of movements. */
export function conflictingPairs(s: IntersectionSafety, movements: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let x = 0; x < movements.length; x++)
    for (let y = x + 1; y < movements.length; y++) if (conflicts(s, movements[x], movements[y])) out.push([movements[x], movements[y]]);
  return out;
}

function describe(s: IntersectionSafety, m: number): string {
  return `${m} (${s.turn[m]?.replace('go_', '').replace('turn_', '') ?? '?'})`;
}

// ------------------------------------------------------------------------------------ plans

/** (a) conflicts, (b) minimum green, (c) yellow and all-red of every phase; plus structure. */
export function validatePlan(input: unknown, s: IntersectionSafety): Verdict {
  const parsed = TimingPlanSchema.safeParse(input);
  if (!parsed.success) {
    return verdictOf(parsed.error.issues.map((i) => ({ code: 'structure', message: `${i.path.join('.') || 'plan'}: ${i.message}` })));
  }
  const plan = parsed.data;
  const reasons: SafetyIssue[] = [];
  if (plan.intersection !== s.id)
    reasons.push({ code: 'wrong-intersection', message: `plan is for ${plan.intersection}, this is ${s.id}` });
  plan.phases.forEach((p, k) => {
    const bad = p.movements.filter((m) => m >= s.n);
    if (bad.length > 0) {
      reasons.push({ code: 'unknown-movement', message: `phase ${k}: no movement ${bad.join(', ')} (intersection has ${s.n})` });
      return;
    }
    for (const [a, b] of conflictingPairs(s, p.movements)) {
      reasons.push({
        code: 'conflicting-greens',
        message: `phase ${k} (id ${p.id}) puts conflicting movements ${describe(s, a)} and ${describe(s, b)} (${s.kind[a * s.n + b]}) green together`,
      });
    }
    if (p.minGreen < MIN_GREEN_FLOOR_S - EPS)
      reasons.push({ code: 'min-green', message: `phase ${k}: minimum green ${p.minGreen} s is below ${MIN_GREEN_FLOOR_S} s` });
    let needY = 0;
    let needR = 0;
    for (const m of p.movements) {
      needY = Math.max(needY, s.requiredYellow[m]);
      needR = Math.max(needR, s.requiredAllRed[m]);
    }
    if (p.yellow < needY - EPS)
      reasons.push({ code: 'yellow-short', message: `phase ${k}: yellow ${p.yellow} s is below the required ${needY.toFixed(2)} s` });
    if (p.yellow > YELLOW_MAX_S + EPS) reasons.push({ code: 'yellow-long', message: `phase ${k}: yellow ${p.yellow} s exceeds ${YELLOW_MAX_S} s` });
    if (p.allRed < needR - EPS)
      reasons.push({ code: 'all-red-short', message: `phase ${k}: all-red ${p.allRed} s is below the required ${needR.toFixed(2)} s` });
  });
  if (reasons.length === 0) {
    const shortest = shortestCycle(plan);
    if (plan.cycle < shortest - EPS)
      reasons.push({ code: 'cycle', message: `cycle ${plan.cycle} s is shorter than min greens + clearances (${shortest.toFixed(2)} s)` });
    if (plan.control === 'fixed-time') {
      const planned = plannedCycle(plan);
      if (Math.abs(plan.cycle - planned) > 1e-6)
        reasons.push({ code: 'cycle', message: `fixed-time cycle ${plan.cycle} s ≠ Σ green + yellow + all-red = ${planned.toFixed(3)} s` });
    }
  }
  return verdictOf(reasons);
}

/** Where the signal is, as far as a plan change is concerned. */
export interface SignalBoundary {
  inGreen: boolean;
  /** Seconds since the current green began. */
  greenElapsed: number;
  /** Minimum green of the phase now green, in the plan in force. */
  minGreen: number;
}

/** (d) a new plan replaces the one in force only if newer, valid now, safe, and at a safe boundary. */
export function validatePlanChange(s: IntersectionSafety, current: TimingPlan, next: unknown, now: number, at: SignalBoundary): Verdict {
  const v = validatePlan(next, s);
  if (!v.ok) return v;
  const plan = next as TimingPlan;
  const reasons: SafetyIssue[] = [];
  if (plan.version <= current.version)
    reasons.push({ code: 'plan-version', message: `version ${plan.version} is not newer than the plan in force (${current.version})` });
  if (now < plan.validFrom - EPS || (plan.validUntil !== null && now >= plan.validUntil - EPS))
    reasons.push({ code: 'plan-validity', message: `plan is valid [${plan.validFrom}, ${plan.validUntil ?? '∞'}), now is ${now}` });
  if (!at.inGreen) reasons.push({ code: 'plan-boundary', message: 'plans change only in green, not during a change interval' });
  else if (at.greenElapsed < at.minGreen - EPS)
    reasons.push({ code: 'plan-boundary', message: `plans change only after the minimum green (${at.greenElapsed} of ${at.minGreen} s)` });
  return verdictOf(reasons);
}

// ------------------------------------------------------------------------------------ signal states

export const RED = 0;
export const YELLOW = 1;
export const GREEN = 2;
export type Light = typeof RED | typeof YELLOW | typeof GREEN;

/** What the validator remembers of an intersection's lights between changes. */
export interface SignalHistory {
  light: Uint8Array;
  /** Time the movement's current green began (NaN when not green). */
  greenSince: Float64Array;
  /** Earliest time a conflicting movement may start green: end of this movement's last yellow + all-red. */
  clearUntil: Float64Array;
}

export function newSignalHistory(n: number): SignalHistory {
  return { light: new Uint8Array(n), greenSince: new Float64Array(n).fill(Number.NaN), clearUntil: new Float64Array(n).fill(-Infinity) };
}

export function cloneHistory(h: SignalHistory): SignalHistory {
  return { light: h.light.slice(), greenSince: h.greenSince.slice(), clearUntil: h.clearUntil.slice() };
}

export interface StateRules {
  /** Yellow + all-red each movement owes when its green ends (s). */
  clearance: ArrayLike<number>;
  /**
   * All-red each movement owes once its yellow has actually ended (s): a yellow shown longer
   * than planned (coarse time steps) still leaves the full all-red before a conflicting green.
   */
  allRed: ArrayLike<number>;
  /** Minimum green per movement (s), or null when not checked (e.g. a replayed program). */
  minGreen: ArrayLike<number> | null;
  /** Whether a green must end through yellow (false where the model has no yellow). */
  yellow: boolean;
}

type IssueSink = (code: SafetyCode, a: number, b: number) => void;

/** When movement b's clearance ends if it shows `next` from `now` (its green or yellow ending now counts from now). */
function clearedAt(h: SignalHistory, b: number, next: number, now: number, rules: StateRules): number {
  if (next !== RED) return h.clearUntil[b];
  if (h.light[b] === GREEN) return now + rules.clearance[b];
  if (h.light[b] === YELLOW) return Math.max(h.clearUntil[b], now + rules.allRed[b]);
  return h.clearUntil[b];
}

/**
 * The checks on a state, in one place. With no sink it stops at the first issue and allocates
 * nothing (the per-step monitor); with a sink it reports every issue.
 */
function scanSignalState(s: IntersectionSafety, h: SignalHistory, next: ArrayLike<number>, now: number, rules: StateRules, sink: IssueSink | null): boolean {
  let found = false;
  const n = s.n;
  for (let a = 0; a < n; a++) {
    if (next[a] === RED) continue;
    const cs = s.conflictsOf[a];
    for (let x = 0; x < cs.length; x++) {
      const b = cs[x];
      if (b > a && next[b] !== RED) {
        if (!sink) return true;
        found = true;
        sink('conflicting-greens', a, b);
      }
      // A green (or yellow) while a conflicting movement is still in its yellow/all-red — including
      // one whose green ends at this very moment (straight to red where there is no yellow).
      const until = clearedAt(h, b, next[b], now, rules);
      if (next[b] === RED && now < until - EPS) {
        if (!sink) return true;
        found = true;
        sink('no-clearance', a, b);
      }
    }
    if (h.light[a] === YELLOW && next[a] === GREEN) {
      if (!sink) return true;
      found = true;
      sink('yellow-to-green', a, a);
    } else if (h.light[a] === RED && now < h.clearUntil[a] - EPS) {
      // A movement whose green has ended runs its own yellow and all-red before it is served again.
      if (!sink) return true;
      found = true;
      sink('no-clearance', a, a);
    }
  }
  for (let a = 0; a < n; a++) {
    if (h.light[a] !== GREEN || next[a] === GREEN) continue;
    if (rules.yellow && next[a] === RED) {
      if (!sink) return true;
      found = true;
      sink('no-yellow', a, a);
    }
    if (rules.minGreen && now - h.greenSince[a] < rules.minGreen[a] - EPS) {
      if (!sink) return true;
      found = true;
      sink('min-green', a, a);
    }
  }
  return found;
}

/** Whether the lights `next` are safe from `now` after `history` (no allocation). */
export function isSignalStateSafe(s: IntersectionSafety, h: SignalHistory, next: ArrayLike<number>, now: number, rules: StateRules): boolean {
  return !scanSignalState(s, h, next, now, rules, null);
}

/**
 * Checks the lights `next` an intersection would show from `now`, after `history`. Returns every
 * issue; an empty list means the state is safe. Used for every change by the state machine and
 * on every step by the simulation's monitor.
 */
export function checkSignalState(s: IntersectionSafety, h: SignalHistory, next: ArrayLike<number>, now: number, rules: StateRules): SafetyIssue[] {
  const out: SafetyIssue[] = [];
  scanSignalState(s, h, next, now, rules, (code, a, b) => {
    const A = describe(s, a);
    const B = describe(s, b);
    const message =
      code === 'conflicting-greens'
        ? `${s.id}: conflicting movements ${A} and ${B} both open at t=${now}`
        : code === 'no-clearance' && a === b
          ? `${s.id}: movement ${A} served again at t=${now} before its own yellow and all-red have run (until t=${h.clearUntil[a]})`
          : code === 'no-clearance'
          ? `${s.id}: movement ${A} open at t=${now} before conflicting ${B} has cleared (until t=${clearedAt(h, b, next[b], now, rules)})`
          : code === 'yellow-to-green'
            ? `${s.id}: movement ${A} back to green from yellow at t=${now}`
            : code === 'no-yellow'
              ? `${s.id}: movement ${A} green → red without yellow at t=${now}`
              : `${s.id}: movement ${A} green for ${(now - h.greenSince[a]).toFixed(2)} s < minimum ${rules.minGreen?.[a]} s`;
    out.push({ code, message });
  });
  return out;
}

/** Commits `next` to the history (after it has been checked). */
export function recordSignalState(h: SignalHistory, next: ArrayLike<number>, now: number, rules: Pick<StateRules, 'clearance' | 'allRed'>): void {
  for (let a = 0; a < h.light.length; a++) {
    const was = h.light[a];
    const is = next[a];
    if (was === GREEN && is !== GREEN) h.clearUntil[a] = now + rules.clearance[a];
    if (was === YELLOW && is === RED) h.clearUntil[a] = Math.max(h.clearUntil[a], now + rules.allRed[a]);
    if (is === GREEN && was !== GREEN) h.greenSince[a] = now;
    if (is !== GREEN) h.greenSince[a] = Number.NaN;
    h.light[a] = is;
  }
}

/**
 * Watches the field's signal heads step by step, with the same checks. In the CityFlow model a
 * movement is either available or not (no yellow), so "open" = available, and the clearance
 * owed is the ITE yellow + all-red. Counts intersection-steps in an unsafe state.
 */
export class SignalSafetyMonitor {
  readonly models: IntersectionSafety[];
  private readonly histories: SignalHistory[];
  private readonly required: Float64Array[];
  private readonly lights: Uint8Array[];
  private readonly rules: StateRules[];
  /** Whether each intersection's last checked state was safe. */
  private readonly safe: boolean[];
  unsafeStates = 0;
  /** The first few issues found, for logs. */
  readonly examples: string[] = [];

  constructor(net: RoadNetwork, models?: IntersectionSafety[]) {
    this.models = models ?? net.intersections.filter((i) => !i.virtual && i.phases.length > 0).map((i) => intersectionSafety(net, i.index));
    this.histories = this.models.map((m) => newSignalHistory(m.n));
    this.required = this.models.map((m) => Float64Array.from(m.requiredYellow, (y, k) => y + m.requiredAllRed[k]));
    this.lights = this.models.map((m) => new Uint8Array(m.n));
    this.rules = this.required.map((clearance, k) => ({ clearance, allRed: this.models[k].requiredAllRed, minGreen: null, yellow: false }));
    this.safe = this.models.map(() => false);
  }

  /** Checks the heads as they will be during the step starting at `now`; returns the unsafe intersections. */
  check(movementGreen: Uint8Array, now: number): number {
    let unsafe = 0;
    for (let k = 0; k < this.models.length; k++) {
      const m = this.models[k];
      const next = this.lights[k];
      const h = this.histories[k];
      let changed = false;
      for (let a = 0; a < m.n; a++) {
        next[a] = movementGreen[m.globalMovement[a]] ? GREEN : RED;
        if (next[a] !== h.light[a]) changed = true;
      }
      // A safe state that has not changed stays safe: clearances only run out as time goes on.
      if (!changed && this.safe[k]) continue;
      this.safe[k] = isSignalStateSafe(m, h, next, now, this.rules[k]);
      if (!this.safe[k]) {
        unsafe++;
        if (this.examples.length < 5) this.examples.push(checkSignalState(m, this.histories[k], next, now, this.rules[k])[0].message);
      }
      recordSignalState(this.histories[k], next, now, this.rules[k]);
    }
    this.unsafeStates += unsafe;
    return unsafe;
  }
}
