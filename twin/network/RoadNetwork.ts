/**
 * The road network model: intersections, directed roads with lanes, movements (a CityFlow
 * "road link": all lane links from one road to another through an intersection), lane links
 * with their geometry, signal phases, and the conflict points between lane links.
 *
 * Everything is indexed by integers so that the simulation can keep its state in typed arrays;
 * string ids are kept for people and the API.
 */
import type { Point, TurnType } from './cityflowFormat.ts';
import type { Polyline } from './geometry.ts';

export interface Intersection {
  index: number;
  id: string;
  point: Point;
  /** Boundary node: vehicles enter and leave here; no signal, no width. */
  virtual: boolean;
  width: number;
  /** Roads touching the intersection, as listed in the file. */
  roads: number[];
  /** Global movement indices, in the file's roadLinks order (local index = position). */
  movements: number[];
  /** Global lane-link indices of all movements, in file order. */
  laneLinks: number[];
  phases: Phase[];
}

/** A signal phase: the movements (local road-link indices) that have green together. */
export interface Phase {
  index: number;
  /** Duration in the roadnet's own fixed program (s). */
  time: number;
  movements: number[];
}

export interface Road {
  index: number;
  id: string;
  from: number;
  to: number;
  points: Polyline;
  /** Global lane indices, innermost (leftmost, index 0) first. */
  lanes: number[];
}

export interface Lane {
  index: number;
  /** `<roadId>_<laneIndex>` as CityFlow names it. */
  id: string;
  road: number;
  indexInRoad: number;
  width: number;
  maxSpeed: number;
  /** Trimmed and offset centre line. */
  polyline: Polyline;
  length: number;
  /** Outgoing lane links in file order (this order settles lane-choice ties). */
  outLinks: number[];
}

/** Priority at conflict points: straight over left over right, unknown lowest. */
export const TURN_PRIORITY: Record<TurnType, number> = { go_straight: 3, turn_left: 2, turn_right: 1 };

export interface Movement {
  index: number;
  /** `<intersectionId>:<localIndex>` */
  id: string;
  intersection: number;
  localIndex: number;
  type: TurnType;
  fromRoad: number;
  toRoad: number;
  laneLinks: number[];
}

export interface LaneLink {
  index: number;
  /** `<startLaneId>_TO_<endLaneId>` */
  id: string;
  movement: number;
  intersection: number;
  fromLane: number;
  toLane: number;
  polyline: Polyline;
  length: number;
  isTurn: boolean;
  priority: number;
  /** Conflict points on this link, ascending by position along it. */
  crosses: LinkCross[];
}

export interface LinkCross {
  cross: number;
  /** Which side of the conflict point this link is (0 = A, 1 = B). */
  side: 0 | 1;
  /** Arc length along this link to the conflict point (m). */
  position: number;
}

/**
 * How two lane links meet. `diverge`: they leave the same lane (meet at their start);
 * `merge`: they meet at their end (same exit lane); `crossing`: they cut across each other.
 */
export type ConflictKind = 'diverge' | 'merge' | 'crossing';

export interface ConflictPoint {
  index: number;
  intersection: number;
  /** Lane links on side A and B; A precedes B in file order. */
  links: [number, number];
  /** Arc length along link A and link B. */
  positions: [number, number];
  kind: ConflictKind;
}

export interface RoadNetwork {
  intersections: Intersection[];
  roads: Road[];
  lanes: Lane[];
  movements: Movement[];
  laneLinks: LaneLink[];
  crosses: ConflictPoint[];
  intersectionIndex: Map<string, number>;
  roadIndex: Map<string, number>;
}

/** Signalised (non-virtual) intersections, in file order. */
export function signalisedIntersections(net: RoadNetwork): Intersection[] {
  return net.intersections.filter((i) => !i.virtual);
}

/** Whether some lane of `fromRoad` has a lane link into `toRoad`. */
export function roadsConnected(net: RoadNetwork, fromRoad: number, toRoad: number): boolean {
  for (const lane of net.roads[fromRoad].lanes) {
    for (const l of net.lanes[lane].outLinks) {
      if (net.lanes[net.laneLinks[l].toLane].road === toRoad) return true;
    }
  }
  return false;
}

/**
 * Movement-level conflicts at an intersection, from the lane-link geometry: two movements
 * conflict when any of their lane links cross or merge. Diverging links (same start lane) do
 * not conflict. Returns a symmetric matrix over the intersection's local movement indices,
 * with the strongest kind found ('crossing' over 'merge').
 */
export function movementConflicts(net: RoadNetwork, intersection: number): (ConflictKind | null)[][] {
  const inter = net.intersections[intersection];
  const n = inter.movements.length;
  const m: (ConflictKind | null)[][] = Array.from({ length: n }, () => new Array<ConflictKind | null>(n).fill(null));
  const seen = new Set<number>();
  for (const l of inter.laneLinks) {
    for (const c of net.laneLinks[l].crosses) {
      if (seen.has(c.cross)) continue;
      seen.add(c.cross);
      const cp = net.crosses[c.cross];
      if (cp.kind === 'diverge') continue;
      const a = net.movements[net.laneLinks[cp.links[0]].movement].localIndex;
      const b = net.movements[net.laneLinks[cp.links[1]].movement].localIndex;
      if (a === b) continue;
      const prev = m[a][b];
      const kind = prev === 'crossing' ? 'crossing' : cp.kind;
      m[a][b] = kind;
      m[b][a] = kind;
    }
  }
  return m;
}
