/**
 * Max-pressure, exactly as targets.md measures it on CityFlow: green is held in blocks (15 s);
 * at each block's end the phase with the highest pressure — Σ over its movements of (vehicles
 * on the movement's approach lanes − vehicles on its exit road's lanes) — is chosen; ties keep
 * the current phase, else the lowest index. A change runs the clearance first (5 s on the
 * benchmarks: the state machine's yellow + all-red).
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { movementPressure, type MovementLanes } from '../movementLanes.ts';
import { makePlan, type PlanTemplate } from '../plans.ts';
import type { IntersectionController, SignalPolicy } from '../policy.ts';
import type { SignalView } from '../SignalStateMachine.ts';
import { controlSites, type CommonOptions } from './sites.ts';

export interface MaxPressureOptions extends CommonOptions {
  /** Block length (s): green is held at least this long and decided again at each block's end. */
  block?: number;
  /** Maximum green (s) before the state machine moves on by itself; default: none within the hour. */
  maxGreen?: number;
  /** All-red before the first green (s). */
  startupAllRed?: number;
  /** Movements kept green through a change; default `every-phase` (phase 0 on every change, as in targets.md). */
  keepOnChange?: 'shared' | 'every-phase';
}

/** Pressure of each plan phase. */
export function phasePressures(obs: TrafficObservation, template: PlanTemplate, lanes: MovementLanes): number[] {
  return template.movements.map((ms) => {
    let p = 0;
    for (const m of ms) p += movementPressure(obs.laneVehicles, lanes, m);
    return p;
  });
}

/** Highest value; ties keep `current`, else the lowest index. */
export function argmaxKeep(values: readonly number[], current: number): number {
  let best = -1;
  for (let k = 0; k < values.length; k++) if (best < 0 || values[k] > values[best]) best = k;
  if (current >= 0 && current < values.length && values[current] === values[best]) return current;
  return best;
}

export function maxPressurePolicy(net: RoadNetwork, opts: MaxPressureOptions = {}): SignalPolicy {
  const block = opts.block ?? 15;
  const { sites, warnings } = controlSites(net, opts);
  const controllers: IntersectionController[] = sites.map((s) => {
    const plan = makePlan(s.template, {
      control: 'adaptive',
      green: s.template.phaseIds.map(() => block),
      minGreen: block,
      maxGreen: opts.maxGreen ?? 3600,
    });
    let blockEnd = Number.NaN;
    let greenStart = Number.NaN;
    return {
      intersection: s.index,
      plan,
      decide(obs: TrafficObservation, now: number, sig: SignalView) {
        if (sig.interval !== 'green') return null;
        if (sig.greenStart !== greenStart) {
          greenStart = sig.greenStart;
          blockEnd = greenStart + block;
        }
        if (now < blockEnd - 1e-9) return null;
        const choice = argmaxKeep(phasePressures(obs, s.template, s.lanes), sig.phase);
        if (choice === sig.phase) {
          blockEnd += block;
          return null;
        }
        return { request: choice };
      },
    };
  });
  return { controllers, observationWindow: 60, warnings, startupAllRed: opts.startupAllRed ?? 0, keepOnChange: opts.keepOnChange ?? 'every-phase' };
}
