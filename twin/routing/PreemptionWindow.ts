/**
 * Pre-emption windows: for each signal on an emergency vehicle's route, when the controller must
 * show the vehicle's movement green, built so that it can do so safely.
 *
 *   arrival  = predicted time at the stop line (from the route's legs), ± a margin that grows with
 *              how far ahead the prediction is (max(minMargin, marginShare × time ahead))
 *   lead     = minimum green of whatever phase is showing (it may have just started)
 *            + twice the clearance (yellow + all-red) of the movements that must stop — once if the
 *              change starts in green, twice if the controller is already changing elsewhere
 *            + the time the queue ahead of the vehicle needs to discharge
 *   start    = arrival − margin − lead;  end = arrival + margin + passage (crossing time)
 *
 * Windows are re-issued as the vehicle's ETA is updated; the controller caps how long it holds
 * a signal for one vehicle, so a vehicle that never comes does not freeze it.
 *
 * The clearance is the larger of the ITE yellow + all-red of the conflicting movements
 * (IntersectionSafety) and the program's own clearance phase, the same floor the plans use. The
 * window only says what is needed; the PreemptionController decides how, through the state
 * machine and the validator.
 */
import { z } from 'zod';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { TrafficObservation } from '../state/TrafficObservation.ts';
import { MIN_GREEN_FLOOR_S, type IntersectionSafety } from '../../signal-controllers/SafetyValidator.ts';
import { programClearance } from '../../signal-controllers/plans.ts';
import type { RoadGraph } from './RoadGraph.ts';
import { edgeBetween, type Route, type RouteLeg } from './FastestRoute.ts';
import { edgeCost, type LinkTimes } from './TravelTimeModel.ts';

export const PreemptionOptionsSchema = z.object({
  /** Smallest ± margin on the predicted arrival (s). */
  minMargin: z.number().nonnegative().default(4),
  /** Margin as a share of how far ahead the arrival is predicted. */
  marginShare: z.number().nonnegative().default(0.1),
  /** Seconds per queued vehicle to discharge ahead of the emergency vehicle. */
  dischargeHeadway: z.number().positive().default(2.6),
  /** Minimum green any phase may claim before it can be ended (s). */
  minGreen: z.number().nonnegative().default(MIN_GREEN_FLOOR_S),
});
export type PreemptionOptions = z.infer<typeof PreemptionOptionsSchema>;
export type PreemptionOptionsInput = z.input<typeof PreemptionOptionsSchema>;

export const PreemptionWindowSchema = z.object({
  /** `<vehicle>@<intersection id>` */
  id: z.string(),
  vehicle: z.string(),
  intersection: z.string(),
  intersectionIndex: z.number().int().nonnegative(),
  /** The movement(s) the vehicle uses, by the intersection's local index: the green it needs. */
  movements: z.array(z.number().int().nonnegative()).min(1),
  fromRoad: z.string(),
  toRoad: z.string(),
  /** Predicted arrival at the stop line and its margin (s, observation clock). */
  eta: z.number(),
  earliest: z.number(),
  latest: z.number(),
  /** When the controller starts serving the window, and when it lets go at the latest. */
  start: z.number(),
  end: z.number(),
  lead: z.object({ minGreen: z.number(), clearance: z.number(), queueFlush: z.number() }),
});
export type PreemptionWindow = z.infer<typeof PreemptionWindowSchema>;

/** Yellow + all-red owed by the movements that conflict with `movements` (s). */
export function clearanceBefore(net: RoadNetwork, safety: IntersectionSafety, movements: readonly number[]): number {
  let c = 0;
  for (const m of movements) {
    for (const x of safety.conflictsOf[m]) c = Math.max(c, safety.requiredYellow[x] + safety.requiredAllRed[x]);
  }
  return Math.max(c, programClearance(net.intersections[safety.index]));
}

/** What a window must allow before the vehicle's arrival at one signal (s); see the header. */
export interface WindowLead {
  minGreen: number;
  clearance: number;
  queueFlush: number;
  /** minGreen + 2 × clearance + queueFlush. */
  total: number;
}

/**
 * The lead a window opens with at the signal ending the approach of global movement `movement`:
 * the same rule whether it is used to time the window or to predict what the vehicle still waits
 * there (a vehicle nearer than the lead waits the difference).
 */
export function windowLead(
  net: RoadNetwork,
  graph: RoadGraph,
  safety: IntersectionSafety,
  movement: number,
  observation: TrafficObservation | null,
  options: PreemptionOptions,
): WindowLead {
  let queue = 0;
  if (observation) {
    // The vehicle takes one of the movement's lanes; plan for the longest queue among them.
    for (let k = graph.mvLaneStart[movement]; k < graph.mvLaneStart[movement + 1]; k++) queue = Math.max(queue, observation.laneQueue[graph.mvLanes[k]]);
  }
  const clearance = clearanceBefore(net, safety, [net.movements[movement].localIndex]);
  const queueFlush = queue * options.dischargeHeadway;
  return { minGreen: options.minGreen, clearance, queueFlush, total: options.minGreen + 2 * clearance + queueFlush };
}

