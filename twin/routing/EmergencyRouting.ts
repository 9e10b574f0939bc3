/**
 * What the dispatcher API calls: the fastest route for an emergency vehicle on the twin's
 * predicted link times (plus alternatives), its ETA, and the pre-emption windows for the signals
 * on it; and the live update of both as the vehicle moves. Requests and responses are zod
 * schemas (the server builds its OpenAPI from them). Time is the caller's: `now` is the clock of
 * the observation the link times come from.
 */
import { z } from 'zod';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { TrafficObservation } from '../state/TrafficObservation.ts';
import { safetyModels } from '../../signal-controllers/fieldSignals.ts';
import { FastestRouter, RouteEndpointSchema, evaluateRoute, type Route } from './FastestRoute.ts';
import { PreemptionOptionsSchema, PreemptionWindowSchema, preemptedRoute, preemptionWindows, type PredictionContext } from './PreemptionWindow.ts';
import { roadGraph, type RoadGraph } from './RoadGraph.ts';
import { PREEMPTED_DELAYS, TravelTimeOptionsSchema, linkTravelTimes, type ForecastHook, type LinkTimes } from './TravelTimeModel.ts';

export const EmergencyRouteRequestSchema = z.object({
  vehicle: z.string().min(1),
  from: RouteEndpointSchema,
  to: RouteEndpointSchema,
  /** Departure, seconds after `now`. */
  departAt: z.number().nonnegative().default(0),
  alternatives: z.number().int().min(0).max(5).default(2),
  maxStretch: z.number().positive().default(0.5),
  /** Plan with pre-emption (signal waits mostly removed, windows issued). */
  preemption: z.boolean().default(true),
  avoidRoads: z.array(z.string()).default([]),
  travelTime: TravelTimeOptionsSchema.partial().optional(),
  windows: PreemptionOptionsSchema.partial().optional(),
});
export type EmergencyRouteRequest = z.input<typeof EmergencyRouteRequestSchema>;

export const RouteLegJsonSchema = z.object({
  intersection: z.string(),
  movement: z.string(),
  fromRoad: z.string(),
  toRoad: z.string(),
  /** Predicted arrival at the stop line (s, observation clock). */
  arriveStopLine: z.number(),
  stopDelay: z.number(),
});

export const RouteJsonSchema = z.object({
  roads: z.array(z.string()),
  /** Predicted arrival at the destination (s, observation clock). */
  eta: z.number(),
  travelTime: z.number(),
  /** Share of the route's length shared with the fastest one. */
  overlap: z.number(),
  legs: z.array(RouteLegJsonSchema),
});
export type RouteJson = z.infer<typeof RouteJsonSchema>;

export const EmergencyRouteResponseSchema = z.object({
  vehicle: z.string(),
  observationTime: z.number(),
  routes: z.array(RouteJsonSchema).min(1),
  /** Windows for the fastest route (empty without pre-emption). */
  windows: z.array(PreemptionWindowSchema),
});
export type EmergencyRouteResponse = z.infer<typeof EmergencyRouteResponseSchema>;

export const EtaUpdateRequestSchema = z.object({
  vehicle: z.string().min(1),
  /** The route still ahead, starting with the road the vehicle is on. */
  roads: z.array(z.string()).min(1),
  /** Metres driven along the first road. */
  offset: z.number().nonnegative().default(0),
  preemption: z.boolean().default(true),
  /** Re-route when the remaining time grew by more than this share over `expectedRemaining`. */
  rerouteThreshold: z.number().positive().default(0.2),
  expectedRemaining: z.number().positive().optional(),
  travelTime: TravelTimeOptionsSchema.partial().optional(),
  windows: PreemptionOptionsSchema.partial().optional(),
});
export type EtaUpdateRequest = z.input<typeof EtaUpdateRequestSchema>;

export const EtaUpdateResponseSchema = z.object({
  vehicle: z.string(),
  eta: z.number(),
  remaining: z.number(),
  /** A faster route when the ETA worsened past the threshold and one exists (else null). */
  reroute: RouteJsonSchema.nullable(),
  windows: z.array(PreemptionWindowSchema),
});
export type EtaUpdateResponse = z.infer<typeof EtaUpdateResponseSchema>;

