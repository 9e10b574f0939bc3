/**
 * Fastest routes on predicted link times: A* over the road graph (road → road through the
 * movements that exist; an emergency vehicle may take any of them), with a lower bound that is
 * the larger of a landmark (ALT) bound and a straight-line bound at the fastest free-flow pace.
 * All per-search state lives in typed arrays reused across searches (reset by a stamp, not a
 * fill), so a search allocates only its answer.
 *
 * Labels are times at the END of a road (see RoadGraph). A search starts from one or more
 * roads with an initial label (the time to drive what is left of them). On static link times it
 * runs from both ends at once (bidirectional A*, see `searchBoth`); with a forecast hook, whose
 * times depend on when a road is reached, forward only, ending at the first target road taken
 * off the heap. Both are exact for consistent bounds (the landmark and straight-line ones are).
 *
 * Why landmarks on the weights themselves (`prepare`): on a street grid many routes are nearly
 * equally fast, and A* settles every road whose bound leaves it within the bound's slack of the
 * best; bounds from the free-flow times are ~25 % short once queues are added, bounds from the
 * current weights ~2 %, which is the difference between settling half the city and a corridor.
 *
 * k alternatives: penalised re-runs. After each route found, the edges into its roads cost
 * (1 + penalty) more; a new route is kept if its road sequence is new and its true time is within
 * `maxStretch` of the fastest.
 */
import { z } from 'zod';
import { BinaryHeap } from './BinaryHeap.ts';
import { UNREACHABLE, buildLandmarks, type Landmarks } from './Landmarks.ts';
import type { RoadGraph } from './RoadGraph.ts';
import { nearestRoad } from './RoadGraph.ts';
import { edgeCost, type LinkTimes } from './TravelTimeModel.ts';

const PointSchema = z.object({ x: z.number().finite(), y: z.number().finite() });

/** Where a route starts or ends: a road (optionally a distance along it), an intersection, or coordinates. */
export const RouteEndpointSchema = z.union([
  z.object({ road: z.string().min(1), offset: z.number().nonnegative().optional() }).strict(),
  z.object({ intersection: z.string().min(1) }).strict(),
  z.object({ point: PointSchema }).strict(),
]);
export type RouteEndpoint = z.infer<typeof RouteEndpointSchema>;

export const RouteQuerySchema = z.object({
  from: RouteEndpointSchema,
  to: RouteEndpointSchema,
  /** Departure, seconds after the observation the link times come from (forecast horizon offset). */
  departAt: z.number().nonnegative().default(0),
  /** Alternatives wanted besides the fastest. */
  alternatives: z.number().int().min(0).max(10).default(0),
  /** Alternatives may be at most this much slower than the fastest (0.5 = 50 %). */
  maxStretch: z.number().positive().default(0.5),
  /** Extra cost factor on the roads of routes already found, for the next alternative. */
  penalty: z.number().positive().default(0.6),
  /** Roads the route must not use (closures), by id. */
  avoidRoads: z.array(z.string()).default([]),
});
export type RouteQuery = z.infer<typeof RouteQuerySchema>;
export type RouteQueryInput = z.input<typeof RouteQuerySchema>;

/** One intersection passed: the movement taken and when. */
export interface RouteLeg {
  intersection: number;
  movement: number;
  fromRoad: number;
  toRoad: number;
  /** Predicted arrival at the stop line of fromRoad, s after the observation. */
  arriveStopLine: number;
  /** Predicted wait there (queue + signal). */
  stopDelay: number;
}

export interface Route {
  roads: number[];
  roadIds: string[];
  /** Predicted arrival at the destination, s after the observation. */
  eta: number;
  /** Travel time from departure. */
  travelTime: number;
  legs: RouteLeg[];
  /** Share of this route's length also on the fastest route (alternatives; 1 for the fastest). */
  overlap: number;
}

export interface SearchStats {
  settled: number;
  pushed: number;
}

/** A resolved endpoint: roads with an initial label (sources) or a tail to cut (targets). */
interface Ends {
  roads: number[];
  /** Sources: label at start (s). Targets: time not driven on the last road (s). */
  value: number[];
  /** Target point for the straight-line bound (NaN when the targets do not share one). */
  x: number;
  y: number;
}

