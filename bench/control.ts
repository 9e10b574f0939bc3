/**
 * Signal-control benchmark: every controller on every Jinan and Hangzhou flow file, with the
 * benchmark's 5 s clearance (yellow + all-red) so that the figures compare with targets.md.
 *
 *   npm run bench:control [-- --json] [-- --only jinan|hangzhou] [-- --controllers a,b] [-- --real]
 *
 * Per run: CityFlow's ATT (unfinished vehicles charged their time so far), finished, average
 * queue (standing vehicles per approach lane of the signalised intersections, averaged over
 * time), stops and delay per vehicle (from the finished trips only: vehicles still in the
 * network at the end have no trip record), the worst movement delay (stopped vehicle-seconds
 * on a movement's approach lanes per vehicle that queued there: departed or still there at the
 * end), unsafe signal states and phase switches. `name[1,2,3,4]` = choosing among phases 1–4.
 */
import { existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadCityFlow } from '../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { Engine } from '../twin/sim/Engine.ts';
import { runSimulation } from '../twin/sim/runSimulation.ts';
import { CONTROLLERS, controllerNames } from '../signal-controllers/registry.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = resolve(root, '..', 'shared', 'data', 'cityflow');
const DATASETS: Record<string, { roadnet: string; flows: string[] }> = {
  jinan: { roadnet: 'roadnet_3_4.json', flows: ['anon_3_4_jinan_real.json', 'anon_3_4_jinan_real_2000.json', 'anon_3_4_jinan_real_2500.json'] },
  hangzhou: {
    roadnet: 'roadnet_4_4.json',
    flows: ['anon_4_4_hangzhou_real.json', 'anon_4_4_hangzhou_real_5734.json', 'anon_4_4_hangzhou_real_5816.json'],
  },
};
/** CityFlow's own controller runs on the *_real files (targets.md). */
const CITYFLOW_TARGETS: Record<string, Record<string, { att: number; finished: number }>> = {
  'anon_3_4_jinan_real.json': {
    fixed30: { att: 516.79, finished: 4971 },
    'fixed30[1,2,3,4]': { att: 507.09, finished: 4945 },
    maxpressure: { att: 353.28, finished: 5608 },
    'maxpressure[1,2,3,4]': { att: 345.99, finished: 5635 },
  },
  'anon_4_4_hangzhou_real.json': {
    fixed30: { att: 590.52, finished: 2412 },
    'fixed30[1,2,3,4]': { att: 580.64, finished: 2438 },
    maxpressure: { att: 360.8, finished: 2706 },
    'maxpressure[1,2,3,4]': { att: 380.52, finished: 2688 },
  },
};
const DEFAULT_RUNS = [
  'cityflow',
  'fixed',
  'fixed30',
  'fixed30[1,2,3,4]',
  'maxpressure',
  'maxpressure[1,2,3,4]',
  'webster',
  'actuated',
  'latency-feedback',
  'forecast-aware',
  'coordinated',
];
/** Our adaptive controllers, among which the best is compared with max-pressure. */
const ADAPTIVE = ['webster', 'actuated', 'latency-feedback', 'forecast-aware', 'coordinated'];

export interface ControlRow {
  dataset: string;
  flow: string;
  controller: string;
  averageTravelTime: number;
  finished: number;
  averageQueue: number;
  stopsPerVehicle: number;
  delayPerVehicle: number;
  worstMovementDelay: number;
  unsafeStates: number;
  phaseSwitches: number;
  wallSeconds: number;
  cityflowAtt?: number;
  cityflowFinished?: number;
}

/** Queue and movement-delay bookkeeping over a run, from the engine's per-step figures. */
class RunMeter {
  private readonly approach: number[];
  private readonly vehicles: Int32Array;
  private readonly waiting: Int32Array;
  private queueSum = 0;
  private steps = 0;
  private readonly stopped: Float64Array;
  private readonly departures: Float64Array;
  private readonly linkMovement: Int32Array;
  private readonly laneMovements: number[][];

  constructor(private readonly net: RoadNetwork) {
    const lanes = new Set<number>();
    this.laneMovements = net.lanes.map(() => []);
    for (const m of net.movements) {
      if (net.intersections[m.intersection].virtual) continue;
      for (const k of m.laneLinks) {
        const l = net.laneLinks[k].fromLane;
        lanes.add(l);
        if (!this.laneMovements[l].includes(m.index)) this.laneMovements[l].push(m.index);
      }
    }
    this.approach = [...lanes];
    this.vehicles = new Int32Array(net.lanes.length);
    this.waiting = new Int32Array(net.lanes.length);
    this.stopped = new Float64Array(net.lanes.length);
    this.departures = new Float64Array(net.movements.length);
    this.linkMovement = Int32Array.from(net.laneLinks, (l) => l.movement);
  }

