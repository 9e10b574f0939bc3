/**
 * Predicted link travel times from the twin's traffic picture (a TrafficObservation):
 *
 *   drive(road)        = free part at the speed limit (capped at the vehicle's) + the stretch its
 *                        moving vehicles occupy (count × spacing) at their mean speed when slower:
 *                        slow vehicles near the stop line delay a vehicle over their stretch, not
 *                        over the whole road (not at all a vehicle that passes moving traffic, as
 *                        an emergency vehicle on lights does)
 *   queue(movement)    = vehicles standing on the lanes serving the movement × discharge headway
 *                        (mean over those lanes: the vehicle joins one of them)
 *   signal(movement)   = expected red wait for a random arrival, (C − G)² / 2C, from the program
 *                        (or a caller's per-movement figures); scaled by `signalDelayFactor` (an
 *                        emergency vehicle with pre-emption hardly waits)
 *   cross(movement)    = lane-link length / the vehicle's speed (turns at the model's turn speed)
 *   turn(movement)     = for a turn, the time lost slowing to the turn speed before the stop line
 *                        and picking up speed after it (see turnLoss); 0 going straight
 *
 * Edge r → s (through movement m) costs queue(m) + signal(m) + cross(m) + turn(m) + drive(s), and
 * never less than its lower bound signal(m) + cross(m) + turn(m) + free drive(s): queues and slow
 * traffic only add. The bound does not depend on the observation, so A*'s landmark tables built on it serve
 * every observation with the same options (`boundKey`). An optional forecast hook scales an
 * edge by the multiplier it predicts for road s at the time the vehicle gets there (clamped
 * at the bound).
 */
import { z } from 'zod';
import type { VehicleParams } from '../network/cityflowFormat.ts';
import type { TrafficObservation } from '../state/TrafficObservation.ts';
import { TURN_SPEED } from '../sim/Engine.ts';
import { crossTime, type RoadGraph } from './RoadGraph.ts';

export const TravelTimeOptionsSchema = z.object({
  /** Seconds per queued vehicle leaving a lane at the stop line (the model discharges ~2.6 s/veh). */
  dischargeHeadway: z.number().positive().default(2.6),
  /** Weight of the expected signal delay (1 = ordinary vehicle, ~0 = pre-empted signals). */
  signalDelayFactor: z.number().min(0).max(1).default(1),
  /** The vehicle's top speed (m/s); lanes above it are driven at it. */
  vehicleMaxSpeed: z.number().positive().default(13.89),
  /** Multiple of the posted limit the vehicle drives at (an emergency vehicle on lights may exceed it). */
  vehicleSpeedFactor: z.number().min(0.5).max(2).default(1),
  /** The vehicle's acceleration (m/s²), picking up speed after a turn. */
  vehicleAcceleration: z.number().positive().default(2),
  /** The vehicle's usual deceleration (m/s²): it sets how far before a turn it slows down. */
  vehicleDeceleration: z.number().positive().default(4.5),
  /** The vehicle passes moving traffic (an emergency vehicle on lights): slow vehicles on a road do not hold it up. */
  passesMovingTraffic: z.boolean().default(false),
  /** Mean speeds of moving vehicles below this are clamped to it (m/s), so a jam is slow, not infinite. */
  minSpeed: z.number().positive().default(1),
  /** Road length a moving vehicle occupies in dense traffic (m): vehicle length + gap. */
  vehicleSpacing: z.number().positive().default(7.5),
});
export type TravelTimeOptions = z.infer<typeof TravelTimeOptionsSchema>;
export type TravelTimeOptionsInput = z.input<typeof TravelTimeOptionsSchema>;

type VehicleOptions = Pick<TravelTimeOptions, 'vehicleMaxSpeed' | 'vehicleSpeedFactor' | 'vehicleAcceleration' | 'vehicleDeceleration' | 'passesMovingTraffic'>;

