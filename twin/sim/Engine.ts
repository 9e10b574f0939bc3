/**
 * Microscopic traffic simulation engine reproducing CityFlow's model with lane changing off
 * (shared/reference/cityflow-model.md): insertion queues, safety-distance car following,
 * stopping at red and at a full exit lane, conflict points and yielding inside intersections.
 *
 * One deliberate departure: CityFlow inserts a vehicle at the start of its first lane whenever
 * the lane's last vehicle is clear, even where the lane begins inside the network and a vehicle
 * is arriving from upstream too fast to stop behind it (they then overlap). We also hold the
 * insertion until upstream traffic can stop behind the new vehicle. Lanes that begin at the
 * network boundary have no upstream, so runs on the benchmark files are unchanged.
 *
 * Data-oriented: vehicle state lives in typed arrays indexed by slot, drivables (lanes, then lane
 * links) by integer, and a step allocates nothing on the hot path but the short list of
 * vehicles changing drivable. Deterministic for a seed; time is the step counter.
 */
import { VEHICLE_CLASSES } from '../network/cityflowFormat.ts';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import type { Flow } from '../network/importCityFlow.ts';
import { firstLaneCandidates, lanePath } from '../network/route.ts';
import { Mt19937 } from '../random.ts';
import { TrafficLights, type SignalMode, type TrafficLightsState } from './TrafficLights.ts';

/** CityFlow's constants, not read from files (§2.1). */
export const TURN_SPEED = 8.3333;
export const YIELD_DISTANCE = 5;
/** A lane link has no speed limit of its own. */
const LINK_MAX_SPEED = 10000;
const INT_MAX = 2147483647;
/** Speed below which a vehicle counts as waiting / stopped (m/s). */
export const WAITING_SPEED = 0.1;
/**
 * Our extension (CityFlow has no overtaking): an emergency vehicle on lights passes moving
 * traffic on a lane, as drivers pull aside or it uses the opposite lane (SUMO lets its emergency
 * class overtake through the opposite edge), but not vehicles standing in a queue, and not within
 * this distance of the stop line, where it must be back in line (m).
 */
export const OVERTAKE_ROOM = 30;
const EMERGENCY_CLASS = VEHICLE_CLASSES.indexOf('emergency');

const FREE = 0;
const WAITING = 1;
const RUNNING = 2;

export interface EngineOptions {
  /** Step length (s). */
  interval?: number;
  seed?: number;
  /** 'program' runs the roadnet's fixed program; 'external' holds phases set by a controller. */
  signalMode?: SignalMode;
  /** Keep a record per finished trip (enter, exit, stops, delay). */
  recordTrips?: boolean;
}

export interface TripRecord {
  vehicle: string;
  flow: number;
  enterTime: number;
  exitTime: number;
  stops: number;
  /** Travel time beyond the free-flow time of the path, insertion wait included (s). */
  delay: number;
}

export interface VehicleView {
  id: string;
  /** Lane index, or nLanes + lane-link index. */
  drivable: number;
  nextDrivable: number;
  dis: number;
  speed: number;
  length: number;
  maxNegAcc: number;
}

export interface EngineMetrics {
  time: number;
  steps: number;
  averageTravelTime: number;
  finished: number;
  running: number;
  waiting: number;
  created: number;
  vehicleUpdates: number;
}

interface FlowRuntime {
  flow: Flow;
  nowTime: number;
  count: number;
  valid: boolean;
  candidates: number[];
  /** Drivable paths by candidate position, built on first use. */
  paths: (Int32Array | null)[];
  freeFlow: number[];
}

/** Everything needed to resume a run bit-for-bit (what-if runs fork from it). */
export interface EngineSnapshot {
  step: number;
  flowClock: number;
  capacity: number;
  f64: Record<string, Float64Array>;
  i32: Record<string, Int32Array>;
  u8: Record<string, Uint8Array>;
  pathTable: Int32Array[];
  runList: Int32Array;
  nRun: number;
  freeSlots: number[];
  waitQueues: number[][];
  flows: { nowTime: number; count: number; valid: boolean }[];
  activeFlows: number[];
  nextFlowToStart: number;
  rng: { mt: number[]; index: number };
  lights: TrafficLightsState;
  listHead: Int32Array;
  listTail: Int32Array;
  laneClosed: Uint8Array;
  laneMaxSpeed: Float64Array;
  finished: number;
  finishedTravelTime: number;
  nextUid: number;
  created: number;
  vehicleUpdates: number;
  trips: TripRecord[];
  priorities: number[];
}

const F64_FIELDS = [
  'dis', 'spd', 'gap', 'len', 'minGap', 'vmax', 'posAcc', 'negAcc', 'usualPosAcc', 'usualNegAcc',
  'headway', 'horizon', 'enterTime', 'freeFlow', 'bSpd', 'bDis', 'limitFactor',
] as const;
const I32_FIELDS = [
  'drv', 'ptr', 'leader', 'blocker', 'prio', 'enterLinkTime', 'prevDrv', 'flowOf', 'serial', 'stops',
  'bDrv', 'bPtr', 'bBlocker', 'next', 'prev', 'runPos', 'pathId', 'uid',
] as const;
const U8_FIELDS = ['state', 'stopped', 'bEnds', 'vclass'] as const;
type F64Field = (typeof F64_FIELDS)[number];
type I32Field = (typeof I32_FIELDS)[number];
type U8Field = (typeof U8_FIELDS)[number];

export class Engine {
  readonly net: RoadNetwork;
  readonly dt: number;
  readonly lights: TrafficLights;
  readonly recordTrips: boolean;
  readonly trips: TripRecord[] = [];

  // ---- static topology: drivables are lanes [0, nLanes) then lane links [nLanes, nDrv) ----
  readonly nLanes: number;
  readonly nDrv: number;
  private readonly drvLen: Float64Array;
  private readonly drvMaxSpeed: Float64Array;
  private readonly laneOutStart: Int32Array;
  private readonly laneOutList: Int32Array;
  /** Incoming lane links per lane (CSR), for safe insertion mid-network. */
  private readonly laneInStart: Int32Array;
  private readonly laneInList: Int32Array;
  private readonly linkFromLane: Int32Array;
  private readonly linkToLane: Int32Array;
  private readonly linkMovement: Int32Array;
  private readonly linkIsTurn: Uint8Array;
  private readonly linkPriority: Int32Array;
  /** Conflict points per link (CSR, ascending by position): own slot, other slot, position. */
  private readonly lcStart: Int32Array;
  private readonly lcSlot: Int32Array;
  private readonly lcOther: Int32Array;
  private readonly lcPos: Float64Array;
  /** Link on each side of each conflict point, by slot = 2·cross + side. */
  private readonly slotLink: Int32Array;
  private readonly notifyVeh: Int32Array;
  private readonly notifyDist: Float64Array;
  private readonly linksWithCrosses: Int32Array;

