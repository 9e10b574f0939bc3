/**
 * What the twin derives once from the network and the sensor layout: for every lane, which
 * loops count what passes its entrance, its advance position and its stop line, which camera
 * watches it and whether the camera's view is the section downstream of the advance loop; for
 * every road, the movements that feed it (so that the upstream intersection's stop-line counts
 * can stand in for a lost entrance loop); and section storage limits.
 *
 * With lane changing off, every vehicle that enters a lane passes every loop on it in order:
 * counts along a lane must agree up to what the sections between the loops can hold.
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { SensorLayout } from '../sensors/SensorLayout.ts';

/** Shortest space a standing vehicle takes (m): 5 m car + 2 m gap, a little under the usual. */
export const MIN_SPACING = 7;

export interface LaneTopology {
  nLanes: number;
  /** 1 for approach lanes (road ends at a signalised intersection), 0 for exit lanes. */
  approach: Uint8Array;
  length: Float64Array;
  maxSpeed: Float64Array;
  road: Int32Array;
  /** Loop indices by role (-1 if none). `stop` is the stop-bar loop, or the exit loop. */
  entrance: Int32Array;
  advance: Int32Array;
  stop: Int32Array;
  /** Upstream edge of the advance loop (m from lane start); the lane length if none. */
  advancePos: Float64Array;
  camera: Int32Array;
  /** Where the camera's view begins on the lane (m from lane start). */
  viewStart: Float64Array;
  /** 1: the view is exactly the advance→stop-line section; 2: the whole lane; 0: neither. */
  viewMeasures: Uint8Array;
  /** Vehicles the lane / its view section can hold standing. */
  capLane: Float64Array;
  capView: Float64Array;
  /** Movements each lane's links belong to. */
  laneMovements: number[][];
  /** Lanes of each road. */
  roadLanes: number[][];
  /** Movements into each road (from the upstream intersection). */
  roadInMovements: number[][];
  /** 1 where the road starts at a virtual (boundary) node: nothing upstream is measured. */
  roadFromBoundary: Uint8Array;
  /** Vehicles the lane links into a road can hold (a tolerance for road-level balances). */
  roadLinkCap: Float64Array;
  /** Lanes watched by each camera. */
  cameraLanes: number[][];
  /** Camera watching a movement's stop line (-1 if none). */
  movementCamera: Int32Array;
  /** Movement lanes: lanes of the movement's from-road that have a link in it. */
  movementLanes: number[][];
  /** Signalised approach (incoming road) of each movement, and the movements of each camera. */
  nMovements: number;
}

export function buildLaneTopology(net: RoadNetwork, layout: SensorLayout): LaneTopology {
  const nL = net.lanes.length;
  const t: LaneTopology = {
    nLanes: nL,
    approach: Uint8Array.from(layout.approachLane),
    length: Float64Array.from(net.lanes, (l) => l.length),
    maxSpeed: Float64Array.from(net.lanes, (l) => l.maxSpeed),
    road: Int32Array.from(net.lanes, (l) => l.road),
    entrance: new Int32Array(nL).fill(-1),
    advance: new Int32Array(nL).fill(-1),
    stop: new Int32Array(nL).fill(-1),
    advancePos: Float64Array.from(net.lanes, (l) => l.length),
    camera: Int32Array.from(layout.laneCamera),
    viewStart: Float64Array.from(net.lanes, (l) => l.length),
    viewMeasures: new Uint8Array(nL),
    capLane: Float64Array.from(net.lanes, (l) => l.length / MIN_SPACING + 1),
    capView: new Float64Array(nL),
    laneMovements: net.lanes.map((l) => [...new Set(l.outLinks.map((k) => net.laneLinks[k].movement))]),
    roadLanes: net.roads.map((r) => [...r.lanes]),
    roadInMovements: net.roads.map(() => []),
    roadFromBoundary: Uint8Array.from(net.roads, (r) => (net.intersections[r.from].virtual ? 1 : 0)),
    roadLinkCap: new Float64Array(net.roads.length),
    cameraLanes: layout.cameras.map((c) => [...c.lanes]),
    movementCamera: new Int32Array(net.movements.length).fill(-1),
    movementLanes: net.movements.map(() => []),
    nMovements: net.movements.length,
  };
  for (const d of layout.detectors) {
    if (d.kind === 'entrance') t.entrance[d.lane] = d.index;
    else if (d.kind === 'advance') {
      t.advance[d.lane] = d.index;
      t.advancePos[d.lane] = d.position;
    } else t.stop[d.lane] = d.index;
  }
  for (const c of layout.cameras) {
    for (const l of c.lanes) t.viewStart[l] = Math.max(0, t.length[l] - c.view);
    for (const m of c.movements) t.movementCamera[m] = c.index;
  }
  for (let l = 0; l < nL; l++) {
    if (t.camera[l] < 0) continue;
    if (t.advance[l] >= 0 && Math.abs(t.viewStart[l] - t.advancePos[l]) <= 5) t.viewMeasures[l] = 1;
    else if (t.advance[l] < 0 && t.viewStart[l] <= 1) t.viewMeasures[l] = 2;
    t.capView[l] = (t.length[l] - t.viewStart[l]) / MIN_SPACING + 1;
  }
  for (const m of net.movements) {
    t.roadInMovements[m.toRoad].push(m.index);
    const lanes = new Set<number>();
    for (const k of m.laneLinks) lanes.add(net.laneLinks[k].fromLane);
    t.movementLanes[m.index] = [...lanes];
  }
  for (const r of net.roads) {
    let cap = 0;
    const seen = new Set<number>();
    for (const m of t.roadInMovements[r.index]) {
      for (const k of net.movements[m].laneLinks) {
        const link = net.laneLinks[k];
        // Parallel links from one lane share the space; count each from-lane's longest once.
        if (seen.has(link.fromLane)) continue;
        seen.add(link.fromLane);
        cap += link.length / MIN_SPACING + 1;
      }
    }
    t.roadLinkCap[r.index] = cap;
  }
  return t;
}
