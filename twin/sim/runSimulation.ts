/**
 * One simulation run from start to a duration, with progress callbacks and the summary figures
 * the CLI and the benchmarks print. Pure apart from reading the wall clock for `wallSeconds`.
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { Flow } from '../network/importCityFlow.ts';
import { Engine, type EngineOptions } from './Engine.ts';

export interface RunOptions extends EngineOptions {
  /** Simulated seconds. */
  duration: number;
  /** Called every `progressEvery` steps with the fraction done. */
  onProgress?: (fraction: number, engine: Engine) => void;
  progressEvery?: number;
  /** Called before each step (a controller sets phases here). */
  beforeStep?: (engine: Engine) => void;
  /** Called after each step (observers record the step's moves here). */
  afterStep?: (engine: Engine) => void;
}

export interface RunSummary {
  averageTravelTime: number;
  finished: number;
  running: number;
  waiting: number;
  created: number;
  vehicleUpdates: number;
  steps: number;
  simulatedSeconds: number;
  wallSeconds: number;
  vehicleUpdatesPerSecond: number;
  realTimeFactor: number;
}

export function runSimulation(net: RoadNetwork, flows: Flow[], opts: RunOptions): { engine: Engine; summary: RunSummary } {
  const engine = new Engine(net, flows, opts);
  const steps = Math.round(opts.duration / engine.dt);
  const every = opts.progressEvery ?? Math.max(1, Math.floor(steps / 100));
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    opts.beforeStep?.(engine);
    engine.step();
    opts.afterStep?.(engine);
    if (opts.onProgress && (s + 1) % every === 0) opts.onProgress((s + 1) / steps, engine);
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const m = engine.metrics();
  return {
    engine,
    summary: {
      averageTravelTime: m.averageTravelTime,
      finished: m.finished,
      running: m.running,
      waiting: m.waiting,
      created: m.created,
      vehicleUpdates: m.vehicleUpdates,
      steps: m.steps,
      simulatedSeconds: m.time,
      wallSeconds,
      vehicleUpdatesPerSecond: wallSeconds > 0 ? m.vehicleUpdates / wallSeconds : 0,
      realTimeFactor: wallSeconds > 0 ? m.time / wallSeconds : 0,
    },
  };
}
