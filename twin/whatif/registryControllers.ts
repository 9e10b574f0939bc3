/**
 * A ControllerFactory over the signal-controllers registry, for callers that have nothing more
 * specific (the evaluation, the worker by default). Kept apart from the runner so the runner does
 * not depend on which policies exist: the server may pass its own factory instead.
 *
 * A registry controller drives every intersection; for a subset, the heads of the others are
 * put back as they were after it runs, so it acts on its intersections only.
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { Engine } from '../sim/Engine.ts';
import { CONTROLLERS } from '../../signal-controllers/registry.ts';
import type { ControllerFactory, StepHook } from './ScenarioRunner.ts';

/** Wraps a whole-network hook so that it only changes the heads of `intersections`. */
export function restrictToIntersections(hook: StepHook, net: RoadNetwork, intersections: readonly number[]): StepHook {
  const keep = new Set(intersections);
  const others = net.intersections.filter((i) => !i.virtual && !keep.has(i.index));
  const movements = Int32Array.from(others.flatMap((i) => i.movements));
  const saved = new Uint8Array(movements.length);
  const savedPhase = new Int32Array(others.length);
  return {
    signalMode: hook.signalMode,
    beforeStep(engine: Engine) {
      const green = engine.lights.movementGreen;
      for (let k = 0; k < movements.length; k++) saved[k] = green[movements[k]];
      others.forEach((i, k) => (savedPhase[k] = engine.lights.phase[i.index]));
      hook.beforeStep?.(engine);
      for (let k = 0; k < movements.length; k++) green[movements[k]] = saved[k];
      others.forEach((i, k) => (engine.lights.phase[i.index] = savedPhase[k]));
    },
    afterStep: hook.afterStep ? (engine: Engine) => hook.afterStep?.(engine) : undefined,
  };
}

export const createController: ControllerFactory = (name, net, intersections) => {
  if (name === 'program') return { signalMode: 'program' };
  const factory = CONTROLLERS[name];
  if (!factory) throw new Error(`unknown controller "${name}" (known: program, ${Object.keys(CONTROLLERS).join(', ')})`);
  const instance = factory.create(net);
  const hook: StepHook = {
    signalMode: instance.signalMode,
    beforeStep: (engine) => instance.beforeStep?.(engine),
    afterStep: (engine) => instance.afterStep?.(engine),
  };
  return intersections === null ? hook : restrictToIntersections(hook, net, intersections);
};