export interface EmergencyRoutingContext {
  net: RoadNetwork;
  observation: TrafficObservation | null;
  /** Clock of the observation (s). */
  now: number;
  forecast?: ForecastHook;
}

interface Prepared {
  graph: RoadGraph;
  router: FastestRouter;
}
const prepared = new WeakMap<RoadNetwork, Prepared>();

/** Graph and router of a network, built once (landmark tables are built on the first query of each option set). */
export function emergencyRouting(net: RoadNetwork): Prepared {
  let p = prepared.get(net);
  if (!p) {
    const graph = roadGraph(net);
    p = { graph, router: new FastestRouter(graph) };
    prepared.set(net, p);
  }
  return p;
}

/** Link times by observation and options, for observations the caller has prepared. */
const preparedTimes = new WeakMap<object, Map<string, LinkTimes>>();
const NO_OBSERVATION = new WeakMap<RoadNetwork, object>();

function cacheFor(ctx: EmergencyRoutingContext): Map<string, LinkTimes> {
  let key: object | undefined = ctx.observation ?? NO_OBSERVATION.get(ctx.net);
  if (!key) NO_OBSERVATION.set(ctx.net, (key = {}));
  let m = preparedTimes.get(key);
  if (!m) preparedTimes.set(key, (m = new Map()));
  return m;
}

function timesFor(ctx: EmergencyRoutingContext, graph: RoadGraph, preemption: boolean, opts: z.infer<typeof EmergencyRouteRequestSchema>['travelTime']): LinkTimes {
  const options = { ...(preemption ? PREEMPTED_DELAYS : {}), ...(opts ?? {}) };
  if (!ctx.forecast) {
    const hit = cacheFor(ctx).get(JSON.stringify(options));
    if (hit) return hit;
  }
  return linkTravelTimes(graph, ctx.observation, options, ctx.forecast);
}

/**
 * Precomputes, for a new traffic picture, the link times and the landmark tables on them (with
 * and without pre-emption): afterwards route and ETA requests on this observation skip that work
 * and search with the tightest bounds. On a 10,000-intersection city this takes about a second;
 * call it off the request path whenever the twin publishes a new observation. Without it
 * requests still work, computing link times per request and searching with looser bounds.
 */
export function prepareEmergencyRouting(ctx: EmergencyRoutingContext, travelTime: z.infer<typeof EmergencyRouteRequestSchema>['travelTime'] = undefined): void {
  if (ctx.forecast) return; // time-dependent: nothing to precompute beyond the bound tables
  const { graph, router } = emergencyRouting(ctx.net);
  const cache = cacheFor(ctx);
  for (const preemption of [true, false]) {
    const options = { ...(preemption ? PREEMPTED_DELAYS : {}), ...(travelTime ?? {}) };
    const times = linkTravelTimes(graph, ctx.observation, options);
    router.prepare(times);
    cache.set(JSON.stringify(options), times);
  }
}

function toJson(net: RoadNetwork, g: RoadGraph, r: Route, now: number): RouteJson {
  return {
    roads: r.roadIds,
    eta: now + r.eta,
    travelTime: r.travelTime,
    overlap: r.overlap,
    legs: r.legs.map((l) => ({
      intersection: g.intersectionIds[l.intersection],
      movement: net.movements[l.movement].id,
      fromRoad: g.roadIds[l.fromRoad],
      toRoad: g.roadIds[l.toRoad],
      arriveStopLine: now + l.arriveStopLine,
      stopDelay: l.stopDelay,
    })),
  };
}

/**
 * A route found on the link times, its times re-predicted for a pre-empted vehicle: the search
 * charges every queue and red standing now (it must rank routes on static weights), while the
 * vehicle meets only what its windows cannot clear in time (see `preemptedRoute`). Same roads;
 * the destination's undriven tail and the departure offset are kept.
 */
