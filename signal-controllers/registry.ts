/**
 * The signal controllers the simulation can run, by name. A controller is created for a network
 * and either lets the roadnet's own program run or sets phases before each step.
 */
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { Engine } from '../twin/sim/Engine.ts';
import type { SignalMode } from '../twin/sim/TrafficLights.ts';

export interface ControllerInstance {
  signalMode: SignalMode;
  beforeStep?: (engine: Engine) => void;
}

export interface ControllerFactory {
  description: string;
  create(net: RoadNetwork): ControllerInstance;
}

export const CONTROLLERS: Record<string, ControllerFactory> = {
  fixed: {
    description: "the roadnet's own fixed program",
    create: () => ({ signalMode: 'program' }),
  },
};

export function controllerNames(): string[] {
  return Object.keys(CONTROLLERS);
}
