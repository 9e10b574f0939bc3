/**
 * The future demand of a scenario, as edited flows for the engine:
 *
 * - shifting: for a run that starts from an estimated state at clock T, trips are re-timed to
 *   the run's clock (T → 0) and past ones dropped
 * - demand change: trips starting in the window whose origin (or any road) is in the area are
 *   thinned or duplicated to the factor — each trip kept floor(f) times plus once more with
 *   probability frac(f), drawn from the seed in flow order (deterministic); duplicates start a
 *   few seconds later so they do not arrive as a platoon. Repeating flows get their interval
 *   divided by the factor over the window instead.
 * - closures: trips starting while their origin or destination is closed are dropped (counted);
 *   trips whose route crosses a closure get the shortest free-flow detour (or are dropped when
 *   there is none)
 *
 * Engine snapshots restore flow state by position, so existing flows keep their index: a flow
 * that is not to run any more gets a start time beyond any horizon (or, if already running, an
 * end time now), and new pieces and duplicates are appended after all existing flows. Only flows
 * the snapshot has not started yet, or repeating flows still running, are touched, so the
 * restored engine's bookkeeping of started flows stays valid.
 */
import type { Flow } from '../network/importCityFlow.ts';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import { Mt19937 } from '../random.ts';
import type { Detours, ResolvedChanges, ResolvedClosure } from './ScenarioChanges.ts';

/** Start time of a flow that must never start. */
export const NEVER = 1e15;
/** Spread of duplicated trips after the original (s). */
const DUPLICATE_JITTER = 20;
const EPS = 1e-6;

export interface FlowEditStats {
  /** Trips removed because their origin or destination was closed, or no detour existed. */
  droppedByClosure: number;
  /** Trips given a detour before they started. */
  reroutedBeforeStart: number;
  /** Trips removed by demand thinning, and added by duplication. */
  thinned: number;
  duplicated: number;
}

/** A flow is one-off when it spawns a single vehicle. */
function oneOff(f: Flow): boolean {
  return f.endTime !== -1 && f.endTime - f.startTime < f.interval;
}

/**
 * Flows re-timed so that clock `t0` becomes 0: one-off trips before it dropped, repeating flows
 * still running cut to start at 0. Indices (`Flow.index`, the vehicle ids) are kept.
 */
export function shiftFlows(flows: readonly Flow[], t0: number): Flow[] {
  const out: Flow[] = [];
  for (const f of flows) {
    if (oneOff(f)) {
      if (f.startTime >= t0) out.push({ ...f, startTime: f.startTime - t0, endTime: f.endTime - t0 });
      continue;
    }
    if (f.endTime !== -1 && f.endTime < t0) continue;
    out.push({ ...f, startTime: Math.max(0, f.startTime - t0), endTime: f.endTime === -1 ? -1 : f.endTime - t0 });
  }
  return out;
}

/** Positions (in `flows`) of the flows a restored engine has already started: its first `started` in start order. */
export function startedFlows(flows: readonly Flow[], started: number): Set<number> {
  const order = flows.map((_, i) => i).sort((a, b) => flows[a].startTime - flows[b].startTime || a - b);
  return new Set(order.slice(0, started));
}

function matches(net: RoadNetwork, roads: readonly number[], area: ReadonlySet<number>, match: 'origin' | 'any'): boolean {
  if (match === 'origin') return area.has(roads[0]);
  return roads.some((r) => area.has(r));
}

function closureAt(changes: ResolvedChanges, t: number): ResolvedClosure[] {
  return changes.closures.filter((c) => t >= c.from && t < c.until);
}

/**
 * The edited flow list (existing positions kept, additions appended) and what was done.
 * `clock`: the run's first spawn time (flows starting before it are history); `started`: flows
 * already started by a restored engine (not to be touched unless repeating and still running).
 */
