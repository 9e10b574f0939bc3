/**
 * Timing plans built from a roadnet: which of its program's phases are greens (and which are
 * only the clearance phase, like phase 0 = right turns only in the CityFlow benchmarks), the
 * yellow and all-red that end each green (ITE, raised to the program's own clearance and by
 * engineer overrides), and plans over those phases with given greens.
 */
import type { Intersection, RoadNetwork } from '../twin/network/RoadNetwork.ts';
import { ClearanceOverrideError, YELLOW_MAX_S, withTotalAtLeast, type Clearance, type ClearanceOverride } from './clearance.ts';
import { MIN_GREEN_FLOOR_S, conflictingPairs, type IntersectionSafety } from './SafetyValidator.ts';
import { TimingPlanSchema, plannedCycle, type PlanControl, type TimingPlan } from './TimingPlan.ts';

/**
 * Program phases that show nothing beyond what every other phase shows: the clearance phases
 * (benchmark phase 0, right turns only). None if all phases show the same.
 */
export function clearancePhaseIds(inter: Intersection): number[] {
  const ph = inter.phases;
  const subset = (p: number[], q: number[]) => p.every((m) => q.includes(m));
  const ids = ph.filter((p) => ph.every((q) => subset(p.movements, q.movements))).map((p) => p.index);
  return ids.length === ph.length ? [] : ids;
}

/** The program's own clearance: its shortest clearance phase (s), 0 if it has none. */
export function programClearance(inter: Intersection): number {
  const times = clearancePhaseIds(inter)
    .map((i) => inter.phases[i].time)
    .filter((t) => t > 0);
  return times.length > 0 ? Math.min(...times) : 0;
}

export class PhaseSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PhaseSelectionError';
  }
}

/**
 * The green phases to control with: `only` (roadnet phase indices, e.g. --phases 1,2,3,4) or
 * every non-clearance phase, minus those the validator refuses (reported in `dropped`).
 */
export function greenPhaseIds(inter: Intersection, safety: IntersectionSafety, only?: readonly number[]): { ids: number[]; dropped: string[] } {
  const clearance = new Set(clearancePhaseIds(inter));
  const dropped: string[] = [];
  const candidates = only ? [...only] : inter.phases.map((p) => p.index).filter((i) => !clearance.has(i));
  const ids: number[] = [];
  for (const id of candidates) {
    const ph = inter.phases[id];
    if (!ph) throw new PhaseSelectionError(`intersection ${inter.id} has no phase ${id} (it has 0..${inter.phases.length - 1})`);
    if (ph.movements.length === 0) {
      dropped.push(`${inter.id} phase ${id}: shows no movement`);
      continue;
    }
    const bad = conflictingPairs(safety, ph.movements);
    if (bad.length > 0) {
      dropped.push(`${inter.id} phase ${id}: refused, conflicting movements ${bad.map(([a, b]) => `${a}/${b}`).join(', ')} green together`);
      continue;
    }
    if (!ids.includes(id)) ids.push(id);
  }
  return { ids, dropped };
}

/** The clearance that ends a green of `movements`: ITE for their approaches, raised to `floor` s in total and by the override. */
export function phaseClearance(safety: IntersectionSafety, movements: readonly number[], floor = 0, override: ClearanceOverride = {}): Clearance {
  let yellow = 0;
  let allRed = 0;
  for (const m of movements) {
    yellow = Math.max(yellow, safety.requiredYellow[m]);
    allRed = Math.max(allRed, safety.requiredAllRed[m]);
  }
  const eps = 1e-9;
  if (override.yellow !== undefined && override.yellow < yellow - eps)
    throw new ClearanceOverrideError(`${safety.id}: yellow override ${override.yellow} s is below the required ${yellow.toFixed(2)} s`);
  if (override.yellow !== undefined && override.yellow > YELLOW_MAX_S + eps)
    throw new ClearanceOverrideError(`${safety.id}: yellow override ${override.yellow} s exceeds ${YELLOW_MAX_S} s`);
  if (override.allRed !== undefined && override.allRed < allRed - eps)
    throw new ClearanceOverrideError(`${safety.id}: all-red override ${override.allRed} s is below the required ${allRed.toFixed(2)} s`);
  return withTotalAtLeast({ yellow: Math.max(yellow, override.yellow ?? 0), allRed: Math.max(allRed, override.allRed ?? 0) }, floor);
}

/** The fixed part of an intersection's plans: phases and their clearances. */
export interface PlanTemplate {
  intersection: number;
  id: string;
  /** Roadnet phase index of each plan phase. */
  phaseIds: number[];
  movements: number[][];
  yellow: number[];
  allRed: number[];
  /** Program phases left out, with the reason. */
  dropped: string[];
}

