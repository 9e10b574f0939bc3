/**
 * Follows emergency vehicles through a simulation run: their live ETA from where they are in the
 * engine, the pre-emption windows kept in step with it (re-issued as the ETA moves, released
 * once the vehicle is past the signal), and re-routing when the predicted ETA worsens by more
 * than a threshold and a faster way exists. Also keeps what the evaluation reports: travel
 * times, whether the vehicle's movement was green when it arrived, stops at red.
 *
 * Call `afterStep(engine)` after every engine step (after the controller's own afterStep).
 */
import { z } from 'zod';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { Engine } from '../sim/Engine.ts';
import { TruthObserver, type TrafficObservation } from '../state/TrafficObservation.ts';
import { safetyModels } from '../../signal-controllers/fieldSignals.ts';
import type { IntersectionSafety } from '../../signal-controllers/SafetyValidator.ts';
import { FastestRouter, edgeBetween, evaluateRoute, type Route } from './FastestRoute.ts';
import { PreemptionOptionsSchema, preemptedRoute, preemptionWindows, type PreemptionWindow } from './PreemptionWindow.ts';
import { roadGraph, type RoadGraph } from './RoadGraph.ts';
import { PREEMPTED_DELAYS, TravelTimeOptionsSchema, linkTravelTimes, type ForecastHook, type LinkTimes } from './TravelTimeModel.ts';

export const EmergencyOptionsSchema = z.object({
  /** Link-time model for the vehicle's ETA (signal delay mostly removed by pre-emption). */
  travelTime: TravelTimeOptionsSchema.prefault(PREEMPTED_DELAYS),
  preemption: PreemptionOptionsSchema.prefault({}),
  /** Seconds between ETA updates. */
  updateEvery: z.number().positive().default(5),
  /** Recompute the route when the remaining time predicted grows by more than this share. */
  rerouteThreshold: z.number().positive().default(0.2),
  /** Switch only to a route at least this share faster than the current one. */
  rerouteGain: z.number().min(0).default(0.1),
  /** Distance before the stop line (beyond the braking distance) at which "arrival" is judged (m). */
  arrivalDistance: z.number().positive().default(15),
  /**
   * Live ETA: how many seconds of observed driving weigh as much as the model's prediction when
   * the vehicle's pace so far corrects the remaining time (see `paceCorrected`).
   */
  paceTrust: z.number().positive().default(60),
});
export type EmergencyOptions = z.infer<typeof EmergencyOptionsSchema>;
export type EmergencyOptionsInput = z.input<typeof EmergencyOptionsSchema>;

/** Where windows go: the simulation's PreemptionController, or the service's edge board. */
export interface PreemptionSink {
  /** False when windows are accepted but never served (the evaluation's "without" run). */
  readonly enabled?: boolean;
  upsertWindows(ws: readonly PreemptionWindow[]): void;
  releaseWindow(id: string): void;
  releaseVehicle(vehicle: string): void;
}

/** A tracked vehicle now (for live displays). */
export interface EmergencyLive {
  vehicle: string;
  dispatched: boolean;
  /** In the network (inserted and not yet out). */
  running: boolean;
  done: boolean;
  exitTime: number;
  /** Latest predicted arrival at the destination (NaN before the first prediction). */
  eta: number;
  reroutes: number;
  /** The whole route as driven or planned now, and the road the vehicle is on. */
  roads: number[];
  road: number;
  lane: number;
  dis: number;
  speed: number;
}

export interface EmergencyVehicleSpec {
  /** The vehicle's id in the engine (`flow_<flow index>_0` for a one-vehicle flow). */
  vehicle: string;
  /** Road indices of its route (as planned at dispatch). */
  roads: number[];
  dispatchTime: number;
}

export interface ArrivalRecord {
  intersection: string;
  time: number;
  /** The vehicle's movement was green when it came within stopping distance of the stop line. */
  green: boolean;
}

export interface EmergencyResult {
  vehicle: string;
  dispatchTime: number;
  /** Time it got onto its first lane (NaN while waiting to enter). */
  enterTime: number;
  exitTime: number;
  /** Exit − dispatch (insertion wait included, as CityFlow counts travel time); NaN if not finished. */
  travelTime: number;
  reroutes: number;
  arrivals: ArrivalRecord[];
  /** Steps spent standing at the head of its lane on red. */
  stepsStoppedAtRed: number;
  etaHistory: { time: number; eta: number }[];
  finalRoute: string[];
}

