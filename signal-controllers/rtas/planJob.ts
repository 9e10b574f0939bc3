/**
 * The plan-computation job RTAS places on a compute node: Webster's cycle and splits for one
 * intersection from the demand the twin measured. The centre and the edge processes run this
 * same function (each derives the intersection's site from the same roadnet), so where a job runs
 * changes when and how reliably its plan arrives, never what the plan is.
 */
import { z } from 'zod';
import type { Site } from '../policies/sites.ts';
import { SATURATION_FLOW, criticalRatios, planPhases, websterTiming } from '../policies/webster.ts';
import type { PlanTemplate } from '../plans.ts';

export const PlanJobSchema = z.object({
  id: z.string().min(1),
  cls: z.literal('plan'),
  intersection: z.string().min(1),
  /** Departures per second of each local movement over the planning window. */
  flow: z.array(z.number().nonnegative()),
  /** Newest sensor reading the demand rests on (field s): the start of the control loop. */
  sensorTime: z.number(),
});
export type PlanJob = z.infer<typeof PlanJobSchema>;

export const PlanResultSchema = z.object({
  /** The node that ran it (its registered controller id). */
  node: z.string().min(1),
  greens: z.array(z.number().positive()).min(1),
  cycle: z.number().positive(),
  /** Wall time the computation took on the node (ms). */
  computeMs: z.number().nonnegative(),
});
export type PlanResult = z.infer<typeof PlanResultSchema>;

/** The phases the planner times at a site (the same at the centre and at every edge). */
export function planTemplateOf(site: Site): { template: PlanTemplate; lost: number[] } {
  const template = planPhases(site, false);
  return { template, lost: template.yellow.map((y, k) => y + template.allRed[k]) };
}

/** Webster greens (whole seconds, at least 7 s) and cycle for the site from the measured flows. */
export function computePlanJob(site: Site, flow: readonly number[]): { greens: number[]; cycle: number; Y: number } {
  const { template, lost } = planTemplateOf(site);
  if (flow.length !== site.safety.n) throw new RangeError(`${site.safety.id}: expected ${site.safety.n} movement flows, got ${flow.length}`);
  const w = websterTiming(criticalRatios(template, site, flow, SATURATION_FLOW), lost);
  return { greens: w.greens.map((g) => Math.round(Math.max(7, g))), cycle: w.cycle, Y: w.Y };
}
