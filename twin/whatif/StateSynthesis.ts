/**
 * Vehicles for a run that starts from the twin's estimated state rather than a snapshot: for
 * each lane, the estimated number of vehicles (rounded stochastically), of which the estimated
 * queue stands packed at the stop line at standstill spacing (length + minimum gap) and the rest
 * drive at the lane's estimated moving speed, spread evenly over the lane behind the queue, each
 * no faster than lets it stop behind the vehicle ahead.
 *
 * Routes: a vehicle on a lane needs a way on from that lane (lanes are not changed). Either the
 * rest of a demand route passing its road (drawn at random among those the lane can drive), or
 * one drawn movement by movement from the observed turning ratios (departures per movement,
 * smoothed) until the network's edge. `auto` tries the demand first.
 *
 * Deterministic for a seed. Vehicles are added front to back per lane, as the engine requires.
 */
import type { Flow } from '../network/importCityFlow.ts';
import type { RoadNetwork } from '../network/RoadNetwork.ts';
import { lanePath } from '../network/route.ts';
import { Mt19937 } from '../random.ts';
import type { Engine } from '../sim/Engine.ts';
import type { TrafficObservation } from '../state/TrafficObservation.ts';

export interface SynthesisOptions {
  seed: number;
  routes: 'demand' | 'turning' | 'auto';
  /** Engine flow position whose vehicle parameters the synthesised vehicles take. */
  templateFlow: number;
  /** Length and minimum gap of that vehicle (m), and its comfortable deceleration (m/s²). */
  vehicleLength: number;
  minGap: number;
  usualNegAcc: number;
  maxSpeed: number;
  /** Longest route drawn from turning ratios (roads). */
  maxRoads?: number;
}

export interface SynthesisStats {
  added: number;
  /** Estimated vehicles that did not fit on their lane or found no drivable route. */
  unplaced: number;
  fromDemand: number;
  fromTurning: number;
}

/** For each road, the demand routes through it: (flow position, offset of the road in its route). */
function routesByRoad(net: RoadNetwork, flows: readonly Flow[]): Map<number, [number, number][]> {
  const m = new Map<number, [number, number][]>();
  flows.forEach((f, i) => {
    f.roads.forEach((r, k) => {
      if (k + 1 >= f.roads.length) return; // a route ending here says nothing about where to go
      let l = m.get(r);
      if (!l) m.set(r, (l = []));
      l.push([i, k]);
    });
  });
  return m;
}

function roundRandom(x: number, rng: Mt19937): number {
  if (!(x > 0)) return 0;
  const f = Math.floor(x);
  return f + (rng.nextFloat() < x - f ? 1 : 0);
}