function withPreemption(ctx: PredictionContext, times: LinkTimes, r: Route, departAt: number): Route {
  if (r.legs.length === 0) return r;
  const first = r.legs[0].arriveStopLine - departAt;
  const full = evaluateRoute(ctx.graph, times, r.roads, first, departAt);
  const p = preemptedRoute(ctx, times, r.roads, first, undefined, departAt);
  if (!full || !p) return r;
  const tail = full.travelTime - r.travelTime;
  const travelTime = Math.max(0, p.travelTime - tail);
  return { ...r, eta: departAt + travelTime, travelTime, legs: p.legs.map((l) => ({ ...l, arriveStopLine: departAt + l.arriveStopLine })) };
}

/** Fastest route, alternatives and pre-emption windows. Throws NoRouteError when there is no route. */
export function planEmergencyRoute(ctx: EmergencyRoutingContext, input: EmergencyRouteRequest): EmergencyRouteResponse {
  const q = EmergencyRouteRequestSchema.parse(input);
  const { graph, router } = emergencyRouting(ctx.net);
  const times = timesFor(ctx, graph, q.preemption, q.travelTime);
  const found = router.route({ from: q.from, to: q.to, departAt: q.departAt, alternatives: q.alternatives, maxStretch: q.maxStretch, avoidRoads: q.avoidRoads }, times);
  const safety = safetyModels(ctx.net);
  const pctx: PredictionContext = { net: ctx.net, graph, safety, observation: ctx.observation, options: PreemptionOptionsSchema.parse(q.windows ?? {}) };
  const routes = q.preemption ? found.map((r) => withPreemption(pctx, times, r, q.departAt)) : found;
  const windows = q.preemption ? preemptionWindows(routes[0], { net: ctx.net, graph, safety, observation: ctx.observation, now: ctx.now, vehicle: q.vehicle, options: q.windows }) : [];
  return { vehicle: q.vehicle, observationTime: ctx.now, routes: routes.map((r) => toJson(ctx.net, graph, r, ctx.now)), windows };
}

/** Live ETA from the vehicle's position, re-issued windows, and a re-route if the ETA worsened past the threshold. */
export function updateEmergencyEta(ctx: EmergencyRoutingContext, input: EtaUpdateRequest): EtaUpdateResponse {
  const q = EtaUpdateRequestSchema.parse(input);
  const { graph, router } = emergencyRouting(ctx.net);
  const roads = q.roads.map((id) => {
    const r = graph.roadIndex.get(id);
    if (r === undefined) throw new RangeError(`unknown road "${id}"`);
    return r;
  });
  const times = timesFor(ctx, graph, q.preemption, q.travelTime);
  const frac = Math.min(1, q.offset / Math.max(1e-9, graph.roadLength[roads[0]]));
  const safety = safetyModels(ctx.net);
  const pctx: PredictionContext = { net: ctx.net, graph, safety, observation: ctx.observation, options: PreemptionOptionsSchema.parse(q.windows ?? {}) };
  const startLabel = (1 - frac) * times.drive[roads[0]];
  const predict = (rs: readonly number[]) => (q.preemption ? preemptedRoute(pctx, times, rs, startLabel) : evaluateRoute(graph, times, rs, startLabel));
  const current = predict(roads);
  if (!current) throw new RangeError('the roads given are not a connected route');
  let chosen = current;
  let reroute: RouteJson | null = null;
  if (q.expectedRemaining !== undefined && current.travelTime > q.expectedRemaining * (1 + q.rerouteThreshold)) {
    const found = router.fastestBetweenRoads(roads[0], roads[roads.length - 1], times, { fromFraction: frac });
    const alt = found && predict(found.roads);
    if (alt && alt.travelTime < current.travelTime && alt.roads.join(',') !== roads.join(',')) {
      chosen = alt;
      reroute = toJson(ctx.net, graph, alt, ctx.now);
    }
  }
  const windows = q.preemption ? preemptionWindows(chosen, { net: ctx.net, graph, safety, observation: ctx.observation, now: ctx.now, vehicle: q.vehicle, options: q.windows }) : [];
  return { vehicle: q.vehicle, eta: ctx.now + chosen.eta, remaining: chosen.travelTime, reroute, windows };
}
