/**
 * Emergency-vehicle evaluation: emergency vehicles inserted into the Jinan and Hangzhou flows and
 * into the demo city around its peak, each run twice under the same safe fixed-time control (the
 * roadnet's program through the signal state machines): without and with signal pre-emption.
 * Reports the emergency vehicles' travel time and every other vehicle's ATT both ways, and the
 * routing latency (p50/p99) on a 100×100 (10,000-intersection) synthetic grid. Beside each
 * reduction, its ceiling: the same routes driven at the vehicle's free speed with no wait at all,
 * the most any pre-emption can give. Ordinary vehicles keep to the lanes' limits (as CityFlow's
 * do); the emergency vehicle, on lights, drives at up to `--ev-speed-factor` × the limit (default
 * EMERGENCY_VEHICLE's 1.25, capped at its 50 km/h), in both runs alike; 1 keeps it to the limit.
 *
 * Emergency routes are planned by the router at each dispatch time on the traffic as observed in
 * a run without emergency vehicles, so both runs drive the same routes. On the way each run's
 * tracker predicts the ETA and re-routes as the service does for such a request: with pre-emption
 * on the pre-empted weights, without it on the full signal delays, both at the vehicle's own speed.
 *
 *   npm run eval:emergency [-- --json] [-- --only jinan|hangzhou|hangzhou-5734|demo|routing] [-- --queries 2000]
 *                          [-- --vehicles]  (a line per emergency vehicle: times, its route's free time and the
 *                                            fastest free route's, entry wait, red arrivals)
 *                          [-- --ev-speed-factor 1.25]
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { FlowEntry, FlowFile, VehicleParams } from '../twin/network/cityflowFormat.ts';
import { EMERGENCY_VEHICLE } from '../twin/network/demand.ts';
import { demoCity, generateGrid } from '../twin/network/generator.ts';
import { importFlows, importRoadnet } from '../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import { Mt19937 } from '../twin/random.ts';
import { runEmergencyScenario, type EmergencyRunResult } from '../twin/routing/EmergencyRun.ts';
import type { EmergencyVehicleSpec } from '../twin/routing/EmergencyTracker.ts';
import { FastestRouter, evaluateRoute } from '../twin/routing/FastestRoute.ts';
import { roadGraph, roadGraphFromRoadnet } from '../twin/routing/RoadGraph.ts';
import { PREEMPTED_DELAYS, linkTravelTimes, vehicleTravelTime } from '../twin/routing/TravelTimeModel.ts';
import { Engine } from '../twin/sim/Engine.ts';
import { TruthObserver, type TrafficObservation } from '../twin/state/TrafficObservation.ts';
import { fieldController } from '../signal-controllers/fieldSignals.ts';
import { fixedTimePolicy } from '../signal-controllers/policies/fixedTime.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = resolve(root, '..', 'shared', 'data', 'cityflow');
const log = (s: string) => process.stderr.write(s + '\n');

const { values } = parseArgs({
  options: { json: { type: 'boolean' }, vehicles: { type: 'boolean' }, only: { type: 'string' }, queries: { type: 'string' }, 'ev-speed-factor': { type: 'string' } },
});
const evSpeedFactor = z.coerce
  .number()
  .min(0.5, 'ev-speed-factor: at least 0.5')
  .max(2, 'ev-speed-factor: at most 2')
  .default(EMERGENCY_VEHICLE.speedFactor ?? 1)
  .parse(values['ev-speed-factor']);
/** The emergency vehicle of this run: the service's, with the speed factor asked for. */
const EV: VehicleParams = { ...EMERGENCY_VEHICLE, speedFactor: evSpeedFactor };

interface Case {
  network: string;
  evTravelTimeWith: number;
  evTravelTimeWithout: number;
  otherAttWith: number;
  otherAttWithout: number;
  evReductionPercent: number;
  otherAttChangePercent: number;
  /** Mean time of the emergency routes driven at the vehicle's free speed (limit × factor, capped at its top speed), no wait anywhere. */
  evFreeFlow: number;
  /** The largest reduction pre-emption could give: (without − free flow) / without. */
  ceilingPercent: number;
  evFinishedWith: number;
  evFinishedWithout: number;
  greenOnArrivalWith: number;
  greenOnArrivalWithout: number;
  unsafeStates: number;
  preemptionsServed: number;
  reroutes: number;
  /** Mean |ETA − arrival| (s) of the ETA given as each vehicle entered the field, with pre-emption. */
  etaErrorAtEntry: number;
  wallSeconds: number;
}

