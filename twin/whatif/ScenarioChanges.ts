/**
 * The changes of a scenario resolved against the network (ids → indices, unknown ids refused
 * with the field's path) and applied to a running engine:
 *
 * - closures close their lanes for their window; vehicles whose remaining route enters a closed
 *   road, or a lane closed on a road they need it for, are re-routed on the shortest free-flow
 *   path avoiding them (from the next roads their lane can reach, since lanes are not changed);
 *   vehicles that cannot be re-routed yet are tried again every few seconds, and reopened lanes
 *   are reopened at the window's end
 * - incidents cap the speed of their lanes for their window
 *
 * Trips that start during a closure are handled before the run, on the flows (see FlowEdits).
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import { firstLaneCandidates, lanePath } from '../network/route.ts';
import type { Engine } from '../sim/Engine.ts';
import { edgeBetween, FastestRouter } from '../routing/FastestRoute.ts';
import { roadGraph, type RoadGraph } from '../routing/RoadGraph.ts';
import { linkTravelTimes, type LinkTimes } from '../routing/TravelTimeModel.ts';
import { absoluteWindow, type Area, type Change, type Closure, type Incident } from './Scenario.ts';

export class ScenarioError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'ScenarioError';
  }
}

export interface ResolvedClosure {
  from: number;
  until: number;
  lanes: number[];
  /** Roads with every lane closed. */
  roads: Set<number>;
  /** Road-graph edges (movements) that cannot be taken: every lane of the road that serves the movement after them is closed. */
  edges: Set<number>;
}

export interface ResolvedIncident {
  from: number;
  until: number;
  lanes: number[];
  speedCap: number;
}

export interface ResolvedDemand {
  from: number;
  until: number;
  roads: Set<number>;
  match: 'origin' | 'any';
  factor: number;
}

export interface ResolvedControl {
  intersections: number[] | null;
  controller: string;
}

export interface ResolvedChanges {
  closures: ResolvedClosure[];
  incidents: ResolvedIncident[];
  demand: ResolvedDemand[];
  control: ResolvedControl[];
}

function roadOf(net: RoadNetwork, id: string, path: string): number {
  const r = net.roadIndex.get(id);
  if (r === undefined) throw new ScenarioError(path, `unknown road "${id}"`);
  return r;
}

function intersectionOf(net: RoadNetwork, id: string, path: string): number {
  const i = net.intersectionIndex.get(id);
  if (i === undefined) throw new ScenarioError(path, `unknown intersection "${id}"`);
  return i;
}

export function resolveArea(net: RoadNetwork, area: Area, path: string): Set<number> {
  if ('roads' in area) return new Set(area.roads.map((id, k) => roadOf(net, id, `${path}.roads[${k}]`)));
  if ('intersections' in area) {
    const set = new Set<number>();
    area.intersections.forEach((id, k) => {
      const i = intersectionOf(net, id, `${path}.intersections[${k}]`);
      for (const r of net.roads) if (r.from === i || r.to === i) set.add(r.index);
    });
    return set;
  }
  const b = area.bbox;
  const inside = (i: number) => {
    const p = net.intersections[i].point;
    return p.x >= b.minX && p.x <= b.maxX && p.y >= b.minY && p.y <= b.maxY;
  };
  return new Set(net.roads.filter((r) => inside(r.from) || inside(r.to)).map((r) => r.index));
}

/** Edges (movements S → T) every lane of S serving which is closed. */
function blockedEdges(net: RoadNetwork, g: RoadGraph, closedLane: Uint8Array): Set<number> {
  const out = new Set<number>();
  for (let e = 0; e < g.nEdges; e++) {
    const a = g.mvLaneStart[g.edgeMovement[e]];
    const b = g.mvLaneStart[g.edgeMovement[e] + 1];
    if (b === a) continue;
    let all = true;
    for (let k = a; k < b; k++) if (!closedLane[g.mvLanes[k]]) all = false;
    if (all) out.add(e);
  }
  return out;
}