export interface TemplateOptions {
  /** Roadnet phases to use (default: the program's green phases). */
  phases?: readonly number[];
  /** Raise the clearance (never lower it). */
  clearance?: ClearanceOverride;
  /** Minimum yellow + all-red (s); default: the program's own clearance phase. */
  clearanceFloor?: number;
}

export function planTemplate(net: RoadNetwork, safety: IntersectionSafety, opts: TemplateOptions = {}): PlanTemplate {
  const inter = net.intersections[safety.index];
  const { ids, dropped } = greenPhaseIds(inter, safety, opts.phases);
  const floor = opts.clearanceFloor ?? programClearance(inter);
  const movements = ids.map((i) => [...inter.phases[i].movements].sort((a, b) => a - b));
  const clear = movements.map((ms) => phaseClearance(safety, ms, floor, opts.clearance));
  return { intersection: safety.index, id: safety.id, phaseIds: ids, movements, yellow: clear.map((c) => c.yellow), allRed: clear.map((c) => c.allRed), dropped };
}

export interface PlanSpec {
  control: PlanControl;
  /** Per template phase (s). */
  green: readonly number[];
  minGreen: number | readonly number[];
  maxGreen: number | readonly number[];
  /** Running order (template phase indices); default all in order. */
  sequence?: readonly number[];
  /** Default: Σ green + clearance over the sequence. */
  cycle?: number;
  offset?: number;
  version?: number;
  validFrom?: number;
  validUntil?: number | null;
}

const at = (v: number | readonly number[], k: number) => (typeof v === 'number' ? v : v[k]);

/** A plan over the template's phases; greens are clamped into [minGreen, maxGreen]. */
export function makePlan(t: PlanTemplate, spec: PlanSpec): TimingPlan {
  const phases = t.phaseIds.map((id, k) => {
    const minGreen = Math.max(MIN_GREEN_FLOOR_S, at(spec.minGreen, k));
    const maxGreen = Math.max(minGreen, at(spec.maxGreen, k));
    return {
      id,
      movements: t.movements[k],
      minGreen,
      maxGreen,
      green: Math.min(maxGreen, Math.max(minGreen, spec.green[k])),
      yellow: t.yellow[k],
      allRed: t.allRed[k],
    };
  });
  const sequence = spec.sequence ? [...spec.sequence] : phases.map((_, k) => k);
  const cycle = spec.cycle ?? plannedCycle({ phases, sequence });
  const offset = spec.offset ?? 0;
  return TimingPlanSchema.parse({
    intersection: t.id,
    version: spec.version ?? 0,
    validFrom: spec.validFrom ?? 0,
    validUntil: spec.validUntil ?? null,
    control: spec.control,
    phases,
    sequence,
    cycle,
    offset: ((offset % cycle) + cycle) % cycle,
  });
}

/**
 * Which plan phase a fixed-time plan shows at `now` by its cycle clock: each sequence entry's
 * green, then its yellow and all-red (during which the next phase is the one wanted).
 */
export function scheduledPhase(plan: TimingPlan, now: number): number {
  const pos = (((now - plan.offset) % plan.cycle) + plan.cycle) % plan.cycle;
  let acc = 0;
  const seq = plan.sequence;
  for (let k = 0; k < seq.length; k++) {
    const p = plan.phases[seq[k]];
    acc += p.green;
    if (pos < acc - 1e-9) return seq[k];
    acc += p.yellow + p.allRed;
    if (pos < acc - 1e-9) return seq[(k + 1) % seq.length];
  }
  return seq[0];
}

/** The template restricted to some of its phases (template indices, kept in the given order). */
export function restrictTemplate(t: PlanTemplate, keep: readonly number[]): PlanTemplate {
  return {
    ...t,
    phaseIds: keep.map((k) => t.phaseIds[k]),
    movements: keep.map((k) => t.movements[k]),
    yellow: keep.map((k) => t.yellow[k]),
    allRed: keep.map((k) => t.allRed[k]),
  };
}

/**
 * The fewest phases, in index order, that still serve every movement the template serves
 * (right turns aside: they are green in every phase). On the benchmarks: phases 1–4.
 */
export function coveringPhases(t: PlanTemplate, isRight: readonly boolean[]): number[] {
  const covered = new Set<number>();
  const keep: number[] = [];
  t.movements.forEach((ms, k) => {
    if (ms.some((m) => !isRight[m] && !covered.has(m))) {
      keep.push(k);
      for (const m of ms) covered.add(m);
    }
  });
  return keep.length > 0 ? keep : [0];
}
