/**
 * What-if speed: simulated seconds per wall second of what-if runs (baseline + scenario, each
 * from the same snapshot) on Hangzhou (real flows) and on a 30×30 synthetic grid at a realistic
 * peak. The scenario closes a central road for part of the horizon, caps the speed on another
 * (incident) and raises the demand entering on one side by 30 %. The field is warmed up first
 * (not timed); the figure is over the what-if run itself.
 *
 *   npm run eval:whatif [-- --json] [-- --only hangzhou|grid] [-- --worker]
 *
 * `realTimeFactor` counts every simulated second (both runs); `horizonRealTimeFactor` is the
 * horizon over the wall time of the whole what-if (what a planner waits for).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { generateDemand, generateGrid, withRealisticPeak } from '../twin/network/generator.ts';
import { importFlows, importRoadnet } from '../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import { Engine } from '../twin/sim/Engine.ts';
import type { ScenarioInput } from '../twin/whatif/Scenario.ts';
import { runWhatIf, type WhatIfResult } from '../twin/whatif/ScenarioRunner.ts';
import { runWhatIfInWorker } from '../twin/whatif/runInWorker.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = resolve(root, '..', 'shared', 'data', 'cityflow');
const log = (s: string) => process.stderr.write(s + '\n');
const { values } = parseArgs({ options: { json: { type: 'boolean' }, only: { type: 'string' }, worker: { type: 'boolean' } } });

interface Row {
  network: string;
  realTimeFactor: number;
  horizonRealTimeFactor: number;
  horizon: number;
  runs: number;
  wallSeconds: number;
  vehiclesAtStart: number;
  attBaseline: number;
  attScenario: number;
  reroutedVehicles: number;
}

/** A central interior road, a second one for the incident, and the entry roads on the west side. */
function scenarioFor(net: RoadNetwork, horizon: number): Omit<ScenarioInput, 'start'> {
  const cx = net.intersections.reduce((s, i) => s + i.point.x, 0) / net.intersections.length;
  const cy = net.intersections.reduce((s, i) => s + i.point.y, 0) / net.intersections.length;
  const interior = net.roads.filter((r) => !net.intersections[r.from].virtual && !net.intersections[r.to].virtual);
  const dist = (r: (typeof interior)[number]) => {
    const p = net.intersections[r.to].point;
    return Math.hypot(p.x - cx, p.y - cy);
  };
  const sorted = [...interior].sort((a, b) => dist(a) - dist(b) || a.index - b.index);
  const minX = Math.min(...net.intersections.map((i) => i.point.x));
  const west = net.roads.filter((r) => net.intersections[r.from].virtual && net.intersections[r.from].point.x === minX).map((r) => r.id);
  return {
    name: 'closure + incident + demand',
    changes: [
      { kind: 'closure', roads: [sorted[0].id], window: { from: 60, until: Math.round(horizon * 0.75) } },
      { kind: 'incident', road: sorted[3].id, speedCap: 3, window: { from: 0, until: Math.round(horizon / 2) } },
      { kind: 'demand', area: { roads: west.length > 0 ? west : [sorted[5].id] }, factor: 1.3 },
    ],
    horizon,
    seeds: 1,
    replay: { enabled: true, every: 5 },
  };
}

async function measure(name: string, roadnet: unknown, flowJson: unknown, warmup: number, horizon: number): Promise<Row> {
  log(`${name}: importing …`);
  const net = importRoadnet(roadnet, name);
  const flows = importFlows(flowJson, net, name);
  log(`${name}: warming the field up for ${warmup} s …`);
  const field = new Engine(net, flows, { seed: 0 });
  field.run(warmup);
  const snapshot = field.snapshot();
  const scenario: ScenarioInput = { ...scenarioFor(net, horizon), start: { kind: 'snapshot', snapshot } } as ScenarioInput;
  log(`${name}: what-if, ${horizon} s horizon, ${field.runningCount} vehicles in the network …`);
  const t0 = performance.now();
  let last = 0;
  const onProgress = (p: { fraction: number }) => {
    if (p.fraction - last >= 0.1) {
      last = p.fraction;
      log(`  ${(100 * p.fraction).toFixed(0)} %`);
    }
  };
  const result: WhatIfResult = values.worker
    ? await runWhatIfInWorker({ roadnet, flows: flowJson, scenario }, { onProgress })
    : runWhatIf({ net, flows }, scenario, { onProgress });
  const wall = (performance.now() - t0) / 1000;
  const runs = 2 * result.seeds.length;
  const row: Row = {
    network: name,
    realTimeFactor: (horizon * runs) / wall,
    horizonRealTimeFactor: horizon / wall,
    horizon,
    runs,
    wallSeconds: wall,
    vehiclesAtStart: field.runningCount,
    attBaseline: result.kpis.att.baseline.mean,
    attScenario: result.kpis.att.scenario.mean,
    reroutedVehicles: result.kpis.reroutedVehicles.scenario.mean,
  };
  log(
    `${name}: ${row.realTimeFactor.toFixed(0)}× real time over ${runs} runs (${row.horizonRealTimeFactor.toFixed(0)}× for the horizon), ` +
      `ATT ${row.attBaseline.toFixed(1)} → ${row.attScenario.toFixed(1)} s, ${row.reroutedVehicles} re-routed, ${wall.toFixed(1)} s wall`,
  );
  return row;
}

const rows: Row[] = [];
if (!values.only || values.only === 'hangzhou') {
  const rf = join(shared, 'hangzhou', 'roadnet_4_4.json');
  const ff = join(shared, 'hangzhou', 'anon_4_4_hangzhou_real.json');
  if (!existsSync(rf) || !existsSync(ff)) log(`eval:whatif: ${rf} or ${ff} is absent; skipping Hangzhou`);
  else rows.push(await measure('hangzhou', JSON.parse(readFileSync(rf, 'utf8')), JSON.parse(readFileSync(ff, 'utf8')), 1200, 1800));
}
if (!values.only || values.only === 'grid') {
  log('grid: generating 30×30 and its realistic-peak demand …');
  const rn = generateGrid({ rows: 30, cols: 30 });
  const demand = generateDemand(rn, withRealisticPeak(rn, { seed: 0 }));
  rows.push(await measure('grid-30x30', rn, demand, 1500, 600));
}

if (values.json) process.stdout.write(JSON.stringify({ runs: rows }) + '\n');
else for (const r of rows) process.stdout.write(`${r.network.padEnd(12)} ${r.realTimeFactor.toFixed(0).padStart(6)}× real time (${r.horizonRealTimeFactor.toFixed(0)}× per horizon)\n`);