  afterStep(e: Engine): void {
    e.laneCounts(this.vehicles, this.waiting);
    let q = 0;
    for (const l of this.approach) {
      q += this.waiting[l];
      this.stopped[l] += this.waiting[l] * e.dt;
    }
    this.queueSum += q / Math.max(1, this.approach.length);
    this.steps++;
    const nL = e.nLanes;
    e.forEachMove((_v, from, _to, via) => {
      if (from < nL && via >= nL) this.departures[this.linkMovement[via - nL]]++;
    });
  }

  averageQueue(): number {
    return this.steps > 0 ? this.queueSum / this.steps : 0;
  }

  /** Largest stopped delay per queued vehicle over the movements (shared lanes split by departures). */
  worstMovementDelay(): number {
    const perMovementStopped = new Float64Array(this.net.movements.length);
    const perMovementVehicles = new Float64Array(this.net.movements.length);
    for (const l of this.approach) {
      const ms = this.laneMovements[l];
      let d = 0;
      for (const m of ms) d += this.departures[m];
      for (const m of ms) {
        const share = d > 0 ? this.departures[m] / d : 1 / ms.length;
        perMovementStopped[m] += this.stopped[l] * share;
        perMovementVehicles[m] += this.vehicles[l] * share;
      }
    }
    let worst = 0;
    for (let m = 0; m < this.net.movements.length; m++) {
      const n = this.departures[m] + perMovementVehicles[m];
      if (perMovementStopped[m] > 0) worst = Math.max(worst, perMovementStopped[m] / Math.max(1, n));
    }
    return worst;
  }
}

function parseRun(run: string): { name: string; phases?: number[] } {
  const m = /^([\w-]+)(?:\[([\d,]+)\])?$/.exec(run);
  if (!m || !CONTROLLERS[m[1]]) throw new Error(`unknown controller "${run}"; known: ${controllerNames().join(', ')}`);
  return { name: m[1], phases: m[2]?.split(',').map(Number) };
}