/** Boundary entry → far boundary exit pairs, seeded; the far exits are those at ≥ 80 % of the farthest. */
function pickTrips(net: RoadNetwork, count: number, seed: number): [number, number][] {
  const entries = net.roads.filter((r) => net.intersections[r.from].virtual).map((r) => r.index);
  const exits = net.roads.filter((r) => net.intersections[r.to].virtual).map((r) => r.index);
  const rng = new Mt19937(seed);
  const out: [number, number][] = [];
  for (let k = 0; k < count; k++) {
    const a = entries[rng.nextInt(entries.length)];
    const p = net.intersections[net.roads[a].from].point;
    const d = exits.map((x) => {
      const q = net.intersections[net.roads[x].to].point;
      return Math.hypot(p.x - q.x, p.y - q.y);
    });
    const max = Math.max(...d);
    const far = exits.filter((_, i) => d[i] >= 0.8 * max);
    out.push([a, far[rng.nextInt(far.length)]]);
  }
  return out;
}

/** Observations of the traffic without emergency vehicles at the given times (one probe run). */
function probe(net: RoadNetwork, flows: ReturnType<typeof importFlows>, times: number[]): Map<number, TrafficObservation> {
  const engine = new Engine(net, flows, { seed: 0, signalMode: 'external' });
  const control = fieldController(net, fixedTimePolicy(net));
  const observer = new TruthObserver(engine, 60);
  const out = new Map<number, TrafficObservation>();
  const last = Math.max(...times);
  while (engine.time < last) {
    control.beforeStep?.(engine);
    engine.step();
    control.afterStep?.(engine);
    observer.update();
    if (times.includes(engine.time)) out.set(engine.time, observer.observe());
  }
  return out;
}

