/**
 * Importer for the CityFlow roadnet and flow JSON files: validates them (zod for shape, then
 * the cross-references zod cannot see) and builds the road network model. A bad file is refused
 * with a message naming the file, the JSON path and the problem.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import {
  FlowFileSchema,
  RoadnetSchema,
  type CityFlowRoadnet,
  type FlowEntry,
  type VehicleParams,
} from './cityflowFormat.ts';
import { bezierLaneLink, firstCrossing, offsetRight, polylineLength, trimRoad, type Polyline } from './geometry.ts';
import {
  TURN_PRIORITY,
  type ConflictPoint,
  type Intersection,
  type Lane,
  type LaneLink,
  type Movement,
  type Road,
  type RoadNetwork,
} from './RoadNetwork.ts';
import { expandRoute, firstLaneCandidates, lanePath, roadSuccessors } from './route.ts';

export interface FormatProblem {
  path: string;
  message: string;
}

/** A file that cannot be used, with every problem found (file, JSON path, what is wrong). */
export class NetworkFormatError extends Error {
  constructor(
    readonly file: string,
    readonly problems: FormatProblem[],
  ) {
    const shown = problems.slice(0, 20).map((p) => `  ${file}: ${p.path || '(root)'}: ${p.message}`);
    if (problems.length > 20) shown.push(`  … and ${problems.length - 20} more`);
    super(`${file} is not a valid file:\n${shown.join('\n')}`);
    this.name = 'NetworkFormatError';
  }
}

/** A vehicle flow with its route expanded to every road it drives. */
export interface Flow {
  index: number;
  vehicle: VehicleParams;
  /** Road indices, every consecutive pair connected through an intersection. */
  roads: number[];
  interval: number;
  startTime: number;
  endTime: number;
}

function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

function zodProblems(error: z.ZodError): FormatProblem[] {
  return error.issues.map((i) => ({ path: jsonPath(i.path), message: i.message }));
}

function parseJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new NetworkFormatError(file, [{ path: '', message: `cannot read file (${(e as Error).message})` }]);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new NetworkFormatError(file, [{ path: '', message: `not valid JSON (${(e as Error).message})` }]);
  }
}

/** Validates and builds a road network from a parsed CityFlow roadnet object. */
export function importRoadnet(json: unknown, file = 'roadnet'): RoadNetwork {
  const parsed = RoadnetSchema.safeParse(json);
  if (!parsed.success) throw new NetworkFormatError(file, zodProblems(parsed.error));
  return buildNetwork(parsed.data, file);
}

