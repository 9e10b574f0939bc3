/**
 * Arterial coordination: green waves along corridors. A corridor is a chain of signalised
 * intersections linked by straight movements (a row or column of a grid, one direction). Each
 * coordinated intersection runs a fixed-time plan on a cycle common to the whole network, its
 * corridor's straight phase first, offset from the previous intersection by the travel time
 * between their stop lines at the progression speed — so a platoon released by one green
 * arrives at the next on green. The progression speed is the speed limit until traffic has been
 * seen, then the measured cruising speed (vehicles may drive below the limit).
 *
 * Plans are recomputed every `replanEvery` seconds from measured demand: Webster's splits, the
 * common cycle = the largest intersection's Webster cycle, and the corridors chosen greedily by
 * the straight flow they carry (each intersection in at most one; before any measurement, the
 * longest corridors, and the program's own splits). Offsets then follow the chosen direction.
 */
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { makePlan, scheduledPhase, type PlanTemplate } from '../plans.ts';
import type { IntersectionController, SignalPolicy } from '../policy.ts';
import type { SignalView } from '../SignalStateMachine.ts';
import { MIN_GREEN_FLOOR_S } from '../SafetyValidator.ts';
import type { TimingPlan } from '../TimingPlan.ts';
import { DemandMeter } from './demandMeter.ts';
import { controlSites, type CommonOptions, type Site } from './sites.ts';
import { SATURATION_FLOW, criticalRatios, planPhases, websterTiming } from './webster.ts';

export interface CorridorStop {
  intersection: number;
  /** Local index of the corridor's straight movement there. */
  movement: number;
  /** Distance from the corridor's first stop line to this one (m). */
  distance: number;
  /** Travel time from the corridor's first stop line to this one at the speed limits (s). */
  travel: number;
  /** Lanes driven from the previous stop line to this one (none for the first). */
  lanes: number[];
}

/** Chains of signalised intersections linked by straight movements, longest first. */
export function findCorridors(net: RoadNetwork, signalised: ReadonlySet<number>): CorridorStop[][] {
  type Node = { i: number; m: number };
  const key = (n: Node) => `${n.i}:${n.m}`;
  const straightFrom = new Map<number, Node>(); // road → straight movement at its end
  for (const i of signalised) {
    net.intersections[i].movements.forEach((g, local) => {
      const mv = net.movements[g];
      if (mv.type === 'go_straight') straightFrom.set(mv.fromRoad, { i, m: local });
    });
  }
  const next = new Map<string, { node: Node; travel: number; distance: number; lanes: number[] }>();
  const hasPred = new Set<string>();
  for (const node of straightFrom.values()) {
    const mv = net.movements[net.intersections[node.i].movements[node.m]];
    const succ = straightFrom.get(mv.toRoad);
    if (!succ) continue;
    // Stop line to stop line: through the intersection, then along the next road's lane.
    const link = net.laneLinks[mv.laneLinks[0]];
    const lane = net.lanes[link.toLane];
    next.set(key(node), { node: succ, travel: (link.length + lane.length) / lane.maxSpeed, distance: link.length + lane.length, lanes: [...net.roads[mv.toRoad].lanes] });
    hasPred.add(key(succ));
  }
  const chains: CorridorStop[][] = [];
  for (const node of straightFrom.values()) {
    if (hasPred.has(key(node)) || !next.has(key(node))) continue;
    const chain: CorridorStop[] = [{ intersection: node.i, movement: node.m, distance: 0, travel: 0, lanes: [] }];
    const seen = new Set([key(node)]);
    for (let cur = next.get(key(node)); cur && !seen.has(key(cur.node)); cur = next.get(key(cur.node))) {
      seen.add(key(cur.node));
      const prev = chain[chain.length - 1];
      chain.push({ intersection: cur.node.i, movement: cur.node.m, distance: prev.distance + cur.distance, travel: prev.travel + cur.travel, lanes: cur.lanes });
    }
    chains.push(chain);
  }
  return chains.sort((a, b) => b.length - a.length);
}

export interface CoordinatedOptions extends CommonOptions {
  /** Seconds between re-plans. */
  replanEvery?: number;
  /** Cycle before any demand is measured (s). */
  initialCycle?: number;
  minCycle?: number;
  maxCycle?: number;
  minGreen?: number;
  saturationFlow?: number;
  /** Offsets along the corridors (default); false = every offset 0, for comparison. */
  progression?: boolean;
}

interface Coordination {
  /** Per site: its corridor stop, if coordinated, and the travel time to it at the progression speed. */
  stop: Map<number, CorridorStop & { offset: number }>;
  cycle: number;
}

