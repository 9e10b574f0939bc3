/**
 * Emergency-vehicle requests: a dispatcher asks for the fastest way from an origin to a
 * destination; the service routes on the twin's estimated state (predicted link times), puts
 * the emergency vehicle into the field at the origin, follows it as it moves (live ETA,
 * re-routing when its ETA worsens and a faster way exists), and issues pre-emption windows for
 * the signals ahead of it to the edge controllers (PreemptionBoard, polled over HTTP), releasing
 * each once the vehicle is past and all of them on arrival or cancellation. Requests are stored
 * in `emergency_requests` and every creation, cancellation and completion is audited.
 *
 * The field is the simulation standing in for the city: "putting the vehicle in" is the engine's
 * addVehicle on a flow reserved for emergency vehicles (see `emergencyReserveFlow`).
 */
import { randomUUID } from 'node:crypto';
import { desc, eq } from 'drizzle-orm';
import { z } from '@hono/zod-openapi';
import type { FlowEntry } from '../twin/network/cityflowFormat.ts';
import { EMERGENCY_VEHICLE } from '../twin/network/demand.ts';
import { DrivableGeometry } from '../twin/network/DrivableGeometry.ts';
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { Engine } from '../twin/sim/Engine.ts';
import type { TrafficObservation } from '../twin/state/TrafficObservation.ts';
import { emergencyRouting, planEmergencyRoute, type RouteJson } from '../twin/routing/EmergencyRouting.ts';
import { EmergencyTracker } from '../twin/routing/EmergencyTracker.ts';
import { NoRouteError, type RouteEndpoint } from '../twin/routing/FastestRoute.ts';
import { PREEMPTED_DELAYS, vehicleTravelTime, type ForecastHook } from '../twin/routing/TravelTimeModel.ts';
import type { PreemptionWindow } from '../twin/routing/PreemptionWindow.ts';
import type { AuditLog } from './AuditLog.ts';
import type { ForecastsState } from './ForecastService.ts';
import type { Db } from './db/Database.ts';
import { emergencyRequests } from './db/schema.ts';
import type { PreemptionBoard } from './PreemptionBoard.ts';
import type { TopicSource } from './streams/StreamHub.ts';

/**
 * A flow that never spawns by itself, appended to the field's flows: emergency vehicles are put
 * in with its parameters (addVehicle needs a flow). `route` is any drivable route of the city.
 */
export function emergencyReserveFlow(route: string[]): FlowEntry {
  return { vehicle: { ...EMERGENCY_VEHICLE }, route, interval: 1, startTime: 2_000_000_000, endTime: 2_000_000_000 };
}

export const EndpointSchema = z.union([
  z.object({ intersection: z.string().min(1) }).strict(),
  z.object({ x: z.number().finite(), y: z.number().finite() }).strict(),
]);

export const CreateEmergencySchema = z
  .object({
    origin: EndpointSchema,
    destination: EndpointSchema,
    /** Pre-empt the signals on the route (default true). */
    preempt: z.boolean().default(true),
    /** The dispatcher's name for the vehicle (call sign). */
    vehicleId: z.string().min(1).max(64).optional(),
    note: z.string().max(500).optional(),
  })
  .openapi('CreateEmergencyRoute');
export type CreateEmergency = z.infer<typeof CreateEmergencySchema>;

export const RouteViewSchema = z.object({
  roads: z.array(z.string()),
  /** Intersections passed, origin first, destination last. */
  intersections: z.array(z.string()),
  /** Predicted seconds to the destination (from now, for the active route). */
  etaSeconds: z.number(),
});
export type RouteView = z.infer<typeof RouteViewSchema>;

export const PreemptionViewSchema = z.object({
  intersection: z.string(),
  /** Field clock (s). */
  start: z.number(),
  end: z.number(),
  status: z.enum(['planned', 'active', 'released']),
});
export type PreemptionView = z.infer<typeof PreemptionViewSchema>;

export const PositionSchema = z.object({ road: z.string(), lane: z.number().int(), distance: z.number(), speed: z.number(), x: z.number(), y: z.number() });

