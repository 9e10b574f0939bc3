/**
 * Time-varying demand for any CityFlow roadnet (generated or real), written as a CityFlow flow
 * file in the benchmark style: one entry per vehicle, integer startTime = endTime, interval 1.
 *
 * - Entries are roads leaving a virtual node, exits roads arriving at one.
 * - Each entry's arrivals are a Poisson process whose rate follows the time-of-day profile
 *   (`demandProfile.ts`), drawn from a seeded Mt19937 of its own: changing one entry's rate or
 *   the turning share leaves the other entries' vehicles, and every arrival time, unchanged.
 * - Origin–destination mix: with probability 1 − turningShare a trip goes straight through (the
 *   exit reached by going straight at every intersection: an arterial's through movement);
 *   otherwise it goes to an exit needing turns, 1-turn exits weighted 1, 2-turn exits
 *   `twoTurnWeight`, none with more than `maxTurns`.
 * - Routes are shortest paths with a small penalty per turn (so Manhattan paths with the fewest
 *   turns), ties between equally good paths broken at random. Every road is listed, so no
 *   route relies on CityFlow's own route expansion.
 */
import { z } from 'zod';
import { Mt19937 } from '../random.ts';
import { VehicleParamsSchema, type CityFlowRoadnet, type FlowEntry, type FlowFile, type TurnType, type VehicleParams } from './cityflowFormat.ts';
import { ClockTimeSchema, DemandProfileSchema, demandFactor, maxDemandFactor } from './demandProfile.ts';
import { parseSpec } from './specError.ts';

/** The vehicle of the Jinan and Hangzhou flow files. */
export const BENCHMARK_VEHICLE: VehicleParams = {
  length: 5,
  width: 2,
  maxPosAcc: 2,
  maxNegAcc: 4.5,
  usualPosAcc: 2,
  usualNegAcc: 4.5,
  minGap: 2.5,
  maxSpeed: 11.111,
  headwayTime: 2,
};

/**
 * An emergency vehicle (an ambulance, top speed 50 km/h): the benchmark vehicle otherwise, so
 * comparisons stay fair. On lights it may exceed the posted limit (as the law of most places
 * allows, with due care) by up to 25 %, so 50 km/h on the benchmark cities' 40 km/h streets; it
 * drives the same way with and without pre-emption.
 */
export const EMERGENCY_VEHICLE: VehicleParams = { ...BENCHMARK_VEHICLE, maxSpeed: 13.89, speedFactor: 1.25, class: 'emergency' };

const WeightSchema = z.number().nonnegative().default(1);

export const DemandOptionsSchema = z.object({
  seed: z.number().int().default(0),
  /** Time of day at simulation time 0: the window simulated starts here. */
  dayOffset: ClockTimeSchema.prefault('07:30'),
  /** Length of the window (s); vehicles get startTime in [0, duration). */
  duration: z.number().int().positive().default(3600),
  /**
   * Arrival rate per lane of an entry road at a profile factor of 1 (veh/h). An entry's rate is
   * this times its lane count (turn bay included) times its heading weight; `realisticPeak`
   * computes a value that keeps a network busy but not gridlocked.
   */
  peakVehPerHourPerLane: z.number().nonnegative().default(100),
  /** If set, every entry gets this rate at factor 1 regardless of its lanes (then × heading weight). */
  peakVehPerHourPerEntry: z.number().nonnegative().optional(),
  profile: DemandProfileSchema.prefault({}),
  /** Weights of entries by the direction their traffic travels (favour the main directions). */
  headingWeights: z.object({ east: WeightSchema, north: WeightSchema, west: WeightSchema, south: WeightSchema }).prefault({}),
  /** Share of trips that turn at least once (the rest go straight through). */
  turningShare: z.number().min(0).max(1).default(0.3),
  /** Weight of a destination needing two turns, relative to one needing one turn (each further turn multiplies by it again). */
  twoTurnWeight: z.number().nonnegative().default(0.25),
  maxTurns: z.number().int().min(1).max(4).default(2),
  /** Route cost of a turn (m of extra length), so routes prefer fewer turns. */
  turnPenalty: z.number().nonnegative().default(60),
  vehicle: VehicleParamsSchema.partial().default({}),
});
export type DemandOptions = z.infer<typeof DemandOptionsSchema>;
export type DemandOptionsInput = z.input<typeof DemandOptionsSchema>;

