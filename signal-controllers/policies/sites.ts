/**
 * The intersections a policy controls, with what every policy needs about each: its safety
 * model, plan template (green phases and clearances) and movement lanes.
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { ClearanceOverride } from '../clearance.ts';
import { safetyModels } from '../fieldSignals.ts';
import { movementLanes, type MovementLanes } from '../movementLanes.ts';
import { planTemplate, type PlanTemplate } from '../plans.ts';
import type { IntersectionSafety } from '../SafetyValidator.ts';

export interface CommonOptions {
  /** Roadnet phases to choose among (e.g. [1,2,3,4]); default: every green phase of the program. */
  phases?: readonly number[];
  /** Engineer overrides that raise yellow / all-red. */
  clearance?: ClearanceOverride;
  /** Minimum yellow + all-red (s); default: the program's clearance phase (5 s on the benchmarks). */
  clearanceFloor?: number;
}

export interface Site {
  index: number;
  safety: IntersectionSafety;
  template: PlanTemplate;
  lanes: MovementLanes;
}

export function controlSites(net: RoadNetwork, opts: CommonOptions = {}): { sites: Site[]; warnings: string[] } {
  const sites: Site[] = [];
  const warnings: string[] = [];
  for (const safety of safetyModels(net).values()) {
    const template = planTemplate(net, safety, { phases: opts.phases, clearance: opts.clearance, clearanceFloor: opts.clearanceFloor });
    warnings.push(...template.dropped);
    if (template.phaseIds.length === 0) {
      warnings.push(`${safety.id}: no safe green phase to run; left on its program's first phase`);
      continue;
    }
    sites.push({ index: safety.index, safety, template, lanes: movementLanes(net, safety.index) });
  }
  return { sites, warnings };
}
