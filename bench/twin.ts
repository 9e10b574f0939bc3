/**
 * Twin evaluation: the field's sensors → messages → the twin's estimate, scored against the
 * truth the twin never sees, on the demo city and (when ../shared/data/cityflow exists) Jinan
 * and Hangzhou, in four sensor scenarios: clean; 10 % of loop detectors faulty (mixed types);
 * camera occlusion at peak density; 2 s latency with 5 % of messages lost.
 *
 * Per scenario: lane-count accuracy (1 − Σ|est − true| / Σ true over lanes and times sampled
 * every 10 s), queue MAE (vehicles per approach lane), turning-ratio error (mean |r̂ − r| per
 * movement over approaches with ≥ 10 departures in the 300 s window, sampled every 60 s),
 * fault-detection precision / recall / median time to detect, and the ATT of max-pressure
 * control on the estimate against the same control on the truth.
 *
 *   npm run eval:twin [-- --json] [-- --only demo|jinan|hangzhou] [-- --duration 3600] [-- --verbose]
 *                     [-- --scenario faulty-10%,latency-2s-drop-5%]
 *
 * Each network runs in its own process (two at a time); --only runs one in this process.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { demoCity } from '../twin/network/generator.ts';
import { importFlows, importRoadnet, loadCityFlow, type Flow } from '../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import { Engine } from '../twin/sim/Engine.ts';
import { planDetectorFaults, type FieldConfigInput } from '../twin/sensors/Field.ts';
import { LoopDetectorBank } from '../twin/sensors/LoopDetector.ts';
import { buildSensorLayout, type SensorLayout } from '../twin/sensors/SensorLayout.ts';
import type { SensedObserver } from '../twin/state/SensedObserver.ts';
import { sensedObservation, type ObservationSourceFactory } from '../signal-controllers/observation.ts';
import { CONTROLLERS, type ControllerInstance } from '../signal-controllers/registry.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = resolve(root, '..', 'shared', 'data', 'cityflow');
const log = (s: string) => process.stderr.write(s + '\n');

const NETWORKS = {
  demo: null,
  jinan: { roadnet: 'jinan/roadnet_3_4.json', flow: 'jinan/anon_3_4_jinan_real.json' },
  hangzhou: { roadnet: 'hangzhou/roadnet_4_4.json', flow: 'hangzhou/anon_4_4_hangzhou_real.json' },
} as const;
type NetworkName = keyof typeof NETWORKS;

export interface ScenarioResult {
  name: string;
  network: string;
  laneCountAccuracy: number;
  queueMae: number;
  turningRatioError: number;
  faultPrecision: number | null;
  /** Recall over all injected faults (the contract's figure). */
  faultRecall: number | null;
  /** Recall over the observable faults only (extra field; see `observable` in runScenario). */
  faultRecallObservable: number | null;
  medianDetectSeconds: number | null;
  attEstimated: number;
  attTruth: number;
}

/** Extra figures for the human-readable table (not in the JSON contract). */
interface ScenarioExtra {
  faults: number;
  flagged: number;
  /** Faults that changed what the loop reported (see `observable`), and the recall over them. */
  observableFaults: number;
  detectedWithin120: number;
  messages: number;
  lost: number;
  cpuSeconds: number;
  /** Flags that hit no injected fault, and injected faults never flagged (for --verbose). */
  falseFlags: string[];
  missed: string[];
}

interface Scenario {
  name: string;
  field: (layout: SensorLayout, seed: number) => FieldConfigInput;
}

const SCENARIOS: Scenario[] = [
  { name: 'clean', field: () => ({}) },
  { name: 'faulty-10%', field: (layout, seed) => ({ detectorFaults: planDetectorFaults(layout, { fraction: 0.1, seed }) }) },
  { name: 'occlusion', field: () => ({ camera: { baseMiss: 0.02, occlusion: 0.4 } }) },
  { name: 'latency-2s-drop-5%', field: () => ({ network: { latency: 2, dropRate: 0.05 } }) },
];

interface Loaded {
  net: RoadNetwork;
  flows: Flow[];
}

function load(name: NetworkName): Loaded | null {
  const spec = NETWORKS[name];
  if (spec === null) {
    const city = demoCity(0);
    const net = importRoadnet(city.roadnet, 'demo city');
    return { net, flows: importFlows(city.flows, net, 'demo city flows') };
  }
  const roadnet = join(shared, spec.roadnet);
  if (!existsSync(roadnet)) return null;
  const { network, flows } = loadCityFlow(roadnet, join(shared, spec.flow));
  return { net: network, flows };
}

