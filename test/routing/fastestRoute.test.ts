import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateGrid } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { Mt19937 } from '../../twin/random.ts';
import { FastestRouter, evaluateRoute, NoRouteError } from '../../twin/routing/FastestRoute.ts';
import { buildLandmarks } from '../../twin/routing/Landmarks.ts';
import { buildRoadGraph, roadGraph, roadGraphFromRoadnet, type RoadGraph } from '../../twin/routing/RoadGraph.ts';
import { edgeCost, linkTravelTimes, type LinkTimes } from '../../twin/routing/TravelTimeModel.ts';
import { bruteForce, grid, randomGraph, randomObservation } from './helpers.ts';

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));

/** The router's road-to-road answer is plain Dijkstra's: none where none exists, else a real path of the same cost. */
function expectFastestRoad(g: RoadGraph, times: LinkTimes, router: FastestRouter, s: number, t: number): void {
  const truth = bruteForce(g, times, [[s, times.drive[s]]]);
  const r = router.fastestBetweenRoads(s, t, times);
  if (!Number.isFinite(truth[t])) {
    expect(r).toBeNull();
    return;
  }
  expect(r).not.toBeNull();
  expect(r!.roads[0]).toBe(s);
  expect(r!.roads[r!.roads.length - 1]).toBe(t);
  expect(close(r!.travelTime, truth[t])).toBe(true);
  // The answer is a real path whose own cost is what it claims.
  expect(close(evaluateRoute(g, times, r!.roads, times.drive[s])!.travelTime, r!.travelTime)).toBe(true);
}