export const EmergencyViewSchema = z
  .object({
    id: z.string(),
    status: z.enum(['active', 'completed', 'cancelled']),
    vehicleId: z.string(),
    createdBy: z.string(),
    note: z.string().nullable(),
    preempt: z.boolean(),
    origin: EndpointSchema,
    destination: EndpointSchema,
    route: RouteViewSchema,
    alternatives: z.array(RouteViewSchema),
    preemptions: z.array(PreemptionViewSchema),
    /** Field clock (s): when requested, predicted arrival, arrival (null until then). */
    requestedAt: z.number(),
    eta: z.number().nullable(),
    arrivedAt: z.number().nullable(),
    travelSeconds: z.number().nullable(),
    reroutes: z.number().int(),
    /** Where the vehicle is (null when not in the field). */
    position: PositionSchema.nullable(),
  })
  .openapi('EmergencyRequest');
export type EmergencyView = z.infer<typeof EmergencyViewSchema>;

/** A request the service cannot serve, with the field to blame (400) or none (422: no route). */
export class EmergencyRequestError extends Error {
  constructor(
    message: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}

interface Request {
  id: string;
  view: EmergencyView;
  /** The field's id of the vehicle once put in. */
  fieldVehicle: string | null;
  /** Route (road indices) waiting for room at its first road. */
  pending: number[] | null;
  preemptions: Map<string, { start: number; end: number; released: boolean }>;
  /** Finished requests leave the live topic after a while. */
  finishedAt: number | null;
}

export interface EmergencyDeps {
  db: Db;
  audit: AuditLog;
  net: RoadNetwork;
  engine: Engine;
  /** The twin's estimated state (the routes' link times come from it). */
  observe: () => TrafficObservation;
  board: PreemptionBoard;
  /** Index of the reserve flow in the engine (null: vehicles are not put into the field). */
  reserveFlow: number | null;
  /** The forecaster's latest state, where the service runs one: link times then follow its predicted speeds. */
  forecasts?: () => ForecastsState | null;
}

/**
 * A forecast hook from the forecaster's state: a road's travel time `h` seconds ahead is its time
 * now × speed now / forecast speed, interpolated between the horizons (1 at h = 0). Undefined
 * while the forecaster has no learned model (persistence would only say "as now").
 */
export function forecastHook(state: ForecastsState | null, net: RoadNetwork): ForecastHook | undefined {
  if (!state || state.source !== 'model' || state.roads.length === 0) return undefined;
  const horizons = state.horizonsMinutes.map((m) => m * 60);
  const factors = new Map<number, number[]>();
  const index = new Map(net.roads.map((r) => [r.id, r.index]));
  for (const r of state.roads) {
    const k = index.get(r.road);
    if (k === undefined || r.speed === null || r.speed <= 0) continue;
    // Bounded: one odd forecast must not send an ambulance across town.
    factors.set(k, r.forecast.map((f) => (f === null || f <= 0 ? 1 : Math.min(3, Math.max(0.5, r.speed! / f)))));
  }
  if (factors.size === 0) return undefined;
  return (road, h) => {
    const f = factors.get(road);
    if (!f || h <= 0) return 1;
    if (h <= horizons[0]) return 1 + ((f[0] - 1) * h) / horizons[0];
    for (let i = 1; i < horizons.length; i++) if (h <= horizons[i]) return f[i - 1] + ((f[i] - f[i - 1]) * (h - horizons[i - 1])) / (horizons[i] - horizons[i - 1]);
    return f[f.length - 1];
  };
}

const KEEP = 200;

export class EmergencyService {
  private readonly requests = new Map<string, Request>();
  private readonly byVehicle = new Map<string, Request>();
  private readonly geometry: DrivableGeometry;
  /** One tracker with pre-emption (ETA on pre-empted link times), one without. */
  private readonly preempting: EmergencyTracker;
  private readonly plain: EmergencyTracker;
  private readonly xy = new Float64Array(3);

  constructor(private readonly d: EmergencyDeps) {
    this.geometry = new DrivableGeometry(d.net);
    const observe = () => d.observe();
    const router = emergencyRouting(d.net).router;
    // Live ETAs and re-routes follow the newest forecast too, where there is one.
    const live: ForecastHook | undefined = d.forecasts ? (road, h) => this.forecast()?.(road, h) ?? 1 : undefined;
    this.preempting = new EmergencyTracker(d.net, [], d.board, { travelTime: { ...PREEMPTED_DELAYS, ...vehicleTravelTime(EMERGENCY_VEHICLE) } }, observe, live, router);
    this.plain = new EmergencyTracker(d.net, [], null, { travelTime: { signalDelayFactor: 1, ...vehicleTravelTime(EMERGENCY_VEHICLE) } }, observe, live, router);
    d.board.onChange = (intersection, id, w) => {
      const r = this.byVehicle.get(id.slice(0, id.lastIndexOf('@')));
      if (!r) return;
      const p = r.preemptions.get(intersection);
      if (w) r.preemptions.set(intersection, { start: w.start, end: w.end, released: false });
      else if (p && !p.released) r.preemptions.set(intersection, { ...p, end: Math.min(p.end, d.engine.time), released: true });
    };
  }