/**
 * The bound is inflated by a millionth: among the many near-equal routes of a street grid the
 * search then follows the one nearest the target instead of settling them all, at a cost of at
 * most one part in a million on the time found.
 */
const TIE = 1 + 1e-6;
/** Slots of the two-sided search's packed per-road state. */
const STATE = 8;
const DIST = 0;
const DIST_R = 1;
const PI_T = 2;
const PI_S = 3;
const PREV = 4;
const NEXT = 5;
const F_SIDE = 6;
const R_SIDE = 7;
/**
 * Landmarks used per search, chosen per query among the precomputed ones. On the 100×100 bench
 * grid (24 landmarks) 12 active settle 30 % fewer roads at p99 than 6 (1,384 vs 1,985), and the
 * extra bound terms cost less than the roads saved.
 */
const ACTIVE_LANDMARKS = 12;

export class NoRouteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoRouteError';
  }
}

export class FastestRouter {
  private readonly landmarkCount: number;
  private readonly bidirectional: boolean;
  private readonly activeCount: number;
  /** Landmark tables by the link times' bound key (built on first use). */
  private readonly tables = new Map<string, Landmarks>();
  private readonly heap: BinaryHeap;
  private stamp = 0;
  private readonly seen: Int32Array;
  private readonly closed: Int32Array;
  private readonly isTarget: Int32Array;
  private readonly hStamp: Int32Array;
  private readonly dist: Float64Array;
  private readonly h: Float64Array;
  private readonly prevEdge: Int32Array;
  private readonly avoid: Uint8Array;
  private readonly edgeFactor: Float64Array;
  private readonly edgeBanned: Uint8Array;
  private readonly la: Float64Array;
  private readonly lb: Float64Array;
  private readonly active: Int32Array;
  private readonly score: Float64Array;
  private readonly sa: Float64Array;
  private readonly sb: Float64Array;
  private readonly activeOff: Int32Array;
  private readonly activeLa: Float64Array;
  private readonly activeLb: Float64Array;
  private readonly activeSa: Float64Array;
  private readonly activeSb: Float64Array;
  private readonly heapR: BinaryHeap;
  lastStats: SearchStats = { settled: 0, pushed: 0 };

  constructor(
    readonly graph: RoadGraph,
    /** `bidirectional: false` runs the one-sided A* on static times too (tests compare the two). */
    options: { landmarks?: number; activeLandmarks?: number; bidirectional?: boolean } = {},
  ) {
    const n = graph.nRoads;
    this.bidirectional = options.bidirectional ?? true;
    this.landmarkCount = options.landmarks ?? 24;
    this.activeCount = options.activeLandmarks ?? ACTIVE_LANDMARKS;
    this.heap = new BinaryHeap(Math.max(64, n));
    this.seen = new Int32Array(n);
    this.closed = new Int32Array(n);
    this.isTarget = new Int32Array(n);
    this.hStamp = new Int32Array(n);
    this.dist = new Float64Array(n);
    this.h = new Float64Array(n);
    this.prevEdge = new Int32Array(n);
    this.avoid = new Uint8Array(n);
    this.edgeFactor = new Float64Array(graph.nEdges).fill(1);
    this.edgeBanned = new Uint8Array(graph.nEdges);
    this.la = new Float64Array(this.landmarkCount);
    this.lb = new Float64Array(this.landmarkCount);
    this.active = new Int32Array(this.landmarkCount);
    this.score = new Float64Array(this.landmarkCount);
    this.sa = new Float64Array(this.landmarkCount);
    this.sb = new Float64Array(this.landmarkCount);
    this.activeOff = new Int32Array(this.landmarkCount);
    this.activeLa = new Float64Array(this.landmarkCount);
    this.activeLb = new Float64Array(this.landmarkCount);
    this.activeSa = new Float64Array(this.landmarkCount);
    this.activeSb = new Float64Array(this.landmarkCount);
    this.heapR = new BinaryHeap(Math.max(64, n));
  }

  /** Landmark tables on the very weights of prepared link times (without a forecast). */
  private readonly exact = new WeakMap<LinkTimes, Landmarks>();