describe('fastest route', () => {
  it('is the true shortest path on random graphs (against Bellman–Ford)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.integer({ min: 0, max: 8 }), (seed, landmarks) => {
        const rng = new Mt19937(seed);
        const g = randomGraph(rng, 4 + rng.nextInt(10), 8 + rng.nextInt(30), 0.4 + 0.5 * rng.nextFloat());
        const times = linkTravelTimes(g, randomObservation(g.nLanes, g.nMovements, rng), { signalDelayFactor: rng.nextFloat() });
        const router = new FastestRouter(g, { landmarks });
        // Half the runs search with tables on the weights themselves, half on the bounds.
        if (seed % 2 === 0) router.prepare(times);
        for (let q = 0; q < 10; q++) {
          const s = rng.nextInt(g.nRoads);
          const t = rng.nextInt(g.nRoads);
          expectFastestRoad(g, times, router, s, t);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('is the true shortest path between intersections of a grid, with closures avoided', () => {
    const net = grid(3, 4);
    const g = roadGraph(net);
    const router = new FastestRouter(g);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), (seed) => {
        const rng = new Mt19937(seed);
        const times = linkTravelTimes(g, randomObservation(g.nLanes, g.nMovements, rng), { signalDelayFactor: rng.nextFloat() });
        const signalised = net.intersections.filter((i) => !i.virtual);
        const a = signalised[rng.nextInt(signalised.length)];
        const b = signalised[rng.nextInt(signalised.length)];
        const avoid = new Set<number>(rng.nextFloat() < 0.5 ? [rng.nextInt(g.nRoads)] : []);
        const sources = net.roads.filter((r) => r.from === a.index).map((r): [number, number] => [r.index, times.drive[r.index]]);
        const truth = bruteForce(g, times, sources, avoid);
        const best = Math.min(...net.roads.filter((r) => r.to === b.index).map((r) => truth[r.index]));
        let got: number | null = null;
        try {
          const [r] = router.route({ from: { intersection: a.id }, to: { intersection: b.id }, avoidRoads: [...avoid].map((x) => g.roadIds[x]) }, times);
          got = r.travelTime;
          expect(r.roads.some((x) => avoid.has(x))).toBe(false);
          expect(net.roads[r.roads[0]].from).toBe(a.index);
          expect(net.roads[r.roads[r.roads.length - 1]].to).toBe(b.index);
        } catch (e) {
          expect(e).toBeInstanceOf(NoRouteError);
        }
        if (Number.isFinite(best)) expect(got !== null && close(got, best)).toBe(true);
        else expect(got).toBeNull();
      }),
      { numRuns: 80 },
    );
  });

  it('gives distinct alternatives within the allowed stretch, fastest first', () => {
    const net = grid(4, 4);
    const g = roadGraph(net);
    const router = new FastestRouter(g);
    const times = linkTravelTimes(g, randomObservation(g.nLanes, g.nMovements, new Mt19937(5)));
    const routes = router.route({ from: { intersection: 'intersection_1_1' }, to: { intersection: 'intersection_4_4' }, alternatives: 3, maxStretch: 0.5 }, times);
    expect(routes.length).toBeGreaterThanOrEqual(2);
    const keys = new Set(routes.map((r) => r.roads.join(',')));
    expect(keys.size).toBe(routes.length);
    for (const r of routes) {
      expect(r.travelTime).toBeGreaterThanOrEqual(routes[0].travelTime - 1e-9);
      expect(r.travelTime).toBeLessThanOrEqual(routes[0].travelTime * 1.5 + 1e-9);
      expect(r.overlap).toBeGreaterThanOrEqual(0);
      expect(r.overlap).toBeLessThanOrEqual(1);
    }
  });

  it('routes from coordinates to the nearest road, and reports legs and ETA', () => {
    const net = grid(3, 3);
    const g = roadGraph(net);
    const router = new FastestRouter(g);
    const times = linkTravelTimes(g, null);
    const road = net.roads.find((r) => r.id === 'road_1_1_0')!;
    const [p0, p1] = [road.points[0], road.points[road.points.length - 1]];
    const [r] = router.route({ from: { point: { x: (p0.x + p1.x) / 2, y: (p0.y + p1.y) / 2 - 2 } }, to: { intersection: 'intersection_3_3' }, departAt: 30 }, times);
    expect(r.roadIds[0]).toBe('road_1_1_0');
    expect(r.eta).toBeCloseTo(30 + r.travelTime, 9);
    expect(r.legs.length).toBe(r.roads.length - 1);
    // Half the first road is left to drive.
    expect(r.legs[0].arriveStopLine).toBeCloseTo(30 + times.drive[road.index] / 2, 1);
  });

  it('keeps the search in typed arrays and the landmark bounds tight on a grid', () => {
    const net = grid(20, 20);
    const g = roadGraph(net);
    for (const a of [g.edgeStart, g.edgeTo, g.edgeMovement, g.revStart, g.revEdge, g.roadLaneStart, g.mvLanes]) expect(a).toBeInstanceOf(Int32Array);
    for (const a of [g.roadLength, g.edgeCrossLength, g.programSignalDelay]) expect(a).toBeInstanceOf(Float64Array);
    const times = linkTravelTimes(g, randomObservation(g.nLanes, g.nMovements, new Mt19937(3)), { signalDelayFactor: 0.1 });
    const router = new FastestRouter(g);
    expect(router.prepare(times).table).toBeInstanceOf(Float64Array);
    const rng = new Mt19937(9);
    const signalised = net.intersections.filter((i) => !i.virtual).map((i) => i.id);
    let settled = 0;
    const wall: number[] = [];
    for (let q = 0; q < 200; q++) {
      const t0 = performance.now();
      router.route({ from: { intersection: signalised[rng.nextInt(signalised.length)] }, to: { intersection: signalised[rng.nextInt(signalised.length)] } }, times);
      wall.push(performance.now() - t0);
      settled += router.lastStats.settled;
    }
    // A* with landmarks settles a small share of the roads (Dijkstra would settle about half).
    expect(settled / 200).toBeLessThan(0.15 * g.nRoads);
    wall.sort((a, b) => a - b);
    expect(wall[Math.floor(0.5 * wall.length)]).toBeLessThan(20);
  });

  it('matches plain Dijkstra on random pairs of a grid with a few of many landmarks active, both search directions', () => {
    const net = grid(12, 12);
    const g = roadGraph(net);
    const rng = new Mt19937(21);
    const times = linkTravelTimes(g, randomObservation(g.nLanes, g.nMovements, rng), { signalDelayFactor: 0.1 });
    // 24 landmarks with 5 or 12 active: the per-query choice of landmarks is exercised.
    for (const [activeLandmarks, bidirectional] of [
      [5, true],
      [12, true],
      [12, false],
    ] as const) {
      const router = new FastestRouter(g, { landmarks: 24, activeLandmarks, bidirectional });
      router.prepare(times);
      for (let q = 0; q < 60; q++) {
        const s = rng.nextInt(g.nRoads);
        const t = rng.nextInt(g.nRoads);
        expectFastestRoad(g, times, router, s, t);
      }
    }
  });

  it('builds the same graph from the raw roadnet as from the imported network', () => {
    for (const turnBays of [false, true]) {
      const rn = generateGrid({ rows: 2, cols: 3, turnBays });
      const a = roadGraphFromRoadnet(rn);
      const b = buildRoadGraph(importRoadnet(rn));
      expect(a.nRoads).toBe(b.nRoads);
      expect(a.nLanes).toBe(b.nLanes);
      expect([...a.edgeTo]).toEqual([...b.edgeTo]);
      expect([...a.edgeMovement]).toEqual([...b.edgeMovement]);
      expect([...a.mvLanes]).toEqual([...b.mvLanes]);
      a.roadLength.forEach((x, r) => expect(x).toBeCloseTo(b.roadLength[r], 9));
      a.edgeCrossLength.forEach((x, e) => expect(x).toBeCloseTo(b.edgeCrossLength[e], 9));
      expect([...a.programSignalDelay]).toEqual([...b.programSignalDelay]);
    }
  });
});