function buildNetwork(rn: CityFlowRoadnet, file: string): RoadNetwork {
  const problems: FormatProblem[] = [];
  const intersectionIndex = new Map<string, number>();
  rn.intersections.forEach((it, i) => {
    if (intersectionIndex.has(it.id)) problems.push({ path: `intersections[${i}].id`, message: `duplicate intersection id "${it.id}"` });
    else intersectionIndex.set(it.id, i);
  });
  const roadIndex = new Map<string, number>();
  rn.roads.forEach((r, i) => {
    if (roadIndex.has(r.id)) problems.push({ path: `roads[${i}].id`, message: `duplicate road id "${r.id}"` });
    else roadIndex.set(r.id, i);
  });
  rn.roads.forEach((r, i) => {
    for (const key of ['startIntersection', 'endIntersection'] as const) {
      if (!intersectionIndex.has(r[key])) problems.push({ path: `roads[${i}].${key}`, message: `unknown intersection "${r[key]}"` });
    }
  });
  rn.intersections.forEach((it, i) => {
    if (it.virtual) return;
    if (it.width === undefined) problems.push({ path: `intersections[${i}].width`, message: 'required for a non-virtual intersection' });
    if (!it.roadLinks) problems.push({ path: `intersections[${i}].roadLinks`, message: 'required for a non-virtual intersection' });
    if (!it.trafficLight) problems.push({ path: `intersections[${i}].trafficLight`, message: 'required for a non-virtual intersection' });
    else if (it.trafficLight.lightphases.length === 0)
      problems.push({ path: `intersections[${i}].trafficLight.lightphases`, message: 'needs at least one phase' });
    (it.roads ?? []).forEach((rid, k) => {
      if (!roadIndex.has(rid)) problems.push({ path: `intersections[${i}].roads[${k}]`, message: `unknown road "${rid}"` });
    });
    (it.roadLinks ?? []).forEach((rl, k) => {
      const base = `intersections[${i}].roadLinks[${k}]`;
      const sr = roadIndex.get(rl.startRoad);
      const er = roadIndex.get(rl.endRoad);
      if (sr === undefined) problems.push({ path: `${base}.startRoad`, message: `unknown road "${rl.startRoad}"` });
      else if (rn.roads[sr].endIntersection !== it.id)
        problems.push({ path: `${base}.startRoad`, message: `road "${rl.startRoad}" does not end at intersection "${it.id}"` });
      if (er === undefined) problems.push({ path: `${base}.endRoad`, message: `unknown road "${rl.endRoad}"` });
      else if (rn.roads[er].startIntersection !== it.id)
        problems.push({ path: `${base}.endRoad`, message: `road "${rl.endRoad}" does not start at intersection "${it.id}"` });
      rl.laneLinks.forEach((ll, j) => {
        if (sr !== undefined && ll.startLaneIndex >= rn.roads[sr].lanes.length)
          problems.push({
            path: `${base}.laneLinks[${j}].startLaneIndex`,
            message: `lane index ${ll.startLaneIndex} out of range (road "${rl.startRoad}" has ${rn.roads[sr].lanes.length} lanes)`,
          });
        if (er !== undefined && ll.endLaneIndex >= rn.roads[er].lanes.length)
          problems.push({
            path: `${base}.laneLinks[${j}].endLaneIndex`,
            message: `lane index ${ll.endLaneIndex} out of range (road "${rl.endRoad}" has ${rn.roads[er].lanes.length} lanes)`,
          });
        if (ll.points && ll.points.length === 1)
          problems.push({ path: `${base}.laneLinks[${j}].points`, message: 'needs at least 2 points (or none)' });
      });
    });
    const nLinks = (it.roadLinks ?? []).length;
    (it.trafficLight?.lightphases ?? []).forEach((ph, p) => {
      ph.availableRoadLinks.forEach((idx, k) => {
        if (idx >= nLinks)
          problems.push({
            path: `intersections[${i}].trafficLight.lightphases[${p}].availableRoadLinks[${k}]`,
            message: `phase names movement ${idx}, but the intersection has ${nLinks} road links`,
          });
      });
    });
  });
  rn.roads.forEach((r, i) => {
    for (let k = 1; k < r.points.length; k++) {
      if (r.points[k].x === r.points[k - 1].x && r.points[k].y === r.points[k - 1].y)
        problems.push({ path: `roads[${i}].points[${k}]`, message: 'repeats the previous point (zero-length segment)' });
    }
  });
  if (problems.length) throw new NetworkFormatError(file, problems);

  const intersections: Intersection[] = rn.intersections.map((it, i) => ({
    index: i,
    id: it.id,
    point: { x: it.point.x, y: it.point.y },
    virtual: it.virtual,
    width: it.virtual ? 0 : (it.width ?? 0),
    roads: (it.roads ?? []).map((rid) => roadIndex.get(rid)!),
    movements: [],
    laneLinks: [],
    phases: it.virtual
      ? []
      : (it.trafficLight?.lightphases ?? []).map((ph, p) => ({ index: p, time: ph.time, movements: [...ph.availableRoadLinks] })),
  }));

  const roads: Road[] = [];
  const lanes: Lane[] = [];
  // Untrimmed lane centre lines: CityFlow measures default lane-link curves on these (§1.3).
  const untrimmed: Polyline[] = [];
  rn.roads.forEach((r, i) => {
    const from = intersectionIndex.get(r.startIntersection)!;
    const to = intersectionIndex.get(r.endIntersection)!;
    const trimmed = trimRoad(r.points, intersections[from].width, intersections[to].width);
    const road: Road = { index: i, id: r.id, from, to, points: r.points.map((p) => ({ ...p })), lanes: [] };
    let offset = 0;
    r.lanes.forEach((ln, j) => {
      const o = offset + ln.width / 2;
      offset += ln.width;
      const polyline = offsetRight(trimmed, o);
      const lane: Lane = {
        index: lanes.length,
        id: `${r.id}_${j}`,
        road: i,
        indexInRoad: j,
        width: ln.width,
        maxSpeed: ln.maxSpeed,
        polyline,
        length: polylineLength(polyline),
        outLinks: [],
      };
      road.lanes.push(lane.index);
      lanes.push(lane);
      untrimmed.push(offsetRight(r.points, o));
    });
    roads.push(road);
  });

  const movements: Movement[] = [];
  const laneLinks: LaneLink[] = [];
  rn.intersections.forEach((it, i) => {
    if (it.virtual) return;
    const inter = intersections[i];
    (it.roadLinks ?? []).forEach((rl, k) => {
      const fromRoad = roadIndex.get(rl.startRoad)!;
      const toRoad = roadIndex.get(rl.endRoad)!;
      const mv: Movement = {
        index: movements.length,
        id: `${it.id}:${k}`,
        intersection: i,
        localIndex: k,
        type: rl.type,
        fromRoad,
        toRoad,
        laneLinks: [],
      };
      movements.push(mv);
      inter.movements.push(mv.index);
      for (const ll of rl.laneLinks) {
        const fromLane = roads[fromRoad].lanes[ll.startLaneIndex];
        const toLane = roads[toRoad].lanes[ll.endLaneIndex];
        const polyline =
          ll.points && ll.points.length >= 2
            ? ll.points.map((p) => ({ x: p.x, y: p.y }))
            : bezierLaneLink(untrimmed[fromLane], untrimmed[toLane], inter.width);
        const link: LaneLink = {
          index: laneLinks.length,
          id: `${lanes[fromLane].id}_TO_${lanes[toLane].id}`,
          movement: mv.index,
          intersection: i,
          fromLane,
          toLane,
          polyline,
          length: polylineLength(polyline),
          isTurn: rl.type !== 'go_straight',
          priority: TURN_PRIORITY[rl.type],
          crosses: [],
        };
        laneLinks.push(link);
        mv.laneLinks.push(link.index);
        inter.laneLinks.push(link.index);
        lanes[fromLane].outLinks.push(link.index);
      }
    });
  });

  const crosses = buildConflictPoints(intersections, laneLinks);
  return { intersections, roads, lanes, movements, laneLinks, crosses, intersectionIndex, roadIndex };
}