export type Heading = 'east' | 'north' | 'west' | 'south';

const STRAIGHT = 0;
const TURN_CODE: Record<TurnType, number> = { go_straight: STRAIGHT, turn_left: 1, turn_right: 2 };

/** Road-to-road connectivity of a roadnet, indexed by integers, with reverse adjacency. */
interface RoadGraph {
  ids: string[];
  length: Float64Array;
  lanes: Int32Array;
  entries: number[];
  isExit: Uint8Array;
  heading: Heading[];
  succStart: Int32Array;
  succRoad: Int32Array;
  succTurn: Uint8Array;
  predStart: Int32Array;
  predRoad: Int32Array;
  predTurn: Uint8Array;
}

function headingOf(points: readonly { x: number; y: number }[]): Heading {
  const a = points[0], b = points[points.length - 1];
  const dx = b.x - a.x, dy = b.y - a.y;
  if (Math.abs(dx) >= Math.abs(dy)) return dx >= 0 ? 'east' : 'west';
  return dy >= 0 ? 'north' : 'south';
}

function buildRoadGraph(net: CityFlowRoadnet): RoadGraph {
  const virtual = new Map<string, boolean>();
  for (const it of net.intersections) virtual.set(it.id, it.virtual);
  const index = new Map<string, number>();
  net.roads.forEach((r, k) => index.set(r.id, k));
  const n = net.roads.length;
  const length = new Float64Array(n);
  const lanes = new Int32Array(n);
  const isExit = new Uint8Array(n);
  const entries: number[] = [];
  const heading: Heading[] = [];
  net.roads.forEach((r, k) => {
    let len = 0;
    for (let p = 1; p < r.points.length; p++) len += Math.hypot(r.points[p].x - r.points[p - 1].x, r.points[p].y - r.points[p - 1].y);
    length[k] = len;
    lanes[k] = r.lanes.length;
    heading.push(headingOf(r.points));
    if (virtual.get(r.endIntersection) === true) isExit[k] = 1;
    if (virtual.get(r.startIntersection) === true && isExit[k] === 0) entries.push(k);
  });
  // Edges r → s through a road link with at least one lane link (CityFlow's notion of connected).
  const edges: [number, number, number][] = [];
  const seen = new Set<number>();
  for (const it of net.intersections) {
    for (const rl of it.roadLinks ?? []) {
      const a = index.get(rl.startRoad), b = index.get(rl.endRoad);
      if (a === undefined || b === undefined || rl.laneLinks.length === 0) continue;
      const key = a * n + b;
      if (seen.has(key)) continue;
      seen.add(key);
      edges.push([a, b, TURN_CODE[rl.type]]);
    }
  }
  const csr = (from: 0 | 1) => {
    const start = new Int32Array(n + 1);
    for (const e of edges) start[e[from] + 1]++;
    for (let k = 0; k < n; k++) start[k + 1] += start[k];
    const fill = start.slice(0, n);
    const road = new Int32Array(edges.length);
    const turn = new Uint8Array(edges.length);
    for (const e of edges) {
      const at = fill[e[from]]++;
      road[at] = e[1 - from];
      turn[at] = e[2];
    }
    return { start, road, turn };
  };
  const succ = csr(0), pred = csr(1);
  return {
    ids: net.roads.map((r) => r.id),
    length, lanes, entries, isExit, heading,
    succStart: succ.start, succRoad: succ.road, succTurn: succ.turn,
    predStart: pred.start, predRoad: pred.road, predTurn: pred.turn,
  };
}