/** Truth-side movement departures, cumulative, for turning ratios. */
class TruthTurning {
  readonly cum: Float64Array;
  readonly hist: Float64Array[] = [];
  private readonly linkMovement: Int32Array;
  constructor(private readonly engine: Engine) {
    this.cum = new Float64Array(engine.net.movements.length);
    this.linkMovement = Int32Array.from(engine.net.laneLinks, (k) => k.movement);
  }
  update(): void {
    const nL = this.engine.nLanes;
    this.engine.forEachMove((_s, from, _to, via) => {
      if (from < nL && via >= nL) this.cum[this.linkMovement[via - nL]]++;
    });
    this.hist.push(this.cum.slice());
  }
}

/** The controller both runs use: the registry's max-pressure, on the truth or on the twin. */
function maxPressure(net: RoadNetwork, observation?: ObservationSourceFactory): ControllerInstance {
  return CONTROLLERS.maxpressure.create(net, { observation });
}

function runTruth(data: Loaded, duration: number): number {
  const ctl = maxPressure(data.net);
  const engine = new Engine(data.net, data.flows, { signalMode: ctl.signalMode });
  const steps = Math.round(duration / engine.dt);
  for (let s = 0; s < steps; s++) {
    ctl.beforeStep?.(engine);
    engine.step();
    ctl.afterStep?.(engine);
  }
  return engine.averageTravelTime();
}