  /** Loads stored requests; those left active by a previous run are closed (their vehicle and windows are gone). */
  async load(): Promise<void> {
    const rows = await this.d.db.select().from(emergencyRequests).orderBy(desc(emergencyRequests.createdAt)).limit(KEEP);
    for (const row of rows.reverse()) {
      const parsed = EmergencyViewSchema.safeParse(row.route);
      if (!parsed.success) continue;
      const view = parsed.data;
      if (row.status === 'active') {
        view.status = 'cancelled';
        view.position = null;
        view.preemptions = view.preemptions.map((p) => ({ ...p, status: 'released' }));
        await this.d.db.update(emergencyRequests).set({ status: 'cancelled', route: view }).where(eq(emergencyRequests.id, row.id));
        await this.d.audit.record({ actor: 'service', action: 'emergency.cancel', target: `emergency:${row.id}`, detail: { reason: 'service restarted' } });
      }
      this.requests.set(row.id, { id: row.id, view, fieldVehicle: null, pending: null, preemptions: new Map(), finishedAt: view.arrivedAt ?? 0 });
    }
  }

  /** Plans the route, puts the vehicle into the field and issues the first windows. */
  async create(body: CreateEmergency, actor: string): Promise<EmergencyView> {
    const { net, engine } = this.d;
    const endpoint = (e: CreateEmergency['origin'], field: string): RouteEndpoint => {
      if ('intersection' in e) {
        if (!net.intersections.some((i) => i.id === e.intersection)) throw new EmergencyRequestError(`no intersection "${e.intersection}"`, `${field}.intersection`);
        return { intersection: e.intersection };
      }
      return { point: { x: e.x, y: e.y } };
    };
    const from = endpoint(body.origin, 'origin');
    const to = endpoint(body.destination, 'destination');
    const id = `em-${randomUUID()}`;
    const now = engine.time;
    const ctx = { net, observation: this.d.observe(), now, forecast: this.forecast() };
    let planned;
    try {
      planned = planEmergencyRoute(ctx, {
        vehicle: id,
        from,
        to,
        alternatives: 2,
        preemption: body.preempt,
        travelTime: { ...vehicleTravelTime(EMERGENCY_VEHICLE) },
      });
    } catch (e) {
      if (e instanceof NoRouteError) throw new EmergencyRequestError(e.message, null);
      throw e;
    }
    const [best, ...alts] = planned.routes;
    const req: Request = {
      id,
      fieldVehicle: null,
      pending: null,
      preemptions: new Map(),
      finishedAt: null,
      view: {
        id,
        status: 'active',
        vehicleId: body.vehicleId ?? id,
        createdBy: actor,
        note: body.note ?? null,
        preempt: body.preempt,
        origin: body.origin,
        destination: body.destination,
        route: this.routeView(best, now),
        alternatives: alts.map((r) => this.routeView(r, now)),
        preemptions: [],
        requestedAt: now,
        eta: best.eta,
        arrivedAt: null,
        travelSeconds: null,
        reroutes: 0,
        position: null,
      },
    };
    this.requests.set(id, req);
    const { graph } = emergencyRouting(net);
    req.pending = best.roads.map((r) => graph.roadIndex.get(r)!);
    // Into the field now if there is room at the start of its first road (else on a later tick).
    this.tryInsert(req, planned.windows);
    this.refresh(req);
    await this.d.db.insert(emergencyRequests).values({ id, createdBy: actor, request: body, route: req.view, status: 'active' });
    await this.d.audit.record({
      actor,
      action: 'emergency.create',
      target: `emergency:${id}`,
      detail: { origin: body.origin, destination: body.destination, preempt: body.preempt, vehicleId: req.view.vehicleId, etaSeconds: req.view.route.etaSeconds, roads: req.view.route.roads },
    });
    this.trim();
    return req.view;
  }