interface Tracked {
  spec: EmergencyVehicleSpec;
  roads: number[];
  slot: number;
  uid: number;
  dispatched: boolean;
  done: boolean;
  enterTime: number;
  exitTime: number;
  /** Remaining time predicted at the last (re)plan, and when. */
  plannedRemaining: number;
  plannedAt: number;
  lastUpdate: number;
  currentRoad: number;
  reroutes: number;
  arrivals: ArrivalRecord[];
  judged: Set<number>;
  stoppedAtRed: number;
  etaHistory: { time: number; eta: number }[];
  windowIds: Set<string>;
  /** The prediction the vehicle's pace is measured against (set once it drives, and on a re-route). */
  pace: PaceBase | null;
}

interface PaceBase {
  time: number;
  /** The route ahead then, predicted time from then to the end of each of its roads, and each road's drive time. */
  roads: number[];
  endTimes: Float64Array;
  drive: Float64Array;
}

export class EmergencyTracker {
  private readonly graph: RoadGraph;
  private readonly router: FastestRouter;
  private readonly o: EmergencyOptions;
  private readonly tracked: Tracked[];
  private readonly safety: ReadonlyMap<number, IntersectionSafety>;

  constructor(
    private readonly net: RoadNetwork,
    vehicles: readonly EmergencyVehicleSpec[],
    private readonly controller: PreemptionSink | null,
    options: EmergencyOptionsInput = {},
    private readonly observe?: (engine: Engine) => TrafficObservation,
    private readonly forecast?: ForecastHook,
    router?: FastestRouter,
  ) {
    this.o = EmergencyOptionsSchema.parse(options);
    this.graph = roadGraph(net);
    this.router = router ?? new FastestRouter(this.graph);
    this.safety = safetyModels(net);
    this.tracked = vehicles.map((spec) => this.newTracked(spec));
  }

  /** Starts following another vehicle (dispatched now or later; `slot` when already placed in the engine). */
  add(spec: EmergencyVehicleSpec, engine?: Engine, slot = -1): void {
    const t = this.newTracked(spec);
    if (engine && slot >= 0) {
      t.slot = slot;
      t.uid = engine.vehicleUid(slot);
      t.enterTime = engine.time;
    }
    this.tracked.push(t);
  }

  /** Stops following a vehicle and releases its windows (it drives on as ordinary traffic). */
  cancel(vehicle: string): void {
    const k = this.tracked.findIndex((t) => t.spec.vehicle === vehicle);
    if (k < 0) return;
    this.tracked.splice(k, 1);
    this.controller?.releaseVehicle(vehicle);
  }

  /** Where a vehicle is and what is predicted for it (null if not tracked). */
  live(vehicle: string, engine: Engine): EmergencyLive | null {
    const t = this.tracked.find((x) => x.spec.vehicle === vehicle);
    if (!t) return null;
    const running = t.slot >= 0 && !t.done;
    const pos = running ? this.position(t, engine) : { road: t.currentRoad, lane: -1, dis: 0, speed: 0 };
    const h = t.etaHistory;
    return {
      vehicle,
      dispatched: t.dispatched,
      running,
      done: t.done,
      exitTime: t.exitTime,
      eta: h.length > 0 ? h[h.length - 1].eta : Number.NaN,
      reroutes: t.reroutes,
      roads: [...t.roads],
      road: pos.road,
      lane: pos.lane,
      dis: pos.dis,
      speed: pos.speed,
    };
  }

  private newTracked(spec: EmergencyVehicleSpec): Tracked {
    return {
      spec,
      roads: [...spec.roads],
      slot: -1,
      uid: -1,
      dispatched: false,
      done: false,
      enterTime: Number.NaN,
      exitTime: Number.NaN,
      plannedRemaining: Infinity,
      plannedAt: 0,
      lastUpdate: -Infinity,
      currentRoad: spec.roads[0],
      reroutes: 0,
      arrivals: [],
      judged: new Set(),
      stoppedAtRed: 0,
      etaHistory: [],
      windowIds: new Set(),
      pace: null,
    };
  }

