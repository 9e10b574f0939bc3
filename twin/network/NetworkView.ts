/**
 * The network as a viewer or a client draws it: positions and polylines flattened to number
 * arrays ([x0, y0, x1, y1, …]), with ids and the indices that stream messages refer to.
 */
import type { Polyline } from './geometry.ts';
import type { RoadNetwork } from './RoadNetwork.ts';

export interface NetworkView {
  name: string;
  bounds: { minX: number; minY: number; maxX: number; maxY: number };
  /**
   * `movements`: global movement indices (into `movements`); `phases`: per phase of the roadnet's
   * program, the movements it lets go as LOCAL indices (positions in this intersection's
   * `movements`), as CityFlow's availableRoadLinks and timing plans number them.
   */
  intersections: { id: string; x: number; y: number; virtual: boolean; width: number; movements: number[]; phases: number[][] }[];
  roads: { id: string; from: string; to: string; lanes: number[] }[];
  lanes: { id: string; road: number; index: number; width: number; maxSpeed: number; length: number; line: number[] }[];
  movements: { id: string; intersection: number; type: string; fromRoad: number; toRoad: number; laneLinks: number[] }[];
  laneLinks: { id: string; movement: number; fromLane: number; toLane: number; length: number; line: number[] }[];
}

const flat = (p: Polyline) => p.flatMap((q) => [Math.round(q.x * 100) / 100, Math.round(q.y * 100) / 100]);

export function networkView(net: RoadNetwork, name: string): NetworkView {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const i of net.intersections) {
    minX = Math.min(minX, i.point.x);
    minY = Math.min(minY, i.point.y);
    maxX = Math.max(maxX, i.point.x);
    maxY = Math.max(maxY, i.point.y);
  }
  return {
    name,
    bounds: { minX, minY, maxX, maxY },
    intersections: net.intersections.map((i) => ({
      id: i.id,
      x: i.point.x,
      y: i.point.y,
      virtual: i.virtual,
      width: i.width,
      movements: i.movements,
      phases: i.phases.map((p) => p.movements),
    })),
    roads: net.roads.map((r) => ({ id: r.id, from: net.intersections[r.from].id, to: net.intersections[r.to].id, lanes: r.lanes })),
    lanes: net.lanes.map((l) => ({ id: l.id, road: l.road, index: l.indexInRoad, width: l.width, maxSpeed: l.maxSpeed, length: l.length, line: flat(l.polyline) })),
    movements: net.movements.map((m) => ({ id: m.id, intersection: m.intersection, type: m.type, fromRoad: m.fromRoad, toRoad: m.toRoad, laneLinks: m.laneLinks })),
    laneLinks: net.laneLinks.map((l) => ({ id: l.id, movement: l.movement, fromLane: l.fromLane, toLane: l.toLane, length: l.length, line: flat(l.polyline) })),
  };
}