/** Conflict points: at most one per pair of lane links of an intersection, the first found (§1.4). */
function buildConflictPoints(intersections: Intersection[], laneLinks: LaneLink[]): ConflictPoint[] {
  const crosses: ConflictPoint[] = [];
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-6;
  for (const inter of intersections) {
    const ls = inter.laneLinks;
    for (let a = 0; a < ls.length; a++) {
      const A = laneLinks[ls[a]];
      for (let b = a + 1; b < ls.length; b++) {
        const B = laneLinks[ls[b]];
        const hit = firstCrossing(A.polyline, B.polyline);
        if (!hit) continue;
        const kind =
          A.fromLane === B.fromLane && near(hit.pA, 0) && near(hit.pB, 0)
            ? 'diverge'
            : near(hit.pA, A.length) && near(hit.pB, B.length)
              ? 'merge'
              : 'crossing';
        const cp: ConflictPoint = {
          index: crosses.length,
          intersection: inter.index,
          links: [A.index, B.index],
          positions: [hit.pA, hit.pB],
          kind,
        };
        crosses.push(cp);
        A.crosses.push({ cross: cp.index, side: 0, position: hit.pA });
        B.crosses.push({ cross: cp.index, side: 1, position: hit.pB });
      }
    }
  }
  for (const l of laneLinks) l.crosses.sort((x, y) => x.position - y.position);
  return crosses;
}

/** Validates a parsed flow file against a network and expands its routes. */
export function importFlows(json: unknown, net: RoadNetwork, file = 'flow'): Flow[] {
  const parsed = FlowFileSchema.safeParse(json);
  if (!parsed.success) throw new NetworkFormatError(file, zodProblems(parsed.error));
  const problems: FormatProblem[] = [];
  const successors = roadSuccessors(net);
  const flows: Flow[] = [];
  // Many flows share a route: check each distinct route once.
  const checked = new Map<string, { roads: number[] } | FormatProblem>();
  parsed.data.forEach((f: FlowEntry, i) => {
    const base = `[${i}]`;
    if (f.endTime !== -1 && f.endTime < f.startTime)
      problems.push({ path: `${base}.endTime`, message: `ends (${f.endTime}) before it starts (${f.startTime})` });
    if (f.interval < 1 && f.startTime !== f.endTime)
      problems.push({ path: `${base}.interval`, message: `interval ${f.interval} < 1 s is only allowed for a single-instant flow` });
    const key = f.route.join('\u0000');
    let result = checked.get(key);
    if (!result) {
      result = checkRoute(net, f.route, successors);
      checked.set(key, result);
    }
    if ('message' in result) {
      problems.push({ path: `${base}.route${result.path}`, message: result.message });
      return;
    }
    flows.push({
      index: i,
      vehicle: f.vehicle,
      roads: result.roads,
      interval: f.interval,
      startTime: f.startTime,
      endTime: f.endTime,
    });
  });
  if (problems.length) throw new NetworkFormatError(file, problems);
  return flows;
}

function checkRoute(net: RoadNetwork, route: string[], successors: number[][]): { roads: number[] } | FormatProblem {
  const anchors: number[] = [];
  for (let k = 0; k < route.length; k++) {
    const r = net.roadIndex.get(route[k]);
    if (r === undefined) return { path: `[${k}]`, message: `unknown road "${route[k]}"` };
    anchors.push(r);
  }
  const expanded = expandRoute(net, anchors, successors);
  if ('brokenAt' in expanded) {
    const k = expanded.brokenAt;
    return { path: `[${k}]`, message: `no way from road "${route[k - 1]}" to road "${route[k]}" through the network` };
  }
  const roads = expanded.roads;
  if (roads.length < 2) return { path: '', message: 'a route needs at least 2 roads' };
  const first = firstLaneCandidates(net, roads);
  for (const lane of first) {
    if (!lanePath(net, roads, lane))
      return { path: '', message: `cannot be driven without changing lanes from lane ${net.lanes[lane].id}` };
  }
  return { roads };
}

/** Reads and imports a roadnet file and, optionally, a flow file. */
export function loadCityFlow(roadnetFile: string, flowFile?: string): { network: RoadNetwork; flows: Flow[] } {
  const network = importRoadnet(parseJsonFile(roadnetFile), roadnetFile);
  const flows = flowFile ? importFlows(parseJsonFile(flowFile), network, flowFile) : [];
  return { network, flows };
}