  // ---- dynamic state ----
  private stepIndex = 0;
  private flowClock = 0;
  private readonly rng: Mt19937;
  private capacity = 0;
  private f64 = {} as Record<F64Field, Float64Array>;
  private i32 = {} as Record<I32Field, Int32Array>;
  private u8 = {} as Record<U8Field, Uint8Array>;
  /** Distinct drivable paths; vehicles refer to them by pathId. */
  private readonly pathTable: Int32Array[] = [];
  private readonly pathIds = new Map<string, number>();
  private freeSlots: number[] = [];
  private runList: Int32Array;
  private nRun = 0;
  /** Lanes closed to entering traffic (roadworks, incidents); what-if runs set them. */
  private readonly laneClosed: Uint8Array;
  private readonly baseMaxSpeed: Float64Array;
  private readonly listHead: Int32Array;
  private readonly listTail: Int32Array;
  private waitQueues: number[][];
  private waitingCount = 0;
  private readonly flows: FlowRuntime[];
  private activeFlows: number[] = [];
  private readonly flowsByStart: number[];
  private nextFlowToStart = 0;
  private readonly priorities = new Set<number>();
  private finishedCount = 0;
  private finishedTravelTime = 0;
  private createdCount = 0;
  private vehicleUpdateCount = 0;
  private nextUid = 0;
  /** Moves committed in the last step (see forEachMove). */
  private moveSlot = new Int32Array(256);
  private moveFrom = new Int32Array(256);
  private moveTo = new Int32Array(256);
  private moveVia = new Int32Array(256);
  private nMoves = 0;
  private readonly changers: number[] = [];
  /** Emergency vehicles on lanes this step (they may overtake; see OVERTAKE_ROOM). */
  private readonly overtakers: number[] = [];
  private readonly enders: number[] = [];
  private readonly spawned: number[] = [];
  /** Blocker found by the last intersectionSpeed call (-1 if none). */
  private foundBlocker = -1;

  constructor(net: RoadNetwork, flows: Flow[], options: EngineOptions = {}) {
    this.net = net;
    this.dt = options.interval ?? 1;
    this.rng = new Mt19937(options.seed ?? 0);
    this.recordTrips = options.recordTrips ?? false;
    this.lights = new TrafficLights(net, options.signalMode ?? 'program');

    const nL = net.lanes.length;
    const nK = net.laneLinks.length;
    this.nLanes = nL;
    this.nDrv = nL + nK;
    this.drvLen = new Float64Array(this.nDrv);
    this.drvMaxSpeed = new Float64Array(this.nDrv);
    this.laneOutStart = new Int32Array(nL + 1);
    const outList: number[] = [];
    for (const lane of net.lanes) {
      this.drvLen[lane.index] = lane.length;
      this.drvMaxSpeed[lane.index] = lane.maxSpeed;
      this.laneOutStart[lane.index] = outList.length;
      outList.push(...lane.outLinks);
    }
    this.laneOutStart[nL] = outList.length;
    this.laneOutList = Int32Array.from(outList);
    const incoming: number[][] = net.lanes.map(() => []);
    for (const link of net.laneLinks) incoming[link.toLane].push(link.index);
    this.laneInStart = new Int32Array(nL + 1);
    const inList: number[] = [];
    incoming.forEach((ks, l) => {
      this.laneInStart[l] = inList.length;
      inList.push(...ks);
    });
    this.laneInStart[nL] = inList.length;
    this.laneInList = Int32Array.from(inList);
    this.linkFromLane = new Int32Array(nK);
    this.linkToLane = new Int32Array(nK);
    this.linkMovement = new Int32Array(nK);
    this.linkIsTurn = new Uint8Array(nK);
    this.linkPriority = new Int32Array(nK);
    this.lcStart = new Int32Array(nK + 1);
    const lcSlot: number[] = [];
    const lcOther: number[] = [];
    const lcPos: number[] = [];
    const withCrosses: number[] = [];
    for (const link of net.laneLinks) {
      const k = link.index;
      this.drvLen[nL + k] = link.length;
      this.drvMaxSpeed[nL + k] = LINK_MAX_SPEED;
      this.linkFromLane[k] = link.fromLane;
      this.linkToLane[k] = link.toLane;
      this.linkMovement[k] = link.movement;
      this.linkIsTurn[k] = link.isTurn ? 1 : 0;
      this.linkPriority[k] = link.priority;
      this.lcStart[k] = lcSlot.length;
      for (const c of link.crosses) {
        lcSlot.push(2 * c.cross + c.side);
        lcOther.push(2 * c.cross + (1 - c.side));
        lcPos.push(c.position);
      }
      if (link.crosses.length) withCrosses.push(k);
    }
    this.lcStart[nK] = lcSlot.length;
    this.lcSlot = Int32Array.from(lcSlot);
    this.lcOther = Int32Array.from(lcOther);
    this.lcPos = Float64Array.from(lcPos);
    this.linksWithCrosses = Int32Array.from(withCrosses);
    this.slotLink = new Int32Array(2 * net.crosses.length);
    for (const c of net.crosses) {
      this.slotLink[2 * c.index] = c.links[0];
      this.slotLink[2 * c.index + 1] = c.links[1];
    }
    this.notifyVeh = new Int32Array(2 * net.crosses.length).fill(-1);
    this.notifyDist = new Float64Array(2 * net.crosses.length);

    this.laneClosed = new Uint8Array(nL);
    this.baseMaxSpeed = this.drvMaxSpeed.slice(0, nL);
    this.listHead = new Int32Array(this.nDrv).fill(-1);
    this.listTail = new Int32Array(this.nDrv).fill(-1);
    this.waitQueues = Array.from({ length: nL }, () => []);
    this.runList = new Int32Array(0);
    this.grow(1024);

    this.flows = flows.map((flow) => {
      const candidates = flow.roads.length >= 2 ? firstLaneCandidates(net, flow.roads) : [];
      return {
        flow,
        nowTime: flow.interval,
        count: 0,
        valid: candidates.length > 0,
        candidates,
        paths: candidates.map(() => null),
        freeFlow: candidates.map(() => 0),
      };
    });
    this.flowsByStart = this.flows.map((_, i) => i).sort((a, b) => this.flows[a].flow.startTime - this.flows[b].flow.startTime || a - b);
  }

  // ------------------------------------------------------------------ storage

