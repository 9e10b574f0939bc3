/**
 * Runs a what-if: for each seed, the baseline (no changes) and the scenario from the same start,
 * step by step, with the scenario's changes applied, KPIs recorded, a replay of one run kept, and
 * progress reported; cancellable between steps. Returns KPIs with mean and spread over seeds,
 * per-intersection differences (scenario − baseline) and the replay. Pure apart from reading the
 * wall clock for `wallSeconds`; the result is structured-cloneable (plain data and typed arrays),
 * so it crosses a worker boundary as is.
 *
 * Controllers are named in the scenario and made by the caller's factory (a hook given the
 * engine before and after each step), so this module does not depend on which policies exist.
 */
import type { Flow } from '../network/importCityFlow.ts';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import { Engine } from '../sim/Engine.ts';
import { NEVER, editFlows, shiftFlows, startedFlows, type FlowEditStats } from './FlowEdits.ts';
import { KPI_NAMES, KpiRecorder, signalisedOf, stat, type KpiName, type RunKpis, type Stat } from './Kpis.ts';
import { ReplayRecorder, type Replay } from './Replay.ts';
import { parseScenario, toTrafficObservation, type Scenario, type ScenarioInput } from './Scenario.ts';
import { ChangeSchedule, Detours, ScenarioError, resolveChanges, type ResolvedChanges } from './ScenarioChanges.ts';
import { synthesiseVehicles, type SynthesisStats } from './StateSynthesis.ts';

/** What a controller is to the runner: something that looks at / sets the engine around each step. */
export interface StepHook {
  readonly signalMode?: 'program' | 'external';
  beforeStep?(engine: Engine): void;
  afterStep?(engine: Engine): void;
}

/** Makes a controller by name for some intersections (null = all). Throw to refuse a name. */
export type ControllerFactory = (name: string, net: RoadNetwork, intersections: readonly number[] | null) => StepHook;

export interface WhatIfContext {
  net: RoadNetwork;
  /** The demand, in the engine order the snapshot (if any) was taken with. */
  flows: readonly Flow[];
  controllers?: ControllerFactory;
}

export interface WhatIfProgress {
  /** Share of all steps (every seed, both runs) done. */
  fraction: number;
  /** Seconds simulated into the current run's horizon. */
  simTime: number;
  seed: number;
  run: 'baseline' | 'scenario';
}

export interface RunWhatIfOptions {
  onProgress?: (p: WhatIfProgress) => void;
  signal?: AbortSignal;
  /** Polled every step besides `signal` (a worker reads a shared flag here). */
  isCancelled?: () => boolean;
  /** Steps between progress reports (default: ~200 reports in all). */
  progressEvery?: number;
}

export class WhatIfCancelledError extends Error {
  constructor() {
    super('what-if run cancelled');
    this.name = 'AbortError';
  }
}

export interface KpiComparison {
  baseline: Stat;
  scenario: Stat;
  /** scenario − baseline, per seed. */
  difference: Stat;
}

export interface LaneQueueRow {
  lane: string;
  road: string;
  maxQueue: Stat;
}

export interface IntersectionRow {
  intersection: string;
  /** Standing vehicle-seconds on the approaches over the horizon. */
  delay: KpiComparison;
  meanQueue: KpiComparison;
  maxQueue: KpiComparison;
}

export interface SeedRecord {
  seed: number;
  baseline: Record<KpiName, number>;
  scenario: Record<KpiName, number>;
  synthesis: SynthesisStats | null;
  flowEdits: FlowEditStats | null;
}

export interface WhatIfResult {
  name: string;
  horizon: number;
  seeds: number[];
  /** Engine clock at the start of the runs (s). */
  startTime: number;
  kpis: Record<KpiName, KpiComparison>;
  worstQueues: { baseline: LaneQueueRow[]; scenario: LaneQueueRow[] };
  /** Every signalised intersection, largest mean delay difference first. */
  intersections: IntersectionRow[];
  perSeed: SeedRecord[];
  replay: Replay | null;
  simulatedSeconds: number;
  wallSeconds: number;
  /** Simulated seconds (all runs) per wall second. */
  realTimeFactor: number;
}

interface RunOutcome {
  kpis: RunKpis;
  startTime: number;
  synthesis: SynthesisStats | null;
  flowEdits: FlowEditStats | null;
  replay: Replay | null;
}

const detourCache = new WeakMap<RoadNetwork, Detours>();
function detoursFor(net: RoadNetwork): Detours {
  let d = detourCache.get(net);
  if (!d) {
    d = new Detours(net);
    detourCache.set(net, d);
  }
  return d;
}

function hookFor(ctx: WhatIfContext, name: string, intersections: readonly number[] | null, path: string): StepHook {
  if (!ctx.controllers) throw new ScenarioError(path, `controller "${name}" asked for, but no controller factory was given`);
  try {
    return ctx.controllers(name, ctx.net, intersections);
  } catch (e) {
    throw new ScenarioError(path, (e as Error).message);
  }
}