describe('link travel times', () => {
  it('add queue and signal delay, never go below the bound, and scale by the forecast', () => {
    const net = grid(3, 3);
    const g = roadGraph(net);
    const rng = new Mt19937(1);
    const obs = randomObservation(g.nLanes, g.nMovements, rng);
    const empty = linkTravelTimes(g, null, { signalDelayFactor: 0 });
    const busy = linkTravelTimes(g, obs, { signalDelayFactor: 0, dischargeHeadway: 3 });
    for (let e = 0; e < g.nEdges; e++) {
      expect(busy.edgeWeight[e]).toBeGreaterThanOrEqual(busy.edgeLowerBound[e] - 1e-9);
      expect(busy.edgeWeight[e]).toBeGreaterThanOrEqual(empty.edgeWeight[e] - 1e-9);
      const m = g.edgeMovement[e];
      let q = 0;
      let n = 0;
      for (let k = g.mvLaneStart[m]; k < g.mvLaneStart[m + 1]; k++, n++) q += obs.laneQueue[g.mvLanes[k]];
      expect(busy.stopDelay[e]).toBeCloseTo((3 * q) / n, 9);
    }
    const withSignal = linkTravelTimes(g, null);
    const right = net.movements.find((m) => m.type === 'turn_right')!;
    const straight = net.movements.find((m) => m.type === 'go_straight')!;
    expect(g.programSignalDelay[right.index]).toBe(0); // right turns are green in every phase
    expect(g.programSignalDelay[straight.index]).toBeGreaterThan(0);
    const fc2 = linkTravelTimes(g, obs, {}, (_road, h) => (h > 100 ? 2 : 0.1));
    for (let e = 0; e < g.nEdges; e++) {
      expect(edgeCost(fc2, g, e, 200)).toBeCloseTo(2 * fc2.edgeWeight[e], 9);
      expect(edgeCost(fc2, g, e, 0)).toBeGreaterThanOrEqual(fc2.edgeLowerBound[e] - 1e-12);
    }
    expect(withSignal.boundKey).not.toBe(empty.boundKey);
  });

  it('landmark bounds never exceed the true time', () => {
    const rng = new Mt19937(77);
    const g = randomGraph(rng, 12, 40, 0.7);
    const times = linkTravelTimes(g, randomObservation(g.nLanes, g.nMovements, rng));
    const L = buildLandmarks(g, times.edgeLowerBound, 4);
    for (let s = 0; s < g.nRoads; s++) {
      const d = bruteForce(g, times, [[s, 0]]);
      for (let t = 0; t < g.nRoads; t++) {
        if (!Number.isFinite(d[t])) continue;
        for (let k = 0; k < L.count; k++) {
          const K2 = 2 * L.count;
          const b1 = L.table[t * K2 + 2 * k] - L.table[s * K2 + 2 * k];
          const b2 = L.table[s * K2 + 2 * k + 1] - L.table[t * K2 + 2 * k + 1];
          if (L.table[s * K2 + 2 * k] < 1e11) expect(b1).toBeLessThanOrEqual(d[t] + 1e-6);
          expect(b2).toBeLessThanOrEqual(d[t] + 1e-6);
        }
      }
    }
  });
});
