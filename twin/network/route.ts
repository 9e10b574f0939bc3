/**
 * Routes: from a flow's anchor roads to the full road sequence (shortest paths between anchors,
 * as CityFlow expands them, cityflow-model.md §2.4) and to the lane-level path a vehicle
 * follows with lane changing off (§2.5).
 */
import type { RoadNetwork } from './RoadNetwork.ts';
import { roadsConnected } from './RoadNetwork.ts';

/** Roads reachable in one step from each road, through a lane link. */
export function roadSuccessors(net: RoadNetwork): number[][] {
  return net.roads.map((road) => {
    const next = new Set<number>();
    for (const lane of road.lanes) {
      for (const l of net.lanes[lane].outLinks) next.add(net.lanes[net.laneLinks[l].toLane].road);
    }
    return [...next];
  });
}

function meanLaneLength(net: RoadNetwork, road: number): number {
  const lanes = net.roads[road].lanes;
  let s = 0;
  for (const l of lanes) s += net.lanes[l].length;
  return s / lanes.length;
}

/** Cheapest road sequence from `from` to `to` (both included); cost of entering a road = its mean lane length. */
export function shortestRoadPath(
  net: RoadNetwork,
  from: number,
  to: number,
  successors: number[][] = roadSuccessors(net),
): number[] | null {
  const n = net.roads.length;
  const dist = new Float64Array(n).fill(Infinity);
  const prev = new Int32Array(n).fill(-1);
  const done = new Uint8Array(n);
  dist[from] = 0;
  // Road networks here are small enough per query that a linear scan beats a heap's bookkeeping.
  for (;;) {
    let u = -1;
    let best = Infinity;
    for (let i = 0; i < n; i++) if (!done[i] && dist[i] < best) { best = dist[i]; u = i; }
    if (u < 0) return null;
    if (u === to) break;
    done[u] = 1;
    for (const s of successors[u]) {
      const d = best + meanLaneLength(net, s);
      if (d < dist[s]) { dist[s] = d; prev[s] = u; }
    }
  }
  const path: number[] = [];
  for (let r = to; r !== -1; r = prev[r]) {
    path.push(r);
    if (r === from) break;
  }
  return path.reverse();
}

/**
 * Expands anchor roads into the full road sequence. Returns null where two anchors cannot be
 * joined; the caller reports which.
 */
export function expandRoute(
  net: RoadNetwork,
  anchors: number[],
  successors?: number[][],
): { roads: number[] } | { brokenAt: number } {
  const roads = [anchors[0]];
  for (let i = 1; i < anchors.length; i++) {
    const a = roads[roads.length - 1];
    const b = anchors[i];
    if (a === b) continue;
    if (roadsConnected(net, a, b)) {
      roads.push(b);
      continue;
    }
    const path = shortestRoadPath(net, a, b, successors ?? roadSuccessors(net));
    if (!path) return { brokenAt: i };
    for (let k = 1; k < path.length; k++) roads.push(path[k]);
  }
  return { roads };
}

/** Lanes of the first road that have a lane link to the second: the vehicle's possible entry lanes. */
export function firstLaneCandidates(net: RoadNetwork, roads: number[]): number[] {
  const out: number[] = [];
  for (const lane of net.roads[roads[0]].lanes) {
    if (net.lanes[lane].outLinks.some((l) => net.lanes[net.laneLinks[l].toLane].road === roads[1])) out.push(lane);
  }
  return out;
}

function laneLinksTo(net: RoadNetwork, lane: number, road: number): boolean {
  return net.lanes[lane].outLinks.some((l) => net.lanes[net.laneLinks[l].toLane].road === road);
}

/**
 * The lane-level path [lane, link, lane, link, …, lane] from a first lane along `roads`.
 * At each road the lane link chosen is the one to the next road whose end lane still reaches the
 * road after it, closest in lane index to the current lane (ties: first in file order).
 * Returns null if the route cannot be driven without changing lanes.
 */
export function lanePath(net: RoadNetwork, roads: number[], firstLane: number): number[] | null {
  const path = [firstLane];
  let cur = firstLane;
  for (let i = 0; i + 1 < roads.length; i++) {
    const next = roads[i + 1];
    const after = i + 2 < roads.length ? roads[i + 2] : -1;
    const curIdx = net.lanes[cur].indexInRoad;
    let best = -1;
    let bestDiff = Infinity;
    for (const l of net.lanes[cur].outLinks) {
      const link = net.laneLinks[l];
      const end = net.lanes[link.toLane];
      if (end.road !== next) continue;
      if (after >= 0 && !laneLinksTo(net, link.toLane, after)) continue;
      const diff = Math.abs(end.indexInRoad - curIdx);
      if (diff < bestDiff) { bestDiff = diff; best = l; }
    }
    if (best < 0) return null;
    cur = net.laneLinks[best].toLane;
    path.push(best, cur);
  }
  return path;
}