  /**
   * Builds landmark tables on these link times' own weights (two one-to-all sweeps a landmark,
   * 24 landmarks: about 0.5–1 s on a 10,000-intersection city): call it once per new traffic
   * picture, and every search on it gets bounds as tight as the weights allow. Link times with a forecast hook are time-dependent
   * and may fall below their current weights, so they keep the observation-independent bounds.
   */
  prepare(times: LinkTimes): Landmarks {
    if (times.forecast) return this.boundTables(times);
    let t = this.exact.get(times);
    if (!t) {
      t = buildLandmarks(this.graph, times.edgeWeight, this.landmarkCount);
      this.exact.set(times, t);
    }
    return t;
  }

  /** The tables a search on these link times uses: their own if prepared, else the bound tables. */
  private tablesFor(times: LinkTimes): Landmarks {
    return this.exact.get(times) ?? this.boundTables(times);
  }

  /** Tables on the observation-independent lower bounds, built once per bound key. */
  private boundTables(times: LinkTimes): Landmarks {
    let t = this.tables.get(times.boundKey);
    if (!t) {
      t = buildLandmarks(this.graph, times.edgeLowerBound, this.landmarkCount);
      this.tables.set(times.boundKey, t);
    }
    return t;
  }

  /** Resolves an endpoint given by id or coordinates to road indices. */
  resolve(end: RouteEndpoint, role: 'from' | 'to', times: LinkTimes): Ends {
    const g = this.graph;
    if ('road' in end) {
      const r = g.roadIndex.get(end.road);
      if (r === undefined) throw new NoRouteError(`unknown road "${end.road}"`);
      const frac = end.offset === undefined ? (role === 'from' ? 0 : 1) : Math.min(1, end.offset / Math.max(1e-9, g.roadLength[r]));
      return this.onRoad(r, frac, role, times);
    }
    if ('intersection' in end) {
      const i = g.intersectionIndex.get(end.intersection);
      if (i === undefined) throw new NoRouteError(`unknown intersection "${end.intersection}"`);
      const roads: number[] = [];
      const value: number[] = [];
      if (role === 'from') {
        for (let k = g.outStart[i]; k < g.outStart[i + 1]; k++) {
          roads.push(g.outRoads[k]);
          value.push(times.drive[g.outRoads[k]]);
        }
      } else {
        for (let k = g.inStart[i]; k < g.inStart[i + 1]; k++) {
          roads.push(g.inRoads[k]);
          value.push(0);
        }
      }
      if (roads.length === 0) throw new NoRouteError(`no road ${role === 'from' ? 'leaves' : 'enters'} intersection "${end.intersection}"`);
      const any = roads[0];
      return { roads, value, x: role === 'to' ? g.endX[any] : Number.NaN, y: role === 'to' ? g.endY[any] : Number.NaN };
    }
    const near = nearestRoad(g, end.point.x, end.point.y);
    if (near.road < 0) throw new NoRouteError('the network has no roads');
    return this.onRoad(near.road, near.fraction, role, times);
  }

  private onRoad(r: number, frac: number, role: 'from' | 'to', times: LinkTimes): Ends {
    const g = this.graph;
    if (role === 'from') return { roads: [r], value: [(1 - frac) * times.drive[r]], x: Number.NaN, y: Number.NaN };
    return { roads: [r], value: [(1 - frac) * times.drive[r]], x: g.endX[r], y: g.endY[r] };
  }