export function resolveChanges(net: RoadNetwork, changes: readonly Change[], start: number, horizon: number): ResolvedChanges {
  const g = roadGraph(net);
  const laneIndex = new Map(net.lanes.map((l) => [l.id, l.index]));
  const out: ResolvedChanges = { closures: [], incidents: [], demand: [], control: [] };
  changes.forEach((c, k) => {
    const path = `changes[${k}]`;
    if (c.kind === 'closure') {
      const [from, until] = absoluteWindow(c.window, start, horizon);
      const lanes = new Set<number>();
      (c as Closure).roads.forEach((id, j) => {
        for (const l of net.roads[roadOf(net, id, `${path}.roads[${j}]`)].lanes) lanes.add(l);
      });
      (c as Closure).lanes.forEach((id, j) => {
        const l = laneIndex.get(id);
        if (l === undefined) throw new ScenarioError(`${path}.lanes[${j}]`, `unknown lane "${id}"`);
        lanes.add(l);
      });
      const closed = new Uint8Array(net.lanes.length);
      for (const l of lanes) closed[l] = 1;
      const roads = new Set(net.roads.filter((r) => r.lanes.every((l) => closed[l])).map((r) => r.index));
      out.closures.push({ from, until, lanes: [...lanes], roads, edges: blockedEdges(net, g, closed) });
    } else if (c.kind === 'incident') {
      const inc = c as Incident;
      const r = roadOf(net, inc.road, `${path}.road`);
      const all = net.roads[r].lanes;
      const lanes = (inc.lanes ?? all.map((_, j) => j)).map((j, q) => {
        if (j >= all.length) throw new ScenarioError(`${path}.lanes[${q}]`, `road "${inc.road}" has ${all.length} lanes`);
        return all[j];
      });
      const [from, until] = absoluteWindow(inc.window, start, horizon);
      out.incidents.push({ from, until, lanes, speedCap: inc.speedCap });
    } else if (c.kind === 'demand') {
      const [from, until] = absoluteWindow(c.window, start, horizon);
      out.demand.push({ from, until, roads: resolveArea(net, c.area, `${path}.area`), match: c.match, factor: c.factor });
    } else {
      out.control.push({
        controller: c.controller,
        intersections: c.intersections === 'all' ? null : c.intersections.map((id, j) => intersectionOf(net, id, `${path}.intersections[${j}]`)),
      });
    }
  });
  return out;
}

/**
 * Shortest free-flow detours around closed roads and blocked movements, checked drivable without
 * changing lanes (the model never changes lanes).
 */
export class Detours {
  readonly graph: RoadGraph;
  private readonly router: FastestRouter;
  private readonly times: LinkTimes;

  constructor(private readonly net: RoadNetwork) {
    this.graph = roadGraph(net);
    this.router = new FastestRouter(this.graph, { landmarks: 4 });
    this.times = linkTravelTimes(this.graph, null);
  }

  /** Whether a road sequence uses a closed road (after the first) or a blocked movement. */
  blocked(roads: readonly number[], closedRoads: ReadonlySet<number>, edges: ReadonlySet<number>): boolean {
    for (let i = 1; i < roads.length; i++) {
      if (closedRoads.has(roads[i])) return true;
      if (edges.size > 0 && edges.has(edgeBetween(this.graph, roads[i - 1], roads[i]))) return true;
    }
    return false;
  }

  /** Shortest road path from `from` to `to` avoiding the closure (null if none). */
  path(from: number, to: number, closedRoads: ReadonlySet<number>, edges: ReadonlySet<number>): number[] | null {
    if (from === to) return [from];
    const avoid = [...closedRoads].filter((r) => r !== from);
    const r = this.router.fastestBetweenRoads(from, to, this.times, { avoid, avoidEdges: [...edges] });
    return r ? r.roads : null;
  }

  /** A detour a new trip can start on: drivable from each of its possible first lanes. */
  tripRoute(roads: readonly number[], closedRoads: ReadonlySet<number>, edges: ReadonlySet<number>): number[] | null {
    const p = this.path(roads[0], roads[roads.length - 1], closedRoads, edges);
    if (!p || p.length < 2) return null;
    const first = firstLaneCandidates(this.net, p);
    if (first.length === 0 || first.some((l) => !lanePath(this.net, p, l))) return null;
    return p;
  }

  /** A detour for a vehicle on `lane` (its road first), via the next roads that lane reaches. */
  fromLane(lane: number, to: number, closedRoads: ReadonlySet<number>, edges: ReadonlySet<number>): number[] | null {
    const net = this.net;
    const road = net.lanes[lane].road;
    let best: number[] | null = null;
    let bestCost = Infinity;
    const seen = new Set<number>();
    for (const k of net.lanes[lane].outLinks) {
      const next = net.lanes[net.laneLinks[k].toLane].road;
      if (seen.has(next) || closedRoads.has(next)) continue;
      seen.add(next);
      const e = edgeBetween(this.graph, road, next);
      if (e < 0 || edges.has(e)) continue;
      const rest = this.path(next, to, closedRoads, edges);
      if (!rest) continue;
      const cost = this.times.edgeWeight[e] + this.routeCost(rest);
      const cand = [road, ...rest];
      if (cost < bestCost && lanePath(net, cand, lane)) {
        bestCost = cost;
        best = cand;
      }
    }
    return best;
  }

