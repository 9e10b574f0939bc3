import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { FlowFileSchema, RoadnetSchema, type CityFlowRoadnet, type FlowFile } from '../../twin/network/cityflowFormat.ts';
import {
  BENCHMARK_VEHICLE,
  demoCity,
  demoCityFromSpec,
  generateArterial,
  generateDemand,
  generateGrid,
  parseCitySpec,
  realisticPeak,
} from '../../twin/network/generator.ts';
import { demandFactor, DemandProfileSchema } from '../../twin/network/demandProfile.ts';
import { laneTurns } from '../../twin/network/streetGrid.ts';
import { SpecError } from '../../twin/network/specError.ts';

const demoSpecText = readFileSync(new URL('../../data/demo-city.json', import.meta.url), 'utf8');

// ---------------------------------------------------------------------------------------------
// Checks shared by the tests

function real(net: CityFlowRoadnet) {
  return net.intersections.filter((i) => !i.virtual);
}

/** Road-link lookup: `${intersection}|${from}|${to}` → lane links. */
function roadLinkIndex(net: CityFlowRoadnet) {
  const byPair = new Map<string, { startLaneIndex: number; endLaneIndex: number }[]>();
  for (const it of net.intersections) {
    for (const rl of it.roadLinks ?? []) byPair.set(`${it.id}|${rl.startRoad}|${rl.endRoad}`, rl.laneLinks);
  }
  return byPair;
}

/** Problems with the routes: each must be connected road to road and have a lane-level path. */
function routeProblems(net: CityFlowRoadnet, flows: FlowFile): string[] {
  const roads = new Map(net.roads.map((r) => [r.id, r]));
  const virtual = new Map(net.intersections.map((i) => [i.id, i.virtual]));
  const links = roadLinkIndex(net);
  const problems: string[] = [];
  for (const f of flows) {
    const where = f.route.join(',');
    if (f.route.length < 2) problems.push(`short route ${where}`);
    const first = roads.get(f.route[0]);
    const last = roads.get(f.route[f.route.length - 1]);
    if (!first || !last) {
      problems.push(`unknown road in ${where}`);
      continue;
    }
    if (virtual.get(first.startIntersection) !== true) problems.push(`${where} does not start at the boundary`);
    if (virtual.get(last.endIntersection) !== true) problems.push(`${where} does not end at the boundary`);
    // Lane-level reachability: from any lane of road 0, following lane links road by road.
    let lanes = new Set(first.lanes.map((_, k) => k));
    for (let k = 0; k + 1 < f.route.length; k++) {
      const a = roads.get(f.route[k]), b = roads.get(f.route[k + 1]);
      const ll = a && b && a.endIntersection === b.startIntersection ? links.get(`${a.endIntersection}|${a.id}|${b.id}`) : undefined;
      if (!ll || ll.length === 0) {
        problems.push(`${f.route[k]} → ${f.route[k + 1]} not connected`);
        break;
      }
      const next = new Set<number>();
      for (const l of ll) if (lanes.has(l.startLaneIndex)) next.add(l.endLaneIndex);
      lanes = next;
      if (lanes.size === 0) {
        problems.push(`no lane path along ${where}`);
        break;
      }
    }
  }
  return problems;
}

function expectRoutesFeasible(net: CityFlowRoadnet, flows: FlowFile): void {
  expect(routeProblems(net, flows).slice(0, 5)).toEqual([]);
}

function turnsOf(net: CityFlowRoadnet, route: readonly string[]): number {
  const type = new Map<string, string>();
  for (const it of net.intersections) for (const rl of it.roadLinks ?? []) type.set(`${rl.startRoad}|${rl.endRoad}`, rl.type);
  let turns = 0;
  for (let k = 0; k + 1 < route.length; k++) if (type.get(`${route[k]}|${route[k + 1]}`) !== 'go_straight') turns++;
  return turns;
}

function expectPhasesValid(net: CityFlowRoadnet): void {
  const problems: string[] = [];
  for (const it of real(net)) {
    const n = it.roadLinks!.length;
    for (const p of it.trafficLight!.lightphases) {
      if (!(p.time > 0)) problems.push(`${it.id}: phase time ${p.time}`);
      for (const l of p.availableRoadLinks) if (!(l >= 0 && l < n)) problems.push(`${it.id}: phase link ${l} of ${n}`);
    }
  }
  expect(problems.slice(0, 5)).toEqual([]);
}