  /** Fastest route and up to `alternatives` others for a query. Throws NoRouteError when there is none. */
  route(input: RouteQueryInput, times: LinkTimes): Route[] {
    const q = RouteQuerySchema.parse(input);
    const g = this.graph;
    const src = this.resolve(q.from, 'from', times);
    const dst = this.resolve(q.to, 'to', times);
    const avoid = q.avoidRoads.map((id) => {
      const r = g.roadIndex.get(id);
      if (r === undefined) throw new NoRouteError(`unknown road "${id}" in avoidRoads`);
      return r;
    });
    const best = this.search(src, dst, times, q.departAt, avoid);
    if (!best) throw new NoRouteError(`no route from ${JSON.stringify(q.from)} to ${JSON.stringify(q.to)}`);
    const routes = [best];
    if (q.alternatives > 0) {
      const touched: number[] = [];
      const penalise = (roads: number[]) => {
        for (const r of roads) {
          for (let k = g.revStart[r]; k < g.revStart[r + 1]; k++) {
            const e = g.revEdge[k];
            this.edgeFactor[e] *= 1 + q.penalty;
            touched.push(e);
          }
        }
      };
      const keys = new Set([best.roads.join(',')]);
      penalise(best.roads);
      try {
        for (let attempt = 0; attempt < 4 * q.alternatives && routes.length <= q.alternatives; attempt++) {
          const alt = this.search(src, dst, times, q.departAt, avoid, true);
          if (!alt) break;
          penalise(alt.roads);
          const key = alt.roads.join(',');
          if (keys.has(key)) continue;
          keys.add(key);
          if (alt.travelTime > best.travelTime * (1 + q.maxStretch)) continue;
          alt.overlap = overlap(g, best.roads, alt.roads);
          routes.push(alt);
        }
      } finally {
        for (const e of touched) this.edgeFactor[e] = 1;
      }
    }
    return routes;
  }

  /** Road-index query without parsing (the hot path): fastest from road `from` (at fraction) to road `to`. */
  fastestBetweenRoads(
    from: number,
    to: number,
    times: LinkTimes,
    opts: { fromFraction?: number; avoid?: readonly number[]; avoidEdges?: readonly number[]; departAt?: number } = {},
  ): Route | null {
    const g = this.graph;
    const src: Ends = { roads: [from], value: [(1 - (opts.fromFraction ?? 0)) * times.drive[from]], x: Number.NaN, y: Number.NaN };
    const dst: Ends = { roads: [to], value: [0], x: g.endX[to], y: g.endY[to] };
    const banned = opts.avoidEdges ?? [];
    for (const e of banned) this.edgeBanned[e] = 1;
    try {
      return this.search(src, dst, times, opts.departAt ?? 0, opts.avoid ?? [], false, banned.length > 0);
    } finally {
      for (const e of banned) this.edgeBanned[e] = 0;
    }
  }

