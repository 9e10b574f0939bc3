/** Small networks, random observations and a brute-force shortest path for the routing tests. */
import { generateDemand, generateGrid } from '../../twin/network/generator.ts';
import { importFlows, importRoadnet } from '../../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { Flow } from '../../twin/network/importCityFlow.ts';
import { Mt19937 } from '../../twin/random.ts';
import { roadGraphFromSource, type GraphSource, type RoadGraph } from '../../twin/routing/RoadGraph.ts';
import type { LinkTimes } from '../../twin/routing/TravelTimeModel.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';

const nets = new Map<string, RoadNetwork>();

/** A rows × cols benchmark-style grid (imported once per size). */
export function grid(rows: number, cols: number): RoadNetwork {
  const key = `${rows}x${cols}`;
  let n = nets.get(key);
  if (!n) {
    n = importRoadnet(generateGrid({ rows, cols }), key);
    nets.set(key, n);
  }
  return n;
}

export function gridDemand(net: RoadNetwork, rows: number, cols: number, perLane: number, duration: number, seed = 0): Flow[] {
  return importFlows(generateDemand(generateGrid({ rows, cols }), { seed, duration, peakVehPerHourPerLane: perLane, profile: { offPeak: 1, peaks: [] } }), net);
}

/** Random per-lane figures: some queues, some slow traffic. */
export function randomObservation(nLanes: number, nMovements: number, rng: Mt19937): TrafficObservation {
  const laneQueue = Float64Array.from({ length: nLanes }, () => (rng.nextFloat() < 0.4 ? rng.nextInt(10) : 0));
  const laneVehicles = Float64Array.from(laneQueue, (q) => q + rng.nextInt(6));
  return {
    time: 0,
    laneVehicles,
    laneQueue,
    laneSpeed: Float64Array.from({ length: nLanes }, () => 1 + 10 * rng.nextFloat()),
    laneArrivals: new Float64Array(nLanes),
    movementDepartures: Float64Array.from({ length: nMovements }, () => rng.nextInt(20)),
    interval: 60,
    laneConfidence: new Float64Array(nLanes).fill(1),
  };
}

/**
 * A random directed road network as a road graph: intersections at random points, roads between
 * random pairs, and each (incoming road, outgoing road) pair at an intersection a movement with
 * some probability; random lane lengths (at least the straight-line distance), speeds and
 * programs.
 */
export function randomGraph(rng: Mt19937, nI: number, nR: number, pMove: number): RoadGraph {
  const pts = Array.from({ length: nI }, () => ({ x: rng.nextFloat() * 2000, y: rng.nextFloat() * 2000 }));
  const roads: GraphSource['roads'] = [];
  const laneLength: number[] = [];
  const laneSpeed: number[] = [];
  for (let r = 0; r < nR; r++) {
    const from = rng.nextInt(nI);
    let to = rng.nextInt(nI);
    if (to === from) to = (to + 1) % nI;
    const lanes = 1 + rng.nextInt(2);
    const d = Math.hypot(pts[to].x - pts[from].x, pts[to].y - pts[from].y);
    const ids: number[] = [];
    for (let l = 0; l < lanes; l++) {
      ids.push(laneLength.length);
      laneLength.push(d * (1 + rng.nextFloat()) + 10);
      laneSpeed.push(5 + 10 * rng.nextFloat());
    }
    roads.push({ id: `r${r}`, from, to, sx: pts[from].x, sy: pts[from].y, ex: pts[to].x, ey: pts[to].y, lanes: ids });
  }
  const movements: GraphSource['movements'] = [];
  const byInter: number[][] = Array.from({ length: nI }, () => []);
  roads.forEach((a, ai) => {
    roads.forEach((b, bi) => {
      if (a.to !== b.from || ai === bi || rng.nextFloat() > pMove) return;
      byInter[a.to].push(movements.length);
      movements.push({ fromRoad: ai, toRoad: bi, turn: rng.nextFloat() < 0.5, crossLength: 5 + 20 * rng.nextFloat(), fromLanes: [a.lanes[rng.nextInt(a.lanes.length)]] });
    });
  });
  const intersections: GraphSource['intersections'] = pts.map((p, i) => {
    const mv = byInter[i];
    const phases = [0, 1].map(() => ({ time: 10 + rng.nextInt(30), movements: mv.map((_, k) => k).filter(() => rng.nextFloat() < 0.5) }));
    return { id: `i${i}`, x: p.x, y: p.y, virtual: false, phases, movements: mv };
  });
  return roadGraphFromSource({ intersections, roads, laneLength, laneSpeed, movements });
}

/** Bellman–Ford on the edge weights: label = time at the end of each road, from labelled sources. */
export function bruteForce(g: RoadGraph, times: LinkTimes, sources: [number, number][], avoid: ReadonlySet<number> = new Set()): Float64Array {
  const d = new Float64Array(g.nRoads).fill(Infinity);
  for (const [r, l] of sources) if (!avoid.has(r)) d[r] = Math.min(d[r], l);
  for (let it = 0; it < g.nRoads; it++) {
    let changed = false;
    for (let e = 0; e < g.nEdges; e++) {
      const a = g.edgeFromRoad[e];
      const b = g.edgeTo[e];
      if (avoid.has(b) || !Number.isFinite(d[a])) continue;
      const nd = d[a] + times.edgeWeight[e];
      if (nd < d[b]) {
        d[b] = nd;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return d;
}