/** The ETA the tracker gave once the vehicle was in the field (NaN if none). */
function etaAtEntry(v: EmergencyRunResult['vehicles'][number]): number {
  return v.etaHistory.find((h) => h.time >= v.enterTime)?.eta ?? Number.NaN;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

function runCase(name: string, roadnetJson: unknown, flowJson: FlowFile, dispatch: number[], duration: number): Case {
  const t0 = performance.now();
  log(`${name}: importing …`);
  const net = importRoadnet(roadnetJson, name);
  const baseFlows = importFlows(flowJson, net, name);
  const g = roadGraph(net);
  const router = new FastestRouter(g);
  log(`${name}: probe run for the traffic at dispatch times …`);
  const obs = probe(net, baseFlows, dispatch);
  const trips = pickTrips(net, dispatch.length, 7);
  const evEntries: FlowEntry[] = [];
  const specs: EmergencyVehicleSpec[] = [];
  trips.forEach(([from, to], k) => {
    const times = linkTravelTimes(g, obs.get(dispatch[k]) ?? null, { ...PREEMPTED_DELAYS, ...vehicleTravelTime(EV) });
    const route = router.fastestBetweenRoads(from, to, times);
    if (!route) throw new Error(`${name}: no route from ${g.roadIds[from]} to ${g.roadIds[to]}`);
    const index = flowJson.length + evEntries.length;
    evEntries.push({ vehicle: { ...EV }, route: route.roadIds, interval: 1, startTime: dispatch[k], endTime: dispatch[k] });
    specs.push({ vehicle: `flow_${index}_0`, roads: route.roads, dispatchTime: dispatch[k] });
  });
  const flows = importFlows([...flowJson, ...evEntries], net, name);
  const policy = () => fixedTimePolicy(net);
  const run = (preemption: boolean): EmergencyRunResult => {
    log(`${name}: run ${preemption ? 'with' : 'without'} pre-emption …`);
    return runEmergencyScenario(net, flows, policy(), specs, { duration, preemption, router, emergency: { travelTime: { ...(preemption ? PREEMPTED_DELAYS : {}), ...vehicleTravelTime(EV) } } });
  };
  const without = run(false);
  const withP = run(true);
  // An unfinished emergency vehicle counts with its time so far (as CityFlow's ATT does).
  const evTime = (r: EmergencyRunResult) => mean(r.vehicles.map((v) => (Number.isFinite(v.travelTime) ? v.travelTime : duration - v.dispatchTime)));
  const greenShare = (r: EmergencyRunResult) => {
    const a = r.vehicles.flatMap((v) => v.arrivals);
    return a.length ? a.filter((x) => x.green).length / a.length : Number.NaN;
  };
  const evWith = evTime(withP);
  const evWithout = evTime(without);
  // The floor pre-emption cannot beat: each route as driven, at the vehicle's free speed, crossing
  // at the turn speed, no queue and no signal.
  const free = linkTravelTimes(g, null, { signalDelayFactor: 0, ...vehicleTravelTime(EV) });
  const freeTime = (roads: number[]) => evaluateRoute(g, free, roads, free.drive[roads[0]])?.travelTime ?? Number.NaN;
  const roadsOf = (v: EmergencyRunResult['vehicles'][number]) => v.finalRoute.map((id) => g.roadIndex.get(id)!);
  const evFreeFlow = mean(withP.vehicles.map((v) => freeTime(roadsOf(v))));
  const c: Case = {
    network: name,
    evTravelTimeWith: evWith,
    evTravelTimeWithout: evWithout,
    otherAttWith: withP.othersAverageTravelTime,
    otherAttWithout: without.othersAverageTravelTime,
    evReductionPercent: (100 * (evWithout - evWith)) / evWithout,
    otherAttChangePercent: (100 * (withP.othersAverageTravelTime - without.othersAverageTravelTime)) / without.othersAverageTravelTime,
    evFreeFlow,
    ceilingPercent: (100 * (evWithout - evFreeFlow)) / evWithout,
    evFinishedWith: withP.vehicles.filter((v) => Number.isFinite(v.travelTime)).length,
    evFinishedWithout: without.vehicles.filter((v) => Number.isFinite(v.travelTime)).length,
    greenOnArrivalWith: greenShare(withP),
    greenOnArrivalWithout: greenShare(without),
    unsafeStates: withP.controller.unsafeStates + without.controller.unsafeStates,
    preemptionsServed: withP.controller.served,
    reroutes: withP.vehicles.reduce((s, v) => s + v.reroutes, 0),
    etaErrorAtEntry: mean(
      withP.vehicles.filter((v) => Number.isFinite(v.exitTime)).map((v) => Math.abs(etaAtEntry(v) - v.exitTime)),
    ),
    wallSeconds: (performance.now() - t0) / 1000,
  };
  log(
    `${name}: EV travel time ${evWithout.toFixed(1)} → ${evWith.toFixed(1)} s (${c.evReductionPercent.toFixed(1)} % lower; ` +
      `at its free speed with no wait ${evFreeFlow.toFixed(1)} s, a ceiling of ${c.ceilingPercent.toFixed(1)} %), ` +
      `others' ATT ${c.otherAttWithout.toFixed(1)} → ${c.otherAttWith.toFixed(1)} s (${c.otherAttChangePercent >= 0 ? '+' : ''}${c.otherAttChangePercent.toFixed(2)} %), ` +
      `green on arrival ${(100 * c.greenOnArrivalWithout).toFixed(0)} → ${(100 * c.greenOnArrivalWith).toFixed(0)} %, unsafe ${c.unsafeStates}, ETA at entry off by ${c.etaErrorAtEntry.toFixed(1)} s on average, ${c.wallSeconds.toFixed(0)} s`,
  );
  for (const w of withP.controller.warnings.slice(0, 3)) log(`  ${w}`);
  if (values.vehicles) {
    withP.vehicles.forEach((v, k) => {
      const o = without.vehicles[k];
      const roads = roadsOf(v);
      const red = v.arrivals.filter((a) => !a.green).map((a) => a.intersection);
      const best = router.fastestBetweenRoads(roads[0], roads[roads.length - 1], free);
      log(
        `  ${v.vehicle} at ${v.dispatchTime}: ${o.travelTime.toFixed(0)} → ${v.travelTime.toFixed(0)} s, free ${freeTime(roads).toFixed(0)} s ` +
          `(fastest free route ${best ? freeTime(best.roads).toFixed(0) : '?'} s), ` +
          `entry wait ${(v.enterTime - v.dispatchTime).toFixed(0)} s, ${roads.length} roads, stopped at red ${v.stepsStoppedAtRed} steps, ` +
          `not green on arrival ${red.length}/${v.arrivals.length}${red.length ? ` (${red.join(', ')})` : ''}, reroutes ${v.reroutes}, ` +
          `ETA at entry ${(etaAtEntry(v) - v.dispatchTime).toFixed(0)} s`,
      );
    });
  }
  return c;
}

interface RoutingLatency {
  p50: number;
  p99: number;
  cpuP50: number;
  cpuP99: number;
  backToBackP50: number;
  backToBackP99: number;
  settledP50: number;
  settledP99: number;
  altP99: number;
  prepareMs: number;
  load: number;
}

/**
 * Route latency on the 100×100 grid. After a warm-up (JIT, caches), the same query sequence is
 * timed twice: as requests arrive at a service (the event loop idles 1 ms between them, as it
 * does between HTTP requests: the reported p50/p99), and back to back in one busy loop (printed
 * too). On a shared machine the busy loop's tail is the scheduler's time slices, not the search:
 * a query straddling the end of a slice waits for the other processes' turn.
 */
async function routingLatency(queries: number): Promise<RoutingLatency> {
  log('routing: generating the 100×100 grid …');
  const rn = generateGrid({ rows: 100, cols: 100 });
  const g = roadGraphFromRoadnet(rn);
  const router = new FastestRouter(g);
  // Free-flow picture with a pseudo-random queue on every lane, so link times are not uniform.
  const rng = new Mt19937(11);
  const nL = g.nLanes;
  const q = Float64Array.from({ length: nL }, () => (rng.nextFloat() < 0.3 ? rng.nextInt(8) : 0));
  const obs: TrafficObservation = {
    time: 0,
    laneVehicles: Float64Array.from(q, (x) => x + (rng.nextFloat() < 0.5 ? 2 : 0)),
    laneQueue: q,
    laneSpeed: Float64Array.from({ length: nL }, () => 6 + 5 * rng.nextFloat()),
    laneArrivals: new Float64Array(nL),
    movementDepartures: new Float64Array(g.nMovements),
    interval: 60,
    laneConfidence: new Float64Array(nL).fill(1),
  };
  const times = linkTravelTimes(g, obs, PREEMPTED_DELAYS);
  log('routing: landmark tables on the traffic picture …');
  const p0 = performance.now();
  router.prepare(times);
  const prepareMs = performance.now() - p0;
  const signalised = rn.intersections.filter((i) => !i.virtual).map((i) => i.id);
  const pairs = Array.from({ length: queries }, () => [signalised[rng.nextInt(signalised.length)], signalised[rng.nextInt(signalised.length)]] as const);
  const one = (a: string, b: string) => router.route({ from: { intersection: a }, to: { intersection: b } }, times);
  log('routing: warm-up (500 queries) …');
  for (let k = 0; k < 500; k++) one(signalised[rng.nextInt(signalised.length)], signalised[rng.nextInt(signalised.length)]);
  const wall: number[] = [];
  const cpu: number[] = [];
  const settled: number[] = [];
  const alt: number[] = [];
  const idle = () => new Promise<void>((r) => setTimeout(r, 1));
  log(`routing: ${queries} intersection-to-intersection queries as requests …`);
  for (let k = 0; k < queries; k++) {
    await idle();
    const [a, b] = pairs[k];
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    one(a, b);
    const w = performance.now() - t0;
    const c = process.cpuUsage(c0);
    wall.push(w);
    cpu.push((c.user + c.system) / 1000);
    settled.push(router.lastStats.settled);
    if (k % 10 === 0) {
      await idle();
      const t1 = performance.now();
      router.route({ from: { intersection: a }, to: { intersection: b }, alternatives: 2 }, times);
      alt.push(performance.now() - t1);
    }
  }
  log(`routing: the same ${queries} back to back …`);
  const busy: number[] = [];
  for (const [a, b] of pairs) {
    const t0 = performance.now();
    one(a, b);
    busy.push(performance.now() - t0);
  }
  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((x, y) => x - y);
    return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
  };
  const r: RoutingLatency = {
    p50: pct(wall, 0.5),
    p99: pct(wall, 0.99),
    cpuP50: pct(cpu, 0.5),
    cpuP99: pct(cpu, 0.99),
    backToBackP50: pct(busy, 0.5),
    backToBackP99: pct(busy, 0.99),
    settledP50: pct(settled, 0.5),
    settledP99: pct(settled, 0.99),
    altP99: pct(alt, 0.99),
    prepareMs,
    load: loadavg()[0],
  };
  log(
    `routing: 10,000 intersections, ${g.nRoads} roads: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms wall (CPU p50 ${r.cpuP50.toFixed(2)}, p99 ${r.cpuP99.toFixed(2)} ms; ` +
      `roads settled p50 ${r.settledP50}, p99 ${r.settledP99}); back to back p50 ${r.backToBackP50.toFixed(2)}, p99 ${r.backToBackP99.toFixed(2)} ms; ` +
      `with 2 alternatives p99 ${r.altP99.toFixed(2)} ms; tables built in ${r.prepareMs.toFixed(0)} ms per traffic picture; load average ${r.load.toFixed(1)} on ${cpus().length} cores`,
  );
  return r;
}