  list(): EmergencyView[] {
    return [...this.requests.values()].reverse().map((r) => this.refresh(r));
  }

  get(id: string): EmergencyView | null {
    const r = this.requests.get(id);
    return r ? this.refresh(r) : null;
  }

  /** Cancels an active request: every window is withdrawn (the edges go back to their plans through clearance). */
  async cancel(id: string, actor: string): Promise<EmergencyView | null> {
    const r = this.requests.get(id);
    if (!r) return null;
    if (r.view.status !== 'active') return this.refresh(r);
    r.view.status = 'cancelled';
    r.finishedAt = this.d.engine.time;
    r.pending = null;
    if (r.fieldVehicle) {
      this.preempting.cancel(r.fieldVehicle);
      this.plain.cancel(r.fieldVehicle);
      this.d.board.releaseVehicle(r.fieldVehicle);
    }
    const view = this.refresh(r);
    await this.persist(r);
    await this.d.audit.record({ actor, action: 'emergency.cancel', target: `emergency:${id}`, detail: { released: view.preemptions.map((p) => p.intersection) } });
    return view;
  }

  /** After every field step: insertion of waiting vehicles, tracking, arrivals, re-routes. */
  afterStep(engine: Engine): void {
    for (const r of this.requests.values()) if (r.pending && r.view.status === 'active') this.tryInsert(r, null);
    this.preempting.afterStep(engine);
    this.plain.afterStep(engine);
    this.d.board.expire(engine.time);
    for (const r of this.requests.values()) {
      if (r.view.status !== 'active' || !r.fieldVehicle) continue;
      const live = this.tracker(r).live(r.fieldVehicle, engine);
      if (!live) continue;
      const routeIds = live.roads.map((k) => this.d.net.roads[k].id);
      const rerouted = live.reroutes !== r.view.reroutes;
      if (rerouted) {
        r.view.reroutes = live.reroutes;
        r.view.route = { ...this.routeFromRoads(routeIds), etaSeconds: r.view.route.etaSeconds };
        void this.persist(r).catch((e) => console.error('emergency: storing a re-route failed:', e));
      }
      if (live.done) {
        r.view.status = 'completed';
        r.view.arrivedAt = live.exitTime;
        r.view.travelSeconds = live.exitTime - r.view.requestedAt;
        r.finishedAt = engine.time;
        this.tracker(r).cancel(r.fieldVehicle);
        this.d.board.releaseVehicle(r.fieldVehicle);
        this.refresh(r);
        void this.persist(r)
          .then(() => this.d.audit.record({ actor: 'service', action: 'emergency.complete', target: `emergency:${r.id}`, detail: { travelSeconds: r.view.travelSeconds, reroutes: r.view.reroutes } }))
          .catch((e) => console.error('emergency: storing a completion failed:', e));
      }
    }
  }

  /** The 'emergency' stream: active requests (and those finished in the last two minutes) with live state. */
  topic(): TopicSource<{ time: number; requests: EmergencyView[] }> {
    return {
      snapshot: () => {
        const now = this.d.engine.time;
        const requests = [...this.requests.values()].filter((r) => r.view.status === 'active' || (r.finishedAt !== null && now - r.finishedAt <= 120)).map((r) => this.refresh(r));
        return { time: now, requests };
      },
    };
  }

  // ------------------------------------------------------------------------------------------

  /** The forecast hook of the forecaster's current state (rebuilt when it refreshes). */
  private hookOf: { state: ForecastsState | null; hook: ForecastHook | undefined } = { state: null, hook: undefined };
  private forecast(): ForecastHook | undefined {
    const state = this.d.forecasts?.() ?? null;
    if (state !== this.hookOf.state) this.hookOf = { state, hook: forecastHook(state, this.d.net) };
    return this.hookOf.hook;
  }

  private tracker(r: Request): EmergencyTracker {
    return r.view.preempt ? this.preempting : this.plain;
  }

  private tryInsert(r: Request, windows: PreemptionWindow[] | null): void {
    const { engine, reserveFlow } = this.d;
    if (!r.pending || reserveFlow === null) return;
    const roads = r.pending;
    const slot = this.insert(engine, reserveFlow, roads);
    if (slot < 0) return;
    r.pending = null;
    const vehicle = engine.vehicleId(slot);
    r.fieldVehicle = vehicle;
    this.byVehicle.set(vehicle, r);
    this.tracker(r).add({ vehicle, roads, dispatchTime: engine.time }, engine, slot);
    // The plan's windows at once (the tracker re-issues them as the vehicle moves).
    if (r.view.preempt && windows) this.d.board.upsertWindows(windows.map((w) => ({ ...w, id: `${vehicle}@${w.intersection}`, vehicle })));
  }