function expectUniqueIds(net: CityFlowRoadnet): void {
  const ids = net.intersections.map((i) => i.id);
  expect(new Set(ids).size).toBe(ids.length);
  const roads = net.roads.map((r) => r.id);
  expect(new Set(roads).size).toBe(roads.length);
}

// ---------------------------------------------------------------------------------------------

describe('generateGrid', () => {
  it('produces a valid roadnet with the benchmark conventions', () => {
    const net = generateGrid({ rows: 4, cols: 4, blockLength: { ew: 800, ns: 600 } });
    RoadnetSchema.parse(net);
    expectUniqueIds(net);
    expectPhasesValid(net);
    expect(real(net)).toHaveLength(16);
    expect(net.intersections.filter((i) => i.virtual)).toHaveLength(16); // every edge end, no corners
    expect(net.roads).toHaveLength(80);
    const it11 = net.intersections.find((i) => i.id === 'intersection_1_1')!;
    expect(it11.point).toEqual({ x: 0, y: 0 });
    expect(it11.width).toBe(15);
    expect(it11.roads).toEqual([
      'road_0_1_0', 'road_1_0_1', 'road_2_1_2', 'road_1_2_3', 'road_1_1_0', 'road_1_1_1', 'road_1_1_2', 'road_1_1_3',
    ]);
    expect(net.intersections.find((i) => i.id === 'intersection_0_1')!.point).toEqual({ x: -800, y: 0 });
    const links = it11.roadLinks!;
    expect(links.map((l) => l.type)).toEqual([
      'go_straight', 'turn_left', 'turn_right', 'turn_right', 'go_straight', 'turn_left',
      'turn_right', 'go_straight', 'turn_left', 'turn_left', 'turn_right', 'go_straight',
    ]);
    // Lane 0 turns left, lane 1 goes straight, lane 2 turns right, each to every outgoing lane.
    for (const rl of links) {
      const lane = rl.type === 'turn_left' ? 0 : rl.type === 'go_straight' ? 1 : 2;
      expect(rl.laneLinks.map((l) => [l.startLaneIndex, l.endLaneIndex])).toEqual([[lane, 0], [lane, 1], [lane, 2]]);
      for (const l of rl.laneLinks) expect(l.points).toHaveLength(11);
    }
    // Same curve as the benchmark files: straight from lane 1 to lane 0, arms of width/3.
    expect(links[0].laneLinks[0].points![0]).toEqual({ x: -15, y: -6 });
    expect(links[0].laneLinks[0].points![1]).toEqual({ x: -13.08, y: -5.888 });
    expect(links[0].laneLinks[0].points![10]).toEqual({ x: 15, y: -2 });
    expect(it11.trafficLight!.lightphases.map((p) => [p.time, [...p.availableRoadLinks].sort((a, b) => a - b)])).toEqual([
      [5, [2, 3, 6, 10]],
      [30, [0, 2, 3, 6, 7, 10]],
      [30, [2, 3, 4, 6, 10, 11]],
      [30, [1, 2, 3, 6, 8, 10]],
      [30, [2, 3, 5, 6, 9, 10]],
      [30, [0, 1, 2, 3, 6, 10]],
      [30, [2, 3, 6, 7, 8, 10]],
      [30, [2, 3, 4, 5, 6, 10]],
      [30, [2, 3, 6, 9, 10, 11]],
    ]);
    const road = net.roads.find((r) => r.id === 'road_0_1_0')!;
    expect(road.points).toEqual([{ x: -800, y: 0 }, { x: 0, y: 0 }]);
    expect(road.lanes).toEqual([0, 1, 2].map(() => ({ width: 4, maxSpeed: 11.111 })));
  });

  it('lays lanes out for 1–4 lanes and turn bays', () => {
    expect(laneTurns(1, false)).toEqual([['turn_left', 'go_straight', 'turn_right']]);
    expect(laneTurns(2, false)).toEqual([['turn_left', 'go_straight'], ['go_straight', 'turn_right']]);
    expect(laneTurns(4, false)).toEqual([['turn_left'], ['go_straight'], ['go_straight'], ['turn_right']]);
    expect(laneTurns(3, true)).toEqual([['turn_left'], ['go_straight'], ['go_straight'], ['turn_right']]);
    for (const lanesPerRoad of [1, 2, 3, 4]) {
      for (const turnBays of [false, true]) {
        const net = generateGrid({ rows: 2, cols: 3, lanesPerRoad, turnBays });
        RoadnetSchema.parse(net);
        expectPhasesValid(net);
        const roads = new Map(net.roads.map((r) => [r.id, r]));
        for (const it of real(net)) {
          for (const rl of it.roadLinks!) {
            const from = roads.get(rl.startRoad)!, to = roads.get(rl.endRoad)!;
            const starts = new Set(rl.laneLinks.map((l) => l.startLaneIndex));
            // Every serving lane reaches every lane of the outgoing road.
            expect(rl.laneLinks).toHaveLength(starts.size * to.lanes.length);
            expect(from.lanes).toHaveLength(lanesPerRoad + (turnBays ? 1 : 0));
            if (turnBays) expect(starts.has(0)).toBe(rl.type === 'turn_left');
          }
        }
        // Exit roads (to the boundary) carry no bay.
        const exit = net.roads.find((r) => r.id === 'road_3_1_0')!;
        expect(exit.lanes).toHaveLength(lanesPerRoad);
      }
    }
  });

  it('supports the four-phase program, split greens and avenues', () => {
    const net = generateGrid({
      rows: 3, cols: 3, signals: { program: 'fourPhase', green: { ew: 35, ns: 25 }, clearance: 4 },
      avenues: [{ axis: 'ew', index: 2, lanes: 4, speedLimit: 13.889, green: 45 }],
    });
    RoadnetSchema.parse(net);
    expectPhasesValid(net);
    const phases = (id: string) => net.intersections.find((i) => i.id === id)!.trafficLight!.lightphases.map((p) => p.time);
    expect(phases('intersection_1_1')).toEqual([4, 35, 25, 35, 25]);
    expect(phases('intersection_1_2')).toEqual([4, 45, 25, 45, 25]);
    expect(net.roads.find((r) => r.id === 'road_1_2_0')!.lanes).toHaveLength(4);
    expect(net.roads.find((r) => r.id === 'road_1_1_0')!.lanes).toHaveLength(3);
  });

  it('builds a 30×30 grid of 900 signalised intersections quickly', () => {
    const t0 = performance.now();
    const net = generateGrid({ rows: 30, cols: 30, blockLength: { ew: 250, ns: 200 } });
    const ms = performance.now() - t0;
    expect(real(net)).toHaveLength(900);
    expect(net.intersections.filter((i) => i.virtual)).toHaveLength(120);
    expectUniqueIds(net);
    expectPhasesValid(net);
    RoadnetSchema.parse(net);
    // ~0.2 s on the CI machine; the bound leaves room for a busy machine.
    expect(ms).toBeLessThan(3000);
  });

  it('takes per-gap block lengths', () => {
    const net = generateGrid({ rows: 2, cols: 3, blockLength: { ew: [200, 350], ns: 300 } });
    const x = (id: string) => net.intersections.find((i) => i.id === id)!.point.x;
    expect([x('intersection_0_1'), x('intersection_1_1'), x('intersection_2_1'), x('intersection_3_1'), x('intersection_4_1')]).toEqual([
      -200, 0, 200, 550, 900,
    ]);
  });

  it('names the bad field in option errors', () => {
    expect(() => generateGrid({ rows: 0, cols: 3 })).toThrow(/rows/);
    try {
      generateGrid({ rows: 2, cols: 3, blockLength: { ew: [200], ns: 300 } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      expect((e as SpecError).field).toBe('blockLength.ew');
    }
    expect(() => generateGrid({ rows: 2, cols: 2, avenues: [{ axis: 'ns', index: 5 }] })).toThrow(/avenues\[0\]\.index/);
  });
});

describe('generateArterial', () => {
  it('builds a corridor with side streets and varying spacing', () => {
    const net = generateArterial({ intersections: 4, spacing: [300, 450, 250], mainLanes: 2, sideLanes: 1 });
    RoadnetSchema.parse(net);
    expectUniqueIds(net);
    expectPhasesValid(net);
    expect(real(net).map((i) => i.id)).toEqual(['intersection_1_1', 'intersection_2_1', 'intersection_3_1', 'intersection_4_1']);
    expect(real(net).map((i) => i.point.x)).toEqual([0, 300, 750, 1000]);
    expect(net.intersections.filter((i) => i.virtual)).toHaveLength(2 + 2 * 4);
    expect(net.roads.find((r) => r.id === 'road_1_1_0')!.lanes).toHaveLength(2);
    expect(net.roads.find((r) => r.id === 'road_1_1_1')!.lanes).toHaveLength(1);
    // Main road greens default longer than the side street's.
    expect(real(net)[0].trafficLight!.lightphases.slice(0, 3).map((p) => p.time)).toEqual([5, 40, 20]);
  });

  it('rejects a spacing list of the wrong length, naming it', () => {
    expect(() => generateArterial({ intersections: 3, spacing: [300] })).toThrow(/spacing/);
  });
});

describe('generateDemand', () => {
  const grid = generateGrid({ rows: 4, cols: 4 });

  it('writes a valid benchmark-style flow file', () => {
    const flows = generateDemand(grid, { seed: 1, duration: 900 });
    expect(flows.length).toBeGreaterThan(100);
    FlowFileSchema.parse(flows);
    for (const f of flows) {
      expect(f.interval).toBe(1);
      expect(f.startTime).toBe(f.endTime);
      expect(Number.isInteger(f.startTime)).toBe(true);
      expect(f.startTime >= 0 && f.startTime < 900).toBe(true);
      expect(f.vehicle).toEqual(BENCHMARK_VEHICLE);
    }
    const times = flows.map((f) => f.startTime);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateDemand(grid, { seed: 7, duration: 600 });
    const b = generateDemand(grid, { seed: 7, duration: 600 });
    const c = generateDemand(grid, { seed: 8, duration: 600 });
    expect(b).toEqual(a);
    expect(JSON.stringify(c)).not.toEqual(JSON.stringify(a));
  });

  it('routes every vehicle along connected roads with a lane-level path and few turns', () => {
    const flows = generateDemand(grid, { seed: 3, duration: 1800, turningShare: 0.5 });
    expectRoutesFeasible(grid, flows);
    const turns = flows.map((f) => turnsOf(grid, f.route));
    expect(Math.max(...turns)).toBeLessThanOrEqual(2);
    const through = turns.filter((t) => t === 0).length / turns.length;
    expect(through).toBeGreaterThan(0.42);
    expect(through).toBeLessThan(0.58);
    // Shortest: a 4×4 grid trip never uses more than 4 + 4 + 1 roads.
    expect(Math.max(...flows.map((f) => f.route.length))).toBeLessThanOrEqual(9);
  });

  it('routes feasibly on one-lane roads, turn bays and arterials', () => {
    for (const net of [
      generateGrid({ rows: 3, cols: 2, lanesPerRoad: 1 }),
      generateGrid({ rows: 2, cols: 3, lanesPerRoad: 2, turnBays: true }),
      generateArterial({ intersections: 6, spacing: 350 }),
    ]) {
      const flows = generateDemand(net, { seed: 2, duration: 1200 });
      expect(flows.length).toBeGreaterThan(0);
      FlowFileSchema.parse(flows);
      expectRoutesFeasible(net, flows);
    }
  });

  it('carries clearly more vehicles in the peak hour than off-peak', () => {
    const peak = generateDemand(grid, { seed: 0, dayOffset: '07:30', duration: 3600 }).length;
    const night = generateDemand(grid, { seed: 0, dayOffset: '02:00', duration: 3600 }).length;
    expect(peak).toBeGreaterThan(2.5 * night);
    // Expected peak-hour count: 16 entries × 3 lanes × 100 veh/h × mean factor (~0.9).
    expect(peak).toBeGreaterThan(3600);
    expect(peak).toBeLessThan(5200);
    const profile = DemandProfileSchema.parse({});
    expect(demandFactor(profile, 8 * 3600)).toBeCloseTo(1, 2);
    expect(demandFactor(profile, 3 * 3600)).toBeCloseTo(0.3, 2);
  });

  it('favours the arterial through movement and weighted headings', () => {
    const art = generateArterial({ intersections: 5 });
    const flows = generateDemand(art, { seed: 4, duration: 3600, headingWeights: { west: 2 } });
    const main = flows.filter((f) => f.route[0] === 'road_0_1_0' || f.route[0] === 'road_6_1_2');
    const fullCorridor = main.filter((f) => f.route.length === 6);
    expect(fullCorridor.length / main.length).toBeGreaterThan(0.6);
    // Three-lane main road entries outweigh one-lane side streets.
    expect(main.length / flows.length).toBeGreaterThan(0.4);
    const westbound = flows.filter((f) => f.route[0] === 'road_6_1_2').length;
    const eastbound = flows.filter((f) => f.route[0] === 'road_0_1_0').length;
    expect(westbound).toBeGreaterThan(1.5 * eastbound);
  });

  it('gives a realistic peak in the expected range for the default grid', () => {
    const p = realisticPeak(grid);
    expect(p.per).toBe('lane');
    expect(p.peakVehPerHour).toBeGreaterThan(70);
    expect(p.peakVehPerHour).toBeLessThan(130);
    expect(p.critical.serves).toEqual(['go_straight']);
    expect(p.critical.vc).toBeCloseTo(0.8, 2);
    expect(realisticPeak(grid, { seed: 5 }).peakVehPerHour).toBe(p.peakVehPerHour);
  });

  it('names the bad field in demand option errors', () => {
    expect(() => generateDemand(grid, { turningShare: 2 })).toThrow(/turningShare/);
    expect(() => generateDemand(grid, { profile: { peaks: [{ time: '25:00' }] } })).toThrow(/profile\.peaks\[0\]\.time/);
  });
});

describe('demoCity', () => {
  it('is a valid, deterministic city with a morning peak', () => {
    const a = demoCity(0);
    expect(a.name.length).toBeGreaterThan(0);
    RoadnetSchema.parse(a.roadnet);
    FlowFileSchema.parse(a.flows);
    expectUniqueIds(a.roadnet);
    expectPhasesValid(a.roadnet);
    expectRoutesFeasible(a.roadnet, a.flows);
    expect(real(a.roadnet)).toHaveLength(16);
    expect(a.flows.length).toBeGreaterThan(1000);
    expect(demoCity(0).flows).toEqual(a.flows);
    expect(JSON.stringify(demoCity(1).flows)).not.toEqual(JSON.stringify(a.flows));
  });

  it('reads its parameters from data/demo-city.json', () => {
    const spec = parseCitySpec(JSON.parse(demoSpecText));
    expect(spec.network.rows).toBe(4);
    const city = demoCityFromSpec(JSON.parse(demoSpecText), 0);
    expect(city.flows).toEqual(demoCity(0).flows);
  });

  it('names the malformed field of a bad spec', () => {
    const spec = JSON.parse(demoSpecText) as { network: Record<string, unknown>; demand: Record<string, unknown> };
    const bad = (mutate: (s: typeof spec) => void): SpecError => {
      const s = JSON.parse(demoSpecText) as typeof spec;
      mutate(s);
      try {
        demoCityFromSpec(s, 0, 'demo-city.json');
      } catch (e) {
        expect(e).toBeInstanceOf(SpecError);
        return e as SpecError;
      }
      throw new Error('expected a SpecError');
    };
    let e = bad((s) => (s.network.rows = 'four'));
    expect(e.field).toBe('network.rows');
    expect(e.message).toMatch(/^demo-city\.json: .*network\.rows/);
    e = bad((s) => (s.network.avenues = [{ axis: 'diagonal', index: 1 }]));
    expect(e.field).toBe('network.avenues[0].axis');
    e = bad((s) => (s.demand.turningShare = -1));
    expect(e.field).toBe('demand.turningShare');
    e = bad((s) => (s.demand.dayOffset = 'morning'));
    expect(e.field).toBe('demand.dayOffset');
    e = bad((s) => delete (s as Record<string, unknown>).name);
    expect(e.field).toBe('name');
    expect(spec.network.rows).toBe(4);
  });
});