/** Runs a scenario (parsed here) against its baseline for every seed. */
export function runWhatIf(ctx: WhatIfContext, input: ScenarioInput | Scenario, opts: RunWhatIfOptions = {}): WhatIfResult {
  const sc = parseScenario(input);
  const net = ctx.net;
  const t0 = performance.now();
  const dt = 1;
  const stepsPerRun = Math.round(sc.horizon / dt);
  const total = stepsPerRun * 2 * sc.seeds;
  const every = opts.progressEvery ?? Math.max(1, Math.floor(total / 200));
  let done = 0;
  const startClock = sc.start.kind === 'snapshot' ? sc.start.snapshot.step * dt : 0;
  const resolved = resolveChanges(net, sc.changes, startClock, sc.horizon);
  const seeds = Array.from({ length: sc.seeds }, (_, k) => sc.baseSeed + k);
  const outcomes: { seed: number; baseline: RunOutcome; scenario: RunOutcome }[] = [];
  let replay: Replay | null = null;
  for (const seed of seeds) {
    const first = seed === seeds[0];
    const baseline = runOne(ctx, sc, null, seed, 'baseline', first && sc.replay.enabled && sc.replay.run === 'baseline');
    const scenario = runOne(ctx, sc, resolved, seed, 'scenario', first && sc.replay.enabled && sc.replay.run === 'scenario');
    replay ??= baseline.replay ?? scenario.replay;
    outcomes.push({ seed, baseline, scenario });
  }

  function runOne(ctx: WhatIfContext, sc: Scenario, changes: ResolvedChanges | null, seed: number, run: 'baseline' | 'scenario', withReplay: boolean): RunOutcome {
    const hooks: StepHook[] = [];
    if (sc.control) hooks.push(hookFor(ctx, sc.control, null, 'control'));
    if (changes) changes.control.forEach((c, k) => hooks.push(hookFor(ctx, c.controller, c.intersections, `changes(control)[${k}]`)));
    const signalMode = sc.control && hooks[0].signalMode === 'external' ? 'external' : 'program';
    let engine: Engine;
    let synthesis: SynthesisStats | null = null;
    let flowEdits: FlowEditStats | null = null;
    let start: { finished: number; finishedTravelTime: number };
    const detours = changes && (changes.closures.length > 0 || changes.demand.length > 0) ? detoursFor(net) : null;
    if (sc.start.kind === 'snapshot') {
      const snap = sc.start.snapshot;
      if (snap.flows.length > ctx.flows.length) throw new ScenarioError('start.snapshot', `snapshot has ${snap.flows.length} flows, the demand ${ctx.flows.length}`);
      let flows: Flow[] = [...ctx.flows];
      if (changes && detours) {
        const edited = editFlows(net, ctx.flows, changes, detours, { clock: snap.flowClock, started: startedFlows(ctx.flows, snap.nextFlowToStart), seed });
        flows = edited.flows;
        flowEdits = edited.stats;
      }
      engine = Engine.restore(net, flows, snap, { seed, signalMode, recordTrips: true });
      start = { finished: snap.finished, finishedTravelTime: snap.finishedTravelTime };
    } else {
      const est = sc.start;
      const obs = toTrafficObservation(est.observation, net.movements.length);
      if (obs.laneVehicles.length !== net.lanes.length || obs.laneQueue.length !== net.lanes.length || obs.laneSpeed.length !== net.lanes.length)
        throw new ScenarioError('start.observation', `expected ${net.lanes.length} lanes`);
      const shifted = shiftFlows(ctx.flows, est.time ?? obs.time);
      const like = ctx.flows[0];
      if (!like) throw new ScenarioError('start', 'the demand has no flows to take vehicle parameters from');
      // A flow that never spawns: the synthesised vehicles take its parameters and id prefix.
      const template: Flow = {
        index: ctx.flows.reduce((m, f) => Math.max(m, f.index), -1) + 1,
        vehicle: like.vehicle,
        roads: like.roads,
        interval: 1,
        startTime: NEVER,
        endTime: NEVER,
      };
      let flows: Flow[] = [...shifted, template];
      if (changes && detours) {
        const edited = editFlows(net, flows, changes, detours, { clock: 0, started: new Set(), seed });
        flows = edited.flows;
        flowEdits = edited.stats;
      }
      engine = new Engine(net, flows, { seed, signalMode, recordTrips: true });
      synthesis = synthesiseVehicles(engine, net, obs, shifted, {
        seed,
        routes: est.routes,
        templateFlow: shifted.length,
        vehicleLength: like.vehicle.length,
        minGap: like.vehicle.minGap,
        usualNegAcc: like.vehicle.usualNegAcc,
        maxSpeed: like.vehicle.maxSpeed,
      });
      start = { finished: 0, finishedTravelTime: 0 };
    }
    const startTime = engine.time;
    const schedule = changes && (changes.closures.length > 0 || changes.incidents.length > 0) ? new ChangeSchedule(net, changes, detoursFor(net)) : null;
    const recorder = new KpiRecorder(net, engine, start);
    const rec = withReplay ? new ReplayRecorder(net, run, seed, sc.replay.every, sc.replay.maxBytes) : null;
    const firstStep = engine.steps;
    rec?.afterStep(engine, firstStep);
    for (let s = 0; s < stepsPerRun; s++) {
      if (opts.signal?.aborted || opts.isCancelled?.()) throw new WhatIfCancelledError();
      schedule?.beforeStep(engine);
      for (const h of hooks) h.beforeStep?.(engine);
      engine.step();
      for (const h of hooks) h.afterStep?.(engine);
      recorder.afterStep(engine);
      rec?.afterStep(engine, firstStep);
      done++;
      if (opts.onProgress && (done % every === 0 || s === stepsPerRun - 1)) {
        opts.onProgress({ fraction: done / total, simTime: engine.time - startTime, seed, run });
      }
    }
    const kpis = recorder.finish(engine, {
      droppedTrips: flowEdits?.droppedByClosure ?? 0,
      reroutedVehicles: (schedule?.rerouted ?? 0) + (flowEdits?.reroutedBeforeStart ?? 0),
      strandedVehicles: schedule?.stranded ?? 0,
    });
    return { kpis, startTime, synthesis, flowEdits, replay: rec ? rec.result(engine.dt) : null };
  }

  const wallSeconds = (performance.now() - t0) / 1000;
  return summarise(net, sc, seeds, outcomes, replay, wallSeconds, total * dt);
}