  private search(src: Ends, dst: Ends, times: LinkTimes, departAt: number, avoid: readonly number[], penalised = false, edgeBans = false): Route | null {
    // Static link times: search from both ends. A forecast makes times depend on the arrival
    // time, known only going forward.
    if (!times.forecast && this.bidirectional) return this.searchBoth(src, dst, times, departAt, avoid, penalised, edgeBans);
    const g = this.graph;
    const stamp = ++this.stamp;
    const { seen, closed, isTarget, dist, prevEdge, hStamp, h } = this;
    for (const r of avoid) this.avoid[r] = 1;
    for (const t of dst.roads) isTarget[t] = stamp;
    const L = this.tablesFor(times);
    const K2 = 2 * L.count;
    const tab = L.table;
    // Per landmark, the target-set terms: min over targets of d(L, t), max of d(t, L).
    const la = this.la;
    const lb = this.lb;
    for (let k = 0; k < L.count; k++) {
      let a = Infinity;
      let b = -Infinity;
      for (const t of dst.roads) {
        a = Math.min(a, tab[t * K2 + 2 * k]);
        b = Math.max(b, tab[t * K2 + 2 * k + 1]);
      }
      la[k] = a;
      lb[k] = b;
    }
    // Active landmarks: the few that bound the sources best do nearly all the work.
    const active = this.active;
    const nActive = this.chooseActive(src.roads, L, K2);
    const tx = dst.x;
    const ty = dst.y;
    const pace = L.pace;
    const usePoint = Number.isFinite(tx) && pace > 0;
    const endX = g.endX;
    const endY = g.endY;
    const bound = (v: number): number => {
      if (hStamp[v] === stamp) return h[v];
      let best = 0;
      const base = v * K2;
      for (let i = 0; i < nActive; i++) {
        const k = active[i];
        const f = tab[base + 2 * k];
        const x1 = la[k] - f;
        const x2 = tab[base + 2 * k + 1] - lb[k];
        if (f < UNREACHABLE && x1 > best) best = x1;
        if (x2 > best) best = x2;
      }
      if (usePoint) {
        const dx = endX[v] - tx;
        const dy = endY[v] - ty;
        const e = pace * Math.sqrt(dx * dx + dy * dy);
        if (e > best) best = e;
      }
      hStamp[v] = stamp;
      h[v] = best;
      return best;
    };
    const heap = this.heap;
    heap.clear();
    let settled = 0;
    let pushed = 0;
    for (let i = 0; i < src.roads.length; i++) {
      const r = src.roads[i];
      const hr = bound(r);
      if (this.avoid[r] || hr >= UNREACHABLE / 2) continue;
      const d = src.value[i];
      if (seen[r] !== stamp || d < dist[r]) {
        seen[r] = stamp;
        dist[r] = d;
        prevEdge[r] = -1;
        heap.push(d + TIE * hr, r);
        pushed++;
      }
    }
    let found = -1;
    const forecast = times.forecast !== undefined;
    const factor = this.edgeFactor;
    const edgeStart = g.edgeStart;
    const edgeTo = g.edgeTo;
    const weight = times.edgeWeight;
    const avoidMask = this.avoid;
    while (heap.size > 0) {
      const u = heap.pop();
      if (closed[u] === stamp) continue;
      closed[u] = stamp;
      settled++;
      if (isTarget[u] === stamp) {
        found = u;
        break;
      }
      const du = dist[u];
      const eEnd = edgeStart[u + 1];
      for (let e = edgeStart[u]; e < eEnd; e++) {
        const v = edgeTo[e];
        if (closed[v] === stamp || avoidMask[v] || (edgeBans && this.edgeBanned[e])) continue;
        let w = forecast ? edgeCost(times, g, e, departAt + du) : weight[e];
        if (penalised) w *= factor[e];
        const nd = du + w;
        if (seen[v] !== stamp || nd < dist[v]) {
          const hv = bound(v);
          // A road the landmarks prove cannot reach the target is never worth queueing.
          if (hv >= UNREACHABLE / 2) continue;
          seen[v] = stamp;
          dist[v] = nd;
          prevEdge[v] = e;
          heap.push(nd + TIE * hv, v);
          pushed++;
        }
      }
    }
    for (const r of avoid) this.avoid[r] = 0;
    this.lastStats = { settled, pushed };
    if (found < 0) return null;
    const roads: number[] = [];
    for (let r = found; ; ) {
      roads.push(r);
      const e = prevEdge[r];
      if (e < 0) break;
      r = g.edgeFromRoad[e];
    }
    roads.reverse();
    const srcIdx = src.roads.indexOf(roads[0]);
    const tail = dst.value[dst.roads.indexOf(found)] ?? 0;
    return evaluateRoute(g, times, roads, src.value[srcIdx], departAt, tail);
  }

