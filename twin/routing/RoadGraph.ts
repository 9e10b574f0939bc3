/**
 * The road graph emergency routing searches: one node per directed road, one edge per movement
 * (road → road through an intersection). Built once per network into compact typed arrays (CSR,
 * forward and reverse) so that a search on a 10,000-intersection city touches no objects.
 *
 * A node's label in the searches is the time the vehicle reaches the END of the road (its stop
 * line), so an edge r → s costs: the delay at r's stop line for that movement (queue, signal),
 * crossing the intersection, and driving the whole of s.
 *
 * Two sources give the same graph (same road, lane and movement indices as the importer's):
 * the imported `RoadNetwork`, or the raw CityFlow roadnet JSON — the latter skips the conflict
 * points the simulation needs and routing does not, which on a 100×100 grid is minutes of work.
 */
import type { CityFlowRoadnet } from '../network/cityflowFormat.ts';
import { bezierLaneLink, offsetRight, polylineLength, trimRoad, type Polyline } from '../network/geometry.ts';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import { TURN_SPEED } from '../sim/Engine.ts';

export interface RoadGraph {
  readonly nRoads: number;
  readonly nEdges: number;
  readonly nLanes: number;
  readonly nMovements: number;
  /** Intersection each road starts / ends at. */
  readonly roadFrom: Int32Array;
  readonly roadTo: Int32Array;
  /** Mean lane length (m) and the fastest lane's speed limit (m/s). */
  readonly roadLength: Float64Array;
  readonly roadSpeed: Float64Array;
  /** Lanes of road r are roadLaneStart[r] .. roadLaneStart[r+1]-1 (lanes are numbered road by road). */
  readonly roadLaneStart: Int32Array;
  /** Forward CSR: edges of road r are edgeStart[r] .. edgeStart[r+1]-1. */
  readonly edgeStart: Int32Array;
  readonly edgeTo: Int32Array;
  /** Road each edge leaves. */
  readonly edgeFromRoad: Int32Array;
  /** Global movement index of each edge. */
  readonly edgeMovement: Int32Array;
  /** Mean lane-link length of the movement (m) and whether it is a turn. */
  readonly edgeCrossLength: Float64Array;
  readonly edgeIsTurn: Uint8Array;
  /** Reverse CSR: edges into road s are revEdge[revStart[s] .. revStart[s+1]-1] (forward edge ids). */
  readonly revStart: Int32Array;
  readonly revEdge: Int32Array;
  readonly revFrom: Int32Array;
  /** Road end points (x, y) from the road geometry: start and end. */
  readonly startX: Float64Array;
  readonly startY: Float64Array;
  readonly endX: Float64Array;
  readonly endY: Float64Array;
  /** Approach lanes serving each global movement (CSR over movements). */
  readonly mvLaneStart: Int32Array;
  readonly mvLanes: Int32Array;
  /** Expected red wait of each movement under the roadnet's program: (C − G)² / 2C (s). */
  readonly programSignalDelay: Float64Array;
  /** Roads entering / leaving each intersection (CSR over intersections). */
  readonly inStart: Int32Array;
  readonly inRoads: Int32Array;
  readonly outStart: Int32Array;
  readonly outRoads: Int32Array;
  readonly intersectionX: Float64Array;
  readonly intersectionY: Float64Array;
  readonly roadIndex: ReadonlyMap<string, number>;
  readonly intersectionIndex: ReadonlyMap<string, number>;
  readonly roadIds: readonly string[];
  readonly intersectionIds: readonly string[];
  /** Fastest lane speed anywhere (m/s). */
  readonly maxSpeed: number;
}

/** What the builder needs, from either source (or made by hand: tests build random graphs this way). */
export interface GraphSource {
  intersections: { id: string; x: number; y: number; virtual: boolean; phases: { time: number; movements: number[] }[]; movements: number[] }[];
  roads: { id: string; from: number; to: number; sx: number; sy: number; ex: number; ey: number; lanes: number[] }[];
  laneLength: number[];
  laneSpeed: number[];
  movements: { fromRoad: number; toRoad: number; turn: boolean; crossLength: number; fromLanes: number[] }[];
}

