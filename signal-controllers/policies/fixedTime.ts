/**
 * Fixed-time control: the plan's splits run by the cycle clock, the state machine inserting the
 * yellow and all-red between conflicting greens. `fixed` runs the roadnet's own program (its
 * phases and times, the clearance phase becoming the clearance); `fixed30` the targets.md
 * protocol (green phases in index order, 30 s each, 5 s clearance between greens).
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import { MIN_GREEN_FLOOR_S } from '../SafetyValidator.ts';
import { makePlan, scheduledPhase } from '../plans.ts';
import type { IntersectionController, SignalPolicy } from '../policy.ts';
import { controlSites, type CommonOptions } from './sites.ts';

export interface FixedTimeOptions extends CommonOptions {
  /** Green of every phase (s); default: each phase's time in the roadnet's program. */
  green?: number;
  /** Offset of each intersection's cycle (s), by network intersection index. */
  offset?: (intersection: number) => number;
}

export function fixedTimePolicy(net: RoadNetwork, opts: FixedTimeOptions = {}): SignalPolicy {
  const { sites, warnings } = controlSites(net, opts);
  const controllers: IntersectionController[] = sites.map((s) => {
    const inter = net.intersections[s.index];
    const green = s.template.phaseIds.map((id) => Math.max(MIN_GREEN_FLOOR_S, opts.green ?? inter.phases[id].time));
    const plan = makePlan(s.template, { control: 'fixed-time', green, minGreen: MIN_GREEN_FLOOR_S, maxGreen: green, offset: opts.offset?.(s.index) ?? 0 });
    return { intersection: s.index, plan, decide: (_obs, now) => ({ request: scheduledPhase(plan, now) }) };
  });
  return { controllers, observationWindow: 60, warnings };
}