  /**
   * Bidirectional A* on static link times, with the symmetric (average) potential
   * p(v) = (π_t(v) − π_s(v)) / 2, π_t a lower bound to the targets and π_s one from the sources:
   * both searches then run Dijkstra on the same reduced costs, and the best meeting found is
   * final once the two smallest keys add up to it. Searching from both ends halves the band of
   * near-shortest roads a street grid makes either search settle.
   */
  private searchBoth(src: Ends, dst: Ends, times: LinkTimes, departAt: number, avoid: readonly number[], penalised: boolean, edgeBans: boolean): Route | null {
    const g = this.graph;
    // One stamp per search, two codes per side: 2·stamp = labelled, 2·stamp + 1 = settled.
    const stamp = ++this.stamp;
    const SEEN = 2 * stamp;
    const DONE = SEEN + 1;
    // Per-road search state, 8 numbers (one cache line) a road: the search is memory-bound,
    // and a road's state is all read together.
    const S = this.state();
    const avoidMask = this.avoid;
    for (const r of avoid) avoidMask[r] = 1;
    const L = this.tablesFor(times);
    const K2 = 2 * L.count;
    const tab = L.table;
    // Target-set terms (π_t) and source-set terms (π_s) per landmark.
    const la = this.la;
    const lb = this.lb;
    const sa = this.sa;
    const sb = this.sb;
    let minLabel = Infinity;
    for (let i = 0; i < src.roads.length; i++) minLabel = Math.min(minLabel, src.value[i]);
    for (let k = 0; k < L.count; k++) {
      let a = Infinity;
      let b = -Infinity;
      for (const t of dst.roads) {
        a = Math.min(a, tab[t * K2 + 2 * k]);
        b = Math.max(b, tab[t * K2 + 2 * k + 1]);
      }
      la[k] = a;
      lb[k] = b;
      let c = -Infinity;
      let d = Infinity;
      for (const s of src.roads) {
        c = Math.max(c, tab[s * K2 + 2 * k]);
        d = Math.min(d, tab[s * K2 + 2 * k + 1]);
      }
      sa[k] = c;
      sb[k] = d;
    }
    const nActive = this.chooseActive(src.roads, L, K2);
    // Active landmarks as offsets into a road's row, with their terms, in small local arrays.
    const off = this.activeOff;
    const ala = this.activeLa;
    const alb = this.activeLb;
    const asa = this.activeSa;
    const asb = this.activeSb;
    for (let i = 0; i < nActive; i++) {
      const k = this.active[i];
      off[i] = 2 * k;
      ala[i] = la[k];
      alb[i] = lb[k];
      asa[i] = sa[k];
      asb[i] = sb[k];
    }
    const tx = dst.x;
    const ty = dst.y;
    const sx = src.roads.length === 1 ? g.endX[src.roads[0]] : Number.NaN;
    const sy = src.roads.length === 1 ? g.endY[src.roads[0]] : Number.NaN;
    const pace = L.pace;
    // With landmark tables the straight-line bound hardly ever wins; skip its square roots.
    const pointT = L.count < 4 && Number.isFinite(tx) && pace > 0;
    const pointS = L.count < 4 && Number.isFinite(sx) && pace > 0;
    const endX = g.endX;
    const endY = g.endY;
    /** Fills π_t (slot 2) and π_s (slot 3) of road v the first time either search meets it. */
    const bounds = (v: number, o: number): void => {
      if (S[o + F_SIDE] >= SEEN || S[o + R_SIDE] >= SEEN) return;
      let bt = 0;
      let bs = 0;
      const base = v * K2;
      for (let i = 0; i < nActive; i++) {
        const f = tab[base + off[i]];
        const t = tab[base + off[i] + 1];
        const t1 = ala[i] - f;
        const t2 = t - alb[i];
        if (f < UNREACHABLE && t1 > bt) bt = t1;
        if (t2 > bt) bt = t2;
        const s1 = f - asa[i];
        const s2 = asb[i] - t;
        if (s1 > bs) bs = s1;
        if (t < UNREACHABLE && s2 > bs) bs = s2;
      }
      if (pointT) {
        const dx = endX[v] - tx;
        const dy = endY[v] - ty;
        const e = pace * Math.sqrt(dx * dx + dy * dy);
        if (e > bt) bt = e;
      }
      if (pointS) {
        const dx = endX[v] - sx;
        const dy = endY[v] - sy;
        const e = pace * Math.sqrt(dx * dx + dy * dy);
        if (e > bs) bs = e;
      }
      S[o + PI_T] = bt;
      S[o + PI_S] = bs;
    };
    const HALF = UNREACHABLE / 2;
    const heapF = this.heap;
    const heapR = this.heapR;
    heapF.clear();
    heapR.clear();
    let settled = 0;
    let pushed = 0;
    let mu = Infinity;
    let meetNode = -1;
    for (let i = 0; i < src.roads.length; i++) {
      const r = src.roads[i];
      const o = r * STATE;
      bounds(r, o);
      if (avoidMask[r] || S[o + PI_T] >= HALF) continue;
      const d = src.value[i];
      if (S[o + F_SIDE] < SEEN || d < S[o + DIST]) {
        S[o + F_SIDE] = SEEN;
        S[o + DIST] = d;
        S[o + PREV] = -1;
        heapF.push(d + (S[o + PI_T] - S[o + PI_S] - minLabel) / 2, r);
        pushed++;
      }
    }
    for (const t of dst.roads) {
      const o = t * STATE;
      bounds(t, o);
      if (avoidMask[t] || S[o + PI_S] >= HALF) continue;
      if (S[o + R_SIDE] < SEEN) {
        S[o + R_SIDE] = SEEN;
        S[o + DIST_R] = 0;
        S[o + NEXT] = -1;
        heapR.push((S[o + PI_S] + minLabel - S[o + PI_T]) / 2, t);
        pushed++;
      }
      if (S[o + F_SIDE] >= SEEN && S[o + DIST] < mu) {
        mu = S[o + DIST];
        meetNode = t;
      }
    }
    const factor = this.edgeFactor;
    const banned = this.edgeBanned;
    const weight = times.edgeWeight;
    const { edgeStart, edgeTo, revStart, revEdge, revFrom } = g;
    for (;;) {
      // Drop entries of roads already settled on their side, so the keys compared are live.
      while (heapF.size > 0 && S[heapF.peekNode() * STATE + F_SIDE] === DONE) heapF.pop();
      while (heapR.size > 0 && S[heapR.peekNode() * STATE + R_SIDE] === DONE) heapR.pop();
      const kf = heapF.peekKey();
      const kr = heapR.peekKey();
      // Also ends when either side runs dry (its key is then infinite).
      if (kf + kr >= mu) break;
      if (kf <= kr) {
        const u = heapF.pop();
        const ou = u * STATE;
        S[ou + F_SIDE] = DONE;
        settled++;
        const du = S[ou + DIST];
        for (let e = edgeStart[u], end = edgeStart[u + 1]; e < end; e++) {
          const v = edgeTo[e];
          const o = v * STATE;
          if (S[o + F_SIDE] === DONE || avoidMask[v] || (edgeBans && banned[e])) continue;
          const nd = penalised ? du + weight[e] * factor[e] : du + weight[e];
          if (S[o + F_SIDE] < SEEN || nd < S[o + DIST]) {
            bounds(v, o);
            if (S[o + PI_T] >= HALF) continue;
            S[o + F_SIDE] = SEEN;
            S[o + DIST] = nd;
            S[o + PREV] = e;
            heapF.push(nd + (S[o + PI_T] - S[o + PI_S] - minLabel) / 2, v);
            pushed++;
            if (S[o + R_SIDE] >= SEEN && nd + S[o + DIST_R] < mu) {
              mu = nd + S[o + DIST_R];
              meetNode = v;
            }
          }
        }
      } else {
        const v = heapR.pop();
        const ov = v * STATE;
        S[ov + R_SIDE] = DONE;
        settled++;
        const dv = S[ov + DIST_R];
        for (let k = revStart[v], end = revStart[v + 1]; k < end; k++) {
          const e = revEdge[k];
          const u = revFrom[k];
          const o = u * STATE;
          if (S[o + R_SIDE] === DONE || avoidMask[u] || (edgeBans && banned[e])) continue;
          const nd = penalised ? dv + weight[e] * factor[e] : dv + weight[e];
          if (S[o + R_SIDE] < SEEN || nd < S[o + DIST_R]) {
            bounds(u, o);
            if (S[o + PI_S] >= HALF) continue;
            S[o + R_SIDE] = SEEN;
            S[o + DIST_R] = nd;
            S[o + NEXT] = e;
            heapR.push(nd + (S[o + PI_S] + minLabel - S[o + PI_T]) / 2, u);
            pushed++;
            if (S[o + F_SIDE] >= SEEN && S[o + DIST] + nd < mu) {
              mu = S[o + DIST] + nd;
              meetNode = u;
            }
          }
        }
      }
    }
    for (const r of avoid) avoidMask[r] = 0;
    this.lastStats = { settled, pushed };
    if (!Number.isFinite(mu) || meetNode < 0) return null;
    const roads: number[] = [];
    for (let r = meetNode; ; ) {
      roads.push(r);
      const e = S[r * STATE + PREV];
      if (e < 0) break;
      r = g.edgeFromRoad[e];
    }
    roads.reverse();
    for (let r = meetNode; ; ) {
      const e = S[r * STATE + NEXT];
      if (e < 0) break;
      r = g.edgeTo[e];
      roads.push(r);
    }
    const srcIdx = src.roads.indexOf(roads[0]);
    const last = roads[roads.length - 1];
    const tail = dst.value[dst.roads.indexOf(last)] ?? 0;
    return evaluateRoute(g, times, roads, src.value[srcIdx], departAt, tail);
  }

