/**
 * A timing plan for one intersection: the phases (sets of movements that may have green
 * together, by the intersection's local movement index), the order they run in, their green
 * bounds, the yellow and all-red that end each of them, and cycle, offset, version and
 * validity. The centre publishes plans, edge controllers run them; `SafetyValidator` decides
 * whether a plan is safe, this schema only whether it is well formed.
 */
import { z } from 'zod';

const seconds = z.number().finite();

export const PlanPhaseSchema = z
  .object({
    /** The roadnet phase this phase shows (its index in the roadnet's light program), for SPaT and displays. */
    id: z.number().int().nonnegative(),
    /** Local movement indices (positions in the intersection's roadLinks) that have green. */
    movements: z.array(z.number().int().nonnegative()).min(1),
    minGreen: seconds.positive(),
    maxGreen: seconds.positive(),
    /** Planned green: the split a fixed-time plan runs; adaptive policies treat it as nominal. */
    green: seconds.positive(),
    /** Yellow, then all-red, that end this phase's green for the movements that stop. */
    yellow: seconds.nonnegative(),
    allRed: seconds.nonnegative(),
  })
  .superRefine((p, ctx) => {
    if (new Set(p.movements).size !== p.movements.length)
      ctx.addIssue({ code: 'custom', path: ['movements'], message: 'lists a movement twice' });
    if (p.maxGreen < p.minGreen) ctx.addIssue({ code: 'custom', path: ['maxGreen'], message: `maxGreen ${p.maxGreen} s is below minGreen ${p.minGreen} s` });
    if (p.green < p.minGreen || p.green > p.maxGreen)
      ctx.addIssue({ code: 'custom', path: ['green'], message: `green ${p.green} s is outside [minGreen ${p.minGreen}, maxGreen ${p.maxGreen}]` });
  });
export type PlanPhase = z.infer<typeof PlanPhaseSchema>;

export const PlanControlSchema = z.enum(['fixed-time', 'actuated', 'adaptive']);
export type PlanControl = z.infer<typeof PlanControlSchema>;

export const TimingPlanSchema = z
  .object({
    /** Intersection id (the roadnet's). */
    intersection: z.string().min(1),
    /** Monotonic per intersection; a controller only moves to a higher version. */
    version: z.number().int().nonnegative(),
    /** Validity window on the field clock (s); `validUntil` null = until replaced. */
    validFrom: seconds,
    validUntil: seconds.nullable(),
    /** How the greens are decided: by the plan's splits, by detector calls, or by a policy. */
    control: PlanControlSchema,
    phases: z.array(PlanPhaseSchema).min(1),
    /** Indices into `phases`, in running order (a phase may appear once). */
    sequence: z.array(z.number().int().nonnegative()).min(1),
    /** Cycle length (s): Σ over the sequence of green + yellow + all-red for fixed-time plans. */
    cycle: seconds.positive(),
    /** Start of the first phase's green relative to the common cycle clock (s), in [0, cycle). */
    offset: seconds.nonnegative(),
  })
  .superRefine((p, ctx) => {
    p.sequence.forEach((s, k) => {
      if (s >= p.phases.length) ctx.addIssue({ code: 'custom', path: ['sequence', k], message: `no phase ${s} (plan has ${p.phases.length})` });
    });
    if (new Set(p.sequence).size !== p.sequence.length) ctx.addIssue({ code: 'custom', path: ['sequence'], message: 'runs a phase twice in a cycle' });
    if (p.offset >= p.cycle) ctx.addIssue({ code: 'custom', path: ['offset'], message: `offset ${p.offset} s is not below the cycle ${p.cycle} s` });
    if (p.validUntil !== null && p.validUntil <= p.validFrom)
      ctx.addIssue({ code: 'custom', path: ['validUntil'], message: `validUntil ${p.validUntil} is not after validFrom ${p.validFrom}` });
  });
export type TimingPlan = z.infer<typeof TimingPlanSchema>;
export type TimingPlanInput = z.input<typeof TimingPlanSchema>;

/** Σ over the sequence of green + yellow + all-red: the cycle a fixed-time plan runs. */
export function plannedCycle(plan: Pick<TimingPlan, 'phases' | 'sequence'>): number {
  let c = 0;
  for (const s of plan.sequence) {
    const p = plan.phases[s];
    c += p.green + p.yellow + p.allRed;
  }
  return c;
}

/** The shortest cycle the plan allows: Σ over the sequence of min green + yellow + all-red. */
export function shortestCycle(plan: Pick<TimingPlan, 'phases' | 'sequence'>): number {
  let c = 0;
  for (const s of plan.sequence) {
    const p = plan.phases[s];
    c += p.minGreen + p.yellow + p.allRed;
  }
  return c;
}

/** The phase that follows `phase` in the sequence (the first one if `phase` is not in it). */
export function nextInSequence(plan: Pick<TimingPlan, 'sequence'>, phase: number): number {
  const k = plan.sequence.indexOf(phase);
  return plan.sequence[k < 0 ? 0 : (k + 1) % plan.sequence.length];
}

/** The plan phase showing roadnet phase `id`, or -1. */
export function phaseIndexById(plan: Pick<TimingPlan, 'phases'>, id: number): number {
  return plan.phases.findIndex((p) => p.id === id);
}