  /** The field's truth, when no observation source was given (the twin's estimate otherwise). */
  private truth: TruthObserver | null = null;

  private observation(engine: Engine): TrafficObservation {
    if (this.observe) return this.observe(engine);
    this.truth ??= new TruthObserver(engine, 60);
    return this.truth.observe();
  }

  afterStep(engine: Engine): void {
    if (!this.observe) {
      if (this.truth) this.truth.update();
      else this.truth = new TruthObserver(engine, 60);
    }
    const now = engine.time;
    // Exits first (the slot may be reused by a vehicle inserted later in the same step).
    engine.forEachMove((slot, _from, to) => {
      if (to !== -1) return;
      for (const t of this.tracked) {
        if (t.slot === slot && !t.done && engine.vehicleUid(slot) === t.uid) {
          t.done = true;
          t.exitTime = now;
          this.controller?.releaseVehicle(t.spec.vehicle);
        }
      }
    });
    let times: LinkTimes | null = null;
    const linkTimes = () => (times ??= linkTravelTimes(this.graph, this.observation(engine), this.o.travelTime, this.forecast));
    for (const t of this.tracked) {
      if (t.done) continue;
      if (!t.dispatched) {
        if (now < t.spec.dispatchTime) continue;
        t.dispatched = true;
        this.plan(t, engine, linkTimes(), now, t.roads[0], 0);
      }
      if (t.slot < 0) this.find(t, engine, now);
      if (t.slot < 0) {
        // Still waiting to enter: keep the windows in step with a departure from now.
        if (now - t.lastUpdate >= this.o.updateEvery) this.plan(t, engine, linkTimes(), now, t.roads[0], 0);
        continue;
      }
      const pos = this.position(t, engine);
      if (pos.road !== t.currentRoad) {
        // Past the signal at the end of the previous road: its window is done.
        const passed = this.graph.roadTo[t.currentRoad];
        const id = `${t.spec.vehicle}@${this.graph.intersectionIds[passed]}`;
        this.controller?.releaseWindow(id);
        t.windowIds.delete(id);
        t.currentRoad = pos.road;
      }
      if (pos.lane >= 0) this.judgeArrival(t, engine, pos, now);
      if (now - t.lastUpdate >= this.o.updateEvery) this.update(t, engine, linkTimes(), now, pos);
    }
  }

  results(): EmergencyResult[] {
    return this.tracked.map((t) => ({
      vehicle: t.spec.vehicle,
      dispatchTime: t.spec.dispatchTime,
      enterTime: t.enterTime,
      exitTime: t.exitTime,
      travelTime: t.done ? t.exitTime - t.spec.dispatchTime : Number.NaN,
      reroutes: t.reroutes,
      arrivals: t.arrivals,
      stepsStoppedAtRed: t.stoppedAtRed,
      etaHistory: t.etaHistory,
      finalRoute: t.roads.map((r) => this.graph.roadIds[r]),
    }));
  }

  /** Latest predicted arrival of a vehicle at its destination (NaN before dispatch). */
  eta(vehicle: string): number {
    const t = this.tracked.find((x) => x.spec.vehicle === vehicle);
    const h = t?.etaHistory;
    return h && h.length > 0 ? h[h.length - 1].eta : Number.NaN;
  }

  // ------------------------------------------------------------------------------------------

  private find(t: Tracked, engine: Engine, now: number): void {
    const g = this.graph;
    const r = t.roads[0];
    for (let l = g.roadLaneStart[r]; l < g.roadLaneStart[r + 1] && t.slot < 0; l++) {
      engine.forEachOn(l, (slot) => {
        if (t.slot < 0 && engine.vehicleId(slot) === t.spec.vehicle) {
          t.slot = slot;
          t.uid = engine.vehicleUid(slot);
          t.enterTime = now;
        }
      });
    }
  }