const cache = new WeakMap<object, RoadGraph>();

/** The road graph of an imported network (built once and cached per network object). */
export function roadGraph(net: RoadNetwork): RoadGraph {
  let g = cache.get(net);
  if (!g) {
    g = buildRoadGraph(net);
    cache.set(net, g);
  }
  return g;
}

export function buildRoadGraph(net: RoadNetwork): RoadGraph {
  return fromSource({
    intersections: net.intersections.map((i) => ({
      id: i.id,
      x: i.point.x,
      y: i.point.y,
      virtual: i.virtual,
      phases: i.phases.map((p) => ({ time: p.time, movements: p.movements })),
      movements: i.movements,
    })),
    roads: net.roads.map((r) => ({
      id: r.id,
      from: r.from,
      to: r.to,
      sx: r.points[0].x,
      sy: r.points[0].y,
      ex: r.points[r.points.length - 1].x,
      ey: r.points[r.points.length - 1].y,
      lanes: r.lanes,
    })),
    laneLength: net.lanes.map((l) => l.length),
    laneSpeed: net.lanes.map((l) => l.maxSpeed),
    movements: net.movements.map((m) => {
      let len = 0;
      for (const l of m.laneLinks) len += net.laneLinks[l].length;
      return {
        fromRoad: m.fromRoad,
        toRoad: m.toRoad,
        turn: m.type !== 'go_straight',
        crossLength: m.laneLinks.length > 0 ? len / m.laneLinks.length : 0,
        fromLanes: [...new Set(m.laneLinks.map((l) => net.laneLinks[l].fromLane))],
      };
    }),
  });
}

/**
 * The road graph straight from a CityFlow roadnet (assumed valid, e.g. generated): lane and
 * lane-link lengths as the importer computes them, without the conflict points.
 */
export function roadGraphFromRoadnet(rn: CityFlowRoadnet): RoadGraph {
  const iIndex = new Map(rn.intersections.map((it, k) => [it.id, k]));
  const rIndex = new Map(rn.roads.map((r, k) => [r.id, k]));
  const width = rn.intersections.map((it) => (it.virtual ? 0 : (it.width ?? 0)));
  const laneLength: number[] = [];
  const laneSpeed: number[] = [];
  const untrimmed: Polyline[] = [];
  const roads: GraphSource['roads'] = rn.roads.map((r) => {
    const from = iIndex.get(r.startIntersection)!;
    const to = iIndex.get(r.endIntersection)!;
    const trimmed = trimRoad(r.points, width[from], width[to]);
    const lanes: number[] = [];
    let offset = 0;
    for (const ln of r.lanes) {
      const o = offset + ln.width / 2;
      offset += ln.width;
      lanes.push(laneLength.length);
      laneLength.push(polylineLength(offsetRight(trimmed, o)));
      laneSpeed.push(ln.maxSpeed);
      untrimmed.push(offsetRight(r.points, o));
    }
    const p0 = r.points[0];
    const p1 = r.points[r.points.length - 1];
    return { id: r.id, from, to, sx: p0.x, sy: p0.y, ex: p1.x, ey: p1.y, lanes };
  });
  const movements: GraphSource['movements'] = [];
  const intersections: GraphSource['intersections'] = rn.intersections.map((it, i) => {
    const mv: number[] = [];
    if (!it.virtual) {
      for (const rl of it.roadLinks ?? []) {
        const fromRoad = rIndex.get(rl.startRoad)!;
        const toRoad = rIndex.get(rl.endRoad)!;
        let len = 0;
        const fromLanes = new Set<number>();
        for (const ll of rl.laneLinks) {
          const a = roads[fromRoad].lanes[ll.startLaneIndex];
          const b = roads[toRoad].lanes[ll.endLaneIndex];
          fromLanes.add(a);
          len += ll.points && ll.points.length >= 2 ? polylineLength(ll.points) : polylineLength(bezierLaneLink(untrimmed[a], untrimmed[b], width[i]));
        }
        mv.push(movements.length);
        movements.push({ fromRoad, toRoad, turn: rl.type !== 'go_straight', crossLength: rl.laneLinks.length > 0 ? len / rl.laneLinks.length : 0, fromLanes: [...fromLanes] });
      }
    }
    return {
      id: it.id,
      x: it.point.x,
      y: it.point.y,
      virtual: it.virtual,
      phases: it.virtual ? [] : (it.trafficLight?.lightphases ?? []).map((p) => ({ time: p.time, movements: p.availableRoadLinks })),
      movements: mv,
    };
  });
  return fromSource({ intersections, roads, laneLength, laneSpeed, movements });
}