function runScenario(network: string, data: Loaded, sc: Scenario, duration: number, attTruth: number): { result: ScenarioResult; extra: ScenarioExtra } {
  const cpu0 = process.cpuUsage();
  const { net } = data;
  const layout = buildSensorLayout(net);
  const fieldConfig = sc.field(layout, 1);
  // The one switch: the same controller, reading the twin's estimate from the field's sensors.
  let sensed: SensedObserver | null = null;
  const ctl = maxPressure(net, sensedObservation({ layout, field: { seed: 7, ...fieldConfig } }, (o) => (sensed = o)));
  const engine = new Engine(net, data.flows, { signalMode: ctl.signalMode });
  // The source is made on the first step; take one step so that the sensors and the twin exist.
  ctl.beforeStep?.(engine);
  engine.step();
  ctl.afterStep?.(engine);
  if (!sensed) throw new Error('max-pressure did not create its observation source');
  const { field, twin } = sensed as SensedObserver;
  const turning = new TruthTurning(engine);
  const steps = Math.round(duration / engine.dt);
  const nL = net.lanes.length;
  const trueVehicles = new Int32Array(nL);
  const trueQueue = new Int32Array(nL);
  let absErr = 0;
  let trueSum = 0;
  let qErr = 0;
  let qN = 0;
  let trErr = 0;
  let trN = 0;
  // Loop crossings as truth for observable faults: a fault-free bank on the same engine.
  const faults = field.faults;
  const crossedAtOnset = new Map<number, number>();
  const shadow = faults.length > 0 ? new LoopDetectorBank(engine, layout.detectors, { intervalSteps: 1 }) : null;
  const approaches = net.intersections
    .filter((i) => !i.virtual)
    .flatMap((inter) => {
      const byRoad = new Map<number, number[]>();
      for (const m of inter.movements) byRoad.set(net.movements[m].fromRoad, [...(byRoad.get(net.movements[m].fromRoad) ?? []), m]);
      return [...byRoad.values()];
    });
  turning.update();
  for (let s = 1; s < steps; s++) {
    ctl.beforeStep?.(engine);
    engine.step();
    ctl.afterStep?.(engine);
    turning.update();
    const t = engine.time;
    if (shadow) {
      shadow.observe();
      for (const f of faults) {
        const at = Math.round(t);
        if (at === Math.round(f.onset)) crossedAtOnset.set(f.detector, shadow.total[f.detector]);
      }
    }
    const k = s + 1;
    if (k % Math.round(10 / engine.dt) === 0) {
      const obs = twin.observe();
      engine.laneCounts(trueVehicles, trueQueue);
      for (let l = 0; l < nL; l++) {
        absErr += Math.abs(obs.laneVehicles[l] - trueVehicles[l]);
        trueSum += trueVehicles[l];
        if (layout.approachLane[l]) {
          qErr += Math.abs(obs.laneQueue[l] - trueQueue[l]);
          qN++;
        }
      }
    }
    if (k % Math.round(60 / engine.dt) === 0 && t >= 300) {
      const W = 300;
      const ratios = twin.turningRatios();
      const est = new Map(ratios.map((r) => [r.movement, r.ratio]));
      const then = turning.hist[Math.max(0, turning.hist.length - 1 - Math.round(W / engine.dt))];
      for (const ms of approaches) {
        const deps = ms.map((m) => turning.cum[m] - then[m]);
        const total = deps.reduce((a, b) => a + b, 0);
        if (total < 10) continue;
        ms.forEach((m, i) => {
          trErr += Math.abs((est.get(m) ?? 0) - deps[i] / total);
          trN++;
        });
      }
      // The truth history only needs the window.
      if (turning.hist.length > 2 * W) turning.hist.splice(0, turning.hist.length - W - 2);
    }
  }
  const att = engine.averageTravelTime();

  // Fault detection against the injected faults.
  const flags = twin.sensorFlags();
  const faultBy = new Map(faults.map((f) => [layout.detectors[f.detector].id, f]));
  let tp = 0;
  const delays: number[] = [];
  for (const f of flags) {
    const injected = faultBy.get(f.sensorId);
    if (injected && f.at >= injected.onset - 1) {
      tp++;
      delays.push(f.at - injected.onset);
    }
  }
  const flaggedIds = new Set(flags.map((f) => f.sensorId));
  // Observable: the fault changed what the loop reported before the run ended. Stuck-on always
  // does (presence with nothing there), dropouts always do (readings missing); stuck-off,
  // chatter and miscounts only if the faulty loop's count differs from a healthy loop's by at
  // least one vehicle (a stuck-off loop on a lane nobody drove, or a 30 % miscount whose draws
  // spared the few vehicles that passed, reports exactly what a healthy loop would: no detector
  // can tell). The recall over all injected faults stays the contract's figure.
  const observable = (f: (typeof faults)[number]) =>
    f.type === 'stuck-on' || f.type === 'dropouts' || Math.abs(field.loops.total[f.detector] - (shadow?.total[f.detector] ?? 0)) >= 1;
  let observableN = 0;
  let observableFound = 0;
  const tpIds = new Set(flags.filter((f) => faultBy.has(f.sensorId) && f.at >= faultBy.get(f.sensorId)!.onset - 1).map((f) => f.sensorId));
  for (const f of faults) {
    if (!observable(f)) continue;
    observableN++;
    if (tpIds.has(layout.detectors[f.detector].id)) observableFound++;
  }
  delays.sort((a, b) => a - b);
  const median = delays.length ? (delays.length % 2 ? delays[delays.length >> 1] : (delays[delays.length / 2 - 1] + delays[delays.length / 2]) / 2) : null;
  const cpu = process.cpuUsage(cpu0);
  return {
    result: {
      name: sc.name,
      network,
      laneCountAccuracy: trueSum > 0 ? 1 - absErr / trueSum : 1,
      queueMae: qN > 0 ? qErr / qN : 0,
      turningRatioError: trN > 0 ? trErr / trN : 0,
      faultPrecision: flags.length > 0 ? tp / flags.length : null,
      faultRecall: faults.length > 0 ? tp / faults.length : null,
      faultRecallObservable: observableN > 0 ? observableFound / observableN : null,
      medianDetectSeconds: median,
      attEstimated: att,
      attTruth,
    },
    extra: {
      faults: faults.length,
      flagged: flags.length,
      observableFaults: observableN,
      detectedWithin120: delays.filter((d) => d <= 120).length,
      messages: field.produced,
      lost: field.lost,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      falseFlags: flags.filter((f) => !faultBy.has(f.sensorId)).map((f) => `${f.sensorId} at ${f.at} s: ${f.reason}: ${f.detail}`),
      missed: faults
        .filter((f) => !flaggedIds.has(layout.detectors[f.detector].id))
        .map((f) => {
          const crossed = (shadow?.total[f.detector] ?? 0) - (crossedAtOnset.get(f.detector) ?? 0);
          const off = field.loops.total[f.detector] - (shadow?.total[f.detector] ?? 0);
          return `${layout.detectors[f.detector].id} ${f.type} (rate ${f.rate}) from ${f.onset} s; ${crossed} vehicles crossed it since, counted ${off >= 0 ? '+' : ''}${off}${observable(f) ? '' : ' (unobservable)'}`;
        }),
    },
  };
}

function runNetwork(name: NetworkName, duration: number, scenarios: Scenario[]): { name: NetworkName; rows: { result: ScenarioResult; extra: ScenarioExtra }[] } | null {
  const data = load(name);
  if (!data) {
    log(`eval:twin: ${shared} is absent; skipping ${name}`);
    return null;
  }
  log(`${name}: max-pressure on the truth …`);
  const attTruth = runTruth(data, duration);
  const rows = scenarios.map((sc) => {
    log(`${name}: ${sc.name} …`);
    return runScenario(name, data, sc, duration, attTruth);
  });
  return { name, rows };
}