export function synthesiseVehicles(engine: Engine, net: RoadNetwork, obs: TrafficObservation, flows: readonly Flow[], o: SynthesisOptions): SynthesisStats {
  const rng = new Mt19937((o.seed * 747796405 + 2891336453) >>> 0);
  const stats: SynthesisStats = { added: 0, unplaced: 0, fromDemand: 0, fromTurning: 0 };
  const byRoad = o.routes === 'turning' ? new Map<number, [number, number][]>() : routesByRoad(net, flows);
  const spacing = o.vehicleLength + o.minGap;
  const maxRoads = o.maxRoads ?? 60;
  const departures = obs.movementDepartures;

  /** Next roads from a road (any lane, or the given lane) with their movement's weight. */
  const nextFrom = (road: number, lane: number | null): { road: number; weight: number }[] => {
    const out = new Map<number, number>();
    const lanes = lane === null ? net.roads[road].lanes : [lane];
    for (const l of lanes) {
      for (const k of net.lanes[l].outLinks) {
        const link = net.laneLinks[k];
        const to = net.lanes[link.toLane].road;
        if (!out.has(to)) out.set(to, 0.5 + (departures ? (departures[link.movement] ?? 0) : 0));
      }
    }
    return [...out].map(([r, weight]) => ({ road: r, weight }));
  };
  const pick = <T extends { weight: number }>(xs: T[]): T => {
    let total = 0;
    for (const x of xs) total += x.weight;
    let u = rng.nextFloat() * total;
    for (const x of xs) {
      u -= x.weight;
      if (u < 0) return x;
    }
    return xs[xs.length - 1];
  };
  const turningRoute = (lane: number): number[] | null => {
    const start = net.lanes[lane].road;
    for (let attempt = 0; attempt < 5; attempt++) {
      const roads = [start];
      let options = nextFrom(start, lane);
      while (options.length > 0 && roads.length < maxRoads) {
        const next = pick(options).road;
        roads.push(next);
        if (net.intersections[net.roads[next].to].virtual) break;
        // Avoid circling: never take a road twice.
        options = nextFrom(next, null).filter((x) => !roads.includes(x.road));
      }
      if (roads.length >= 2 && lanePath(net, roads, lane)) return roads;
    }
    return null;
  };
  const demandRoute = (lane: number): number[] | null => {
    const list = byRoad.get(net.lanes[lane].road);
    if (!list || list.length === 0) return null;
    for (let attempt = 0; attempt < 8; attempt++) {
      const [fi, k] = list[rng.nextInt(list.length)];
      const roads = flows[fi].roads.slice(k);
      if (lanePath(net, roads, lane)) return roads;
    }
    return null;
  };
  const routeFor = (lane: number): number[] | null => {
    // A lane with no way on (it ends at the network's edge): the vehicle just leaves.
    if (net.lanes[lane].outLinks.length === 0) return [net.lanes[lane].road];
    if (o.routes !== 'turning') {
      const r = demandRoute(lane);
      if (r) {
        stats.fromDemand++;
        return r;
      }
      if (o.routes === 'demand') return null;
    }
    const r = turningRoute(lane);
    if (r) stats.fromTurning++;
    return r;
  };

  for (const lane of net.lanes) {
    const l = lane.index;
    const n = roundRandom(obs.laneVehicles[l], rng);
    if (n === 0) continue;
    const q = Math.min(n, roundRandom(obs.laneQueue[l], rng));
    const L = lane.length;
    const fits = Math.max(0, Math.floor((L - 0.5) / spacing));
    const queued = Math.min(q, fits);
    let moving = Math.min(n - q, fits - queued);
    stats.unplaced += n - queued - moving;
    // Heads: the queue from the stop line back, then the moving vehicles over what is left.
    const heads: number[] = [];
    const speeds: number[] = [];
    for (let i = 0; i < queued; i++) {
      heads.push(L - 0.5 - i * spacing);
      speeds.push(0);
    }
    const top = queued > 0 ? heads[queued - 1] - spacing : L - 0.5;
    if (moving > 0) {
      const gap = (top - o.vehicleLength) / moving;
      if (gap < spacing) {
        const m = Math.max(0, Math.floor((top - o.vehicleLength) / spacing));
        stats.unplaced += moving - m;
        moving = m;
      }
    }
    const n0 = obs.laneVehicles[l];
    const movingSpeed = n0 - obs.laneQueue[l] > 0 ? Math.min(o.maxSpeed, lane.maxSpeed, (obs.laneSpeed[l] * n0) / (n0 - obs.laneQueue[l])) : lane.maxSpeed;
    const stride = moving > 0 ? (top - o.vehicleLength) / moving : 0;
    for (let j = 0; j < moving; j++) {
      const head = top - (j + 0.5) * stride;
      // Room to the vehicle ahead's tail (or the stop line) must cover the stopping distance.
      const ahead = heads.length > 0 ? heads[heads.length - 1] - o.vehicleLength - o.minGap : L;
      const room = Math.max(0, ahead - head);
      heads.push(head);
      speeds.push(Math.min(Math.max(0, movingSpeed), Math.sqrt(2 * o.usualNegAcc * room)));
    }
    for (let i = 0; i < heads.length; i++) {
      const roads = routeFor(l);
      if (!roads) {
        stats.unplaced++;
        continue;
      }
      const slot = engine.addVehicle(o.templateFlow, l, heads[i], speeds[i], roads);
      if (slot < 0) stats.unplaced++;
      else stats.added++;
    }
  }
  return stats;
}
