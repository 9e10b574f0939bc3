import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { importFlows, importRoadnet } from '../../twin/network/importCityFlow.ts';
import type { FlowEntryInput } from '../../twin/network/cityflowFormat.ts';
import { Engine } from '../../twin/sim/Engine.ts';
import { corridorRoadnet, crossingRoadnet, traceRoadnet, vehicleAt } from '../fixtures/networks.ts';
import { stepChecked } from './invariants.ts';

function engineFor(roadnet: ReturnType<typeof traceRoadnet>, flows: FlowEntryInput[], external = false) {
  const net = importRoadnet(roadnet);
  return { net, engine: new Engine(net, importFlows(flows, net), { signalMode: external ? 'external' : 'program', recordTrips: true }) };
}

describe('insertion', () => {
  it('queues vehicles outside the network and lets in at most one per lane per step', () => {
    const flows = Array.from({ length: 5 }, () => vehicleAt(['we_in', 'we_out'], 0));
    const { engine } = engineFor(crossingRoadnet(), flows);
    engine.step();
    expect(engine.runningCount).toBe(1);
    expect(engine.waitingToEnter).toBe(4);
    // The next one enters only once the last one is more than length + minGap = 7.5 m in.
    engine.step();
    engine.step();
    expect(engine.runningCount).toBe(1);
    engine.step();
    expect(engine.runningCount).toBe(2);
    // Waiting vehicles are charged their time in the average travel time.
    const m = engine.metrics();
    expect(m.averageTravelTime).toBeCloseTo(4, 9);
  });
});

describe('car following', () => {
  it('a platoon stopping at red keeps every gap positive and stands about minGap apart', () => {
    const flows = Array.from({ length: 8 }, (_, k) => vehicleAt(['we_in', 'we_out'], k * 3));
    const { engine } = engineFor(crossingRoadnet(), flows, true);
    const report = stepChecked(engine, 90, (e) => e.setPhase(4, 2)); // SN only: WE is red
    expect(report.overlaps).toEqual([]);
    expect(report.redRunners).toEqual([]);
    const queue = engine.vehicleViews().sort((a, b) => b.dis - a.dis);
    expect(queue).toHaveLength(8);
    for (const v of queue) expect(v.speed).toBeLessThan(0.1);
    for (let k = 1; k < queue.length; k++) {
      const gap = queue[k - 1].dis - queue[k - 1].length - queue[k].dis;
      expect(gap).toBeGreaterThan(2);
      expect(gap).toBeLessThan(3.5);
    }
  });
});

describe('signals', () => {
  it('a vehicle stops before a red stop line and goes when it turns green', () => {
    const { engine } = engineFor(crossingRoadnet(), [vehicleAt(['we_in', 'we_out'], 0)], true);
    engine.setPhase(4, 2);
    engine.run(60);
    const [v] = engine.vehicleViews();
    expect(v.drivable).toBe(0);
    expect(v.speed).toBe(0);
    expect(engine.drivableLength(0) - v.dis).toBeGreaterThan(0);
    expect(engine.drivableLength(0) - v.dis).toBeLessThan(2);
    engine.setPhase(4, 1);
    engine.run(10);
    expect(engine.vehicleViews()[0].drivable).not.toBe(0);
  });

  it('the fixed program cycles through its phases', () => {
    const { engine } = engineFor(traceRoadnet(), []);
    const c = 3;
    const seen: number[] = [];
    for (let s = 0; s < 160; s++) {
      seen.push(engine.phaseOf(c));
      engine.step();
    }
    expect(seen[0]).toBe(0);
    expect(seen[4]).toBe(0);
    expect(seen[5]).toBe(1);
    expect(seen[34]).toBe(1);
    expect(seen[35]).toBe(2);
    expect(seen[125]).toBe(5);
    expect(seen[155]).toBe(0);
  });
});

describe('spill-back', () => {
  it('holds vehicles at the stop line while the exit lane is full', () => {
    const flows = Array.from({ length: 14 }, (_, k) => vehicleAt(['wa', 'ab', 'be'], k * 2));
    // A 45 m block: long enough to stop in (a shorter one is run through on red, as in CityFlow).
    const { net, engine } = engineFor(corridorRoadnet(75), flows, true);
    const A = net.intersectionIndex.get('A')!;
    const B = net.intersectionIndex.get('B')!;
    const abLane = net.roads[net.roadIndex.get('ab')!].lanes[0];
    const report = stepChecked(engine, 150, (e) => {
      e.setPhase(A, 0);
      e.setPhase(B, 1);
    });
    expect(report.overlaps).toEqual([]);
    expect(report.redRunners).toEqual([]);
    const views = engine.vehicleViews();
    // The 45 m block holds six cars; the rest wait on the approach, none stuck on A's lane link.
    expect(views.filter((v) => v.drivable === abLane).length).toBeLessThanOrEqual(6);
    const onLinkA = views.filter((v) => v.drivable >= engine.nLanes && net.laneLinks[v.drivable - engine.nLanes].intersection === A);
    for (const v of onLinkA) expect(v.dis).toBeLessThan(engine.drivableLength(v.drivable));
    expect(views.filter((v) => v.drivable === net.roads[0].lanes[0]).length).toBeGreaterThanOrEqual(7);
    // Release B: everybody gets through.
    engine.setPhase(B, 0);
    engine.run(200);
    expect(engine.metrics().finished).toBe(14);
  });
});