function compare(base: number[], scen: number[]): KpiComparison {
  return { baseline: stat(base), scenario: stat(scen), difference: stat(scen.map((x, k) => x - base[k])) };
}

function summarise(
  net: RoadNetwork,
  sc: Scenario,
  seeds: number[],
  outcomes: { seed: number; baseline: RunOutcome; scenario: RunOutcome }[],
  replay: Replay | null,
  wallSeconds: number,
  simulatedSeconds: number,
): WhatIfResult {
  const kpis = {} as Record<KpiName, KpiComparison>;
  for (const k of KPI_NAMES) {
    kpis[k] = compare(
      outcomes.map((o) => o.baseline.kpis.scalars[k]),
      outcomes.map((o) => o.scenario.kpis.scalars[k]),
    );
  }
  const worst = (which: 'baseline' | 'scenario'): LaneQueueRow[] => {
    const nL = net.lanes.length;
    const mean = new Float64Array(nL);
    for (const o of outcomes) for (let l = 0; l < nL; l++) mean[l] += o[which].kpis.laneMaxQueue[l] / outcomes.length;
    const top = Array.from({ length: nL }, (_, l) => l)
      .filter((l) => mean[l] > 0)
      .sort((a, b) => mean[b] - mean[a] || a - b)
      .slice(0, sc.kpi.worstQueues);
    return top.map((l) => ({ lane: net.lanes[l].id, road: net.roads[net.lanes[l].road].id, maxQueue: stat(outcomes.map((o) => o[which].kpis.laneMaxQueue[l])) }));
  };
  const sites = signalisedOf(net);
  const intersections: IntersectionRow[] = sites.map((i, s) => ({
    intersection: net.intersections[i].id,
    delay: compare(
      outcomes.map((o) => o.baseline.kpis.intersectionDelay[s]),
      outcomes.map((o) => o.scenario.kpis.intersectionDelay[s]),
    ),
    meanQueue: compare(
      outcomes.map((o) => o.baseline.kpis.intersectionMeanQueue[s]),
      outcomes.map((o) => o.scenario.kpis.intersectionMeanQueue[s]),
    ),
    maxQueue: compare(
      outcomes.map((o) => o.baseline.kpis.intersectionMaxQueue[s]),
      outcomes.map((o) => o.scenario.kpis.intersectionMaxQueue[s]),
    ),
  }));
  intersections.sort((a, b) => Math.abs(b.delay.difference.mean) - Math.abs(a.delay.difference.mean) || a.intersection.localeCompare(b.intersection));
  return {
    name: sc.name,
    horizon: sc.horizon,
    seeds,
    startTime: outcomes[0]?.baseline.startTime ?? 0,
    kpis,
    worstQueues: { baseline: worst('baseline'), scenario: worst('scenario') },
    intersections,
    perSeed: outcomes.map((o) => ({
      seed: o.seed,
      baseline: o.baseline.kpis.scalars,
      scenario: o.scenario.kpis.scalars,
      synthesis: o.scenario.synthesis,
      flowEdits: o.scenario.flowEdits,
    })),
    replay,
    simulatedSeconds,
    wallSeconds,
    realTimeFactor: wallSeconds > 0 ? simulatedSeconds / wallSeconds : 0,
  };
}