  /** Road the vehicle is on (or entering, inside an intersection), its lane (-1 on a lane link) and position. */
  private position(t: Tracked, engine: Engine): { road: number; lane: number; dis: number; speed: number; front: boolean } {
    const road = engine.remainingRoads(t.slot)[0] ?? t.currentRoad;
    const g = this.graph;
    for (let l = g.roadLaneStart[road]; l < g.roadLaneStart[road + 1]; l++) {
      let found = false;
      let dis = 0;
      let speed = 0;
      let first = true;
      let front = false;
      engine.forEachOn(l, (slot, d, v) => {
        if (slot === t.slot) {
          found = true;
          dis = d;
          speed = v;
          front = first;
        }
        first = false;
      });
      if (found) return { road, lane: l, dis, speed, front };
    }
    return { road, lane: -1, dis: 0, speed: 0, front: false };
  }

  private judgeArrival(t: Tracked, engine: Engine, pos: { road: number; lane: number; dis: number; speed: number; front: boolean }, now: number): void {
    const k = t.roads.indexOf(pos.road);
    if (k < 0 || k + 1 >= t.roads.length) return;
    const e = edgeBetween(this.graph, pos.road, t.roads[k + 1]);
    if (e < 0) return;
    const inter = this.graph.roadTo[pos.road];
    if (!this.safety.has(inter)) return;
    const movement = this.graph.edgeMovement[e];
    const green = engine.lights.movementGreen[movement] === 1;
    const remaining = engine.drivableLength(pos.lane) - pos.dis;
    // Judged where the vehicle must decide to stop or go: its braking distance at the benchmark
    // vehicles' comfortable deceleration (4.5 m/s²) plus a margin.
    if (!t.judged.has(inter) && remaining <= (pos.speed * pos.speed) / (2 * 4.5) + this.o.arrivalDistance) {
      t.judged.add(inter);
      t.arrivals.push({ intersection: this.graph.intersectionIds[inter], time: now, green });
    }
    if (!green && pos.front && pos.speed < 0.1) t.stoppedAtRed++;
  }

  /** Route from the vehicle's position: new ETA, re-route if it worsened, windows re-issued. */
  private update(t: Tracked, engine: Engine, times: LinkTimes, now: number, pos: { road: number; lane: number; dis: number }): void {
    t.lastUpdate = now;
    const k = t.roads.indexOf(pos.road);
    if (k < 0) return;
    const remainingRoads = t.roads.slice(k);
    const frac = pos.lane >= 0 ? Math.min(1, pos.dis / Math.max(1e-9, engine.drivableLength(pos.lane))) : 0;
    const obs = this.observation(engine);
    const startLabel = (1 - frac) * times.drive[pos.road];
    let route = this.predict(engine, times, obs, remainingRoads, startLabel);
    if (!route) return;
    const remaining = route.travelTime;
    const elapsed = now - t.plannedAt;
    const expected = Math.max(0, t.plannedRemaining - elapsed);
    if (pos.lane >= 0 && remainingRoads.length > 1 && remaining > expected * (1 + this.o.rerouteThreshold) + 1) {
      const dest = t.roads[t.roads.length - 1];
      // The fastest way on; failing that (its first turn may need another lane), the fastest
      // that keeps the next road the vehicle's lane leads to.
      const candidates: Route[] = [];
      // Candidates are found on the link times and judged by the same prediction as the route held.
      const fastest = this.router.fastestBetweenRoads(pos.road, dest, times, { fromFraction: frac });
      const judged = fastest && this.predict(engine, times, obs, fastest.roads, startLabel);
      if (judged) candidates.push(judged);
      if (remainingRoads.length > 2) {
        const rest = this.router.fastestBetweenRoads(remainingRoads[1], dest, times);
        const kept = rest && this.predict(engine, times, obs, [pos.road, ...rest.roads], startLabel);
        if (kept) candidates.push(kept);
      }
      for (const alt of candidates) {
        if (alt.travelTime >= remaining * (1 - this.o.rerouteGain) || alt.roads.join(',') === remainingRoads.join(',')) continue;
        if (engine.rerouteVehicle(t.slot, alt.roads)) {
          t.roads = [...t.roads.slice(0, k), ...alt.roads];
          t.reroutes++;
          route = alt;
          // A new route: its pace is measured afresh.
          t.pace = null;
          break;
        }
      }
      // Either way, the new figure is the one to beat from now on.
      t.plannedRemaining = route.travelTime;
      t.plannedAt = now;
    }
    if (pos.lane >= 0 && !t.pace) t.pace = paceBase(route, times, now);
    this.issueWindows(t, route, now, obs, this.paceCorrected(t, route.travelTime, now, pos.road, frac));
  }

