import { describe, expect, it } from 'vitest';
import type { FlowFile } from '../../twin/network/cityflowFormat.ts';
import { generateDemand, generateGrid } from '../../twin/network/generator.ts';
import { importFlows, importRoadnet, type Flow } from '../../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import { Engine, type EngineSnapshot } from '../../twin/sim/Engine.ts';
import { TruthObserver, type TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { editFlows, startedFlows } from '../../twin/whatif/FlowEdits.ts';
import { runWhatIfInWorker } from '../../twin/whatif/runInWorker.ts';
import type { ScenarioInput } from '../../twin/whatif/Scenario.ts';
import { Detours, resolveChanges } from '../../twin/whatif/ScenarioChanges.ts';
import { runWhatIf, type ControllerFactory, type StepHook, type WhatIfResult } from '../../twin/whatif/ScenarioRunner.ts';
import { synthesiseVehicles } from '../../twin/whatif/StateSynthesis.ts';

interface World {
  roadnet: ReturnType<typeof generateGrid>;
  flowJson: FlowFile;
  net: RoadNetwork;
  flows: Flow[];
  snapshot: EngineSnapshot;
  observation: TrafficObservation;
}

/** A 3×3 grid with 20 minutes of steady demand, run for `warm` s (the field) to take the start state. */
function world(warm = 300, perLane = 150): World {
  const roadnet = generateGrid({ rows: 3, cols: 3 });
  const flowJson = generateDemand(roadnet, { seed: 3, duration: 1200, peakVehPerHourPerLane: perLane, profile: { offPeak: 1, peaks: [] } });
  const net = importRoadnet(roadnet);
  const flows = importFlows(flowJson, net);
  const field = new Engine(net, flows, { seed: 0 });
  const obs = new TruthObserver(field, 60);
  for (let s = 0; s < warm; s++) {
    field.step();
    obs.update();
  }
  return { roadnet, flowJson, net, flows, snapshot: field.snapshot(), observation: obs.observe() };
}

const W = world();
const interior = W.net.roads.filter((r) => !W.net.intersections[r.from].virtual && !W.net.intersections[r.to].virtual);
/** The interior road most routes use: closing it matters. */
const busiest = [...interior].sort((a, b) => W.flows.filter((f) => f.roads.includes(b.index)).length - W.flows.filter((f) => f.roads.includes(a.index)).length)[0];

/** A factory whose controllers only watch (record per run, in the order the runs are made). */
function spies(watch: (run: number, engine: Engine) => void): ControllerFactory {
  let runs = 0;
  return (name) => {
    if (name !== 'spy') throw new Error(`no controller ${name}`);
    const run = runs++;
    const hook: StepHook = { afterStep: (engine) => watch(run, engine) };
    return hook;
  };
}

const kpisOf = (r: WhatIfResult) => Object.fromEntries(Object.entries(r.kpis).map(([k, v]) => [k, [v.baseline.mean, v.scenario.mean]]));

describe('what-if runs', () => {
  it('baseline and scenario from the same snapshot are identical when nothing changes', () => {
    const r = runWhatIf({ net: W.net, flows: W.flows }, { start: { kind: 'snapshot', snapshot: W.snapshot }, horizon: 400, seeds: 2 });
    for (const [, v] of Object.entries(r.kpis)) {
      expect(v.scenario).toEqual(v.baseline);
      expect(v.difference.mean).toBe(0);
    }
    expect(r.worstQueues.scenario).toEqual(r.worstQueues.baseline);
    for (const i of r.intersections) expect(i.delay.difference.max).toBe(0);
    // And the same as resuming the field by hand.
    const e = Engine.restore(W.net, W.flows, W.snapshot, { recordTrips: true });
    const t0 = e.trips.length;
    e.run(400);
    expect(r.kpis.throughput.baseline.mean).toBe(e.trips.length - t0);
    expect(r.kpis.att.baseline.mean).toBeGreaterThan(0);
  });

  it('a closure re-routes traffic and its lanes see no entries while it lasts', () => {
    const closed = new Set(busiest.lanes);
    const violations: string[] = [];
    let onAtStart: Set<number> | null = null;
    let enteredAfter = 0;
    const start = W.snapshot.step;
    const factory = spies((_run, engine) => {
      const t = engine.time - start;
      engine.forEachMove((_slot, _from, to) => {
        if (!closed.has(to)) return;
        // A move during step t (clock t−1 → t) happened while the lanes were closed if t−1 is in [60, 600).
        if (t - 1 >= 60 && t - 1 < 600) violations.push(`t=${t}: entered closed lane ${to}`);
        if (t - 1 >= 600) enteredAfter++;
      });
      if (t - 1 >= 60 && t - 1 < 600) {
        const on = new Set<number>();
        for (const l of closed) engine.forEachOn(l, (slot) => on.add(engine.vehicleUid(slot)));
        if (!onAtStart) onAtStart = on;
        else for (const u of on) if (!onAtStart.has(u)) violations.push(`t=${t}: vehicle ${u} appeared on a closed lane`);
      }
    });
    const r = runWhatIf(
      { net: W.net, flows: W.flows, controllers: factory },
      {
        start: { kind: 'snapshot', snapshot: W.snapshot },
        horizon: 800,
        changes: [
          { kind: 'closure', roads: [busiest.id], window: { from: 60, until: 600 } },
          { kind: 'control', intersections: 'all', controller: 'spy' },
        ],
      },
    );
    expect(violations).toEqual([]);
    expect(r.kpis.reroutedVehicles.scenario.mean).toBeGreaterThan(0);
    expect(r.perSeed[0].flowEdits!.reroutedBeforeStart).toBeGreaterThan(0);
    expect(enteredAfter).toBeGreaterThan(0); // reopened
  });

  it('drops and counts trips whose origin is closed', () => {
    const entry = W.net.roads.find((r) => W.net.intersections[r.from].virtual && W.flows.some((f) => f.roads[0] === r.index && f.startTime > 400))!;
    const expected = W.flows.filter((f) => f.roads[0] === entry.index && f.startTime >= W.snapshot.flowClock && f.startTime < W.snapshot.step + 500).length;
    const r = runWhatIf({ net: W.net, flows: W.flows }, { start: { kind: 'snapshot', snapshot: W.snapshot }, horizon: 500, changes: [{ kind: 'closure', roads: [entry.id] }] });
    expect(expected).toBeGreaterThan(0);
    expect(r.kpis.droppedTrips.scenario.mean).toBe(expected);
    expect(r.kpis.droppedTrips.baseline.mean).toBe(0);
  });

  it('an incident slows its road while it lasts', () => {
    const lanes = new Set(busiest.lanes);
    const speeds: number[][] = [[], []];
    const since = [new Map<number, number>(), new Map<number, number>()];
    const start = W.snapshot.step;
    const factory = spies((run, engine) => {
      const t = engine.time - start;
      if (t >= 400) return;
      // Vehicles come onto the lane at their own speed and brake to the cap within two steps.
      for (const l of lanes)
        engine.forEachOn(l, (slot, _d, v) => {
          const uid = engine.vehicleUid(slot);
          if (!since[run].has(uid)) since[run].set(uid, t);
          if (t >= 5 && t - since[run].get(uid)! >= 3) speeds[run].push(v);
        });
    });
    const r = runWhatIf(
      { net: W.net, flows: W.flows, controllers: factory },
      { start: { kind: 'snapshot', snapshot: W.snapshot }, horizon: 500, control: 'spy', changes: [{ kind: 'incident', road: busiest.id, speedCap: 2, window: { from: 0, until: 400 } }] },
    );
    expect(speeds[0].length).toBeGreaterThan(0);
    expect(Math.max(...speeds[1])).toBeLessThanOrEqual(2 + 1e-9);
    expect(Math.max(...speeds[0])).toBeGreaterThan(5);
    expect(r.kpis.stoppedDelay.difference.mean).toBeGreaterThan(0);
  });

  it('scales demand in an area and window as asked, deterministically for a seed', () => {
    const fresh = new Engine(W.net, W.flows).snapshot();
    const everywhere = { bbox: { minX: -1e9, minY: -1e9, maxX: 1e9, maxY: 1e9 } };
    const inWindow = W.flows.filter((f) => f.startTime >= 100 && f.startTime < 500).length;
    const created: number[] = [];
    const run = (factor: number, seed = 0) => {
      created.length = 0;
      const count = spies((k, engine) => (created[k] = engine.metrics().created));
      const r = runWhatIf(
        { net: W.net, flows: W.flows, controllers: count },
        { start: { kind: 'snapshot', snapshot: fresh }, horizon: 600, baseSeed: seed, control: 'spy', changes: [{ kind: 'demand', area: everywhere, factor, window: { from: 100, until: 500 } }] },
      );
      return { r, base: created[0], scen: created[1] };
    };
    const x2 = run(2);
    expect(x2.r.perSeed[0].flowEdits!.duplicated).toBe(inWindow);
    expect(x2.scen - x2.base).toBe(inWindow);
    const x0 = run(0);
    expect(x0.base - x0.scen).toBe(inWindow);
    const half = run(0.5);
    const thinned = half.r.perSeed[0].flowEdits!.thinned;
    expect(Math.abs(thinned - inWindow / 2)).toBeLessThan(4 * Math.sqrt(inWindow / 4) + 1);
    expect(half.base - half.scen).toBe(thinned);
    // The same seed draws the same trips.
    const again = run(0.5);
    expect(again.r.perSeed[0].flowEdits).toEqual(half.r.perSeed[0].flowEdits);
    expect(again.scen).toBe(half.scen);
  });

  it('keeps a restored engine consistent when flows are edited (only future trips change)', () => {
    const changes = resolveChanges(W.net, [{ kind: 'demand', area: { roads: [W.net.roads[0].id] }, factor: 3, match: 'any', window: { from: 0, until: null } }], W.snapshot.step, 600);
    const started = startedFlows(W.flows, W.snapshot.nextFlowToStart);
    const { flows } = editFlows(W.net, W.flows, changes, new Detours(W.net), { clock: W.snapshot.flowClock, started, seed: 1 });
    for (const i of started) expect(flows[i]).toEqual(W.flows[i]);
    for (let i = W.flows.length; i < flows.length; i++) expect(flows[i].startTime).toBeGreaterThanOrEqual(W.snapshot.flowClock);
    const e = Engine.restore(W.net, flows, W.snapshot);
    e.run(600);
    expect(e.metrics().created).toBeGreaterThan(W.snapshot.created);
  });

  it('reports progress and can be cancelled between steps', () => {
    const seen: { fraction: number; simTime: number }[] = [];
    const r = runWhatIf({ net: W.net, flows: W.flows }, { start: { kind: 'snapshot', snapshot: W.snapshot }, horizon: 300, seeds: 2 }, { onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(10);
    for (let k = 1; k < seen.length; k++) expect(seen[k].fraction).toBeGreaterThan(seen[k - 1].fraction);
    expect(seen[seen.length - 1].fraction).toBe(1);
    expect(seen.every((p) => p.simTime > 0 && p.simTime <= 300)).toBe(true);
    expect(r.seeds).toEqual([0, 1]);

    const ac = new AbortController();
    const after: number[] = [];
    expect(() =>
      runWhatIf({ net: W.net, flows: W.flows }, { start: { kind: 'snapshot', snapshot: W.snapshot }, horizon: 3000 }, {
        signal: ac.signal,
        progressEvery: 10,
        onProgress: (p) => {
          after.push(p.fraction);
          if (p.fraction > 0.1) ac.abort();
        },
      }),
    ).toThrow(/cancelled/);
    expect(Math.max(...after)).toBeLessThan(0.12);
  });

  it('starts from an estimated state: queues packed at the stop line, moving vehicles spread behind', () => {
    const e = new Engine(W.net, W.flows);
    const lane = busiest.lanes[1];
    const n = W.net.lanes.length;
    const obs: TrafficObservation = {
      ...W.observation,
      laneVehicles: new Float64Array(n),
      laneQueue: new Float64Array(n),
      laneSpeed: new Float64Array(n).fill(11),
    };
    obs.laneVehicles[lane] = 8;
    obs.laneQueue[lane] = 3;
    obs.laneSpeed[lane] = (5 * 6) / 8; // moving ones at 6 m/s
    const v = W.flows[0].vehicle;
    const stats = synthesiseVehicles(e, W.net, obs, W.flows, {
      seed: 1,
      routes: 'auto',
      templateFlow: 0,
      vehicleLength: v.length,
      minGap: v.minGap,
      usualNegAcc: v.usualNegAcc,
      maxSpeed: v.maxSpeed,
    });
    expect(stats.added).toBe(8);
    const on: { dis: number; speed: number }[] = [];
    e.forEachOn(lane, (_s, dis, speed) => on.push({ dis, speed }));
    expect(on.length).toBe(8);
    const L = W.net.lanes[lane].length;
    for (let k = 0; k < 3; k++) {
      expect(on[k].speed).toBe(0);
      expect(on[k].dis).toBeCloseTo(L - 0.5 - k * (v.length + v.minGap), 9);
    }
    for (let k = 3; k < 8; k++) {
      expect(on[k].speed).toBeGreaterThan(0);
      expect(on[k].speed).toBeLessThanOrEqual(6 + 1e-9);
      expect(on[k - 1].dis - on[k].dis).toBeGreaterThanOrEqual(v.length + v.minGap - 1e-9);
    }
    for (let s = 0; s < 120; s++) e.step();
    expect(e.metrics().finished + e.metrics().running).toBeGreaterThan(0);
  });

  it('runs from an estimate with seeds varying the synthesised routes', () => {
    const r = runWhatIf({ net: W.net, flows: W.flows }, { start: { kind: 'estimate', observation: W.observation, time: W.snapshot.step }, horizon: 300, seeds: 3 });
    const synth = r.perSeed.map((s) => s.synthesis!);
    expect(synth.every((s) => s.added > 0)).toBe(true);
    expect(r.kpis.att.difference.max).toBe(0);
    // Different seeds, different draws: the baseline varies.
    expect(new Set(r.perSeed.map((s) => s.baseline.att)).size).toBeGreaterThan(1);
    expect(r.kpis.att.baseline.std).toBeGreaterThan(0);
    expect(r.kpis.att.baseline.min).toBeLessThanOrEqual(r.kpis.att.baseline.mean);
  });

  it('caps the replay by thinning frames over the whole horizon', () => {
    const r = runWhatIf({ net: W.net, flows: W.flows }, { start: { kind: 'snapshot', snapshot: W.snapshot }, horizon: 600, replay: { every: 1, maxBytes: 60_000 } });
    const rep = r.replay!;
    expect(rep.thinned).toBe(true);
    expect(rep.bytes).toBeLessThanOrEqual(60_000);
    expect(rep.everySteps).toBeGreaterThan(1);
    expect(rep.frames[rep.frames.length - 1].time).toBeGreaterThan(W.snapshot.step + 600 - 2 * rep.everySteps);
    const f = rep.frames[1];
    expect(f.ids).toBeInstanceOf(Int32Array);
    expect(f.poses.length).toBe(3 * f.ids.length);
    expect(new Set(f.ids).size).toBe(f.ids.length);
  });

  it('refuses unknown ids with the field path', () => {
    expect(() => runWhatIf({ net: W.net, flows: W.flows }, { start: { kind: 'snapshot', snapshot: W.snapshot }, horizon: 10, changes: [{ kind: 'closure', roads: ['nope'] }] })).toThrow(
      /changes\[0\]\.roads\[0\]: unknown road "nope"/,
    );
    expect(() => runWhatIf({ net: W.net, flows: W.flows }, { start: { kind: 'snapshot', snapshot: W.snapshot }, horizon: 10, control: 'maxpressure' })).toThrow(/no controller factory/);
  });
});

describe('what-if in a worker thread', () => {
  const scenario: ScenarioInput = {
    name: 'worker',
    start: { kind: 'estimate', observation: W.observation, time: W.snapshot.step },
    horizon: 300,
    seeds: 2,
    changes: [
      { kind: 'closure', roads: [busiest.id], window: { from: 30, until: 200 } },
      { kind: 'demand', area: { roads: W.net.roads.filter((r) => W.net.intersections[r.from].virtual).slice(0, 3).map((r) => r.id) }, factor: 1.5 },
    ],
  };

  it('returns the same result as in-process, with progress', async () => {
    const progress: number[] = [];
    const inWorker = await runWhatIfInWorker({ roadnet: W.roadnet, flows: W.flowJson, scenario }, { onProgress: (p) => progress.push(p.fraction) });
    const here = runWhatIf({ net: W.net, flows: W.flows }, scenario);
    const strip = (r: WhatIfResult) => ({ ...r, wallSeconds: 0, realTimeFactor: 0 });
    expect(strip(inWorker)).toEqual(strip(here));
    expect(kpisOf(inWorker)).toEqual(kpisOf(here));
    expect(progress.length).toBeGreaterThan(5);
    expect(progress[progress.length - 1]).toBe(1);
  });

  it('is cancelled through its signal', async () => {
    const ac = new AbortController();
    const run = runWhatIfInWorker(
      { roadnet: W.roadnet, flows: W.flowJson, scenario: { ...scenario, horizon: 20_000, seeds: 4 } },
      { signal: ac.signal, onProgress: () => ac.abort() },
    );
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('controllers in a what-if', () => {
  it('runs another controller at chosen intersections only, through the caller factory', async () => {
    const { createController } = await import('../../twin/whatif/registryControllers.ts');
    const target = W.net.intersections.find((i) => !i.virtual)!;
    const others = W.net.intersections.filter((i) => !i.virtual && i.index !== target.index);
    const mismatches: string[] = [];
    // Program mode: the other intersections must show exactly the roadnet's program.
    const reference = Engine.restore(W.net, W.flows, W.snapshot);
    const watch: ControllerFactory = (name, net, at) => {
      if (name === 'watch') {
        return {
          afterStep: (engine) => {
            reference.step();
            for (const i of others) for (const m of i.movements) if (engine.lights.movementGreen[m] !== reference.lights.movementGreen[m]) mismatches.push(`${i.id}:${m}@${engine.time}`);
          },
        };
      }
      return createController(name, net, at);
    };
    const r = runWhatIf(
      { net: W.net, flows: W.flows, controllers: watch },
      {
        start: { kind: 'snapshot', snapshot: W.snapshot },
        horizon: 300,
        changes: [
          { kind: 'control', intersections: [target.id], controller: 'maxpressure' },
          { kind: 'control', intersections: 'all', controller: 'watch' },
        ],
      },
    );
    expect(mismatches).toEqual([]);
    const row = r.intersections.find((i) => i.intersection === target.id)!;
    expect(row.delay.difference.mean).not.toBe(0);
    expect(() => createController('no-such', W.net, null)).toThrow(/unknown controller/);
  });
});
