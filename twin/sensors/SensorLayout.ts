/**
 * Where the sensors are: loop detectors at positions on lanes and cameras over approaches. A
 * layout is plain configuration data (what a city's asset register holds); both the field
 * (which simulates the sensors) and the twin (which interprets their messages) read it, so the
 * twin knows where a sensor is, never what the simulation does.
 *
 * Default placement per approach lane (a lane of a road ending at a signalised intersection):
 * - stop bar: a 2 m presence loop ending at the stop line;
 * - advance: a dual loop `advance.distance` (default 80 m) upstream of the stop line, where the
 *   lane is long enough; the camera's view ends there too, so that the two measure one section;
 * - entrance: a dual loop at the upstream end of the lane (SCOOT puts its link detectors there),
 *   which counts what enters the lane.
 * Exit lanes (ending at the network boundary) get an entrance and an exit loop.
 * Positions are the loop's upstream edge in metres from the lane start.
 */
import { z } from 'zod';
import type { RoadNetwork } from '../network/RoadNetwork.ts';

export const DETECTOR_KINDS = ['entrance', 'advance', 'stopbar', 'exit'] as const;
export type DetectorKind = (typeof DETECTOR_KINDS)[number];

export interface DetectorSpec {
  index: number;
  id: string;
  lane: number;
  laneId: string;
  kind: DetectorKind;
  /** Upstream edge of the loop (m from the lane start): a vehicle is counted when its front reaches it. */
  position: number;
  /** Loop length along the lane (m). */
  length: number;
  /** Dual loop (speed trap): reports speeds. */
  dual: boolean;
}

export interface CameraSpec {
  index: number;
  id: string;
  intersection: number;
  /** The approach: an incoming road of the intersection. */
  road: number;
  lanes: number[];
  /** Length covered back from the stop line (m). */
  view: number;
  /** Global indices of the movements from this road. */
  movements: number[];
}

export interface SensorLayout {
  detectors: DetectorSpec[];
  cameras: CameraSpec[];
  /** Detectors of each lane, upstream first (indices into `detectors`). */
  laneDetectors: number[][];
  /** Camera watching each lane (-1 if none). */
  laneCamera: Int32Array;
  /** Lanes of roads ending at a signalised (non-virtual) intersection. */
  approachLane: Uint8Array;
  byId: Map<string, { kind: 'loop'; index: number } | { kind: 'camera'; index: number }>;
}

export const SensorLayoutOptionsSchema = z.object({
  stopBar: z.object({ enabled: z.boolean().default(true), length: z.number().positive().default(2) }).prefault({}),
  advance: z
    .object({
      enabled: z.boolean().default(true),
      /** Distance of the loop's upstream edge from the stop line (m); 60–100 m is usual. */
      distance: z.number().positive().default(80),
      /** Place it only where at least this much lane remains upstream of it (m). */
      minUpstream: z.number().nonnegative().default(20),
      length: z.number().positive().default(2),
    })
    .prefault({}),
  entrance: z.object({ enabled: z.boolean().default(true), length: z.number().positive().default(2) }).prefault({}),
  exitLanes: z.boolean().default(true),
  camera: z
    .object({
      enabled: z.boolean().default(true),
      /** Coverage back from the stop line (m); default: the advance loop's distance. */
      view: z.number().positive().optional(),
    })
    .prefault({}),
});
export type SensorLayoutOptions = z.infer<typeof SensorLayoutOptionsSchema>;
export type SensorLayoutOptionsInput = z.input<typeof SensorLayoutOptionsSchema>;

/** Places detectors on every approach lane (and exit lane) and a camera on every approach. */
export function buildSensorLayout(net: RoadNetwork, options: SensorLayoutOptionsInput = {}): SensorLayout {
  const o = SensorLayoutOptionsSchema.parse(options);
  const detectors: DetectorSpec[] = [];
  const add = (lane: number, kind: DetectorKind, position: number, length: number, dual: boolean) => {
    const l = net.lanes[lane];
    detectors.push({ index: detectors.length, id: `loop:${l.id}:${kind}`, lane, laneId: l.id, kind, position, length, dual });
  };
  for (const road of net.roads) {
    const to = net.intersections[road.to];
    const approach = !to.virtual;
    if (!approach && !o.exitLanes) continue;
    for (const lane of road.lanes) {
      const L = net.lanes[lane].length;
      if (o.entrance.enabled) add(lane, 'entrance', 0, Math.min(o.entrance.length, L / 4), true);
      if (approach) {
        const a = L - o.advance.distance;
        if (o.advance.enabled && a >= o.advance.minUpstream) add(lane, 'advance', a, o.advance.length, true);
        if (o.stopBar.enabled) add(lane, 'stopbar', Math.max(0, L - o.stopBar.length), Math.min(o.stopBar.length, L), false);
      } else {
        add(lane, 'exit', Math.max(0, L - 2), Math.min(2, L), false);
      }
    }
  }
  const cameras: CameraSpec[] = [];
  if (o.camera.enabled) {
    const view = o.camera.view ?? o.advance.distance;
    for (const inter of net.intersections) {
      if (inter.virtual) continue;
      // Incoming roads from the roads themselves (a file's `roads` list may be missing).
      for (const road of net.roads) {
        if (road.to !== inter.index) continue;
        const r = road.index;
        const movements = inter.movements.filter((m) => net.movements[m].fromRoad === r);
        cameras.push({ index: cameras.length, id: `cam:${inter.id}:${road.id}`, intersection: inter.index, road: r, lanes: [...road.lanes], view, movements });
      }
    }
  }
  return indexLayout(net, detectors, cameras);
}

/** Derives the lookup tables of a layout from its detector and camera lists. */
export function indexLayout(net: RoadNetwork, detectors: DetectorSpec[], cameras: CameraSpec[]): SensorLayout {
  const laneDetectors: number[][] = net.lanes.map(() => []);
  for (const d of detectors) laneDetectors[d.lane].push(d.index);
  for (const ds of laneDetectors) ds.sort((a, b) => detectors[a].position - detectors[b].position);
  const laneCamera = new Int32Array(net.lanes.length).fill(-1);
  for (const c of cameras) for (const l of c.lanes) laneCamera[l] = c.index;
  const approachLane = Uint8Array.from(net.lanes, (l) => (net.intersections[net.roads[l.road].to].virtual ? 0 : 1));
  const byId: SensorLayout['byId'] = new Map();
  for (const d of detectors) {
    if (byId.has(d.id)) throw new Error(`duplicate sensor id ${d.id}`);
    byId.set(d.id, { kind: 'loop', index: d.index });
  }
  for (const c of cameras) {
    if (byId.has(c.id)) throw new Error(`duplicate sensor id ${c.id}`);
    byId.set(c.id, { kind: 'camera', index: c.index });
  }
  return { detectors, cameras, laneDetectors, laneCamera, approachLane, byId };
}