  /**
   * The model's remaining time corrected by the pace the vehicle has kept since its prediction
   * was taken (at entry, or at the last re-route): ratio = (time taken + paceTrust) / (time the
   * prediction gave for the stretch driven + paceTrust) — the model counts as paceTrust seconds
   * of driving at its own pace, so a short stretch moves the ETA little and a long one a lot —
   * bounded to [0.25, 4]; the remaining time is scaled by it. What the link times cannot see (a
   * slower vehicle ahead that cannot be passed, a twin that reads the traffic slow) shows in the
   * pace and carries over to the rest of the trip.
   */
  private paceCorrected(t: Tracked, remaining: number, now: number, road: number, frac: number): number {
    const b = t.pace;
    if (!b) return remaining;
    const k = b.roads.indexOf(road);
    if (k < 0) return remaining;
    const predicted = Math.max(0, b.endTimes[k] - (1 - frac) * b.drive[k]);
    const elapsed = now - b.time;
    if (!(elapsed > 0)) return remaining;
    const tau = this.o.paceTrust;
    return remaining * Math.min(4, Math.max(0.25, (elapsed + tau) / (predicted + tau)));
  }

  private plan(t: Tracked, engine: Engine, times: LinkTimes, now: number, road: number, frac: number): void {
    const obs = this.observation(engine);
    const route = this.predict(engine, times, obs, t.roads.slice(t.roads.indexOf(road)), (1 - frac) * times.drive[road]);
    if (!route) return;
    t.plannedRemaining = route.travelTime;
    t.plannedAt = now;
    t.lastUpdate = now;
    this.issueWindows(t, route, now, obs);
  }

  /** Whether this tracker's windows are served (its vehicles are pre-empted). */
  private get preempting(): boolean {
    return this.controller !== null && this.controller.enabled !== false;
  }

  /**
   * The rest of a route predicted from now (`startLabel` = time to the end of its first road):
   * the link times as they are without pre-emption; with it, only the waits the windows cannot
   * clear before the vehicle arrives (`preemptedRoute`), knowing which movements are green now.
   */
  private predict(engine: Engine, times: LinkTimes, obs: TrafficObservation, roads: readonly number[], startLabel: number): Route | null {
    if (!this.preempting) return evaluateRoute(this.graph, times, roads, startLabel);
    const green = engine.lights.movementGreen;
    return preemptedRoute({ net: this.net, graph: this.graph, safety: this.safety, observation: obs, options: this.o.preemption }, times, roads, startLabel, (m) => green[m] === 1);
  }

  /** Records the ETA (`remaining` from now; the route's own by default) and re-issues the windows on the route's legs. */
  private issueWindows(t: Tracked, route: Route, now: number, obs: TrafficObservation, remaining = route.travelTime): void {
    t.etaHistory.push({ time: now, eta: now + remaining });
    if (!this.controller) return;
    const ws: PreemptionWindow[] = preemptionWindows(route, {
      net: this.net,
      graph: this.graph,
      safety: this.safety,
      observation: obs,
      now,
      vehicle: t.spec.vehicle,
      options: this.o.preemption,
    });
    const ids = new Set(ws.map((w) => w.id));
    // Windows of intersections no longer on the route (after a re-route) go.
    for (const id of t.windowIds) if (!ids.has(id)) this.controller.releaseWindow(id);
    t.windowIds = ids;
    this.controller.upsertWindows(ws);
  }
}

/** Where the pace is measured from: the route's predicted time to the end of each road from `now`. */
function paceBase(route: Route, times: LinkTimes, now: number): PaceBase {
  const n = route.roads.length;
  const endTimes = new Float64Array(n);
  const drive = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    endTimes[i] = i < route.legs.length ? route.legs[i].arriveStopLine : route.travelTime;
    drive[i] = times.drive[route.roads[i]];
  }
  return { time: now, roads: [...route.roads], endTimes, drive };
}