/**
 * Delay weights for a vehicle whose signals are pre-empted: its windows end the conflicting green
 * before it comes, so red costs it little; what the nearest signals cannot clear in time is
 * re-predicted along the route found (preemptedRoute). The search needs static weights to stay fast.
 */
export const PREEMPTED_DELAYS = { signalDelayFactor: 0.1 } as const satisfies Partial<TravelTimeOptions>;

/** The travel-time options that describe a vehicle: top speed, how far it may exceed the limit, how it accelerates and brakes, whether it passes moving traffic. */
export function vehicleTravelTime(v: Pick<VehicleParams, 'maxSpeed' | 'speedFactor' | 'maxPosAcc' | 'usualNegAcc' | 'class'>): VehicleOptions {
  return {
    vehicleMaxSpeed: v.maxSpeed,
    vehicleSpeedFactor: v.speedFactor ?? 1,
    vehicleAcceleration: v.maxPosAcc,
    vehicleDeceleration: v.usualNegAcc,
    // As the engine drives it (Engine's overtaking of moving traffic by the emergency class).
    passesMovingTraffic: v.class === 'emergency',
  };
}

/**
 * Seconds a turn costs beyond crossing at the turn speed, for a vehicle cruising at `vIn` before
 * it and `vOut` after. As the simulation drives (CityFlow's model), a vehicle holds the turn speed
 * from its look-ahead distance before the stop line (braking distance from top speed plus two
 * one-second steps of travel), less what it gains while still braking down to it, then
 * accelerates back: H (1/vt − 1/vIn) − (vIn − vt)² / (2 b vt) + (vOut − vt)² / (2 a vOut).
 */
export function turnLoss(o: VehicleOptions, vIn: number, vOut: number): number {
  const vt = Math.min(TURN_SPEED, o.vehicleMaxSpeed);
  let loss = 0;
  if (vIn > vt) {
    const look = (o.vehicleMaxSpeed * o.vehicleMaxSpeed) / (2 * o.vehicleDeceleration) + 2 * o.vehicleMaxSpeed;
    loss += Math.max(0, look * (1 / vt - 1 / vIn) - ((vIn - vt) * (vIn - vt)) / (2 * o.vehicleDeceleration * vt));
  }
  if (vOut > vt) loss += ((vOut - vt) * (vOut - vt)) / (2 * o.vehicleAcceleration * vOut);
  return loss;
}

/** Forecast hook: predicted multiplier of road `road`'s travel time `horizonSeconds` from now (1 = as now). */
export type ForecastHook = (road: number, horizonSeconds: number) => number;

/** Link times for one search: per road and per edge, all in seconds. */
export interface LinkTimes {
  /** Free-flow drive of each road (length / min(limit, vehicle)). */
  readonly freeDrive: Float64Array;
  /** Predicted drive of each road. */
  readonly drive: Float64Array;
  /** Predicted delay at the stop line of each edge's from-road for its movement (queue + signal). */
  readonly stopDelay: Float64Array;
  /** Full predicted edge cost: stopDelay + cross + drive(to). */
  readonly edgeWeight: Float64Array;
  /** Observation-independent lower bound of each edge: signal + cross + free drive(to). */
  readonly edgeLowerBound: Float64Array;
  /** Identifies `edgeLowerBound`'s values: equal keys, equal bounds (landmark tables are cached by it). */
  readonly boundKey: string;
  readonly forecast?: ForecastHook;
  readonly options: TravelTimeOptions;
}

const signalIds = new WeakMap<Float64Array, number>();
let nextSignalId = 1;
function signalKey(g: RoadGraph, sig: Float64Array): string {
  if (sig === g.programSignalDelay) return 'program';
  let id = signalIds.get(sig);
  if (id === undefined) {
    id = nextSignalId++;
    signalIds.set(sig, id);
  }
  return `custom${id}`;
}