export function coordinatedPolicy(net: RoadNetwork, opts: CoordinatedOptions = {}): SignalPolicy {
  const every = opts.replanEvery ?? 600;
  const minG = Math.max(MIN_GREEN_FLOOR_S, opts.minGreen ?? 7);
  const sat = opts.saturationFlow ?? SATURATION_FLOW;
  const { sites, warnings } = controlSites(net, opts);
  const corridors = findCorridors(net, new Set(sites.map((s) => s.index)));
  const templates = new Map<number, PlanTemplate>(sites.map((s) => [s.index, planPhases(s, opts.phases !== undefined)]));
  const meters = new Map<number, DemandMeter>(sites.map((s) => [s.index, new DemandMeter(s)]));
  const demand = new Map<number, Float64Array>();

  /** Corridors by the straight flow they carry (length before measurements); each intersection once. */
  const choose = (cycle: number, obs: TrafficObservation | null): Coordination => {
    const weight = (c: CorridorStop[]) => c.reduce((s, st) => s + (demand.get(st.intersection)?.[st.movement] ?? 0), 0);
    const ranked = demand.size > 0 ? [...corridors].sort((a, b) => weight(b) - weight(a) || b.length - a.length) : corridors;
    const stop = new Map<number, CorridorStop & { offset: number }>();
    for (const c of ranked) {
      if (c.some((st) => stop.has(st.intersection))) continue;
      const ratio = obs ? cruisingRatio(c, obs) : 1;
      for (const st of c) stop.set(st.intersection, { ...st, offset: st.travel / ratio });
    }
    return { stop, cycle };
  };

  /**
   * Progression speed as a share of the speed limits: the median speed of the corridor's lanes
   * that have moving traffic and no queue (vehicles may cruise below the limit), in [0.5, 1].
   */
  const cruisingRatio = (c: CorridorStop[], obs: TrafficObservation): number => {
    const ratios: number[] = [];
    for (const st of c)
      for (const l of st.lanes)
        if (obs.laneVehicles[l] > 0 && obs.laneQueue[l] === 0) ratios.push(obs.laneSpeed[l] / net.lanes[l].maxSpeed);
    if (ratios.length === 0) return 1;
    ratios.sort((a, b) => a - b);
    return Math.min(1, Math.max(0.5, ratios[Math.floor(ratios.length / 2)]));
  };

  const planFor = (site: Site, co: Coordination, version: number, now: number): TimingPlan => {
    const t = templates.get(site.index)!;
    const lost = t.yellow.map((y, k) => y + t.allRed[k]);
    const L = lost.reduce((a, b) => a + b, 0);
    const d = demand.get(site.index);
    // Before any measurement, the roadnet program's own splits.
    const program = net.intersections[site.index].phases;
    const y = d ? criticalRatios(t, site, d, sat) : t.phaseIds.map((id) => Math.max(1, program[id].time));
    const Y = y.reduce((a, b) => a + b, 0);
    const greens = y.map((v) => (Y > 0 ? ((co.cycle - L) * v) / Y : (co.cycle - L) / y.length));
    const st = co.stop.get(site.index);
    // The corridor's straight phase runs first; the offset puts its green start on the wave.
    const first = st ? Math.max(0, t.movements.findIndex((ms) => ms.includes(st.movement))) : 0;
    const sequence = [first, ...t.phaseIds.map((_, k) => k).filter((k) => k !== first)];
    const draft = makePlan(t, { control: 'fixed-time', green: greens, minGreen: minG, maxGreen: Math.max(minG, co.cycle), sequence, version, validFrom: now });
    // Clamping greens may change the cycle: stretch the first (coordinated) green to keep it common.
    const spare = co.cycle - draft.cycle;
    const green = greens.map((g) => Math.max(minG, g));
    if (spare > 0) green[first] += spare;
    return makePlan(t, { control: 'fixed-time', green, minGreen: minG, maxGreen: Math.max(minG, ...green), sequence, version, validFrom: now, offset: st && (opts.progression ?? true) ? st.offset : 0 });
  };

  const commonCycle = (): number => {
    let c = opts.minCycle ?? 40;
    for (const s of sites) {
      const t = templates.get(s.index)!;
      const d = demand.get(s.index);
      const lost = t.yellow.map((y, k) => y + t.allRed[k]);
      const need = lost.reduce((a, b) => a + b, 0) + t.phaseIds.length * minG;
      const w = d ? websterTiming(criticalRatios(t, s, d, sat), lost, opts.minCycle ?? 40, opts.maxCycle ?? 150).cycle : (opts.initialCycle ?? 80);
      c = Math.max(c, w, need);
    }
    return c;
  };

  let co = choose(commonCycle(), null);
  const plans = new Map<number, TimingPlan>(sites.map((s) => [s.index, planFor(s, co, 0, 0)]));
  let nextReplan = every;
  let replannedFor = -1;
  const fresh = new Set<number>();

  const controllers: IntersectionController[] = sites.map((site) => ({
    intersection: site.index,
    plan: plans.get(site.index)!,
    decide(obs: TrafficObservation, now: number, _sig: SignalView) {
      const meter = meters.get(site.index)!;
      meter.record(obs, now);
      // The first controller to reach a re-plan time measures everybody and re-plans the network.
      if (now >= nextReplan - 1e-9 && replannedFor !== nextReplan) {
        replannedFor = nextReplan;
        for (const s of sites) {
          const d = meters.get(s.index)!.take(obs, now);
          if (!(d.period > 0)) continue;
          const prev = demand.get(s.index);
          demand.set(s.index, prev ? prev.map((x, m) => 0.5 * d.flow[m] + 0.5 * x) : d.flow.slice());
        }
        co = choose(commonCycle(), obs);
        for (const s of sites) {
          plans.set(s.index, planFor(s, co, plans.get(s.index)!.version + 1, now));
          fresh.add(s.index);
        }
        nextReplan += every;
      }
      const plan = plans.get(site.index)!;
      const publish = fresh.delete(site.index);
      return { request: scheduledPhase(plan, now), ...(publish ? { plan } : {}) };
    },
  }));
  return { controllers, observationWindow: 1, warnings };
}