  private routeCost(roads: readonly number[]): number {
    let c = 0;
    for (let i = 1; i < roads.length; i++) c += this.times.edgeWeight[edgeBetween(this.graph, roads[i - 1], roads[i])];
    return c;
  }
}

/** Applies closures and incidents to a running engine, step by step. */
export class ChangeSchedule {
  /** Distinct vehicles given a detour. */
  rerouted = 0;
  /** Vehicles found needing a detour that none could be given (so far). */
  private readonly strandedUids = new Set<number>();
  private readonly reroutedUids = new Set<number>();
  private readonly activeClosures = new Set<number>();
  private readonly activeIncidents = new Set<number>();
  private nextScan = -Infinity;

  constructor(
    private readonly net: RoadNetwork,
    private readonly changes: ResolvedChanges,
    private readonly detours: Detours,
    /** Seconds between re-checks of running vehicles while a closure is on. */
    private readonly rescanEvery = 10,
  ) {}

  get stranded(): number {
    return this.strandedUids.size;
  }

  /** Call before every step; `now` is the engine clock. */
  beforeStep(engine: Engine): void {
    const now = engine.time;
    let changed = false;
    this.changes.closures.forEach((c, k) => {
      const on = now >= c.from && now < c.until;
      if (on === this.activeClosures.has(k)) return;
      changed = true;
      if (on) this.activeClosures.add(k);
      else this.activeClosures.delete(k);
      for (const l of c.lanes) engine.setLaneClosed(l, on);
    });
    if (changed) {
      // Lanes shared by two closures stay closed while either is on.
      for (const k of this.activeClosures) for (const l of this.changes.closures[k].lanes) engine.setLaneClosed(l, true);
      this.nextScan = now;
    }
    this.changes.incidents.forEach((c, k) => {
      const on = now >= c.from && now < c.until;
      if (on === this.activeIncidents.has(k)) return;
      if (on) this.activeIncidents.add(k);
      else this.activeIncidents.delete(k);
      for (const l of c.lanes) engine.setLaneSpeedLimit(l, on ? c.speedCap : null);
    });
    if (this.activeIncidents.size > 0) {
      // Overlapping incidents: the lowest cap holds.
      for (const k of this.activeIncidents) for (const l of this.changes.incidents[k].lanes) {
        let cap = Infinity;
        for (const j of this.activeIncidents) if (this.changes.incidents[j].lanes.includes(l)) cap = Math.min(cap, this.changes.incidents[j].speedCap);
        engine.setLaneSpeedLimit(l, cap);
      }
    }
    if (this.activeClosures.size > 0 && now >= this.nextScan) {
      this.nextScan = now + this.rescanEvery;
      this.rerouteAll(engine);
    }
  }

  private rerouteAll(engine: Engine): void {
    const roads = new Set<number>();
    const edges = new Set<number>();
    for (const k of this.activeClosures) {
      for (const r of this.changes.closures[k].roads) roads.add(r);
      for (const e of this.changes.closures[k].edges) edges.add(e);
    }
    const cache = new Map<string, number[] | null>();
    const todo: { slot: number; lane: number; to: number }[] = [];
    for (let l = 0; l < engine.nLanes; l++) {
      engine.forEachOn(l, (slot) => {
        const rem = engine.remainingRoads(slot);
        if (rem.length < 2 || rem[0] !== this.net.lanes[l].road) return;
        if (this.detours.blocked(rem, roads, edges)) todo.push({ slot, lane: l, to: rem[rem.length - 1] });
      });
    }
    for (const { slot, lane, to } of todo) {
      const uid = engine.vehicleUid(slot);
      const key = `${lane}|${to}`;
      let detour = cache.get(key);
      if (detour === undefined) {
        detour = roads.has(to) ? null : this.detours.fromLane(lane, to, roads, edges);
        cache.set(key, detour);
      }
      if (detour && engine.rerouteVehicle(slot, detour)) {
        this.strandedUids.delete(uid);
        if (!this.reroutedUids.has(uid)) {
          this.reroutedUids.add(uid);
          this.rerouted++;
        }
      } else this.strandedUids.add(uid);
    }
  }
}
