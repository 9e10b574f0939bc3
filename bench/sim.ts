/**
 * Simulation benchmark: every Jinan and Hangzhou flow file under the roadnet's own fixed program,
 * compared with CityFlow's figures (shared/reference/targets.md), and synthetic 10×10 and 30×30
 * grids at a realistic peak demand. Each case runs in its own process (through the sim CLI) so
 * that its peak memory is its own.
 *
 *   npm run bench:sim [-- --json] [-- --only jinan|hangzhou|grid]
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = resolve(root, '..', 'shared', 'data', 'cityflow');

/** CityFlow 81ee0f4, Δt = 1, 3600 steps, built-in program (targets.md). */
const CITYFLOW: Record<string, { att: number; finished: number }> = {
  'jinan/anon_3_4_jinan_real.json': { att: 444.836696, finished: 5256 },
  'jinan/anon_3_4_jinan_real_2000.json': { att: 378.408018, finished: 4074 },
  'jinan/anon_3_4_jinan_real_2500.json': { att: 403.221696, finished: 4744 },
  'hangzhou/anon_4_4_hangzhou_real.json': { att: 525.275226, finished: 2508 },
  'hangzhou/anon_4_4_hangzhou_real_5734.json': { att: 765.826247, finished: 4592 },
  'hangzhou/anon_4_4_hangzhou_real_5816.json': { att: 537.818299, finished: 3959 },
};
const ROADNET: Record<string, string> = { jinan: 'jinan/roadnet_3_4.json', hangzhou: 'hangzhou/roadnet_4_4.json' };

interface SimResult {
  averageTravelTime: number;
  finished: number;
  vehicleUpdates: number;
  wallSeconds: number;
  vehicleUpdatesPerSecond: number;
  realTimeFactor: number;
  peakMemoryMB: number;
}

interface Row {
  case: string;
  averageTravelTime: number;
  finished: number;
  cityflowAtt?: number;
  cityflowFinished?: number;
  attDiffPercent?: number;
  finishedDiffPercent?: number;
  vehicleUpdates: number;
  vehicleUpdatesPerSecond: number;
  realTimeFactor: number;
  peakMemoryMB: number;
}

function sim(args: string[]): SimResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'twin/sim/cli.ts'), ...args, '--json'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as SimResult;
}

const { values } = parseArgs({ options: { json: { type: 'boolean' }, only: { type: 'string' } } });
const log = (s: string) => process.stderr.write(s + '\n');
const rows: Row[] = [];

if (!existsSync(shared)) {
  log(`bench:sim: ${shared} is absent; skipping the Jinan and Hangzhou cases`);
} else {
  for (const [flow, ref] of Object.entries(CITYFLOW)) {
    const dataset = flow.split('/')[0];
    if (values.only && values.only !== dataset) continue;
    log(`running ${flow} …`);
    // `cityflow`: the raw replay of the roadnet's program, exactly as CityFlow runs it (fidelity).
    const r = sim(['--roadnet', join(shared, ROADNET[dataset]), '--flow', join(shared, flow), '--controller', 'cityflow']);
    rows.push({
      case: flow,
      averageTravelTime: r.averageTravelTime,
      finished: r.finished,
      cityflowAtt: ref.att,
      cityflowFinished: ref.finished,
      attDiffPercent: (100 * (r.averageTravelTime - ref.att)) / ref.att,
      finishedDiffPercent: (100 * (r.finished - ref.finished)) / ref.finished,
      vehicleUpdates: r.vehicleUpdates,
      vehicleUpdatesPerSecond: r.vehicleUpdatesPerSecond,
      realTimeFactor: r.realTimeFactor,
      peakMemoryMB: r.peakMemoryMB,
    });
  }
}
if (!values.only || values.only === 'grid') {
  for (const grid of ['10x10', '30x30']) {
    log(`running grid ${grid} …`);
    const r = sim(['--grid', grid, '--controller', 'cityflow']);
    rows.push({
      case: `grid ${grid}`,
      averageTravelTime: r.averageTravelTime,
      finished: r.finished,
      vehicleUpdates: r.vehicleUpdates,
      vehicleUpdatesPerSecond: r.vehicleUpdatesPerSecond,
      realTimeFactor: r.realTimeFactor,
      peakMemoryMB: r.peakMemoryMB,
    });
  }
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
if (values.json) {
  process.stdout.write(JSON.stringify({ machine, rows }) + '\n');
} else {
  const f = (x: number | undefined, d = 2) => (x === undefined ? '–' : x.toFixed(d));
  console.log(`machine: ${machine}`);
  console.log(
    ['case', 'ATT (s)', 'CityFlow ATT', 'ΔATT %', 'finished', 'CityFlow fin', 'Δfin %', 'Mveh-upd/s', '× real time', 'peak MB'].join(' | '),
  );
  for (const r of rows) {
    console.log(
      [
        r.case,
        f(r.averageTravelTime, 3),
        f(r.cityflowAtt, 3),
        f(r.attDiffPercent, 4),
        r.finished,
        r.cityflowFinished ?? '–',
        f(r.finishedDiffPercent, 3),
        f(r.vehicleUpdatesPerSecond / 1e6, 3),
        f(r.realTimeFactor, 0),
        r.peakMemoryMB,
      ].join(' | '),
    );
  }
  console.log('CityFlow (C++, one thread) on Jinan *_real: 0.98 M vehicle-updates/s on a machine of our kind (targets.md).');
}