/** Position of a vehicle's head relative to the start of `link`, along approach lane → link → exit lane. */
function alongLink(engine: Engine, link: number, fromLane: number, toLane: number, v: { drivable: number; dis: number }): number | null {
  const d = engine.nLanes + link;
  if (v.drivable === fromLane) return v.dis - engine.drivableLength(fromLane);
  if (v.drivable === d) return v.dis;
  if (v.drivable === toLane) return engine.drivableLength(d) + v.dis;
  return null;
}

describe('yielding at a conflict point', () => {
  it('two crossing streams both on green never occupy the conflict point together', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 12 }),
        (weTimes, snTimes) => {
          const flows = [...weTimes.map((t) => vehicleAt(['we_in', 'we_out'], t)), ...snTimes.map((t) => vehicleAt(['sn_in', 'sn_out'], t))];
          const { net, engine } = engineFor(crossingRoadnet(120), flows, true);
          const cp = net.crosses[0];
          const [la, lb] = cp.links;
          const A = net.laneLinks[la];
          const B = net.laneLinks[lb];
          let both = 0;
          for (let s = 0; s < 200; s++) {
            engine.setPhase(4, 0);
            engine.step();
            let onA = 0;
            let onB = 0;
            for (const v of engine.vehicleViews()) {
              const a = alongLink(engine, la, A.fromLane, A.toLane, v);
              if (a !== null && a >= cp.positions[0] && a - v.length <= cp.positions[0]) onA++;
              const b = alongLink(engine, lb, B.fromLane, B.toLane, v);
              if (b !== null && b >= cp.positions[1] && b - v.length <= cp.positions[1]) onB++;
            }
            if (onA > 0 && onB > 0) both++;
          }
          const m = engine.metrics();
          return both === 0 && m.finished === flows.length;
        },
      ),
      { numRuns: 60, seed: 7 },
    );
  });
});

describe('properties on random demand and signal switching', () => {
  it('no overlaps, no red running by a vehicle that can stop, every vehicle accounted for', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 200 })), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 5, max: 40 }),
        (trips, startPhases, switchEvery) => {
          const routes = [['wa', 'ab', 'be'], ['wa', 'ab'], ['ab', 'be']];
          const flows = trips.map(([r, t]) => vehicleAt(routes[r], t));
          const { net, engine } = engineFor(corridorRoadnet(60), flows, true);
          const A = net.intersectionIndex.get('A')!;
          const B = net.intersectionIndex.get('B')!;
          const report = stepChecked(engine, 400, (e, s) => {
            const k = Math.floor(s / switchEvery);
            e.setPhase(A, (startPhases[0] + k) % 2);
            e.setPhase(B, (startPhases[1] + k + (s % 3 === 0 ? 1 : 0)) % 2);
          });
          return report.overlaps.length === 0 && report.redRunners.length === 0 && report.accounting.length === 0;
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  });
});

describe('snapshots', () => {
  it('a restored engine continues bit-for-bit like the original', () => {
    const flows = [
      ...Array.from({ length: 30 }, (_, k) => vehicleAt(['west_in', 'east_out'], k * 4)),
      ...Array.from({ length: 20 }, (_, k) => vehicleAt(['west_in', 'north_out'], k * 5 + 1)),
    ];
    const { net, engine } = engineFor(traceRoadnet(), flows);
    engine.run(100);
    const snap = engine.snapshot();
    const copy = Engine.restore(net, importFlows(flows, net), structuredClone(snap), { recordTrips: true });
    engine.run(200);
    copy.run(200);
    expect(copy.metrics()).toEqual(engine.metrics());
    expect(copy.vehicleViews()).toEqual(engine.vehicleViews());
    expect(copy.trips).toEqual(engine.trips);
  });

  it('records trips with stops and delay', () => {
    const { engine } = engineFor(traceRoadnet(), [vehicleAt(['west_in', 'east_out'], 0), vehicleAt(['west_in', 'east_out'], 100)]);
    engine.run(400);
    expect(engine.trips).toHaveLength(2);
    const [stopped, free] = engine.trips;
    expect(stopped.stops).toBe(1);
    expect(stopped.delay).toBeGreaterThan(40);
    expect(free.stops).toBe(0);
    expect(free.delay).toBeGreaterThanOrEqual(0);
    expect(free.delay).toBeLessThan(10);
  });
});