function csr(lists: number[][]): { start: Int32Array; list: Int32Array } {
  const start = new Int32Array(lists.length + 1);
  lists.forEach((l, i) => (start[i + 1] = start[i] + l.length));
  const list = new Int32Array(start[lists.length]);
  lists.forEach((l, i) => list.set(l, start[i]));
  return { start, list };
}

/** A road graph from its parts; lane indices must be numbered road by road. */
export function roadGraphFromSource(src: GraphSource): RoadGraph {
  return fromSource(src);
}

function fromSource(src: GraphSource): RoadGraph {
  const nR = src.roads.length;
  const nI = src.intersections.length;
  const roadFrom = new Int32Array(nR);
  const roadTo = new Int32Array(nR);
  const roadLength = new Float64Array(nR);
  const roadSpeed = new Float64Array(nR);
  const startX = new Float64Array(nR);
  const startY = new Float64Array(nR);
  const endX = new Float64Array(nR);
  const endY = new Float64Array(nR);
  let maxSpeed = 0;
  src.roads.forEach((r, k) => {
    roadFrom[k] = r.from;
    roadTo[k] = r.to;
    let len = 0;
    let v = 0;
    for (const l of r.lanes) {
      len += src.laneLength[l];
      v = Math.max(v, src.laneSpeed[l]);
    }
    roadLength[k] = r.lanes.length > 0 ? len / r.lanes.length : 0;
    roadSpeed[k] = v > 0 ? v : 1;
    maxSpeed = Math.max(maxSpeed, v);
    startX[k] = r.sx;
    startY[k] = r.sy;
    endX[k] = r.ex;
    endY[k] = r.ey;
  });
  const roadLanes = csr(src.roads.map((r) => r.lanes));

  // Edges grouped by their from-road (a road ends at one intersection: its movements there).
  const byRoad: number[][] = Array.from({ length: nR }, () => []);
  src.movements.forEach((m, k) => byRoad[m.fromRoad].push(k));
  const edgeStart = new Int32Array(nR + 1);
  for (let r = 0; r < nR; r++) edgeStart[r + 1] = edgeStart[r] + byRoad[r].length;
  const nE = edgeStart[nR];
  const edgeTo = new Int32Array(nE);
  const edgeFromRoad = new Int32Array(nE);
  const edgeMovement = new Int32Array(nE);
  const edgeCrossLength = new Float64Array(nE);
  const edgeIsTurn = new Uint8Array(nE);
  for (let r = 0; r < nR; r++) {
    byRoad[r].forEach((mi, k) => {
      const e = edgeStart[r] + k;
      const m = src.movements[mi];
      edgeTo[e] = m.toRoad;
      edgeFromRoad[e] = r;
      edgeMovement[e] = mi;
      edgeCrossLength[e] = m.crossLength;
      edgeIsTurn[e] = m.turn ? 1 : 0;
    });
  }
  const revLists: number[][] = Array.from({ length: nR }, () => []);
  for (let e = 0; e < nE; e++) revLists[edgeTo[e]].push(e);
  const rev = csr(revLists);
  const revFrom = Int32Array.from(rev.list, (e) => edgeFromRoad[e]);
  const mvLanes = csr(src.movements.map((m) => m.fromLanes));

  const programSignalDelay = new Float64Array(src.movements.length);
  for (const inter of src.intersections) {
    if (inter.virtual || inter.phases.length === 0) continue;
    const C = inter.phases.reduce((s, p) => s + p.time, 0);
    if (!(C > 0)) continue;
    const green = new Float64Array(inter.movements.length);
    for (const p of inter.phases) for (const k of p.movements) if (k < green.length) green[k] += p.time;
    inter.movements.forEach((g, k) => {
      const red = C - Math.min(C, green[k]);
      programSignalDelay[g] = (red * red) / (2 * C);
    });
  }

  const ins: number[][] = Array.from({ length: nI }, () => []);
  const outs: number[][] = Array.from({ length: nI }, () => []);
  for (let r = 0; r < nR; r++) {
    ins[roadTo[r]].push(r);
    outs[roadFrom[r]].push(r);
  }
  const inC = csr(ins);
  const outC = csr(outs);

  return {
    nRoads: nR,
    nEdges: nE,
    nLanes: src.laneLength.length,
    nMovements: src.movements.length,
    roadFrom,
    roadTo,
    roadLength,
    roadSpeed,
    roadLaneStart: roadLanes.start,
    edgeStart,
    edgeTo,
    edgeFromRoad,
    edgeMovement,
    edgeCrossLength,
    edgeIsTurn,
    revStart: rev.start,
    revEdge: rev.list,
    revFrom,
    startX,
    startY,
    endX,
    endY,
    mvLaneStart: mvLanes.start,
    mvLanes: mvLanes.list,
    programSignalDelay,
    inStart: inC.start,
    inRoads: inC.list,
    outStart: outC.start,
    outRoads: outC.list,
    intersectionX: Float64Array.from(src.intersections, (i) => i.x),
    intersectionY: Float64Array.from(src.intersections, (i) => i.y),
    roadIndex: new Map(src.roads.map((r, k) => [r.id, k])),
    intersectionIndex: new Map(src.intersections.map((i, k) => [i.id, k])),
    roadIds: src.roads.map((r) => r.id),
    intersectionIds: src.intersections.map((i) => i.id),
    maxSpeed: maxSpeed > 0 ? maxSpeed : 1,
  };
}