function runOne(dataset: string, flow: string, run: string, net: RoadNetwork, flows: ReturnType<typeof loadCityFlow>['flows']): ControlRow {
  const { name, phases } = parseRun(run);
  const ctl = CONTROLLERS[name].create(net, { phases, clearanceFloor: 5 });
  const meter = new RunMeter(net);
  const t0 = performance.now();
  const { engine, summary } = runSimulation(net, flows, {
    duration: 3600,
    signalMode: ctl.signalMode,
    recordTrips: true,
    beforeStep: ctl.beforeStep,
    afterStep: (e) => {
      ctl.afterStep?.(e);
      meter.afterStep(e);
    },
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  const report = ctl.report();
  const trips = engine.trips;
  const target = CITYFLOW_TARGETS[flow]?.[run];
  return {
    dataset,
    flow,
    controller: run,
    averageTravelTime: summary.averageTravelTime,
    finished: summary.finished,
    averageQueue: meter.averageQueue(),
    stopsPerVehicle: trips.length > 0 ? trips.reduce((s, t) => s + t.stops, 0) / trips.length : 0,
    delayPerVehicle: trips.length > 0 ? trips.reduce((s, t) => s + t.delay, 0) / trips.length : 0,
    worstMovementDelay: meter.worstMovementDelay(),
    unsafeStates: report.unsafeStates,
    phaseSwitches: report.phaseSwitches,
    wallSeconds,
    ...(target ? { cityflowAtt: target.att, cityflowFinished: target.finished } : {}),
  };
}

function main(): void {
  const { values } = parseArgs({
    options: { json: { type: 'boolean' }, only: { type: 'string' }, controllers: { type: 'string' }, real: { type: 'boolean' } },
  });
  const log = (s: string) => process.stderr.write(s + '\n');
  const runs = values.controllers ? values.controllers.split(/,(?![^[]*\])/) : DEFAULT_RUNS;
  for (const r of runs) parseRun(r);
  const rows: ControlRow[] = [];
  if (!existsSync(shared)) {
    log(`bench:control: ${shared} is absent; nothing to run (the Jinan and Hangzhou data sets live in ../shared/data/cityflow)`);
  } else {
    for (const [dataset, ds] of Object.entries(DATASETS)) {
      if (values.only && values.only !== dataset) continue;
      const roadnet = join(shared, dataset, ds.roadnet);
      for (const flow of ds.flows) {
        if (values.real && !flow.endsWith('_real.json')) continue;
        const file = join(shared, dataset, flow);
        if (!existsSync(roadnet) || !existsSync(file)) {
          log(`bench:control: ${existsSync(roadnet) ? file : roadnet} is absent; skipping ${dataset}/${flow}`);
          continue;
        }
        const { network, flows } = loadCityFlow(roadnet, file);
        for (const run of runs) {
          log(`running ${dataset}/${flow} with ${run} …`);
          rows.push(runOne(dataset, flow, run, network, flows));
        }
      }
    }
  }
  const summary = summarise(rows);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
  if (values.json) {
    process.stdout.write(JSON.stringify({ machine, rows, summary }) + '\n');
    return;
  }
  const f = (x: number | undefined, d = 2) => (x === undefined ? '–' : x.toFixed(d));
  console.log(`machine: ${machine}`);
  console.log(
    ['flow', 'controller', 'ATT (s)', 'CityFlow ATT', 'finished', 'CityFlow fin', 'avg queue', 'stops/veh*', 'delay/veh*', 'worst mvt delay', 'unsafe', 'switches'].join(' | '),
  );
  for (const r of rows) {
    console.log(
      [
        r.flow,
        r.controller,
        f(r.averageTravelTime),
        f(r.cityflowAtt),
        r.finished,
        r.cityflowFinished ?? '–',
        f(r.averageQueue),
        f(r.stopsPerVehicle),
        f(r.delayPerVehicle, 1),
        f(r.worstMovementDelay, 1),
        r.unsafeStates,
        r.phaseSwitches,
      ].join(' | '),
    );
  }
  console.log('* over finished trips only: vehicles still in the network at the end have no trip record.');
  for (const s of summary) console.log(s.text);
}

interface Check {
  flow: string;
  check: string;
  value: number;
  target: number;
  pass: boolean;
  text: string;
}

/** The issue's targets, per flow file. */
function summarise(rows: ControlRow[]): Check[] {
  const out: Check[] = [];
  const byFlow = new Map<string, ControlRow[]>();
  for (const r of rows) byFlow.set(r.flow, [...(byFlow.get(r.flow) ?? []), r]);
  for (const [flow, rs] of byFlow) {
    const get = (c: string) => rs.find((r) => r.controller === c);
    for (const r of rs) {
      if (r.cityflowAtt !== undefined && r.controller.startsWith('maxpressure')) {
        const diff = (100 * (r.averageTravelTime - r.cityflowAtt)) / r.cityflowAtt;
        out.push({ flow, check: `${r.controller} vs CityFlow`, value: diff, target: 2, pass: Math.abs(diff) <= 2, text: `${flow}: ${r.controller} ${r.averageTravelTime.toFixed(2)} vs CityFlow ${r.cityflowAtt} (${diff.toFixed(2)} %, target within 2 %)` });
      }
    }
    const mp = get('maxpressure');
    const adaptive = rs.filter((r) => ADAPTIVE.includes(r.controller)).sort((a, b) => a.averageTravelTime - b.averageTravelTime)[0];
    if (mp && adaptive) {
      const ratio = adaptive.averageTravelTime / mp.averageTravelTime;
      out.push({ flow, check: 'best adaptive / maxpressure', value: ratio, target: 0.85, pass: ratio <= 0.85, text: `${flow}: best adaptive ${adaptive.controller} ${adaptive.averageTravelTime.toFixed(2)} = ${ratio.toFixed(3)} × maxpressure (target ≤ 0.85)` });
    }
    const lf = get('latency-feedback');
    const fixed = get('fixed');
    if (lf && fixed) {
      const below = 1 - lf.averageTravelTime / fixed.averageTravelTime;
      out.push({ flow, check: 'latency-feedback below fixed', value: below, target: 0.25, pass: below >= 0.25, text: `${flow}: latency-feedback ${lf.averageTravelTime.toFixed(2)} is ${(100 * below).toFixed(1)} % below fixed ${fixed.averageTravelTime.toFixed(2)} (target ≥ 25 %)` });
    }
    const unsafe = rs.filter((r) => r.controller !== 'cityflow' && r.unsafeStates > 0);
    out.push({ flow, check: 'unsafe states', value: unsafe.length, target: 0, pass: unsafe.length === 0, text: `${flow}: unsafe states outside cityflow: ${unsafe.length === 0 ? 'none' : unsafe.map((r) => `${r.controller} ${r.unsafeStates}`).join(', ')}` });
  }
  return out;
}

main();
