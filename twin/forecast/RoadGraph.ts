/**
 * The road/sensor graph used for spatial features: a sparse, row-normalised adjacency without
 * self-loops (CSR), so one diffusion step gives each road the weighted mean of its neighbours.
 * Sparse because a city has thousands of roads but each touches only a few others.
 */
import { z } from 'zod';
import { decodeBase64, encodeBase64 } from './base64.ts';

export interface RoadGraph {
  readonly nodeCount: number;
  /** CSR row pointers, length nodeCount + 1. */
  readonly rowStart: Int32Array;
  readonly col: Int32Array;
  /** Row-normalised weights (each non-empty row sums to 1). */
  readonly weight: Float32Array;
}

export interface Edge {
  readonly from: number;
  readonly to: number;
  readonly weight: number;
}

/** Build from weighted edges (duplicates summed, self-loops and non-positive weights dropped). */
export function graphFromEdges(nodeCount: number, edges: readonly Edge[]): RoadGraph {
  const rows: Map<number, number>[] = Array.from({ length: nodeCount }, () => new Map());
  for (const e of edges) {
    if (e.from === e.to || !(e.weight > 0)) continue;
    if (e.from < 0 || e.from >= nodeCount || e.to < 0 || e.to >= nodeCount) throw new Error(`edge ${e.from}→${e.to} out of range`);
    const row = rows[e.from];
    row.set(e.to, (row.get(e.to) ?? 0) + e.weight);
  }
  const rowStart = new Int32Array(nodeCount + 1);
  for (let i = 0; i < nodeCount; i++) rowStart[i + 1] = rowStart[i] + rows[i].size;
  const col = new Int32Array(rowStart[nodeCount]);
  const weight = new Float32Array(rowStart[nodeCount]);
  for (let i = 0; i < nodeCount; i++) {
    const entries = [...rows[i].entries()].sort((a, b) => a[0] - b[0]);
    const total = entries.reduce((s, [, w]) => s + w, 0);
    entries.forEach(([j, w], k) => {
      col[rowStart[i] + k] = j;
      weight[rowStart[i] + k] = w / total;
    });
  }
  return { nodeCount, rowStart, col, weight };
}

/** From a dense n×n weighted adjacency (row-major), e.g. Los-loop's distance kernel. */
export function graphFromDense(nodeCount: number, dense: ArrayLike<number>): RoadGraph {
  if (dense.length !== nodeCount * nodeCount) throw new Error('dense adjacency must be n×n');
  const edges: Edge[] = [];
  for (let i = 0; i < nodeCount; i++) {
    for (let j = 0; j < nodeCount; j++) {
      const w = dense[i * nodeCount + j];
      if (w > 0 && i !== j) edges.push({ from: i, to: j, weight: w });
    }
  }
  return graphFromEdges(nodeCount, edges);
}

/** A graph without edges: diffusion then returns each road's own value. */
export function isolatedGraph(nodeCount: number): RoadGraph {
  return graphFromEdges(nodeCount, []);
}

/** One diffusion step: out[i] = Σ_j w_ij x[j]; a road without neighbours keeps its own value. */
export function diffuse(g: RoadGraph, x: ArrayLike<number>, out: Float32Array): void {
  for (let i = 0; i < g.nodeCount; i++) {
    const a = g.rowStart[i];
    const b = g.rowStart[i + 1];
    if (a === b) {
      out[i] = x[i];
      continue;
    }
    let s = 0;
    for (let k = a; k < b; k++) s += g.weight[k] * x[g.col[k]];
    out[i] = s;
  }
}

/**
 * The lead graph of a series (rows × nodes, missing readings already filled): each node's
 * neighbours in `g`, weighted by how well a neighbour's change in one row foretells the node's
 * change in the next (their correlation over the series; only positive ones kept). On a road
 * network with no direction given (sensors on both sides of a jam), this finds from data which
 * neighbours congestion reaches the road from. A node no neighbour leads gets no edges.
 */
export function leadGraph(g: RoadGraph, values: Float32Array, rows: number): RoadGraph {
  const n = g.nodeCount;
  const delta = new Float32Array((rows - 1) * n);
  for (let r = 1; r < rows; r++) for (let j = 0; j < n; j++) delta[(r - 1) * n + j] = values[r * n + j] - values[(r - 1) * n + j];
  const d = rows - 1;
  // Per-node mean and spread of the changes, over the rows used on each side of the lag.
  const stats = (from: number, to: number) => {
    const mean = new Float64Array(n);
    const sd = new Float64Array(n);
    for (let r = from; r < to; r++) for (let j = 0; j < n; j++) mean[j] += delta[r * n + j];
    for (let j = 0; j < n; j++) mean[j] /= Math.max(1, to - from);
    for (let r = from; r < to; r++) for (let j = 0; j < n; j++) sd[j] += (delta[r * n + j] - mean[j]) ** 2;
    for (let j = 0; j < n; j++) sd[j] = Math.sqrt(sd[j]);
    return { mean, sd };
  };
  const leader = stats(0, d - 1);
  const follower = stats(1, d);
  const edges: Edge[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = g.rowStart[i]; k < g.rowStart[i + 1]; k++) {
      const j = g.col[k];
      let s = 0;
      for (let r = 1; r < d; r++) s += (delta[(r - 1) * n + j] - leader.mean[j]) * (delta[r * n + i] - follower.mean[i]);
      const c = leader.sd[j] > 0 && follower.sd[i] > 0 ? s / (leader.sd[j] * follower.sd[i]) : 0;
      if (c > 0) edges.push({ from: i, to: j, weight: c });
    }
  }
  return graphFromEdges(n, edges);
}

export const StoredGraphSchema = z.object({
  nodeCount: z.number().int().positive(),
  rowStartBase64: z.string(),
  colBase64: z.string(),
  weightBase64: z.string(),
});
export type StoredGraph = z.infer<typeof StoredGraphSchema>;

export function encodeGraph(g: RoadGraph): StoredGraph {
  return {
    nodeCount: g.nodeCount,
    rowStartBase64: encodeBase64(g.rowStart),
    colBase64: encodeBase64(g.col),
    weightBase64: encodeBase64(g.weight),
  };
}

export function decodeGraph(stored: unknown): RoadGraph {
  const s = StoredGraphSchema.parse(stored);
  const rowStart = new Int32Array(decodeBase64(s.rowStartBase64));
  const col = new Int32Array(decodeBase64(s.colBase64));
  const weight = new Float32Array(decodeBase64(s.weightBase64));
  if (rowStart.length !== s.nodeCount + 1 || col.length !== weight.length || rowStart[s.nodeCount] !== col.length) {
    throw new Error('stored graph is inconsistent');
  }
  return { nodeCount: s.nodeCount, rowStart, col, weight };
}