/**
 * Link times predicted from an observation (null = no traffic: free flow plus signal delay).
 * `signalDelay` (per global movement, s) replaces the program's expectation, e.g. from the plans
 * in force; pass the same array again for the same figures so cached bounds are reused.
 */
export function linkTravelTimes(
  g: RoadGraph,
  obs: TrafficObservation | null,
  options: TravelTimeOptionsInput = {},
  forecast?: ForecastHook,
  signalDelay?: Float64Array,
): LinkTimes {
  const o = TravelTimeOptionsSchema.parse(options);
  const nR = g.nRoads;
  const freeDrive = new Float64Array(nR);
  const drive = new Float64Array(nR);
  const cruise = new Float64Array(nR);
  for (let r = 0; r < nR; r++) {
    const limit = Math.min(g.roadSpeed[r] * o.vehicleSpeedFactor, o.vehicleMaxSpeed);
    cruise[r] = limit;
    const length = g.roadLength[r];
    freeDrive[r] = length / limit;
    drive[r] = freeDrive[r];
    if (obs && !o.passesMovingTraffic) {
      // Mean speed of the moving vehicles on the road (standing ones are the queue term).
      let moving = 0;
      let speedSum = 0;
      for (let l = g.roadLaneStart[r]; l < g.roadLaneStart[r + 1]; l++) {
        const n = obs.laneVehicles[l];
        const q = Math.min(n, obs.laneQueue[l]);
        moving += n - q;
        speedSum += obs.laneSpeed[l] * n;
      }
      if (moving >= 1) {
        const v = Math.min(limit, Math.max(o.minSpeed, speedSum / moving));
        const lanes = g.roadLaneStart[r + 1] - g.roadLaneStart[r];
        const slow = Math.min(length, (moving / Math.max(1, lanes)) * o.vehicleSpacing);
        drive[r] = (length - slow) / limit + slow / v;
      }
    }
  }
  const sig = signalDelay ?? g.programSignalDelay;
  const nE = g.nEdges;
  const stopDelay = new Float64Array(nE);
  const edgeWeight = new Float64Array(nE);
  const edgeLowerBound = new Float64Array(nE);
  for (let e = 0; e < nE; e++) {
    const m = g.edgeMovement[e];
    let queue = 0;
    if (obs) {
      const a = g.mvLaneStart[m];
      const b = g.mvLaneStart[m + 1];
      for (let k = a; k < b; k++) queue += obs.laneQueue[g.mvLanes[k]];
      if (b > a) queue /= b - a;
    }
    const signal = o.signalDelayFactor * sig[m];
    const to = g.edgeTo[e];
    const cross = crossTime(g, e, o.vehicleMaxSpeed) + (g.edgeIsTurn[e] ? turnLoss(o, cruise[g.edgeFromRoad[e]], cruise[to]) : 0);
    stopDelay[e] = queue * o.dischargeHeadway + signal;
    edgeLowerBound[e] = signal + cross + freeDrive[to];
    edgeWeight[e] = stopDelay[e] + cross + drive[to];
  }
  const boundKey = `${signalKey(g, sig)}|${o.signalDelayFactor}|${o.vehicleMaxSpeed}|${o.vehicleSpeedFactor}|${o.vehicleAcceleration}|${o.vehicleDeceleration}`;
  return { freeDrive, drive, stopDelay, edgeWeight, edgeLowerBound, boundKey, forecast, options: o };
}

/** Cost of edge e entered when the vehicle is `t` s from now (applies the forecast, never below the bound). */
export function edgeCost(times: LinkTimes, g: RoadGraph, e: number, t: number): number {
  const w = times.edgeWeight[e];
  if (!times.forecast) return w;
  const m = times.forecast(g.edgeTo[e], t);
  const scaled = Number.isFinite(m) && m > 0 ? w * m : w;
  return scaled > times.edgeLowerBound[e] ? scaled : times.edgeLowerBound[e];
}
