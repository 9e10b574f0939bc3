/**
 * Shared state of one twin between its parts (store, fault detector, lane estimator): the
 * per-second histories they look back on, and which sensors are still trusted. Histories are
 * rings of `H` seconds in flat typed arrays, row = sensor / lane / road.
 */
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { LaneTopology } from './LaneTopology.ts';
import type { SensorStore } from './SensorStore.ts';

/** Seconds of history kept. */
export const H = 600;

export class Ring {
  readonly data: Float64Array;
  constructor(
    readonly rows: number,
    fill = 0,
  ) {
    this.data = new Float64Array(rows * H).fill(fill);
  }
  set(row: number, sec: number, v: number): void {
    this.data[row * H + (sec % H)] = v;
  }
  /** Value at second `sec`, clamped into the kept window [now − H + 1, now] and to ≥ 0. */
  at(row: number, sec: number, now: number): number {
    let s = sec;
    if (s > now) s = now;
    if (s < now - H + 1) s = now - H + 1;
    if (s < 0) s = 0;
    return this.data[row * H + (s % H)];
  }
}

export interface SensorFlag {
  sensorId: string;
  kind: 'loop' | 'camera';
  index: number;
  reason: FaultReason;
  detail: string;
  /** Simulation time the flag was raised (s). */
  at: number;
  /** Estimated start of the problem (s). */
  since: number;
}

export type FaultReason = 'silent' | 'dropouts' | 'stuck-on' | 'stuck-off' | 'chatter' | 'miscount';

export interface TwinContext {
  readonly net: RoadNetwork;
  readonly topo: LaneTopology;
  readonly store: SensorStore;
  /** Physical ms of simulation time 0 (sensor timestamps are physical). */
  readonly epochMs: number;
  /** Current update second (simulation time, whole seconds). */
  sec: number;
  readonly loopTrusted: Uint8Array;
  readonly camTrusted: Uint8Array;
  /** Loop totals, camera lane departure totals, camera in-view and queue (NaN: no fresh frame). */
  readonly histLoop: Ring;
  readonly histDep: Ring;
  readonly histZ: Ring;
  readonly histQ: Ring;
  /** Camera in-view counts corrected for what the camera misses (NaN: none usable). */
  readonly histZc: Ring;
  /** Running sums for the effective-vehicle-length check: Σ occ·speed and Σ counts (with speed). */
  readonly histOccSpeed: Ring;
  readonly histCountSpeed: Ring;
  /** Estimated vehicles on the lane and in the camera section. */
  readonly histNtot: Ring;
  readonly histNv: Ring;
  /** Cumulative inflow to each road from its upstream intersection (NaN where not measured). */
  readonly histRoadIn: Ring;
}

/** Simulation second of a physical timestamp. */
export function secOf(ctx: TwinContext, ms: number): number {
  return Math.floor((ms - ctx.epochMs) / 1000);
}