export interface WindowContext {
  net: RoadNetwork;
  graph: RoadGraph;
  safety: ReadonlyMap<number, IntersectionSafety>;
  /** For the queue ahead of the vehicle on its approach; none = no queue known. */
  observation?: TrafficObservation | null;
  /** Observation time: route times are relative to it. */
  now: number;
  vehicle: string;
  options?: PreemptionOptionsInput;
}

/** One window per signalised intersection on the route (legs already past are the caller's to drop). */
export function preemptionWindows(route: Route, ctx: WindowContext): PreemptionWindow[] {
  const o = PreemptionOptionsSchema.parse(ctx.options ?? {});
  const { net, graph } = ctx;
  const out: PreemptionWindow[] = [];
  for (const leg of route.legs) {
    const safety = ctx.safety.get(leg.intersection);
    if (!safety) continue; // unsignalised
    const mv = net.movements[leg.movement];
    const local = mv.localIndex;
    const eta = ctx.now + leg.arriveStopLine;
    const margin = Math.max(o.minMargin, o.marginShare * Math.max(0, leg.arriveStopLine));
    const { clearance, queueFlush, total: lead } = windowLead(net, graph, safety, leg.movement, ctx.observation ?? null, o);
    let crossing = 0;
    for (const l of mv.laneLinks) crossing = Math.max(crossing, net.laneLinks[l].length);
    const earliest = eta - margin;
    const latest = eta + margin;
    const start = earliest - lead;
    out.push({
      id: `${ctx.vehicle}@${safety.id}`,
      vehicle: ctx.vehicle,
      intersection: safety.id,
      intersectionIndex: leg.intersection,
      movements: [local],
      fromRoad: graph.roadIds[leg.fromRoad],
      toRoad: graph.roadIds[leg.toRoad],
      eta,
      earliest,
      latest,
      start,
      // Passage: crossing the intersection from a standing start takes a few seconds.
      end: latest + 2 + crossing / 5,
      lead: { minGreen: o.minGreen, clearance, queueFlush },
    });
  }
  return out;
}

export interface PredictionContext {
  net: RoadNetwork;
  graph: RoadGraph;
  safety: ReadonlyMap<number, IntersectionSafety>;
  observation: TrafficObservation | null;
  options: PreemptionOptions;
}

/**
 * A pre-empted vehicle's predicted times along `roads` (`startLabel` = time to the end of the
 * first road; times from now). The wait at a signal ahead is what its window cannot clear before
 * the vehicle gets there: a window opens `lead` (minimum green + clearances + the queue's
 * discharge, the rule that times the windows) before the arrival, so a vehicle t s from the stop
 * line waits max(0, lead − t) and only the nearest signals cost anything. Where the vehicle's
 * movement is green already (`greenNow`: served, or green anyway and held for it) only the
 * queue's discharge is left. Unsignalised stop lines keep the link times' delay. Driving and
 * crossing are the link times' (current speeds); a forecast's factor — a road's whole time later
 * over its time now, mostly queueing at signals that pre-emption clears — scales only the
 * congestion above free flow. Null if two consecutive roads are not connected.
 */
export function preemptedRoute(
  ctx: PredictionContext,
  times: LinkTimes,
  roads: readonly number[],
  startLabel: number,
  greenNow: (movement: number) => boolean = () => false,
  /** Departure, s from now: times are from it; the forecast is read at departAt + t. */
  departAt = 0,
): Route | null {
  const g = ctx.graph;
  if (roads.length === 0) return null;
  const legs: RouteLeg[] = [];
  let t = startLabel;
  for (let i = 0; i + 1 < roads.length; i++) {
    const e = edgeBetween(g, roads[i], roads[i + 1]);
    if (e < 0) return null;
    const movement = g.edgeMovement[e];
    const to = roads[i + 1];
    const inter = g.roadTo[roads[i]];
    const safety = ctx.safety.get(inter);
    const scale = times.forecast && times.edgeWeight[e] > 0 ? edgeCost(times, g, e, departAt + t) / times.edgeWeight[e] : 1;
    let wait = times.stopDelay[e] * scale;
    if (safety) {
      const lead = windowLead(ctx.net, g, safety, movement, ctx.observation, ctx.options);
      wait = Math.max(0, (greenNow(movement) ? lead.queueFlush : lead.total) - t);
    }
    legs.push({ intersection: inter, movement, fromRoad: roads[i], toRoad: to, arriveStopLine: t, stopDelay: wait });
    const cross = times.edgeWeight[e] - times.stopDelay[e] - times.drive[to];
    t += wait + cross + times.freeDrive[to] + (times.drive[to] - times.freeDrive[to]) * scale;
  }
  return { roads: [...roads], roadIds: roads.map((r) => g.roadIds[r]), eta: t, travelTime: t, legs, overlap: 1 };
}
