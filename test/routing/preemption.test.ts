import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FlowEntry } from '../../twin/network/cityflowFormat.ts';
import { generateDemand, generateGrid } from '../../twin/network/generator.ts';
import { importFlows, type Flow } from '../../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import { Mt19937 } from '../../twin/random.ts';
import { runEmergencyScenario } from '../../twin/routing/EmergencyRun.ts';
import { EmergencyTracker, type EmergencyVehicleSpec } from '../../twin/routing/EmergencyTracker.ts';
import { FastestRouter, edgeBetween, evaluateRoute } from '../../twin/routing/FastestRoute.ts';
import { PreemptionController } from '../../twin/routing/PreemptionController.ts';
import { PreemptionWindowSchema, clearanceBefore, preemptionWindows } from '../../twin/routing/PreemptionWindow.ts';
import { roadGraph } from '../../twin/routing/RoadGraph.ts';
import { linkTravelTimes, turnLoss, vehicleTravelTime } from '../../twin/routing/TravelTimeModel.ts';
import { Engine } from '../../twin/sim/Engine.ts';
import { TruthObserver, type TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { safetyModels } from '../../signal-controllers/fieldSignals.ts';
import { fixedTimePolicy } from '../../signal-controllers/policies/fixedTime.ts';
import { grid, randomObservation } from './helpers.ts';

const EV = { length: 5, width: 2, maxPosAcc: 2, maxNegAcc: 4.5, usualPosAcc: 2, usualNegAcc: 4.5, minGap: 2.5, maxSpeed: 13.89, headwayTime: 2, class: 'emergency' as const };

/** Background demand on a generated grid plus emergency vehicles on fastest routes between far boundary roads. */
function withEmergencies(net: RoadNetwork, rows: number, cols: number, evs: { time: number; pick: number }[], perLane = 120): { flows: Flow[]; specs: EmergencyVehicleSpec[] } {
  const base: FlowEntry[] = generateDemand(generateGrid({ rows, cols }), { seed: 1, duration: 900, peakVehPerHourPerLane: perLane, profile: { offPeak: 1, peaks: [] } });
  const g = roadGraph(net);
  const router = new FastestRouter(g);
  const times = linkTravelTimes(g, null, { signalDelayFactor: 0.1 });
  const entries = net.roads.filter((r) => net.intersections[r.from].virtual);
  const exits = net.roads.filter((r) => net.intersections[r.to].virtual);
  const specs: EmergencyVehicleSpec[] = [];
  const extra: FlowEntry[] = [];
  evs.forEach(({ time, pick }) => {
    const a = entries[pick % entries.length];
    const p = net.intersections[a.from].point;
    const far = [...exits].sort((x, y) => {
      const dx = net.intersections[x.to].point;
      const dy = net.intersections[y.to].point;
      return Math.hypot(dy.x - p.x, dy.y - p.y) - Math.hypot(dx.x - p.x, dx.y - p.y) || x.index - y.index;
    })[Math.floor(pick / entries.length) % 3];
    const route = router.fastestBetweenRoads(a.index, far.index, times)!;
    extra.push({ vehicle: { ...EV }, route: route.roadIds, interval: 1, startTime: time, endTime: time });
    specs.push({ vehicle: `flow_${base.length + extra.length - 1}_0`, roads: route.roads, dispatchTime: time });
  });
  return { flows: importFlows([...base, ...extra], net), specs };
}

describe('pre-emption windows', () => {
  it('start early enough for minimum green, clearance and the queue ahead, one per signal on the route', () => {
    const net = grid(3, 3);
    const g = roadGraph(net);
    const obs = randomObservation(g.nLanes, g.nMovements, new Mt19937(4));
    const times = linkTravelTimes(g, obs, { signalDelayFactor: 0.1 });
    const [route] = new FastestRouter(g).route({ from: { road: 'road_0_1_0' }, to: { road: 'road_3_3_1' } }, times);
    const safety = safetyModels(net);
    const ws = preemptionWindows(route, { net, graph: g, safety, observation: obs, now: 100, vehicle: 'ev1' });
    expect(ws.length).toBe(route.legs.filter((l) => safety.has(l.intersection)).length);
    for (const w of ws) {
      PreemptionWindowSchema.parse(w);
      const leg = route.legs.find((l) => l.intersection === w.intersectionIndex)!;
      const s = safety.get(w.intersectionIndex)!;
      const m = w.movements[0];
      let need = 0;
      for (const c of s.conflictsOf[m]) need = Math.max(need, s.requiredYellow[c] + s.requiredAllRed[c]);
      expect(w.lead.clearance).toBeGreaterThanOrEqual(need - 1e-9);
      expect(w.lead.clearance).toBe(clearanceBefore(net, s, [m]));
      expect(w.eta).toBeCloseTo(100 + leg.arriveStopLine, 9);
      expect(w.start).toBeLessThanOrEqual(w.earliest - w.lead.minGreen - 2 * w.lead.clearance - w.lead.queueFlush + 1e-9);
      expect(w.earliest).toBeLessThanOrEqual(w.eta);
      expect(w.latest).toBeGreaterThanOrEqual(w.eta);
      expect(w.end).toBeGreaterThan(w.latest);
      expect(net.intersections[w.intersectionIndex].movements[m]).toBe(leg.movement);
    }
  });
});

describe('pre-emption in the simulation', () => {
  const runChecked = (net: RoadNetwork, evs: { time: number; pick: number }[]) => {
    const g = roadGraph(net);
    const { flows, specs } = withEmergencies(net, 3, 3, evs);
    const problems: string[] = [];
    const r = runEmergencyScenario(net, flows, fixedTimePolicy(net), specs, {
      duration: 900,
      preemption: true,
      afterStep: (engine, controller, tracker) => {
        // A window is only ever held for a signal still ahead of its vehicle.
        for (const w of controller.pendingWindows()) {
          const res = tracker.results().find((v) => v.vehicle === w.vehicle)!;
          if (Number.isFinite(res.exitTime)) problems.push(`t=${engine.time}: window ${w.id} kept after the vehicle left`);
          const ahead = res.finalRoute.map((id) => g.roadIndex.get(id)!);
          if (!ahead.some((road) => net.roads[road].to === w.intersectionIndex)) problems.push(`t=${engine.time}: window ${w.id} not on the route`);
        }
      },
    });
    expect(problems).toEqual([]);
    expect(r.controller.unsafeStates).toBe(0);
    expect(r.controller.refusedChanges).toBe(0);
    for (const v of r.vehicles) {
      expect(Number.isFinite(v.travelTime)).toBe(true);
      expect(v.arrivals.length).toBeGreaterThan(0);
    }
    return r;
  };

  it('has the emergency movement green on arrival, never an unsafe state, and releases windows (random dispatch times)', () => {
    const net = grid(3, 3);
    fc.assert(
      fc.property(fc.integer({ min: 20, max: 500 }), fc.integer({ min: 0, max: 200 }), (time, pick) => {
        const r = runChecked(net, [{ time, pick }]);
        const [v] = r.vehicles;
        expect(v.arrivals.filter((a) => !a.green)).toEqual([]);
        expect(v.stepsStoppedAtRed).toBe(0);
      }),
      { numRuns: 8 },
    );
  });

  it('stays safe with several emergency vehicles at once (conflicting ones are served in turn)', () => {
    const net = grid(3, 3);
    fc.assert(
      fc.property(fc.array(fc.record({ time: fc.integer({ min: 20, max: 300 }), pick: fc.integer({ min: 0, max: 200 }) }), { minLength: 2, maxLength: 4 }), (evs) => {
        const r = runChecked(net, evs);
        // Served in turn: a vehicle may meet the end of another's clearance, never a full cycle.
        for (const v of r.vehicles) expect(v.stepsStoppedAtRed).toBeLessThan(30);
      }),
      { numRuns: 6 },
    );
  });

  it('windows are released as the vehicle passes each signal', () => {
    const net = grid(3, 3);
    const { flows, specs } = withEmergencies(net, 3, 3, [{ time: 60, pick: 0 }], 60);
    const engine = new Engine(net, flows, { signalMode: 'external' });
    const controller = new PreemptionController(net, fixedTimePolicy(net));
    const tracker = new EmergencyTracker(net, specs, controller);
    const g = roadGraph(net);
    const released: number[] = [];
    let before = new Set<string>();
    for (let s = 0; s < 900; s++) {
      controller.beforeStep(engine);
      engine.step();
      controller.afterStep();
      tracker.afterStep(engine);
      const now = new Set(controller.pendingWindows().map((w) => w.id));
      for (const id of before) if (!now.has(id)) released.push(engine.time);
      before = now;
    }
    const [v] = tracker.results();
    expect(Number.isFinite(v.exitTime)).toBe(true);
    const signals = specs[0].roads.filter((r) => !net.intersections[g.roadTo[r]].virtual).length;
    expect(released.length).toBe(signals);
    // Each released once the vehicle was at that signal, the last no later than its exit.
    for (let k = 0; k < signals; k++) expect(released[k]).toBeGreaterThanOrEqual(v.arrivals[k].time);
    expect(Math.max(...released)).toBeLessThanOrEqual(v.exitTime);
    expect(controller.pendingWindows()).toEqual([]);
  });

  it('builds a validated phase when no phase of the plan serves the emergency movement', () => {
    const net = grid(3, 3);
    const g = roadGraph(net);
    const { flows, specs } = withEmergencies(net, 3, 3, [{ time: 30, pick: 1 }], 30);
    // The movements the vehicle takes at each signal; keep only program phases that serve none of them.
    const used = new Set<number>();
    for (let k = 0; k + 1 < specs[0].roads.length; k++) {
      const e = g.edgeStart[specs[0].roads[k]];
      for (let x = e; x < g.edgeStart[specs[0].roads[k] + 1]; x++) if (g.edgeTo[x] === specs[0].roads[k + 1]) used.add(net.movements[g.edgeMovement[x]].localIndex);
    }
    const inter = net.intersections.find((i) => !i.virtual)!;
    const isRight = (m: number) => net.movements[inter.movements[m]].type === 'turn_right';
    const phases = inter.phases.filter((p) => p.index > 0 && !p.movements.some((m) => used.has(m) && !isRight(m))).map((p) => p.index);
    expect(phases.length).toBeGreaterThan(0);
    const r = runEmergencyScenario(net, flows, fixedTimePolicy(net, { phases }), specs, { duration: 900, preemption: true });
    expect(r.controller.unsafeStates).toBe(0);
    expect(r.controller.refusedChanges).toBe(0);
    expect(r.controller.served).toBeGreaterThan(0);
    const [v] = r.vehicles;
    expect(Number.isFinite(v.travelTime)).toBe(true);
    expect(v.arrivals.every((a) => a.green)).toBe(true);
    // Without pre-emption the vehicle would wait for ever at a movement never green.
    const without = runEmergencyScenario(net, flows, fixedTimePolicy(net, { phases }), specs, { duration: 900, preemption: false });
    expect(Number.isFinite(without.vehicles[0].travelTime) && without.vehicles[0].travelTime <= v.travelTime).toBe(false);
  });
});

describe('free-flow time of a route with turns', () => {
  it('matches a lone pre-empted vehicle driving it: the turns cost what the engine spends slowing for them', () => {
    const net = grid(4, 4);
    const g = roadGraph(net);
    const router = new FastestRouter(g);
    const vehicle = { ...EV, speedFactor: 1.25 };
    const free = linkTravelTimes(g, null, { signalDelayFactor: 0, ...vehicleTravelTime(vehicle) });
    const entries = net.roads.filter((r) => net.intersections[r.from].virtual);
    const exits = net.roads.filter((r) => net.intersections[r.to].virtual);
    let turning = 0;
    for (const [a, b] of [[0, 5], [2, 9], [7, 12]] as const) {
      const route = router.fastestBetweenRoads(entries[a].index, exits[b % exits.length].index, free)!;
      const turns = route.roads.slice(1).filter((r, k) => g.edgeIsTurn[edgeBetween(g, route.roads[k], r)]).length;
      turning += turns;
      const flows = importFlows([{ vehicle, route: route.roadIds, interval: 1, startTime: 0, endTime: 0 }], net);
      const spec = [{ vehicle: 'flow_0_0', roads: route.roads, dispatchTime: 0 }];
      const r = runEmergencyScenario(net, flows, fixedTimePolicy(net), spec, { duration: 600, preemption: true });
      const driven = r.vehicles[0].travelTime;
      const model = evaluateRoute(g, free, route.roads, free.drive[route.roads[0]])!.travelTime;
      // Entry (a one-second wait and the start from standstill) is not in the model: a few seconds.
      expect(driven - model).toBeGreaterThanOrEqual(0);
      expect(driven - model).toBeLessThan(6);
      // The turn term is what brings them together: without it the model is short by turns × ~2.5 s.
      const noTurnLoss = model - turns * turnLoss(free.options, free.options.vehicleMaxSpeed, free.options.vehicleMaxSpeed);
      if (turns > 0) expect(Math.abs(driven - model)).toBeLessThan(Math.abs(driven - noTurnLoss));
    }
    expect(turning).toBeGreaterThan(0);
  });
});

describe('link times of a vehicle that passes moving traffic', () => {
  it('slow moving vehicles hold up an ordinary vehicle but not an emergency vehicle; standing queues hold up both', () => {
    const net = grid(3, 3);
    const g = roadGraph(net);
    const obs = randomObservation(g.nLanes, g.nMovements, new Mt19937(7));
    const car = linkTravelTimes(g, obs, vehicleTravelTime({ ...EV, class: 'car' }));
    const ev = linkTravelTimes(g, obs, vehicleTravelTime(EV));
    expect(ev.options.passesMovingTraffic).toBe(true);
    let slower = 0;
    for (let r = 0; r < g.nRoads; r++) {
      expect(ev.drive[r]).toBe(ev.freeDrive[r]);
      expect(car.drive[r]).toBeGreaterThanOrEqual(car.freeDrive[r] - 1e-9);
      if (car.drive[r] > car.freeDrive[r] + 1e-9) slower++;
    }
    expect(slower).toBeGreaterThan(0);
    // The queue term is the same for both: an emergency vehicle still waits behind standing vehicles it cannot pass.
    expect(Array.from(ev.stopDelay)).toEqual(Array.from(car.stopDelay));
  });
});

describe('live ETA and re-routing', () => {
  it('updates the ETA as the vehicle moves and ends close to the real arrival', () => {
    const net = grid(3, 3);
    const { flows, specs } = withEmergencies(net, 3, 3, [{ time: 100, pick: 2 }], 100);
    const r = runEmergencyScenario(net, flows, fixedTimePolicy(net), specs, { duration: 900, preemption: true });
    const [v] = r.vehicles;
    expect(v.etaHistory.length).toBeGreaterThan(5);
    const first = v.etaHistory[0].eta;
    const last = v.etaHistory[v.etaHistory.length - 1].eta;
    expect(Math.abs(last - v.exitTime)).toBeLessThan(Math.max(10, 0.05 * v.travelTime));
    expect(Math.abs(first - v.exitTime)).toBeLessThan(0.3 * v.travelTime);
  });

  it('with pre-emption, the ETA at entry counts only the waits the windows cannot clear, not every queue standing now', () => {
    const net = grid(4, 4);
    // Busy: queues at most approaches when the vehicles set off.
    const { flows, specs } = withEmergencies(net, 4, 4, [{ time: 300, pick: 1 }, { time: 420, pick: 5 }], 600);
    const r = runEmergencyScenario(net, flows, fixedTimePolicy(net), specs, { duration: 900, preemption: true });
    for (const v of r.vehicles) {
      expect(Number.isFinite(v.travelTime)).toBe(true);
      // The first ETA once the vehicle is in the field, against its real exit.
      const atEntry = v.etaHistory.find((h) => h.time >= v.enterTime)!;
      expect(Math.abs(atEntry.eta - v.exitTime)).toBeLessThan(0.12 * (v.exitTime - atEntry.time));
    }
  });

  it('the live ETA follows the pace the vehicle keeps when the twin misreads the traffic', () => {
    const net = grid(4, 4);
    const g = roadGraph(net);
    const { flows, specs } = withEmergencies(net, 4, 4, [{ time: 60, pick: 2 }], 150);
    const engine = new Engine(net, flows, { signalMode: 'external' });
    const controller = new PreemptionController(net, fixedTimePolicy(net));
    const truth = new TruthObserver(engine, 60);
    // A twin that reads every road as full of traffic at half its speed: every drive ~2× long.
    const misread = (): TrafficObservation => {
      const o = truth.observe();
      const vehicles = Float64Array.from(o.laneVehicles, (n, l) => Math.max(n, net.lanes[l].length / 7.5));
      return { ...o, laneVehicles: vehicles, laneSpeed: o.laneSpeed.map((v) => v / 2) };
    };
    const tracker = new EmergencyTracker(net, specs, controller, {}, misread);
    for (let s = 0; s < 900; s++) {
      controller.beforeStep(engine);
      engine.step();
      controller.afterStep();
      truth.update();
      tracker.afterStep(engine);
    }
    const [v] = tracker.results();
    expect(Number.isFinite(v.travelTime)).toBe(true);
    const remaining = (h: { time: number }) => v.exitTime - h.time;
    const atEntry = v.etaHistory.find((h) => h.time >= v.enterTime)!;
    // The misread makes the first prediction far too long…
    expect(atEntry.eta - v.exitTime).toBeGreaterThan(0.4 * remaining(atEntry));
    // …and the pace driven pulls it in: over the second half of the trip the ETA is within a
    // fifth of what is left (+10 s, so the last seconds do not make the share meaningless).
    const late = v.etaHistory.filter((h) => h.time >= v.dispatchTime + 0.5 * v.travelTime);
    expect(late.length).toBeGreaterThan(5);
    for (const h of late) expect(Math.abs(h.eta - v.exitTime)).toBeLessThan(0.2 * remaining(h) + 10);
    expect(g.nRoads).toBeGreaterThan(0);
  });

  it('re-routes when the predicted ETA worsens past the threshold and a faster way exists', () => {
    const net = grid(4, 4);
    const g = roadGraph(net);
    const { flows, specs } = withEmergencies(net, 4, 4, [{ time: 10, pick: 0 }], 10);
    const route = specs[0].roads;
    expect(route.length).toBeGreaterThan(5);
    // The twin's picture: empty at dispatch, then a long queue on the route's fourth road.
    const blocked = route[3];
    let calls = 0;
    const observe = (engine: Engine): TrafficObservation => {
      calls++;
      const nL = g.nLanes;
      const q = new Float64Array(nL);
      if (engine.time > 40) for (let l = g.roadLaneStart[blocked]; l < g.roadLaneStart[blocked + 1]; l++) q[l] = 60;
      return { time: engine.time, laneVehicles: q.slice(), laneQueue: q, laneSpeed: new Float64Array(nL).fill(11), laneArrivals: new Float64Array(nL), movementDepartures: new Float64Array(g.nMovements), interval: 60, laneConfidence: new Float64Array(nL).fill(1) };
    };
    const engine = new Engine(net, flows, { signalMode: 'external' });
    const controller = new PreemptionController(net, fixedTimePolicy(net));
    const tracker = new EmergencyTracker(net, specs, controller, {}, observe);
    for (let s = 0; s < 900; s++) {
      controller.beforeStep(engine);
      engine.step();
      controller.afterStep();
      tracker.afterStep(engine);
    }
    const [v] = tracker.results();
    expect(calls).toBeGreaterThan(0);
    expect(v.reroutes).toBeGreaterThan(0);
    expect(v.finalRoute).not.toContain(g.roadIds[blocked]);
    expect(v.finalRoute[v.finalRoute.length - 1]).toBe(g.roadIds[route[route.length - 1]]);
    expect(Number.isFinite(v.travelTime)).toBe(true);
    expect(controller.report().unsafeStates).toBe(0);
  });
});
