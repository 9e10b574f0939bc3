/**
 * Per-road readings for forecasting, from a per-lane traffic observation (the twin's estimate
 * from sensor messages, or the truth): speed and flow per road, and the road adjacency the
 * forecaster's graph features diffuse over. Roads are the network's directed roads, in order.
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { TrafficObservation } from '../state/TrafficObservation.ts';
import { graphFromEdges, type Edge, type RoadGraph } from './RoadGraph.ts';

/**
 * Space-mean speed per road in km/h: lanes weighted by the vehicles on them (what a probe on
 * the road would see); an empty road reads its lanes' mean (the observation gives the limit).
 */
export function roadSpeedsKmh(net: RoadNetwork, o: TrafficObservation, out: Float32Array = new Float32Array(net.roads.length)): Float32Array {
  net.roads.forEach((road, r) => {
    let weighted = 0;
    let vehicles = 0;
    let plain = 0;
    for (const l of road.lanes) {
      weighted += o.laneSpeed[l] * o.laneVehicles[l];
      vehicles += o.laneVehicles[l];
      plain += o.laneSpeed[l];
    }
    const ms = vehicles > 0.5 ? weighted / vehicles : plain / Math.max(1, road.lanes.length);
    out[r] = ms * 3.6;
  });
  return out;
}

/** Flow into each road in vehicles per hour over the observation's window. */
export function roadFlowsVph(net: RoadNetwork, o: TrafficObservation): Float32Array {
  const out = new Float32Array(net.roads.length);
  const scale = 3600 / Math.max(1, o.interval);
  net.roads.forEach((road, r) => {
    let arrivals = 0;
    for (const l of road.lanes) arrivals += o.laneArrivals[l];
    out[r] = arrivals * scale;
  });
  return out;
}

/** Posted speed limit per road in km/h (the fastest of its lanes). */
export function roadSpeedLimitsKmh(net: RoadNetwork): Float32Array {
  return Float32Array.from(net.roads, (road) => Math.max(...road.lanes.map((l) => net.lanes[l].maxSpeed)) * 3.6);
}

/**
 * Roads joined by a lane link, in both directions: congestion travels upstream (a queue spills
 * back) as well as downstream (a platoon arrives), so both neighbours inform a road's forecast.
 */
export function roadGraph(net: RoadNetwork): RoadGraph {
  const edges: Edge[] = [];
  for (const link of net.laneLinks) {
    const from = net.lanes[link.fromLane].road;
    const to = net.lanes[link.toLane].road;
    if (from === to) continue;
    edges.push({ from, to, weight: 1 }, { from: to, to: from, weight: 1 });
  }
  // Duplicates (several lane links between the same roads) are summed: better-connected
  // neighbours weigh more.
  return graphFromEdges(net.roads.length, edges);
}