/** Binary min-heap of (cost, road) with lazy deletion. */
class CostHeap {
  private keys = new Float64Array(64);
  private vals = new Int32Array(64);
  size = 0;
  push(key: number, val: number): void {
    if (this.size === this.keys.length) {
      const k = new Float64Array(this.size * 2); k.set(this.keys); this.keys = k;
      const v = new Int32Array(this.size * 2); v.set(this.vals); this.vals = v;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.keys[p] <= key) break;
      this.keys[i] = this.keys[p]; this.vals[i] = this.vals[p]; i = p;
    }
    this.keys[i] = key; this.vals[i] = val;
  }
  /** Pops the minimum; returns its road, its cost left in `lastKey`. */
  lastKey = 0;
  pop(): number {
    const top = this.vals[0];
    this.lastKey = this.keys[0];
    const key = this.keys[--this.size], val = this.vals[this.size];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      if (c + 1 < this.size && this.keys[c + 1] < this.keys[c]) c++;
      if (this.keys[c] >= key) break;
      this.keys[i] = this.keys[c]; this.vals[i] = this.vals[c]; i = c;
    }
    this.keys[i] = key; this.vals[i] = val;
    return top;
  }
}

interface RouteTree {
  dist: Float64Array;
  turns: Uint8Array;
}

/** Turn-penalised shortest paths from one entry road (cost counts roads after it). */
function routeTree(g: RoadGraph, from: number, turnPenalty: number): RouteTree {
  const n = g.ids.length;
  const dist = new Float64Array(n).fill(Infinity);
  const turns = new Uint8Array(n);
  const heap = new CostHeap();
  dist[from] = 0;
  heap.push(0, from);
  while (heap.size > 0) {
    const r = heap.pop();
    if (heap.lastKey > dist[r]) continue;
    for (let e = g.succStart[r]; e < g.succStart[r + 1]; e++) {
      const s = g.succRoad[e];
      const isTurn = g.succTurn[e] !== STRAIGHT;
      const c = dist[r] + g.length[s] + (isTurn ? turnPenalty : 0);
      if (c < dist[s]) {
        dist[s] = c;
        turns[s] = Math.min(255, turns[r] + (isTurn ? 1 : 0));
        heap.push(c, s);
      }
    }
  }
  return { dist, turns };
}

/** Where trips from one entry go: its through exit and the weighted turning destinations. */
interface DestinationChoice {
  entry: number;
  tree: RouteTree;
  /** Roads straight through from the entry to an exit, or null (e.g. at a T-junction). */
  through: number[] | null;
  turning: Int32Array;
  cumWeight: Float64Array;
}

function straightThrough(g: RoadGraph, entry: number): number[] | null {
  const path = [entry];
  let r = entry;
  while (g.isExit[r] === 0) {
    let next = -1;
    for (let e = g.succStart[r]; e < g.succStart[r + 1]; e++) if (g.succTurn[e] === STRAIGHT) next = g.succRoad[e];
    if (next < 0 || path.length > g.ids.length) return null;
    path.push(next);
    r = next;
  }
  return path.length >= 2 ? path : null;
}

function destinationChoice(g: RoadGraph, entry: number, o: DemandOptions): DestinationChoice {
  const tree = routeTree(g, entry, o.turnPenalty);
  const through = straightThrough(g, entry);
  const throughExit = through ? through[through.length - 1] : -1;
  const turning: number[] = [];
  const cum: number[] = [];
  let total = 0;
  for (let x = 0; x < g.ids.length; x++) {
    if (g.isExit[x] === 0 || x === throughExit || x === entry || !Number.isFinite(tree.dist[x])) continue;
    const t = tree.turns[x];
    if (t < 1 || t > o.maxTurns) continue;
    const w = Math.pow(o.twoTurnWeight, t - 1);
    if (w <= 0) continue;
    total += w;
    turning.push(x);
    cum.push(total);
  }
  return { entry, tree, through, turning: Int32Array.from(turning), cumWeight: Float64Array.from(cum) };
}