  private packed: Float64Array | null = null;
  /** The packed per-road state of the two-sided search, made on first use. */
  private state(): Float64Array {
    this.packed ??= new Float64Array(this.graph.nRoads * STATE);
    return this.packed;
  }

  /**
   * Picks the landmarks that bound the sources best (written into `active`); returns how many.
   * Scores go into a reused array and the best few are picked by insertion: nothing is
   * allocated per search, so back-to-back queries make no garbage to collect.
   */
  private chooseActive(sources: readonly number[], L: Landmarks, K2: number): number {
    const tab = L.table;
    const score = this.score;
    score.fill(0, 0, L.count);
    for (const s of sources) {
      for (let k = 0; k < L.count; k++) {
        const f = tab[s * K2 + 2 * k];
        const x = Math.max(f < UNREACHABLE ? this.la[k] - f : 0, tab[s * K2 + 2 * k + 1] - this.lb[k]);
        if (x > score[k]) score[k] = x;
      }
    }
    const nActive = Math.min(this.activeCount, L.count);
    if (nActive <= 0) return 0;
    const active = this.active;
    let n = 0;
    // Insertion into the top-nActive list, best first; ties keep the lower index first.
    for (let k = 0; k < L.count; k++) {
      const x = score[k];
      if (n === nActive && x <= score[active[n - 1]]) continue;
      let i = n < nActive ? n++ : n - 1;
      while (i > 0 && score[active[i - 1]] < x) {
        active[i] = active[i - 1];
        i--;
      }
      active[i] = k;
    }
    // In table order, so a road's row is read front to back (one pass over its cache lines).
    for (let i = 1; i < nActive; i++) {
      const x = active[i];
      let j = i - 1;
      while (j >= 0 && active[j] > x) {
        active[j + 1] = active[j];
        j--;
      }
      active[j + 1] = x;
    }
    return nActive;
  }
}