export function editFlows(
  net: RoadNetwork,
  flows: readonly Flow[],
  changes: ResolvedChanges,
  detours: Detours,
  opts: { clock: number; started: ReadonlySet<number>; seed: number },
): { flows: Flow[]; stats: FlowEditStats } {
  const stats: FlowEditStats = { droppedByClosure: 0, reroutedBeforeStart: 0, thinned: 0, duplicated: 0 };
  const out: Flow[] = flows.map((f) => ({ ...f }));
  if (changes.closures.length === 0 && changes.demand.length === 0) return { flows: out, stats };
  const rng = new Mt19937((opts.seed * 2654435761 + 0x9e3779b9) >>> 0);
  const appended: Flow[] = [];
  let nextIndex = flows.reduce((m, f) => Math.max(m, f.index), -1) + 1;
  const routeCache = new Map<string, number[] | null>();

  /** The route a trip starting at t takes (null = dropped), with the closures then in force. */
  const routeAt = (roads: number[], t: number): number[] | null => {
    const cs = closureAt(changes, t);
    if (cs.length === 0) return roads;
    const closed = new Set<number>();
    const edges = new Set<number>();
    for (const c of cs) {
      for (const r of c.roads) closed.add(r);
      for (const e of c.edges) edges.add(e);
    }
    const closedLane = (r: number) => cs.some((c) => c.lanes.some((l) => net.lanes[l].road === r));
    // The origin must take the trip in; a closed lane on it is enough to hold trips back.
    if (closed.has(roads[0]) || closed.has(roads[roads.length - 1]) || closedLane(roads[0])) return null;
    if (!detours.blocked(roads, closed, edges)) return roads;
    const key = `${roads[0]}>${roads[roads.length - 1]}|${cs.map((c) => changes.closures.indexOf(c)).join(',')}`;
    let r = routeCache.get(key);
    if (r === undefined) {
      r = detours.tripRoute(roads, closed, edges);
      routeCache.set(key, r);
    }
    return r;
  };

  /** Demand factor for a trip starting at t on these roads. */
  const factorAt = (roads: readonly number[], t: number): number => {
    let f = 1;
    for (const d of changes.demand) if (t >= d.from && t < d.until && matches(net, roads, d.roads, d.match)) f *= d.factor;
    return f;
  };

  flows.forEach((f, i) => {
    if (oneOff(f)) {
      if (opts.started.has(i) || f.startTime < opts.clock) return;
      const t = f.startTime;
      const factor = factorAt(f.roads, t);
      let copies = 1;
      if (factor !== 1) {
        copies = Math.floor(factor);
        if (rng.nextFloat() < factor - copies) copies++;
      }
      const times = [t];
      for (let c = 1; c < copies; c++) times.push(t + rng.nextInt(DUPLICATE_JITTER));
      if (copies === 0) {
        stats.thinned++;
        out[i].startTime = out[i].endTime = NEVER;
        return;
      }
      times.forEach((tc, c) => {
        const roads = routeAt(f.roads, tc);
        if (roads !== f.roads && roads) stats.reroutedBeforeStart++;
        if (!roads) stats.droppedByClosure++;
        if (c === 0) {
          if (roads) out[i].roads = roads;
          else out[i].startTime = out[i].endTime = NEVER;
          return;
        }
        if (!roads) return;
        stats.duplicated++;
        appended.push({ ...f, index: nextIndex++, roads, startTime: tc, endTime: tc });
      });
      return;
    }
    // Repeating flow: cut into pieces at every window boundary after the clock.
    const end = f.endTime === -1 ? Infinity : f.endTime;
    if (end < opts.clock) return;
    const from = Math.max(f.startTime, opts.clock);
    const cuts = new Set<number>();
    for (const c of changes.closures) for (const x of [c.from, c.until]) if (x > from && x < end) cuts.add(x);
    for (const d of changes.demand) for (const x of [d.from, d.until]) if (x > from && x < end) cuts.add(x);
    const bounds = [from, ...[...cuts].sort((a, b) => a - b), end];
    for (let p = 0; p + 1 < bounds.length; p++) {
      const a = bounds[p];
      const b = bounds[p + 1];
      const factor = factorAt(f.roads, a);
      const roads = factor > 0 ? routeAt(f.roads, a) : null;
      const span = Number.isFinite(b) ? b - a : Infinity;
      if (roads && roads !== f.roads) stats.reroutedBeforeStart++;
      if (factor > 0 && !roads && Number.isFinite(span)) stats.droppedByClosure += Math.ceil(span / f.interval);
      if (factor === 0 && Number.isFinite(span)) stats.thinned += Math.ceil(span / f.interval);
      const pieceEnd = Number.isFinite(b) ? b - EPS : -1;
      if (p === 0) {
        // The existing flow carries the first piece.
        if (!roads) {
          if (opts.started.has(i)) out[i].endTime = Math.max(f.startTime, a - EPS);
          else out[i].startTime = out[i].endTime = NEVER;
        } else {
          out[i].roads = roads;
          out[i].interval = f.interval / factor;
          out[i].endTime = pieceEnd;
        }
        continue;
      }
      if (!roads) continue;
      appended.push({ ...f, index: nextIndex++, roads, interval: f.interval / factor, startTime: a, endTime: pieceEnd });
    }
  });
  return { flows: [...out, ...appended], stats };
}
