/**
 * Landmark lower bounds for A* (ALT: A*, landmarks, triangle inequality). For a few far-apart
 * roads L, the free-flow times from L to every road and from every road to L are computed once
 * per network; then for any road v and target t,
 *     d(v, t) ≥ d(L, t) − d(L, v)   and   d(v, t) ≥ d(v, L) − d(t, L).
 * The tables are built on the edges' observation-independent lower bounds (`LinkTimes.
 * edgeLowerBound`: signal wait + crossing + free drive), which every predicted time respects,
 * so they are computed once per set of options, not per observation.
 */
import { BinaryHeap } from './BinaryHeap.ts';
import type { RoadGraph } from './RoadGraph.ts';

/** Stands for "unreachable": finite so that BIG − BIG = 0 keeps the bounds well defined. */
export const UNREACHABLE = 1e12;

export interface Landmarks {
  readonly count: number;
  readonly roads: Int32Array;
  /**
   * Interleaved by road so that one road's bounds share cache lines (a search reads them for
   * every road it queues): table[v·2K + 2k] = d(L_k, v), table[v·2K + 2k + 1] = d(v, L_k).
   */
  readonly table: Float64Array;
  /** Straight-line bound: seconds per metre between road ends that no edge beats. */
  readonly pace: number;
}

/** One-to-all free-flow times forward (reverse = false) or backward (into `source`). */
function sweep(g: RoadGraph, lb: Float64Array, source: number, reverse: boolean, out: Float64Array, heap: BinaryHeap): void {
  out.fill(UNREACHABLE);
  out[source] = 0;
  heap.clear();
  heap.push(0, source);
  while (heap.size > 0) {
    const key = heap.peekKey();
    const u = heap.pop();
    if (key > out[u]) continue;
    if (!reverse) {
      for (let e = g.edgeStart[u]; e < g.edgeStart[u + 1]; e++) {
        const v = g.edgeTo[e];
        const nd = key + lb[e];
        if (nd < out[v]) {
          out[v] = nd;
          heap.push(nd, v);
        }
      }
    } else {
      for (let k = g.revStart[u]; k < g.revStart[u + 1]; k++) {
        const e = g.revEdge[k];
        const v = g.revFrom[k];
        const nd = key + lb[e];
        if (nd < out[v]) {
          out[v] = nd;
          heap.push(nd, v);
        }
      }
    }
  }
}

/**
 * Picks `count` landmarks farthest-first (each the road farthest, in free-flow time, from those
 * picked so far; the first is farthest from road 0) and computes their distance tables.
 */
export function buildLandmarks(g: RoadGraph, lb: Float64Array, count = 8): Landmarks {
  const n = g.nRoads;
  const k = Math.max(0, Math.min(count, n));
  const from = new Float64Array(k * n);
  const to = new Float64Array(k * n);
  const roads = new Int32Array(k);
  const heap = new BinaryHeap(Math.max(16, n));
  const scratch = new Float64Array(n);
  // Distance of every road to the nearest landmark so far (both directions summed).
  const near = new Float64Array(n).fill(Infinity);
  // Only roads with a way in and a way out can be landmarks: a boundary exit road reaches
  // nothing and an entry road is reached from nothing, so half their table would be empty.
  const interior = (v: number) => g.edgeStart[v + 1] > g.edgeStart[v] && g.revStart[v + 1] > g.revStart[v];
  sweep(g, lb, 0, false, scratch, heap);
  let pick = -1;
  for (let v = 0; v < n; v++) if (interior(v) && scratch[v] < UNREACHABLE && (pick < 0 || scratch[v] > scratch[pick])) pick = v;
  if (pick < 0) pick = 0;
  let built = 0;
  for (let i = 0; i < k; i++) {
    roads[i] = pick;
    built++;
    const f = from.subarray(i * n, (i + 1) * n);
    const t = to.subarray(i * n, (i + 1) * n);
    sweep(g, lb, pick, false, f, heap);
    sweep(g, lb, pick, true, t, heap);
    let best = -1;
    let bestD = -1;
    for (let v = 0; v < n; v++) {
      const d = Math.min(f[v], t[v]);
      if (d < near[v]) near[v] = d;
      if (interior(v) && near[v] < UNREACHABLE && near[v] > bestD) {
        bestD = near[v];
        best = v;
      }
    }
    if (best < 0 || bestD <= 0) break;
    pick = best;
  }
  let pace = Infinity;
  for (let e = 0; e < g.nEdges; e++) {
    const r = g.edgeFromRoad[e];
    const s = g.edgeTo[e];
    const d = Math.hypot(g.endX[s] - g.endX[r], g.endY[s] - g.endY[r]);
    if (d > 1e-9) pace = Math.min(pace, lb[e] / d);
  }
  // A hair under the minimum, so rounding never makes the bound exceed a true time.
  const table = new Float64Array(n * 2 * built);
  for (let i = 0; i < built; i++) {
    for (let v = 0; v < n; v++) {
      table[v * 2 * built + 2 * i] = from[i * n + v];
      table[v * 2 * built + 2 * i + 1] = to[i * n + v];
    }
  }
  return { count: built, roads: roads.slice(0, built), table, pace: Number.isFinite(pace) ? pace * (1 - 1e-9) : 0 };
}