/** One optimal route to `exit`, choosing at random among equally good predecessors. */
function routeTo(g: RoadGraph, choice: DestinationChoice, exit: number, turnPenalty: number, rng: Mt19937): number[] {
  const { dist } = choice.tree;
  const reversed = [exit];
  const options: number[] = [];
  let cur = exit;
  while (cur !== choice.entry) {
    options.length = 0;
    const tol = 1e-9 * Math.max(1, dist[cur]);
    for (let e = g.predStart[cur]; e < g.predStart[cur + 1]; e++) {
      const p = g.predRoad[e];
      const c = dist[p] + g.length[cur] + (g.predTurn[e] !== STRAIGHT ? turnPenalty : 0);
      if (Math.abs(c - dist[cur]) <= tol) options.push(p);
    }
    // Lengths are positive, so dist strictly falls along the walk and it ends at the entry.
    if (options.length === 0 || reversed.length > g.ids.length) throw new Error(`no route from ${g.ids[choice.entry]} to ${g.ids[exit]}`);
    cur = options.length === 1 ? options[0] : options[rng.nextInt(options.length)];
    reversed.push(cur);
  }
  return reversed.reverse();
}

/** Draws one trip's route: through with probability 1 − turningShare, else a turning exit. */
function drawRoute(g: RoadGraph, choice: DestinationChoice, o: DemandOptions, rng: Mt19937): number[] | null {
  const u = rng.nextFloat();
  const canTurn = choice.turning.length > 0;
  if (choice.through && (!canTurn || u >= o.turningShare)) return choice.through;
  if (!canTurn) return null;
  const cum = choice.cumWeight;
  const target = rng.nextFloat() * cum[cum.length - 1];
  let lo = 0, hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return routeTo(g, choice, choice.turning[lo], o.turnPenalty, rng);
}