/** The edge from road a to road b, or -1. */
export function edgeBetween(g: RoadGraph, a: number, b: number): number {
  for (let e = g.edgeStart[a]; e < g.edgeStart[a + 1]; e++) if (g.edgeTo[e] === b) return e;
  return -1;
}

/**
 * Predicted times along a given road sequence: `startLabel` = time to the end of the first road,
 * `tail` = part of the last road not driven. Used for the search's answer, for the true time of
 * alternatives and for live ETA updates. Returns null if two consecutive roads are not connected.
 */
export function evaluateRoute(g: RoadGraph, times: LinkTimes, roads: readonly number[], startLabel: number, departAt = 0, tail = 0): Route | null {
  const legs: RouteLeg[] = [];
  let t = startLabel;
  for (let i = 0; i + 1 < roads.length; i++) {
    const e = edgeBetween(g, roads[i], roads[i + 1]);
    if (e < 0) return null;
    legs.push({
      intersection: g.roadTo[roads[i]],
      movement: g.edgeMovement[e],
      fromRoad: roads[i],
      toRoad: roads[i + 1],
      arriveStopLine: departAt + t,
      stopDelay: times.stopDelay[e],
    });
    t += times.forecast ? edgeCost(times, g, e, departAt + t) : times.edgeWeight[e];
  }
  const travelTime = Math.max(0, t - tail);
  return { roads: [...roads], roadIds: roads.map((r) => g.roadIds[r]), eta: departAt + travelTime, travelTime, legs, overlap: 1 };
}

/** Share of `b`'s length on roads that are also on `a`. */
export function overlap(g: RoadGraph, a: readonly number[], b: readonly number[]): number {
  const set = new Set(a);
  let shared = 0;
  let total = 0;
  for (const r of b) {
    total += g.roadLength[r];
    if (set.has(r)) shared += g.roadLength[r];
  }
  return total > 0 ? shared / total : 0;
}