  /**
   * Puts a vehicle at the start of the first road, on a lane its route can be driven from with
   * room behind the last vehicle, at a speed from which it can stop behind it. -1: no room now.
   */
  private insert(engine: Engine, flow: number, roads: number[]): number {
    const road = this.d.net.roads[roads[0]];
    const v = EMERGENCY_VEHICLE;
    for (const lane of road.lanes) {
      let tailDis = Infinity;
      let tailLen = 0;
      engine.forEachOn(lane, (_slot, dis, _speed, length) => {
        tailDis = dis;
        tailLen = length;
      });
      const room = tailDis - tailLen - v.minGap;
      if (room < v.length) continue;
      const speed = Math.min(v.maxSpeed, this.d.net.lanes[lane].maxSpeed, Number.isFinite(room) ? Math.sqrt(2 * v.usualNegAcc * Math.max(0, room - v.length)) : Infinity);
      const slot = engine.addVehicle(flow, lane, 0, speed, roads);
      if (slot >= 0) return slot;
    }
    return -1;
  }

  private routeFromRoads(roads: string[]): Omit<RouteView, 'etaSeconds'> {
    const { net } = this.d;
    const { graph } = emergencyRouting(net);
    const idx = roads.map((id) => graph.roadIndex.get(id)!);
    const intersections = idx.length > 0 ? [net.intersections[net.roads[idx[0]].from].id, ...idx.map((k) => net.intersections[net.roads[k].to].id)] : [];
    return { roads, intersections };
  }

  private routeView(r: RouteJson, now: number): RouteView {
    return { ...this.routeFromRoads(r.roads), etaSeconds: Math.max(0, r.eta - now) };
  }

  /** Brings a request's live fields up to date (ETA, position, window statuses). */
  private refresh(r: Request): EmergencyView {
    const v = r.view;
    const { engine } = this.d;
    const now = engine.time;
    if (v.status === 'active' && r.fieldVehicle) {
      const live = this.tracker(r).live(r.fieldVehicle, engine);
      if (live) {
        if (Number.isFinite(live.eta)) {
          v.eta = live.eta;
          v.route.etaSeconds = Math.max(0, live.eta - now);
        }
        if (live.running && live.lane >= 0) {
          this.geometry.locate(live.lane, live.dis, this.xy, 0);
          v.position = { road: this.d.net.roads[live.road].id, lane: live.lane, distance: live.dis, speed: live.speed, x: this.xy[0], y: this.xy[1] };
        }
      }
    } else if (v.status !== 'active') v.position = null;
    if (r.preemptions.size > 0 || v.status !== 'active') {
      const order = v.route.intersections;
      const known = new Map(v.preemptions.map((p) => [p.intersection, p]));
      for (const [intersection, p] of r.preemptions) {
        const released = p.released || now >= p.end || v.status !== 'active';
        known.set(intersection, { intersection, start: p.start, end: released ? Math.min(p.end, Math.max(p.start, now)) : p.end, status: released ? 'released' : now >= p.start ? 'active' : 'planned' });
      }
      if (v.status !== 'active') for (const [k, p] of known) known.set(k, { ...p, status: 'released' });
      v.preemptions = [...known.values()].sort((a, b) => order.indexOf(a.intersection) - order.indexOf(b.intersection) || a.start - b.start);
    }
    return v;
  }

  private async persist(r: Request): Promise<void> {
    this.refresh(r);
    await this.d.db.update(emergencyRequests).set({ status: r.view.status, route: r.view }).where(eq(emergencyRequests.id, r.id));
  }

  /** Keeps the newest requests in memory (the table keeps them all). */
  private trim(): void {
    if (this.requests.size <= KEEP) return;
    for (const [id, r] of this.requests) {
      if (this.requests.size <= KEEP) break;
      if (r.view.status !== 'active') {
        this.requests.delete(id);
        if (r.fieldVehicle) this.byVehicle.delete(r.fieldVehicle);
      }
    }
  }
}
