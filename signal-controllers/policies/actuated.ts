/**
 * Fully actuated control: phases in sequence, skipping those without a call; a green runs its
 * minimum, is extended while its movements keep actuating their detectors and ends on a gap
 * (no actuation for the passage time: gap-out) or at its maximum (max-out). With no call
 * elsewhere the green rests.
 *
 * Detectors are derived from the observation (one-step window):
 *   call on a phase       = a vehicle on the approach lane of one of its movements (advance
 *                           detector with locking memory)
 *   actuation in green    = a vehicle crossed the stop line of one of its movements in the last
 *                           step, or vehicles still stand at it (stop-bar presence)
 * Right turns are green in every phase and place no calls. The max-out (at `maxGreen`, with a
 * call waiting) is the controller's; the plan's maximum green, which the state machine enforces
 * whatever the calls, is a backstop at twice that, so that a green can rest without calls.
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { sumLanes } from '../movementLanes.ts';
import { makePlan } from '../plans.ts';
import type { IntersectionController, SignalPolicy } from '../policy.ts';
import type { SignalView } from '../SignalStateMachine.ts';
import { MIN_GREEN_FLOOR_S } from '../SafetyValidator.ts';
import { planPhases } from './webster.ts';
import { phasePressures } from './maxPressure.ts';
import { controlSites, type CommonOptions } from './sites.ts';

export interface ActuatedOptions extends CommonOptions {
  minGreen?: number;
  maxGreen?: number;
  /** Passage time (s): the gap that ends a green. */
  passage?: number;
  /**
   * Which phase follows a gap-out or max-out: the next one in sequence with a call, or the one
   * with the highest max-pressure among those with a call (phase order need not be fixed).
   */
  next?: 'sequence' | 'pressure';
  /** Use every given/green phase rather than the fewest that serve every movement. */
  allPhases?: boolean;
}

export function actuatedPolicy(net: RoadNetwork, opts: ActuatedOptions = {}): SignalPolicy {
  const minG = Math.max(MIN_GREEN_FLOOR_S, opts.minGreen ?? 8);
  const maxG = Math.max(minG, opts.maxGreen ?? 45);
  const passage = opts.passage ?? 3;
  const { sites, warnings } = controlSites(net, opts);
  const controllers: IntersectionController[] = sites.map((site) => {
    const t = planPhases(site, opts.phases !== undefined || opts.allPhases === true);
    const plan = makePlan(t, { control: 'actuated', green: t.phaseIds.map(() => minG), minGreen: minG, maxGreen: 2 * maxG });
    const served = t.movements.map((ms) => ms.filter((m) => !site.lanes.isRight[m]));
    const g = site.safety.globalMovement;
    const hasCall = (obs: TrafficObservation, k: number) => served[k].some((m) => sumLanes(obs.laneVehicles, site.lanes.inLanes[m]) > 0);
    const actuated = (obs: TrafficObservation, k: number) =>
      served[k].some((m) => obs.movementDepartures[g[m]] > 0 || sumLanes(obs.laneQueue, site.lanes.inLanes[m]) > 0);
    let greenStart = Number.NaN;
    let lastActuation = Number.NaN;
    return {
      intersection: site.index,
      plan,
      decide(obs: TrafficObservation, now: number, sig: SignalView) {
        if (sig.interval !== 'green') return null;
        const k = sig.phase;
        if (sig.greenStart !== greenStart) greenStart = lastActuation = sig.greenStart;
        if (actuated(obs, k)) lastActuation = now;
        const elapsed = now - sig.greenStart;
        if (elapsed < minG - 1e-9) return null;
        const gapOut = now - lastActuation >= passage - 1e-9;
        const maxOut = elapsed >= maxG - 1e-9;
        if (!gapOut && !maxOut) return null;
        if (opts.next === 'pressure') {
          const pressures = phasePressures(obs, t, site.lanes);
          let best = -1;
          for (let j = 0; j < pressures.length; j++) if (j !== k && hasCall(obs, j) && (best < 0 || pressures[j] > pressures[best])) best = j;
          return best >= 0 ? { request: best } : null;
        }
        // Next phase in sequence with a call; none: rest in this green.
        const seq = plan.sequence;
        const at = seq.indexOf(k);
        for (let j = 1; j < seq.length; j++) {
          const cand = seq[(at + j) % seq.length];
          if (hasCall(obs, cand)) return { request: cand };
        }
        return null;
      },
    };
  });
  return { controllers, observationWindow: 1, warnings };
}