  private grow(min: number): void {
    const cap = Math.max(min, this.capacity * 2);
    for (const f of F64_FIELDS) {
      const a = new Float64Array(cap);
      if (this.f64[f]) a.set(this.f64[f]);
      this.f64[f] = a;
    }
    for (const f of I32_FIELDS) {
      const a = new Int32Array(cap);
      if (this.i32[f]) a.set(this.i32[f]);
      this.i32[f] = a;
    }
    for (const f of U8_FIELDS) {
      const a = new Uint8Array(cap);
      if (this.u8[f]) a.set(this.u8[f]);
      this.u8[f] = a;
    }
    const rl = new Int32Array(cap);
    rl.set(this.runList.subarray(0, this.nRun));
    this.runList = rl;
    for (let s = cap - 1; s >= this.capacity; s--) this.freeSlots.push(s);
    this.capacity = cap;
  }

  private allocSlot(): number {
    if (this.freeSlots.length === 0) this.grow(this.capacity * 2);
    return this.freeSlots.pop()!;
  }

  private listAppend(d: number, v: number): void {
    const { next, prev } = this.i32;
    const t = this.listTail[d];
    prev[v] = t;
    next[v] = -1;
    if (t >= 0) next[t] = v;
    else this.listHead[d] = v;
    this.listTail[d] = v;
  }

  /** Swaps v with the vehicle ahead of it on drivable d. */
  private listMoveAhead(d: number, v: number): void {
    const { next, prev } = this.i32;
    const p = prev[v];
    const pp = prev[p];
    const n = next[v];
    if (pp >= 0) next[pp] = v;
    else this.listHead[d] = v;
    prev[v] = pp;
    next[v] = p;
    prev[p] = v;
    next[p] = n;
    if (n >= 0) prev[n] = p;
    else this.listTail[d] = p;
  }

  private listRemove(d: number, v: number): void {
    const { next, prev } = this.i32;
    const p = prev[v];
    const n = next[v];
    if (p >= 0) next[p] = n;
    else this.listHead[d] = n;
    if (n >= 0) prev[n] = p;
    else this.listTail[d] = p;
  }

  // ------------------------------------------------------------------ public API

  /** Seconds simulated so far (= steps run · Δt). */
  get time(): number {
    return this.stepIndex * this.dt;
  }

  get steps(): number {
    return this.stepIndex;
  }

  get runningCount(): number {
    return this.nRun;
  }

  get waitingToEnter(): number {
    return this.waitingCount;
  }

  /** Runs one step of Δt (cityflow-model.md §3.0). */
  step(): void {
    this.spawnVehicles();
    this.insertWaiting();
    this.notifyCrosses();
    const run = this.runList;
    const n = this.nRun;
    this.vehicleUpdateCount += n;
    for (let r = 0; r < n; r++) this.computeAction(run[r]);
    this.updateLocations();
    this.updateLeaders();
    this.lights.passTime(this.dt);
    this.stepIndex++;
  }

  /** Runs until `seconds` of simulated time have passed. */
  run(seconds: number): void {
    const steps = Math.round(seconds / this.dt);
    for (let s = 0; s < steps; s++) this.step();
  }

  /** CityFlow's average travel time: finished trips plus every vehicle alive, charged its time so far. */
  averageTravelTime(): number {
    const T = this.time;
    let sum = this.finishedTravelTime;
    let n = this.finishedCount;
    const { enterTime } = this.f64;
    const st = this.u8.state;
    for (let v = 0; v < this.capacity; v++) {
      if (st[v] !== FREE) {
        sum += T - enterTime[v];
        n++;
      }
    }
    return n === 0 ? 0 : sum / n;
  }

  metrics(): EngineMetrics {
    return {
      time: this.time,
      steps: this.stepIndex,
      averageTravelTime: this.averageTravelTime(),
      finished: this.finishedCount,
      running: this.nRun,
      waiting: this.waitingCount,
      created: this.createdCount,
      vehicleUpdates: this.vehicleUpdateCount,
    };
  }

  /** Vehicles whose head is on each lane (lane links excluded), and those of them below 0.1 m/s. */
  laneCounts(vehicles: Int32Array = new Int32Array(this.nLanes), waiting: Int32Array = new Int32Array(this.nLanes)): {
    vehicles: Int32Array;
    waiting: Int32Array;
  } {
    const { next } = this.i32;
    const { spd } = this.f64;
    for (let l = 0; l < this.nLanes; l++) {
      let c = 0;
      let w = 0;
      for (let v = this.listHead[l]; v >= 0; v = next[v]) {
        c++;
        if (spd[v] < WAITING_SPEED) w++;
      }
      vehicles[l] = c;
      waiting[l] = w;
    }
    return { vehicles, waiting };
  }

  /** Vehicles queued outside the network to enter each lane. */
  laneEntryQueues(): Int32Array {
    return Int32Array.from(this.waitQueues, (q) => q.length);
  }

  setPhase(intersection: number, phase: number): void {
    this.lights.setPhase(intersection, phase);
  }

  phaseOf(intersection: number): number {
    return this.lights.phase[intersection];
  }

  /** A readable copy of every running vehicle (tests, sampling for the viewer); allocates. */
  vehicleViews(): VehicleView[] {
    const { drv, ptr, pathId } = this.i32;
    const { dis, spd, len, negAcc } = this.f64;
    const out: VehicleView[] = [];
    for (let r = 0; r < this.nRun; r++) {
      const v = this.runList[r];
      const path = this.pathTable[pathId[v]];
      out.push({
        id: this.vehicleId(v),
        drivable: drv[v],
        nextDrivable: ptr[v] + 1 < path.length ? path[ptr[v] + 1] : -1,
        dis: dis[v],
        speed: spd[v],
        length: len[v],
        maxNegAcc: negAcc[v],
      });
    }
    return out;
  }

  /** Visits the vehicles on drivable d in list (arrival) order, front first. */
  forEachOn(d: number, fn: (slot: number, dis: number, speed: number, length: number) => void): void {
    const { next } = this.i32;
    const { dis, spd, len } = this.f64;
    for (let v = this.listHead[d]; v >= 0; v = next[v]) fn(v, dis[v], spd[v], len[v]);
  }

  /**
   * Visits the moves committed in the last step: each vehicle that changed drivable (`to`) or
   * left the network (`to` = -1), with the drivable it was on and the next one on its path from
   * there (`via`: for a vehicle leaving a lane, the lane link it took, i.e. its movement).
   * A vehicle may cross several drivables in one step; only the ends are reported.
   */
  forEachMove(fn: (slot: number, from: number, to: number, via: number) => void): void {
    for (let m = 0; m < this.nMoves; m++) fn(this.moveSlot[m], this.moveFrom[m], this.moveTo[m], this.moveVia[m]);
  }

  /** A vehicle's identity that is never reused, unlike its slot. */
  vehicleUid(slot: number): number {
    return this.i32.uid[slot];
  }