const only = values.only;
const cases: Case[] = [];
const want = (k: string) => !only || only === k;
const readJson = (f: string): unknown => JSON.parse(readFileSync(f, 'utf8'));

// The standard flow of each data set, plus Hangzhou's heavier one (its busiest hour of the set).
for (const [key, dir, roadnet, flow] of [
  ['jinan', 'jinan', 'roadnet_3_4.json', 'anon_3_4_jinan_real.json'],
  ['hangzhou', 'hangzhou', 'roadnet_4_4.json', 'anon_4_4_hangzhou_real.json'],
  ['hangzhou-5734', 'hangzhou', 'roadnet_4_4.json', 'anon_4_4_hangzhou_real_5734.json'],
] as const) {
  if (!want(key) && !(only === 'hangzhou' && key.startsWith('hangzhou'))) continue;
  const rf = join(shared, dir, roadnet);
  const ff = join(shared, dir, flow);
  if (!existsSync(rf) || !existsSync(ff)) {
    log(`eval:emergency: ${rf} or ${ff} is absent; skipping ${key}`);
    continue;
  }
  // The real flows are busy all hour; emergency calls every 5 minutes from 10 to 45 minutes in.
  cases.push(runCase(key, readJson(rf), readJson(ff) as FlowFile, [600, 900, 1200, 1500, 1800, 2100, 2400, 2700], 3600));
}
if (want('demo')) {
  const city = demoCity(0);
  // Peak at 08:15 = 2,700 s into the 07:30 window: calls every 3 minutes from 08:00 to 08:21.
  cases.push(runCase('demo-city', city.roadnet, city.flows, [1800, 1980, 2160, 2340, 2520, 2700, 2880, 3060], 3600));
}
let routing: RoutingLatency | null = null;
if (want('routing')) routing = await routingLatency(Number(values.queries ?? 2000));