function child(name: NetworkName, duration: number, scenarios: Scenario[]): Promise<{ result: ScenarioResult; extra: ScenarioExtra }[]> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--only', name, '--duration', String(duration), '--scenario', scenarios.map((s) => s.name).join(','), '--internal'],
      { cwd: root, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        if (stderr) process.stderr.write(stderr);
        if (err) return reject(err);
        const line = stdout.trim().split('\n').pop() ?? 'null';
        resolvePromise((JSON.parse(line) as { rows: { result: ScenarioResult; extra: ScenarioExtra }[] } | null)?.rows ?? []);
      },
    );
  });
}

const pct = (x: number | null) => (x === null ? '   n/a' : `${(100 * x).toFixed(1).padStart(5)}%`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean' },
      only: { type: 'string' },
      duration: { type: 'string' },
      internal: { type: 'boolean' },
      jobs: { type: 'string' },
      verbose: { type: 'boolean' },
      scenario: { type: 'string' },
    },
  });
  const duration = values.duration ? Number(values.duration) : 3600;
  if (!(duration > 0)) throw new Error('--duration must be a positive number of seconds');
  if (values.only && !(values.only in NETWORKS)) throw new Error(`--only: one of ${Object.keys(NETWORKS).join(', ')}`);
  // A subset of the scenarios (comma-separated names), for iterating on one part.
  const wanted = values.scenario ? values.scenario.split(',').map((x) => x.trim()) : SCENARIOS.map((s) => s.name);
  for (const w of wanted) if (!SCENARIOS.some((s) => s.name === w)) throw new Error(`--scenario: names among ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const scenarios = SCENARIOS.filter((s) => wanted.includes(s.name));
  if (values.internal) {
    const r = runNetwork(values.only as NetworkName, duration, scenarios);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const names = (values.only ? [values.only] : Object.keys(NETWORKS)) as NetworkName[];
  const present = names.filter((n) => {
    if (NETWORKS[n] === null || existsSync(shared)) return true;
    log(`eval:twin: ${shared} is absent; skipping ${n}`);
    return false;
  });
  // Networks in parallel processes, two at a time (the machine has two cores).
  const jobs = Math.max(1, Number(values.jobs ?? 2));
  const out: { result: ScenarioResult; extra: ScenarioExtra }[][] = new Array(present.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(jobs, present.length) }, async () => {
      while (next < present.length) {
        const i = next++;
        out[i] = await child(present[i], duration, scenarios);
      }
    }),
  );
  const rows = out.flat();
  if (values.json) {
    process.stdout.write(JSON.stringify({ scenarios: rows.map((r) => r.result) }) + '\n');
    return;
  }
  const header =
    'network   scenario              lane-acc  queueMAE  turnErr  precision  recall  (observable)  median-det  ≤120s  ATT-est  ATT-truth   Δ%   msgs     lost   cpu-s';
  console.log(header);
  for (const { result: r, extra: x } of rows) {
    console.log(
      [
        r.network.padEnd(9),
        r.name.padEnd(20),
        pct(r.laneCountAccuracy).padStart(8),
        r.queueMae.toFixed(3).padStart(8),
        r.turningRatioError.toFixed(3).padStart(8),
        pct(r.faultPrecision).padStart(9),
        pct(r.faultRecall).padStart(7),
        `${pct(r.faultRecallObservable)} ${x.faults ? `${x.observableFaults}/${x.faults}` : '-'}`.padStart(12),
        (r.medianDetectSeconds === null ? 'n/a' : `${r.medianDetectSeconds.toFixed(0)} s`).padStart(11),
        (x.faults ? `${x.detectedWithin120}/${x.faults}` : '-').padStart(6),
        r.attEstimated.toFixed(1).padStart(8),
        r.attTruth.toFixed(1).padStart(9),
        ((100 * (r.attEstimated - r.attTruth)) / r.attTruth).toFixed(1).padStart(5),
        String(x.messages).padStart(7),
        String(x.lost).padStart(7),
        x.cpuSeconds.toFixed(1).padStart(6),
      ].join('  '),
    );
  }
  if (values.verbose) {
    for (const { result: r, extra: x } of rows) {
      for (const f of x.falseFlags) console.log(`  ${r.network} ${r.name}: false flag ${f}`);
      for (const f of x.missed) console.log(`  ${r.network} ${r.name}: missed ${f}`);
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main().catch((e: unknown) => {
  log(`eval:twin: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