  /** CityFlow-style id `flow_<flow>_<n>`. */
  vehicleId(slot: number): string {
    return `flow_${this.flows[this.i32.flowOf[slot]].flow.index}_${this.i32.serial[slot]}`;
  }

  vehicleClass(slot: number): (typeof VEHICLE_CLASSES)[number] {
    return VEHICLE_CLASSES[this.u8.vclass[slot]];
  }

  // ------------------------------------------------------------------ scenario changes (what-if)

  /**
   * Closes a lane to entering traffic (or reopens it): vehicles heading into it hold at the stop
   * line as at a full lane, and nobody is inserted onto it. Vehicles already on it drive on.
   */
  setLaneClosed(lane: number, closed: boolean): void {
    this.laneClosed[lane] = closed ? 1 : 0;
  }

  isLaneClosed(lane: number): boolean {
    return this.laneClosed[lane] === 1;
  }

  /** Caps a lane's speed (an incident cutting its capacity); null restores its own limit. */
  setLaneSpeedLimit(lane: number, speed: number | null): void {
    this.drvMaxSpeed[lane] = speed === null ? this.baseMaxSpeed[lane] : Math.min(speed, this.baseMaxSpeed[lane]);
  }

  /** Road indices a running vehicle still has ahead, starting with the one it is on (or leaving). */
  remainingRoads(slot: number): number[] {
    const path = this.pathTable[this.i32.pathId[slot]];
    const out: number[] = [];
    for (let q = this.i32.ptr[slot]; q < path.length; q++) {
      const d = path[q];
      if (d < this.nLanes) out.push(this.net.lanes[d].road);
    }
    return out;
  }

  /**
   * Gives a vehicle on a lane a new way on: `roads` must start with the road it is on. Returns
   * false (and changes nothing) when the vehicle is inside an intersection or the route cannot
   * be driven from its lane without changing lanes.
   */
  rerouteVehicle(slot: number, roads: number[]): boolean {
    const d = this.i32.drv[slot];
    if (this.u8.state[slot] !== RUNNING || d >= this.nLanes || this.net.lanes[d].road !== roads[0]) return false;
    const p = roads.length >= 2 ? lanePath(this.net, roads, d) : [d];
    if (!p) return false;
    const path = this.toDrivablePath(p);
    this.i32.pathId[slot] = this.internPath(path);
    this.i32.ptr[slot] = 0;
    this.f64.freeFlow[slot] += this.freeFlowTime(path, slot);
    return true;
  }

  /**
   * Puts a vehicle straight onto a lane at a position and speed (to start a run from an estimated
   * state). It joins the back of the lane's list, so add vehicles of one lane front to back.
   * `flow` is the flow whose vehicle parameters and id it takes; `roads` its way from this lane's
   * road on. Returns the slot, or -1 if the route cannot be driven from that lane.
   */
  addVehicle(flow: number, lane: number, dis: number, speed: number, roads: number[]): number {
    const fr = this.flows[flow];
    if (!fr || this.net.lanes[lane].road !== roads[0]) return -1;
    const p = roads.length >= 2 ? lanePath(this.net, roads, lane) : [lane];
    if (!p) return -1;
    const v = this.createVehicle(flow);
    const path = this.toDrivablePath(p);
    this.i32.pathId[v] = this.internPath(path);
    this.f64.freeFlow[v] = this.freeFlowTime(path, v);
    this.f64.dis[v] = Math.max(0, Math.min(dis, this.drvLen[lane]));
    this.f64.spd[v] = Math.max(0, Math.min(speed, this.f64.vmax[v]));
    this.u8.state[v] = RUNNING;
    this.u8.stopped[v] = speed < WAITING_SPEED ? 1 : 0;
    this.i32.drv[v] = lane;
    this.i32.runPos[v] = this.nRun;
    this.runList[this.nRun++] = v;
    const t = this.listTail[lane];
    this.listAppend(lane, v);
    this.updateLeader(v, t);
    return v;
  }

  /** Drivable d's length (lanes first, then lane links at nLanes + link index). */
  drivableLength(d: number): number {
    return this.drvLen[d];
  }

  /** Whether lane link k may be entered now (its movement has green). */
  linkGreen(k: number): boolean {
    return this.lights.movementGreen[this.linkMovement[k]] === 1;
  }

  // ------------------------------------------------------------------ 1–2: spawning, route planning

  private spawnVehicles(): void {
    const dt = this.dt;
    const clock = this.flowClock;
    let added = false;
    while (this.nextFlowToStart < this.flowsByStart.length) {
      const fi = this.flowsByStart[this.nextFlowToStart];
      if (this.flows[fi].flow.startTime > clock) break;
      this.activeFlows.push(fi);
      this.nextFlowToStart++;
      added = true;
    }
    if (added) this.activeFlows.sort((a, b) => a - b);
    const spawned = this.spawned;
    spawned.length = 0;
    let keep = 0;
    for (let a = 0; a < this.activeFlows.length; a++) {
      const fi = this.activeFlows[a];
      const fr = this.flows[fi];
      const f = fr.flow;
      if (!fr.valid || (f.endTime !== -1 && clock > f.endTime)) continue;
      this.activeFlows[keep++] = fi;
      while (fr.nowTime >= f.interval) {
        spawned.push(this.createVehicle(fi));
        fr.nowTime -= f.interval;
      }
      fr.nowTime += dt;
    }
    this.activeFlows.length = keep;
    this.flowClock = clock + dt;
    if (spawned.length === 0) return;

    // First-lane draws go road by road in roadnet order, then in creation order (§2.3).
    const { flowOf } = this.i32;
    if (spawned.length > 1) {
      const order = spawned.map((v, i) => i);
      const road = spawned.map((v) => this.flows[flowOf[v]].flow.roads[0]);
      order.sort((x, y) => road[x] - road[y] || x - y);
      const copy = spawned.slice();
      for (let i = 0; i < order.length; i++) spawned[i] = copy[order[i]];
    }
    for (const v of spawned) {
      const fr = this.flows[flowOf[v]];
      const pick = this.rng.nextUint32() % fr.candidates.length;
      let path = fr.paths[pick];
      if (!path) {
        const p = lanePath(this.net, fr.flow.roads, fr.candidates[pick]);
        if (!p) throw new Error(`flow ${fr.flow.index}: route cannot be driven without changing lanes`);
        path = this.toDrivablePath(p);
        fr.paths[pick] = path;
        fr.freeFlow[pick] = this.freeFlowTime(path, v);
      }
      this.i32.pathId[v] = this.internPath(path);
      this.f64.freeFlow[v] = fr.freeFlow[pick];
      this.waitQueues[path[0]].push(v);
      this.waitingCount++;
    }
  }