/** Time to cross a movement's lane links at a vehicle's top speed (turns at the model's turn speed). */
export function crossTime(g: RoadGraph, e: number, vehicleMaxSpeed: number): number {
  const v = g.edgeIsTurn[e] ? Math.min(TURN_SPEED, vehicleMaxSpeed) : vehicleMaxSpeed;
  return g.edgeCrossLength[e] / v;
}

/** The road whose centre line passes nearest to (x, y), and how far along it (0–1) the nearest point is. */
export function nearestRoad(g: RoadGraph, x: number, y: number): { road: number; fraction: number; distance: number } {
  let best = -1;
  let bestD = Infinity;
  let bestT = 0;
  for (let r = 0; r < g.nRoads; r++) {
    const ax = g.startX[r];
    const ay = g.startY[r];
    const dx = g.endX[r] - ax;
    const dy = g.endY[r] - ay;
    const l2 = dx * dx + dy * dy;
    let t = l2 > 0 ? ((x - ax) * dx + (y - ay) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const px = ax + t * dx - x;
    const py = ay + t * dy - y;
    // Both directions share a centre line; traffic keeps right, so a point on a road's left
    // side belongs to the opposite direction (a tiny tie-break, not a distance).
    const left = dx * (y - ay) - dy * (x - ax) > 0 ? 1e-6 : 0;
    const d = Math.sqrt(px * px + py * py) + left;
    if (d < bestD) {
      bestD = d;
      best = r;
      bestT = t;
    }
  }
  return { road: best, fraction: bestT, distance: bestD };
}