/** Independent, reproducible streams per (seed, entry, purpose): a murmur3-style mix. */
function streamSeed(seed: number, entry: number, purpose: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [entry, purpose]) {
    h = Math.imul(h ^ (v >>> 0), 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
    h = Math.imul(h, 0x1b873593) ^ 0xe6546b64;
  }
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
const ARRIVALS = 1;
const ROUTES = 2;

/** Entry rate (veh/h) at profile factor 1. */
function entryRate(g: RoadGraph, entry: number, o: DemandOptions): number {
  const perEntry = o.peakVehPerHourPerEntry ?? o.peakVehPerHourPerLane * g.lanes[entry];
  return perEntry * o.headingWeights[g.heading[entry]];
}

/**
 * Arrival seconds of a Poisson process with a rate that is constant within each second
 * (time rescaling: unit exponential gaps on the cumulative rate).
 */
function arrivals(perSecond: Float64Array, scale: number, rng: Mt19937): number[] {
  const out: number[] = [];
  if (scale <= 0) return out;
  let target = -Math.log(1 - rng.nextFloat());
  let acc = 0;
  for (let s = 0; s < perSecond.length; s++) {
    acc += perSecond[s] * scale;
    while (acc >= target) {
      out.push(s);
      target += -Math.log(1 - rng.nextFloat());
    }
  }
  return out;
}

/** Seeded, time-varying demand over [dayOffset, dayOffset + duration) as a CityFlow flow file. */
export function generateDemand(roadnet: CityFlowRoadnet, options: DemandOptionsInput = {}): FlowFile {
  const o = parseSpec(DemandOptionsSchema, options, 'demand options');
  const vehicle: VehicleParams = { ...BENCHMARK_VEHICLE, ...o.vehicle };
  const g = buildRoadGraph(roadnet);
  // Profile factor per second of the window, rate in veh/s per veh/h of peak rate.
  const factor = new Float64Array(o.duration);
  for (let s = 0; s < o.duration; s++) factor[s] = demandFactor(o.profile, o.dayOffset + s + 0.5) / 3600;

  const trips: { time: number; route: number[] }[] = [];
  g.entries.forEach((entry, k) => {
    const times = arrivals(factor, entryRate(g, entry, o), new Mt19937(streamSeed(o.seed, k, ARRIVALS)));
    if (times.length === 0) return;
    const choice = destinationChoice(g, entry, o);
    const rng = new Mt19937(streamSeed(o.seed, k, ROUTES));
    for (const time of times) {
      const route = drawRoute(g, choice, o, rng);
      if (route) trips.push({ time, route });
    }
  });
  trips.sort((a, b) => a.time - b.time); // stable: entries in roadnet order within a second
  return trips.map(
    (t): FlowEntry => ({
      vehicle: { ...vehicle },
      route: t.route.map((r) => g.ids[r]),
      interval: 1,
      startTime: t.time,
      endTime: t.time,
    }),
  );
}

export interface RealisticPeakOptions {
  /** Volume/capacity of the most loaded movement at the profile's highest point. */
  targetVc?: number;
  /**
   * Saturation flow (veh/h per lane of green). 1,400 is what the benchmark vehicle discharges
   * at in the CityFlow model: at ~8–11 m/s it keeps a 2 s headway plus 7.5 m (length + minGap),
   * i.e. 2.5–2.9 s per vehicle, well under the ~1,900 of real streets.
   */
  saturationFlow?: number;
  /** Routes sampled per entry to estimate movement volumes. */
  samplesPerEntry?: number;
}

export interface RealisticPeak {
  /**
   * The peak rate (veh/h at profile factor 1) in the unit the options use: per entry lane
   * (`peakVehPerHourPerLane`), or per entry road if they fix `peakVehPerHourPerEntry`.
   */
  peakVehPerHour: number;
  per: 'lane' | 'entry';
  /** Mean entry-road rate at the profile's highest point (veh/h). */
  meanVehPerHourPerEntry: number;
  /** The approach lane that limits it, the movements it serves and its load at that rate. */
  critical: { road: string; lane: number; serves: TurnType[]; vc: number };
  targetVc: number;
  saturationFlow: number;
}

/**
 * The peak rate that loads the network's busiest approach lane to `targetVc` (default 0.8) of
 * its capacity under the roadnet's own fixed program, at the profile's highest point: busy
 * (queues build and mostly clear each cycle) but not gridlocked. A lane's load is
 * Σ over its movements of volume / (saturation flow × the movement's green share of the
 * cycle), a movement's volume split evenly over the lanes serving it; volumes come from the
 * same OD mix and routes `generateDemand` draws (sampled).
 *
 * For the default grid (4×4, 300 m blocks, 3-lane roads, benchmark program with 30 s greens,
 * 30 % turning) this gives 95 veh/h per entry lane, ~285 veh/h per entry road, ~4,300 veh/h
 * into the grid: the through lane has 60 s of green per 245 s cycle (~340 veh/h) and carries
 * through traffic plus traffic turned in upstream. The textbook 400–700 veh/h per lane
 * assumes g/C of 0.3–0.5 and 1,900 veh/h/lane; here each movement gets g/C ≈ 0.24 and the
 * model discharges ~1,400 veh/h/lane. Checked with the simulator (fixed-time, 07:30–08:30):
 * at this rate ATT ≈ 400 s and nobody is left waiting to enter; at 1.5× it is ≈ 580 s with
 * vehicles queuing outside the network; at 2× ≈ 850 s, gridlocked. (The Jinan benchmark flow
 * `anon_3_4_jinan_real_2000`, ~310 veh/h per entry road, sits at the same point.)
 */
export function realisticPeak(roadnet: CityFlowRoadnet, options: DemandOptionsInput = {}, capacity: RealisticPeakOptions = {}): RealisticPeak {
  const o = parseSpec(DemandOptionsSchema, options, 'demand options');
  const targetVc = capacity.targetVc ?? 0.8;
  const saturationFlow = capacity.saturationFlow ?? 1400;
  const samples = capacity.samplesPerEntry ?? 400;
  const g = buildRoadGraph(roadnet);
  const index = new Map<string, number>();
  g.ids.forEach((id, k) => index.set(id, k));

  // Volume per road-to-road movement for a per-lane rate of 1 veh/h (or per entry, if fixed).
  const unit: DemandOptions = { ...o, peakVehPerHourPerLane: 1, peakVehPerHourPerEntry: o.peakVehPerHourPerEntry === undefined ? undefined : 1 };
  const volume = new Map<number, number>();
  const n = g.ids.length;
  let entryTotal = 0;
  g.entries.forEach((entry, k) => {
    const rate = entryRate(g, entry, unit);
    entryTotal += rate;
    if (rate <= 0) return;
    const choice = destinationChoice(g, entry, o);
    // A fixed seed: the realistic rate is a property of network and OD mix, not of a draw.
    const rng = new Mt19937(streamSeed(0, k, ROUTES));
    for (let s = 0; s < samples; s++) {
      const route = drawRoute(g, choice, o, rng);
      if (!route) continue;
      for (let p = 0; p + 1 < route.length; p++) {
        const key = route[p] * n + route[p + 1];
        volume.set(key, (volume.get(key) ?? 0) + rate / samples);
      }
    }
  });

  let worst = 0;
  let critical: RealisticPeak['critical'] = { road: '', lane: -1, serves: [], vc: 0 };
  for (const it of roadnet.intersections) {
    const links = it.roadLinks ?? [];
    const phases = it.trafficLight?.lightphases ?? [];
    const cycle = phases.reduce((sum, p) => sum + p.time, 0);
    if (it.virtual || links.length === 0 || cycle <= 0) continue;
    const green = new Float64Array(links.length);
    for (const p of phases) for (const l of p.availableRoadLinks) if (l < links.length) green[l] += p.time / cycle;
    // Approach lanes and the movements (road links) each serves; a movement's volume is split
    // evenly over its lanes. A lane's load is the green time its vehicles need over the green
    // time they get: Σ (volume on this lane / (saturation flow × green share)) over its movements.
    const lanesOf = new Map<string, Map<number, number[]>>();
    const lanesServing = new Int32Array(links.length);
    links.forEach((rl, k) => {
      const starts = new Set(rl.laneLinks.map((ll) => ll.startLaneIndex));
      lanesServing[k] = starts.size;
      let lanes = lanesOf.get(rl.startRoad);
      if (!lanes) lanesOf.set(rl.startRoad, (lanes = new Map()));
      for (const lane of starts) {
        const list = lanes.get(lane);
        if (list) list.push(k);
        else lanes.set(lane, [k]);
      }
    });
    for (const [road, lanes] of lanesOf) {
      const a = index.get(road);
      if (a === undefined) continue;
      for (const [lane, movements] of lanes) {
        let load = 0;
        for (const k of movements) {
          const b = index.get(links[k].endRoad);
          const v = b === undefined ? 0 : (volume.get(a * n + b) ?? 0);
          // A movement that is never green has no capacity to scale to; leave it out.
          if (v > 0 && green[k] > 0) load += v / lanesServing[k] / (saturationFlow * green[k]);
        }
        if (load > worst) {
          worst = load;
          critical = { road, lane, serves: movements.map((k) => links[k].type), vc: 0 };
        }
      }
    }
  }
  const peak = maxDemandFactor(o.profile);
  const rate = worst > 0 && peak > 0 ? Math.round((targetVc / (worst * peak)) * 10) / 10 : 0;
  critical.vc = worst * rate * peak;
  return {
    peakVehPerHour: rate,
    per: o.peakVehPerHourPerEntry === undefined ? 'lane' : 'entry',
    meanVehPerHourPerEntry: g.entries.length > 0 ? Math.round((rate * peak * entryTotal) / g.entries.length) : 0,
    critical,
    targetVc,
    saturationFlow,
  };
}

/** `options` with its peak rate replaced by the realistic one for this roadnet. */
export function withRealisticPeak(roadnet: CityFlowRoadnet, options: DemandOptionsInput = {}, capacity: RealisticPeakOptions = {}): DemandOptionsInput {
  const peak = realisticPeak(roadnet, options, capacity);
  return peak.per === 'lane' ? { ...options, peakVehPerHourPerLane: peak.peakVehPerHour } : { ...options, peakVehPerHourPerEntry: peak.peakVehPerHour };
}