  private toDrivablePath(p: number[]): Int32Array {
    const out = new Int32Array(p.length);
    for (let i = 0; i < p.length; i++) out[i] = i % 2 === 1 ? this.nLanes + p[i] : p[i];
    return out;
  }

  private internPath(path: Int32Array): number {
    const key = path.join(',');
    let id = this.pathIds.get(key);
    if (id === undefined) {
      id = this.pathTable.length;
      this.pathTable.push(path);
      this.pathIds.set(key, id);
    }
    return id;
  }

  /** Free-flow time of vehicle v (its top speed and limit factor already set) on a drivable path. */
  private freeFlowTime(path: Int32Array, v: number): number {
    const vmax = this.f64.vmax[v];
    const k = this.f64.limitFactor[v];
    let t = 0;
    for (const d of path) t += this.drvLen[d] / Math.min(vmax, this.drvMaxSpeed[d] * k);
    return t;
  }

  private createVehicle(fi: number): number {
    const fr = this.flows[fi];
    const p = fr.flow.vehicle;
    // Priority: a 32-bit draw, unique among live vehicles; then the (unused) thread draw.
    let prio = this.rng.nextInt32();
    while (this.priorities.has(prio)) prio = this.rng.nextInt32();
    this.priorities.add(prio);
    this.rng.nextUint32();
    const v = this.allocSlot();
    const f = this.f64;
    const i = this.i32;
    f.dis[v] = 0;
    f.spd[v] = 0;
    f.gap[v] = 0;
    f.len[v] = p.length;
    f.minGap[v] = p.minGap;
    f.vmax[v] = p.maxSpeed;
    f.limitFactor[v] = p.speedFactor ?? 1;
    f.posAcc[v] = p.maxPosAcc;
    f.negAcc[v] = p.maxNegAcc;
    f.usualPosAcc[v] = p.usualPosAcc;
    f.usualNegAcc[v] = p.usualNegAcc;
    f.headway[v] = p.headwayTime;
    f.horizon[v] = (p.maxSpeed * p.maxSpeed) / (2 * p.usualNegAcc) + 2 * p.maxSpeed * this.dt;
    f.enterTime[v] = this.stepIndex * this.dt;
    i.prio[v] = prio;
    i.flowOf[v] = fi;
    i.serial[v] = fr.count++;
    i.uid[v] = this.nextUid++;
    this.u8.vclass[v] = p.class ? VEHICLE_CLASSES.indexOf(p.class) : 0;
    i.leader[v] = -1;
    i.blocker[v] = -1;
    i.enterLinkTime[v] = INT_MAX;
    i.prevDrv[v] = -1;
    i.stops[v] = 0;
    i.ptr[v] = 0;
    i.drv[v] = -1;
    this.u8.state[v] = WAITING;
    this.u8.stopped[v] = 1;
    this.createdCount++;
    return v;
  }

  // ------------------------------------------------------------------ 3: insertion

  private insertWaiting(): void {
    if (this.waitingCount === 0) return;
    const { dis, len, minGap } = this.f64;
    for (let lane = 0; lane < this.nLanes; lane++) {
      const q = this.waitQueues[lane];
      if (q.length === 0) continue;
      const v = q[0];
      const t = this.listTail[lane];
      if (this.laneClosed[lane]) continue;
      if (t >= 0 && !(dis[t] > len[t] + minGap[v])) continue;
      if (this.laneInStart[lane + 1] > this.laneInStart[lane] && !this.upstreamCanStop(lane, v)) continue;
      q.shift();
      this.waitingCount--;
      this.u8.state[v] = RUNNING;
      this.i32.drv[v] = lane;
      this.i32.runPos[v] = this.nRun;
      this.runList[this.nRun++] = v;
      this.listAppend(lane, v);
      this.updateLeader(v, t);
    }
  }