if (values.json) {
  process.stdout.write(
    JSON.stringify({
      evSpeedFactor,
      cases: cases.map((c) => ({
        network: c.network,
        evTravelTimeWith: c.evTravelTimeWith,
        evTravelTimeWithout: c.evTravelTimeWithout,
        otherAttWith: c.otherAttWith,
        otherAttWithout: c.otherAttWithout,
        evReductionPercent: c.evReductionPercent,
        otherAttChangePercent: c.otherAttChangePercent,
        evFreeFlow: c.evFreeFlow,
        ceilingPercent: c.ceilingPercent,
        greenOnArrivalWith: c.greenOnArrivalWith,
        unsafeStates: c.unsafeStates,
      })),
      routeP99Ms: routing?.p99 ?? null,
      routeP50Ms: routing?.p50 ?? null,
      routeCpuP99Ms: routing?.cpuP99 ?? null,
      routeBackToBackP99Ms: routing?.backToBackP99 ?? null,
      routeWithAlternativesP99Ms: routing?.altP99 ?? null,
      routePrepareMs: routing?.prepareMs ?? null,
    }) + '\n',
  );
} else {
  if (cases.length) process.stdout.write(`emergency vehicle: up to ${evSpeedFactor} × the posted limit, top speed ${EV.maxSpeed} m/s (both runs)\n`);
  for (const c of cases) {
    process.stdout.write(
      `${c.network.padEnd(10)} EV ${c.evTravelTimeWithout.toFixed(1).padStart(7)} → ${c.evTravelTimeWith.toFixed(1).padStart(7)} s (−${c.evReductionPercent.toFixed(1)} %)   ` +
        `others' ATT ${c.otherAttWithout.toFixed(1)} → ${c.otherAttWith.toFixed(1)} s (${c.otherAttChangePercent >= 0 ? '+' : ''}${c.otherAttChangePercent.toFixed(2)} %)   ` +
        `ceiling −${c.ceilingPercent.toFixed(1)} % (${c.evFreeFlow.toFixed(1)} s at free speed)   unsafe ${c.unsafeStates}\n`,
    );
  }
  if (routing)
    process.stdout.write(
      `routing    p50 ${routing.p50.toFixed(2)} ms   p99 ${routing.p99.toFixed(2)} ms (CPU p50 ${routing.cpuP50.toFixed(2)}, p99 ${routing.cpuP99.toFixed(2)} ms; back to back p99 ${routing.backToBackP99.toFixed(2)} ms; load ${routing.load.toFixed(1)})\n`,
    );
}
