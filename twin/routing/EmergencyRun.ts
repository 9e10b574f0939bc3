/**
 * One simulation run with emergency vehicles under a signal policy, with or without pre-emption:
 * the same controller code either way (PreemptionController, disabled for "without"), so the
 * only difference between the two runs is the pre-emption itself. Used by the evaluation and
 * the tests.
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { Flow } from '../network/importCityFlow.ts';
import { Engine } from '../sim/Engine.ts';
import type { SignalPolicy } from '../../signal-controllers/policy.ts';
import { EmergencyTracker, type EmergencyOptionsInput, type EmergencyResult, type EmergencyVehicleSpec } from './EmergencyTracker.ts';
import type { FastestRouter } from './FastestRoute.ts';
import { PreemptionController, type PreemptionReport } from './PreemptionController.ts';

export interface EmergencyRunOptions {
  duration: number;
  seed?: number;
  preemption: boolean;
  emergency?: EmergencyOptionsInput;
  router?: FastestRouter;
  /** Called after every step (tests check invariants here). */
  afterStep?: (engine: Engine, controller: PreemptionController, tracker: EmergencyTracker) => void;
}

export interface EmergencyRunResult {
  vehicles: EmergencyResult[];
  controller: PreemptionReport;
  /** CityFlow ATT over every vehicle but the emergency ones. */
  othersAverageTravelTime: number;
  othersFinished: number;
  averageTravelTime: number;
  finished: number;
}

export function runEmergencyScenario(net: RoadNetwork, flows: Flow[], policy: SignalPolicy, evs: EmergencyVehicleSpec[], opts: EmergencyRunOptions): EmergencyRunResult {
  const engine = new Engine(net, flows, { seed: opts.seed ?? 0, signalMode: 'external' });
  const controller = new PreemptionController(net, policy, { enabled: opts.preemption });
  const tracker = new EmergencyTracker(net, evs, controller, opts.emergency, undefined, undefined, opts.router);
  const steps = Math.round(opts.duration / engine.dt);
  for (let s = 0; s < steps; s++) {
    controller.beforeStep(engine);
    engine.step();
    controller.afterStep();
    tracker.afterStep(engine);
    opts.afterStep?.(engine, controller, tracker);
  }
  const m = engine.metrics();
  const vehicles = tracker.results();
  const alive = m.finished + m.running + m.waiting;
  let total = m.averageTravelTime * alive;
  let n = alive;
  let evFinished = 0;
  for (const v of vehicles) {
    if (engine.time < v.dispatchTime) continue;
    // Each emergency vehicle counted in the ATT with its time so far (CityFlow's definition).
    total -= Number.isFinite(v.travelTime) ? v.travelTime : engine.time - v.dispatchTime;
    n--;
    if (Number.isFinite(v.travelTime)) evFinished++;
  }
  return {
    vehicles,
    controller: controller.report(),
    othersAverageTravelTime: n > 0 ? total / n : 0,
    othersFinished: m.finished - evFinished,
    averageTravelTime: m.averageTravelTime,
    finished: m.finished,
  };
}