  /** Whether every vehicle heading into `lane` from upstream could stop behind v inserted at its start. */
  private upstreamCanStop(lane: number, v: number): boolean {
    const nL = this.nLanes;
    const { dis, spd, len, minGap, usualNegAcc } = this.f64;
    const { ptr, pathId } = this.i32;
    for (let o = this.laneInStart[lane]; o < this.laneInStart[lane + 1]; o++) {
      const k = this.laneInList[o];
      if (this.listHead[nL + k] >= 0) return false;
      const from = this.linkFromLane[k];
      const f = this.listHead[from];
      if (f < 0) continue;
      const path = this.pathTable[pathId[f]];
      if (ptr[f] + 1 >= path.length || path[ptr[f] + 1] !== nL + k) continue;
      const room = this.drvLen[from] - dis[f] + this.drvLen[nL + k] - len[v] - minGap[f];
      if ((spd[f] * spd[f]) / (2 * usualNegAcc[f]) > room) return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ 4: who is at each conflict point

  private notify(slot: number, v: number, d: number): void {
    this.notifyVeh[slot] = v;
    this.notifyDist[slot] = d;
  }

  private notifyCrosses(): void {
    this.notifyVeh.fill(-1);
    const nL = this.nLanes;
    const { dis, len } = this.f64;
    const { prevDrv, next, ptr, pathId } = this.i32;
    const green = this.lights.movementGreen;
    const lcPos = this.lcPos;
    const lcSlot = this.lcSlot;
    for (let w = 0; w < this.linksWithCrosses.length; w++) {
      const k = this.linksWithCrosses[w];
      const d = nL + k;
      const lo = this.lcStart[k];
      let j = this.lcStart[k + 1] - 1;
      // 1. The vehicle that last left the link onto its end lane, while its tail is still on it.
      const e = this.listTail[this.linkToLane[k]];
      if (e >= 0 && prevDrv[e] === d) {
        const head = this.drvLen[d] + dis[e];
        const tail = head - len[e];
        while (j >= lo && tail < lcPos[j]) {
          this.notify(lcSlot[j], e, lcPos[j] - head);
          j--;
        }
      }
      // 2. Vehicles on the link, front first.
      for (let v = this.listHead[d]; v >= 0 && j >= lo; v = next[v]) {
        while (j >= lo) {
          const p = lcPos[j];
          if (dis[v] <= p || dis[v] - len[v] <= p) {
            this.notify(lcSlot[j], v, p - dis[v]);
            j--;
          } else break;
        }
      }
      // 3. The front vehicle of the start lane, if it heads for this link and the link is green.
      if (j >= lo && green[this.linkMovement[k]]) {
        const lane = this.linkFromLane[k];
        const f = this.listHead[lane];
        if (f >= 0) {
          const path = this.pathTable[pathId[f]];
          const pi = ptr[f] + 1;
          if (pi < path.length && path[pi] === d) {
            const r = this.drvLen[lane] - dis[f];
            for (; j >= lo; j--) this.notify(lcSlot[j], f, r + lcPos[j]);
          }
        }
      }
    }
  }

  // ------------------------------------------------------------------ 5: each vehicle's action

  private computeAction(v: number): void {
    const dt = this.dt;
    const f = this.f64;
    const i = this.i32;
    const speed = f.spd[v];
    const d = i.drv[v];
    const negAcc = f.negAcc[v];
    let vs = f.vmax[v];
    const acc = speed + f.posAcc[v] * dt;
    if (acc < vs) vs = acc;
    const dMax = this.drvMaxSpeed[d] * f.limitFactor[v];
    if (dMax < vs) vs = dMax;
    const leader = i.leader[v];
    if (leader >= 0) {
      const fs = this.followSpeed(v, leader);
      if (fs < vs) vs = fs;
    }
    const path = this.pathTable[i.pathId[v]];
    const p = i.ptr[v];
    this.foundBlocker = -1;
    if (d >= this.nLanes || (p + 1 < path.length && this.drvLen[d] - f.dis[v] <= f.horizon[v])) {
      const vi = this.intersectionSpeed(v, d, path, p);
      if (vi < vs) vs = vi;
    }
    const floor = speed - negAcc * dt;
    if (vs < floor) vs = floor;

    let s: number;
    let newSpeed: number;
    if (vs < 0) {
      s = (speed * speed) / (2 * negAcc);
      newSpeed = 0;
    } else {
      s = ((speed + vs) * dt) / 2;
      newSpeed = vs;
    }
    let x = f.dis[v] + s;
    let nd = d;
    let np = p;
    let ends = 0;
    while (x > this.drvLen[nd]) {
      x -= this.drvLen[nd];
      if (np + 1 >= path.length) {
        ends = 1;
        break;
      }
      np++;
      nd = path[np];
    }
    f.bSpd[v] = newSpeed;
    f.bDis[v] = x;
    i.bDrv[v] = nd;
    i.bPtr[v] = np;
    i.bBlocker[v] = this.foundBlocker;
    this.u8.bEnds[v] = ends;
  }

  /** Collision-free speed against a leader (§3.3). */
  private followSpeed(v: number, leader: number): number {
    const f = this.f64;
    const dt = this.dt;
    const speed = f.spd[v];
    const vl = f.spd[leader];
    const g = f.gap[v];
    const a = this.collisionFree(vl, f.negAcc[leader], speed, f.negAcc[v], g, 0);
    const b = this.collisionFree(vl, f.usualNegAcc[leader], speed, f.usualNegAcc[v], g, f.minGap[v]);
    const delta = speed > vl ? speed - vl : 0;
    const h = (g + (vl + delta / 2) * dt - (speed * dt) / 2) / (f.headway[v] + dt / 2);
    return Math.min(a, b, h);
  }

  private collisionFree(vl: number, dl: number, v: number, df: number, g: number, g0: number): number {
    const dt = this.dt;
    const c = (v * dt) / 2 + g0 - (vl * vl) / (2 * dl) - g;
    const alpha = 1 / (2 * df);
    const beta = dt / 2;
    const disc = beta * beta - 4 * alpha * c;
    if (disc < 0) return -100;
    return Math.min(df * (Math.sqrt(disc) - beta), 2 * vl - dl * dt + (2 * (g - g0)) / dt);
  }

  /** The speed that stops within distance d (§3.5). */
  private stopBefore(v: number, d: number): number {
    const f = this.f64;
    const dt = this.dt;
    const speed = f.spd[v];
    const next = speed + f.usualPosAcc[v] * dt;
    if (((speed + next) * dt) / 2 + (next * next) / (2 * f.usualNegAcc[v]) < d) return next;
    const tau = (2 * d) / ((speed + 1e-8) * dt);
    if (tau >= 1) {
      // C's truncating cast to int, with x86's INT_MIN for out-of-range values.
      const ft = tau > INT_MAX ? -2147483648 : Math.trunc(tau);
      return speed - speed / ft;
    }
    return speed - speed / tau;
  }

  /** Speed limit from the intersection ahead: red, blocked exit, turn speed, yielding (§3.4). */
  private intersectionSpeed(v: number, d: number, path: Int32Array, p: number): number {
    const f = this.f64;
    const nL = this.nLanes;
    const speed = f.spd[v];
    let vi = f.vmax[v];
    let link: number;
    let sigma: number;
    if (d < nL) {
      link = path[p + 1] - nL;
      const r = this.drvLen[d] - f.dis[v];
      if (!this.lights.movementGreen[this.linkMovement[link]] || !this.canEnter(this.linkToLane[link], v)) {
        if ((speed * speed) / (2 * f.negAcc[v]) <= r) {
          const sb = this.stopBefore(v, r);
          return sb < vi ? sb : vi;
        }
        // Too close to stop: it runs the red / blocked exit.
      }
      if (this.linkIsTurn[link] && TURN_SPEED < vi) vi = TURN_SPEED;
      sigma = -r;
    } else {
      link = d - nL;
      sigma = f.dis[v];
    }
    const end = this.lcStart[link + 1];
    for (let j = this.lcStart[link]; j < end; j++) {
      const pos = this.lcPos[j];
      if (pos < sigma) continue;
      const d1 = pos - sigma;
      if (!this.canPass(v, link, j, d1)) {
        const sb = this.stopBefore(v, d1 - YIELD_DISTANCE);
        if (sb < vi) vi = sb;
        this.foundBlocker = this.notifyVeh[this.lcOther[j]];
        break;
      }
    }
    return vi;
  }

  /** Whether a vehicle may move onto a lane: empty, or its last vehicle is clear or moving. */
  private canEnter(lane: number, v: number): boolean {
    if (this.laneClosed[lane]) return false;
    const t = this.listTail[lane];
    if (t < 0) return true;
    const f = this.f64;
    return f.dis[t] > f.len[t] + f.len[v] || f.spd[t] >= 2;
  }

  private canYield(v: number, x: number): boolean {
    const f = this.f64;
    const s = f.spd[v];
    return (x > 0 && (s * s) / (2 * f.negAcc[v]) < x - YIELD_DISTANCE) || (x < 0 && x + f.len[v] < 0);
  }

  /** Whether vehicle v, d1 ahead of conflict point j on `link`, goes before the foe there (§3.7). */
  private canPass(v: number, link: number, j: number, d1: number): boolean {
    const otherSlot = this.lcOther[j];
    const foe = this.notifyVeh[otherSlot];
    if (foe < 0) return true;
    if (!this.canYield(v, d1)) return true;
    const d2 = this.notifyDist[otherSlot];
    const foeLink = this.slotLink[otherSlot];
    const f = this.f64;
    const i = this.i32;
    let pass: boolean;
    const vClass = this.u8.vclass;
    if (!this.canYield(foe, d2)) {
      pass = false;
    } else if ((vClass[v] === EMERGENCY_CLASS) !== (vClass[foe] === EMERGENCY_CLASS)) {
      // An emergency vehicle on lights has right of way: a foe that can still stop yields to it.
      pass = vClass[v] === EMERGENCY_CLASS;
    } else {
      const t1 = this.linkPriority[link];
      const t2 = this.linkPriority[foeLink];
      if (t1 > t2) pass = true;
      else if (t1 < t2) {
        if (d2 > 0) pass = this.reachSteps(foe, d2, foeLink) > this.reachSteps(v, d1, link);
        else pass = d2 + f.len[foe] < 0;
      } else if (d2 > 0) {
        const sf = this.reachSteps(foe, d2, foeLink);
        const sm = this.reachSteps(v, d1, link);
        if (sf !== sm) pass = sf > sm;
        else if (i.enterLinkTime[v] !== i.enterLinkTime[foe]) pass = i.enterLinkTime[v] < i.enterLinkTime[foe];
        else if (d1 === d2) pass = i.prio[v] > i.prio[foe];
        else pass = d1 < d2;
      } else pass = d2 + f.len[foe] < 0;
    }
    if (!pass) {
      // Deadlock breaking: if the foe's chain of blockers loops, go anyway.
      const blocker = i.blocker;
      let slow = foe;
      let fast = foe;
      while (fast >= 0 && blocker[fast] >= 0) {
        slow = blocker[slow];
        fast = blocker[blocker[fast]];
        if (slow === fast) return true;
      }
    }
    return pass;
  }

  /** Steps a vehicle needs to cover d on a link, accelerating to its target speed (§3.7). */
  private reachSteps(v: number, d: number, link: number): number {
    if (d <= 0) return 0;
    const f = this.f64;
    const dt = this.dt;
    const speed = f.spd[v];
    const target = this.linkIsTurn[link] ? TURN_SPEED : f.vmax[v];
    const a = f.usualPosAcc[v];
    if (speed > target) return Math.ceil(d / speed);
    let D = 0;
    if (target > speed) {
      const n = Math.floor((target - speed) / a / dt);
      const v1 = speed + (n * a) / dt;
      D = ((speed + v1) * n * dt) / 2;
      if (v1 < target) D += ((v1 + target) * dt) / 2;
    }
    if (D > d) return Math.ceil((Math.sqrt(speed * speed + 2 * a * d) - speed) / a / dt);
    return Math.ceil((target - speed) / a / dt) + Math.ceil((d - D) / target / dt);
  }

  // ------------------------------------------------------------------ 6–7: commit moves

  private updateLocations(): void {
    const f = this.f64;
    const i = this.i32;
    const u = this.u8;
    const changers = this.changers;
    const enders = this.enders;
    changers.length = 0;
    enders.length = 0;
    const run = this.runList;
    for (let r = 0; r < this.nRun; r++) {
      const v = run[r];
      if (u.bEnds[v]) enders.push(v);
      else if (i.bDrv[v] !== i.drv[v]) changers.push(v);
    }
    const k = this.stepIndex;
    this.nMoves = 0;
    for (const v of enders) this.recordMove(v, -1);
    for (const v of changers) this.recordMove(v, i.bDrv[v]);
    for (const v of enders) {
      this.listRemove(i.drv[v], v);
      const tt = k * this.dt - f.enterTime[v];
      this.finishedCount++;
      this.finishedTravelTime += tt;
      if (this.recordTrips) {
        this.trips.push({
          vehicle: this.vehicleId(v),
          flow: this.flows[i.flowOf[v]].flow.index,
          enterTime: f.enterTime[v],
          exitTime: k * this.dt,
          stops: i.stops[v],
          delay: tt - f.freeFlow[v],
        });
      }
      this.removeRunning(v);
    }
    for (const v of changers) this.listRemove(i.drv[v], v);
    if (changers.length > 1) {
      const bDis = f.bDis;
      // Stable: ties keep scan order.
      const order = changers.map((_, x) => x);
      order.sort((a, b) => bDis[changers[b]] - bDis[changers[a]] || a - b);
      const copy = changers.slice();
      for (let x = 0; x < order.length; x++) changers[x] = copy[order[x]];
    }
    const nL = this.nLanes;
    for (const v of changers) {
      const nd = i.bDrv[v];
      this.listAppend(nd, v);
      i.prevDrv[v] = i.drv[v];
      i.drv[v] = nd;
      i.enterLinkTime[v] = nd >= nL ? k : INT_MAX;
    }
    const st = u.state;
    const overtakers = this.overtakers;
    overtakers.length = 0;
    for (let r = 0; r < this.nRun; r++) {
      const v = run[r];
      if (u.vclass[v] === EMERGENCY_CLASS && i.drv[v] < nL) overtakers.push(v);
      f.spd[v] = f.bSpd[v];
      f.dis[v] = f.bDis[v];
      i.ptr[v] = i.bPtr[v];
      const b = i.bBlocker[v];
      i.blocker[v] = b >= 0 && st[b] === RUNNING ? b : -1;
      if (f.spd[v] < WAITING_SPEED) {
        if (!u.stopped[v]) {
          u.stopped[v] = 1;
          i.stops[v]++;
        }
      } else u.stopped[v] = 0;
    }
    // An overtaker that got ahead of vehicles on its lane takes its place in the lane's order.
    for (const v of overtakers) {
      const d = i.drv[v];
      for (let p = i.prev[v]; p >= 0 && f.dis[p] < f.dis[v]; p = i.prev[v]) this.listMoveAhead(d, v);
    }
  }

  private recordMove(v: number, to: number): void {
    if (this.nMoves === this.moveSlot.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.moveSlot = grow(this.moveSlot);
      this.moveFrom = grow(this.moveFrom);
      this.moveTo = grow(this.moveTo);
      this.moveVia = grow(this.moveVia);
    }
    const i = this.i32;
    const path = this.pathTable[i.pathId[v]];
    const m = this.nMoves++;
    this.moveSlot[m] = v;
    this.moveFrom[m] = i.drv[v];
    this.moveTo[m] = to;
    this.moveVia[m] = i.ptr[v] + 1 < path.length ? path[i.ptr[v] + 1] : -1;
  }

  private removeRunning(v: number): void {
    const pos = this.i32.runPos[v];
    const last = this.runList[--this.nRun];
    this.runList[pos] = last;
    this.i32.runPos[last] = pos;
    this.u8.state[v] = FREE;
    this.priorities.delete(this.i32.prio[v]);
    this.freeSlots.push(v);
  }

  // ------------------------------------------------------------------ 8: leaders and gaps

  private updateLeaders(): void {
    const next = this.i32.next;
    const overtaking = this.overtakers.length > 0;
    for (let d = 0; d < this.nDrv; d++) {
      let pred = -1;
      for (let v = this.listHead[d]; v >= 0; v = next[v]) {
        this.updateLeader(v, overtaking && d < this.nLanes ? this.followedOnLane(v, pred, d) : pred);
        pred = v;
      }
    }
  }

  /**
   * The vehicle v follows on lane d given its predecessor in the lane's order: an emergency
   * vehicle looks past the moving vehicles it may overtake; any other vehicle looks past an
   * emergency vehicle still alongside it (passing it).
   */
  private followedOnLane(v: number, pred: number, d: number): number {
    const { prev } = this.i32;
    const { dis, len } = this.f64;
    const { vclass, stopped } = this.u8;
    let c = pred;
    if (vclass[v] === EMERGENCY_CLASS) {
      const end = this.drvLen[d] - OVERTAKE_ROOM;
      // Passable: moving and far enough from the stop line, or already alongside.
      while (c >= 0 && ((stopped[c] === 0 && dis[c] < end) || dis[c] - len[c] < dis[v])) c = prev[c];
    } else {
      while (c >= 0 && vclass[c] === EMERGENCY_CLASS && dis[c] - len[c] < dis[v]) c = prev[c];
    }
    return c;
  }

  /** Sets v's leader: its predecessor on the drivable, else the nearest vehicle ahead on its path (§3.1). */
  private updateLeader(v: number, pred: number): void {
    const f = this.f64;
    const i = this.i32;
    if (pred >= 0 && i.drv[pred] === i.drv[v]) {
      i.leader[v] = pred;
      f.gap[v] = f.dis[pred] - f.len[pred] - f.dis[v];
      return;
    }
    i.leader[v] = -1;
    const path = this.pathTable[i.pathId[v]];
    const nL = this.nLanes;
    let D = this.drvLen[i.drv[v]] - f.dis[v];
    const H = f.horizon[v];
    for (let q = i.ptr[v] + 1; q < path.length; q++) {
      const nd = path[q];
      if (nd >= nL) {
        const lane = this.linkFromLane[nd - nL];
        let best = -1;
        let bestGap = 0;
        for (let o = this.laneOutStart[lane]; o < this.laneOutStart[lane + 1]; o++) {
          const c = this.listTail[nL + this.laneOutList[o]];
          if (c < 0) continue;
          const g = D + f.dis[c] - f.len[c];
          if (best < 0 || g < bestGap) {
            best = c;
            bestGap = g;
          }
        }
        if (best >= 0) {
          i.leader[v] = best;
          f.gap[v] = bestGap;
          return;
        }
      } else {
        const c = this.listTail[nd];
        if (c >= 0) {
          i.leader[v] = c;
          f.gap[v] = D + f.dis[c] - f.len[c];
          return;
        }
      }
      D += this.drvLen[nd];
      if (D > H) return;
    }
  }

  // ------------------------------------------------------------------ snapshots

  snapshot(): EngineSnapshot {
    const copy = <T extends Float64Array | Int32Array | Uint8Array>(rec: Record<string, T>): Record<string, T> => {
      const out: Record<string, T> = {};
      for (const [k, a] of Object.entries(rec)) out[k] = a.slice() as T;
      return out;
    };
    return {
      step: this.stepIndex,
      flowClock: this.flowClock,
      capacity: this.capacity,
      f64: copy(this.f64),
      i32: copy(this.i32),
      u8: copy(this.u8),
      pathTable: this.pathTable.map((p) => p.slice()),
      runList: this.runList.slice(0, this.nRun),
      nRun: this.nRun,
      freeSlots: this.freeSlots.slice(),
      waitQueues: this.waitQueues.map((q) => q.slice()),
      flows: this.flows.map((f) => ({ nowTime: f.nowTime, count: f.count, valid: f.valid })),
      activeFlows: this.activeFlows.slice(),
      nextFlowToStart: this.nextFlowToStart,
      rng: this.rng.getState(),
      lights: this.lights.state(),
      listHead: this.listHead.slice(),
      listTail: this.listTail.slice(),
      laneClosed: this.laneClosed.slice(),
      laneMaxSpeed: this.drvMaxSpeed.slice(0, this.nLanes),
      finished: this.finishedCount,
      finishedTravelTime: this.finishedTravelTime,
      nextUid: this.nextUid,
      created: this.createdCount,
      vehicleUpdates: this.vehicleUpdateCount,
      trips: this.trips.map((t) => ({ ...t })),
      priorities: [...this.priorities],
    };
  }

  /** A new engine on the same network and flows, resumed from a snapshot. */
  static restore(net: RoadNetwork, flows: Flow[], snap: EngineSnapshot, options: EngineOptions = {}): Engine {
    const e = new Engine(net, flows, options);
    e.stepIndex = snap.step;
    e.flowClock = snap.flowClock;
    e.capacity = snap.capacity;
    // A snapshot from before a field existed (stored what-if starts) gets that field's neutral value.
    for (const k of F64_FIELDS) e.f64[k] = snap.f64[k] ? snap.f64[k].slice() : new Float64Array(snap.capacity).fill(k === 'limitFactor' ? 1 : 0);
    for (const k of I32_FIELDS) e.i32[k] = snap.i32[k].slice();
    for (const k of U8_FIELDS) e.u8[k] = snap.u8[k].slice();
    e.pathTable.length = 0;
    e.pathIds.clear();
    for (const p of snap.pathTable) e.internPath(p.slice());
    e.runList = new Int32Array(snap.capacity);
    e.runList.set(snap.runList);
    e.nRun = snap.nRun;
    e.freeSlots = snap.freeSlots.slice();
    e.waitQueues = snap.waitQueues.map((q) => q.slice());
    e.waitingCount = e.waitQueues.reduce((s, q) => s + q.length, 0);
    snap.flows.forEach((fs, x) => {
      e.flows[x].nowTime = fs.nowTime;
      e.flows[x].count = fs.count;
      e.flows[x].valid = fs.valid;
    });
    e.activeFlows = snap.activeFlows.slice();
    e.nextFlowToStart = snap.nextFlowToStart;
    e.rng.setState(snap.rng);
    e.lights.restore(snap.lights);
    e.listHead.set(snap.listHead);
    e.listTail.set(snap.listTail);
    e.laneClosed.set(snap.laneClosed);
    e.drvMaxSpeed.set(snap.laneMaxSpeed);
    e.finishedCount = snap.finished;
    e.finishedTravelTime = snap.finishedTravelTime;
    e.nextUid = snap.nextUid;
    e.createdCount = snap.created;
    e.vehicleUpdateCount = snap.vehicleUpdates;
    e.trips.push(...snap.trips.map((t) => ({ ...t })));
    for (const p of snap.priorities) e.priorities.add(p);
    return e;
  }
}
