/**
 * The lanes behind each movement of an intersection: the approach lanes it is served from and
 * the lanes of the road it leads to. Controllers read the observation through these.
 */
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';

export interface MovementLanes {
  /** Per local movement: the distinct lanes its lane links start from. */
  inLanes: number[][];
  /** Per local movement: every lane of the road it leads to. */
  outLanes: number[][];
  /** Per local movement: the road it comes from. */
  fromRoad: number[];
  /** Per local movement: the road it leads to. */
  toRoad: number[];
  /** Per local movement: whether it is a right turn (permissive). */
  isRight: boolean[];
  /** Per local movement: length of its longest approach lane (m). */
  approachLength: number[];
}

export function movementLanes(net: RoadNetwork, intersection: number): MovementLanes {
  const inter = net.intersections[intersection];
  const mv = inter.movements.map((g) => net.movements[g]);
  const inLanes = mv.map((m) => [...new Set(m.laneLinks.map((l) => net.laneLinks[l].fromLane))]);
  return {
    inLanes,
    outLanes: mv.map((m) => [...net.roads[m.toRoad].lanes]),
    fromRoad: mv.map((m) => m.fromRoad),
    toRoad: mv.map((m) => m.toRoad),
    isRight: mv.map((m) => m.type === 'turn_right'),
    approachLength: inLanes.map((ls) => Math.max(...ls.map((l) => net.lanes[l].length))),
  };
}

/** Σ of a per-lane figure over lanes. */
export function sumLanes(values: ArrayLike<number>, lanes: readonly number[]): number {
  let s = 0;
  for (const l of lanes) s += values[l];
  return s;
}

/** Max-pressure of a movement: vehicles on its approach lanes − vehicles on its exit road's lanes. */
export function movementPressure(laneVehicles: ArrayLike<number>, ml: MovementLanes, m: number): number {
  return sumLanes(laneVehicles, ml.inLanes[m]) - sumLanes(laneVehicles, ml.outLanes[m]);
}
