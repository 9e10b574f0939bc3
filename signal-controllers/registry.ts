/**
 * The signal controllers the simulation can run, by name. Every controller but `cityflow` drives
 * the heads through the signal state machines (so the validator sees every change) and reads the
 * traffic only through a `TrafficObservation` from `options.observation` — the field's truth by
 * default, the twin's estimator when that factory is passed instead.
 */
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import { fieldController, programReplay, type ControllerInstance } from './fieldSignals.ts';
import type { ObservationSourceFactory } from './observation.ts';
import type { SignalPolicy } from './policy.ts';
import type { CommonOptions } from './policies/sites.ts';
import { fixedTimePolicy } from './policies/fixedTime.ts';
import { maxPressurePolicy } from './policies/maxPressure.ts';
import { websterPolicy } from './policies/webster.ts';
import { actuatedPolicy } from './policies/actuated.ts';
import { latencyFeedbackPolicy } from './policies/latencyFeedback.ts';
import { forecastAwarePolicy } from './policies/forecastAware.ts';
import { coordinatedPolicy } from './policies/coordinated.ts';

export type { ControllerInstance, ControllerReport } from './fieldSignals.ts';

export interface ControllerOptions extends CommonOptions {
  /** Where the traffic observation comes from (default: the field's truth). */
  observation?: ObservationSourceFactory;
}

export interface ControllerFactory {
  description: string;
  create(net: RoadNetwork, options?: ControllerOptions): ControllerInstance;
}

function policyController(description: string, policy: (net: RoadNetwork, o: ControllerOptions) => SignalPolicy): ControllerFactory {
  return { description, create: (net, o = {}) => fieldController(net, policy(net, o), { observation: o.observation }) };
}

export const CONTROLLERS: Record<string, ControllerFactory> = {
  fixed: policyController("the roadnet's own program (phases and times), with yellow and all-red inserted between conflicting greens", (net, o) =>
    fixedTimePolicy(net, o),
  ),
  cityflow: {
    description: "raw replay of the roadnet's program exactly as CityFlow runs it (no clearance between phases: unsafe; fidelity benchmarks only)",
    create: (net) => programReplay(net),
  },
  fixed30: policyController('green phases in index order, 30 s each, clearance between greens (targets.md)', (net, o) =>
    fixedTimePolicy(net, { ...o, green: 30 }),
  ),
  maxpressure: policyController('max-pressure in 15 s blocks, clearance on a change (targets.md)', (net, o) => maxPressurePolicy(net, o)),
  webster: policyController("Webster's cycle and splits, re-planned every cycle from measured demand", (net, o) => websterPolicy(net, o)),
  actuated: policyController('fully actuated: gap-out / max-out from detector calls derived from the observation', (net, o) => actuatedPolicy(net, o)),
  'latency-feedback': policyController('green shares held against a delay target by the latency-feedback law; each share a budget run with gap-out, empty phases skipped, dual-ring hand-over', (net, o) => latencyFeedbackPolicy(net, o)),
  'forecast-aware': policyController('adaptive on arrivals predicted over a short horizon (Miller extension, longest-waiting next phase)', (net, o) =>
    forecastAwarePolicy(net, o),
  ),
  coordinated: policyController('arterial coordination: common cycle, offsets for green waves along corridors', (net, o) => coordinatedPolicy(net, o)),
};

export const DEFAULT_CONTROLLER = 'fixed';

export function controllerNames(): string[] {
  return Object.keys(CONTROLLERS);
}
