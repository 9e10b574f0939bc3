/**
 * Cost of the service's forecasting loop (server/ForecastService.ts) on a synthetic grid: the
 * per-minute refresh (minute close, one batched forecast of every road, baselines, scoring) and
 * the first training from scratch, driven with synthetic twin observations (a slowdown
 * travelling across the grid) through the service's own clock, with an in-memory database.
 *
 *   npm run bench:forecast-service -- [--grid 30x30] [--hours 5] [--json]
 *
 * Prints wall and CPU milliseconds (the machine may be shared: CPU time is the unloaded cost).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ForecastService } from '../server/ForecastService.ts';
import { openDatabase } from '../server/db/Database.ts';
import { generateGrid } from '../twin/network/generator.ts';
import { importRoadnet } from '../twin/network/importCityFlow.ts';
import type { TrafficObservation } from '../twin/state/TrafficObservation.ts';

const { values } = parseArgs({ options: { grid: { type: 'string' }, hours: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
const opts = z
  .object({
    grid: z.string().regex(/^\d+x\d+$/, 'grid: ROWSxCOLS, e.g. 30x30').default('30x30'),
    hours: z.coerce.number().min(4.5).max(48).default(5),
    json: z.boolean().default(false),
  })
  .parse(values);
const [rows, cols] = opts.grid.split('x').map(Number);
const net = importRoadnet(generateGrid({ rows, cols }), `grid ${opts.grid}`);
const nL = net.lanes.length;
let now = 0;
const observe = (): TrafficObservation => {
  const laneSpeed = new Float64Array(nL);
  for (let l = 0; l < nL; l++) {
    const hour = now / 3600 - 0.02 * (net.lanes[l].road % 20);
    laneSpeed[l] = net.lanes[l].maxSpeed * (1 - 0.6 * Math.exp(-(((hour - 2.5) / 0.8) ** 2))) * (1 + 0.03 * Math.sin(now / 97 + l));
  }
  return {
    time: now,
    laneVehicles: new Float64Array(nL).fill(4),
    laneQueue: new Float64Array(nL),
    laneSpeed,
    laneArrivals: new Float64Array(nL).fill(5),
    movementDepartures: new Float64Array(net.movements.length),
    interval: 60,
    laneConfidence: new Float64Array(nL).fill(1),
  };
};

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
};
const db = await openDatabase({ dataDir: 'memory://' });
const svc = new ForecastService({ network: net, networkName: 'bench', db: db.db, observe, clockOffsetSeconds: 0 });
await svc.start();
const refreshWall: number[] = [];
const refreshCpu: number[] = [];
let training: { wallSeconds: number; cpuSeconds: number } | null = null;
const updates: { wallSeconds: number; cpuSeconds: number }[] = [];
for (let t = 0; t <= opts.hours * 3600; t += 10) {
  now = t;
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  svc.onTick(t);
  if (t % 60 === 0 && t > 0) {
    refreshWall.push(performance.now() - w0);
    refreshCpu.push(cpuMs(c0));
  }
  if (training === null && svc.modelStatus.state === 'training') {
    // The service trains beside its tick; here it is awaited to time it alone.
    const w1 = performance.now();
    const c1 = process.cpuUsage();
    await svc.idle();
    training = { wallSeconds: (performance.now() - w1) / 1000, cpuSeconds: cpuMs(c1) / 1000 };
  } else if (training !== null) {
    // Incremental updates also run beside the tick; awaited here to time each one alone.
    const before = svc.modelStatus.updates;
    const w1 = performance.now();
    const c1 = process.cpuUsage();
    await svc.idle();
    if (svc.modelStatus.updates > before) updates.push({ wallSeconds: (performance.now() - w1) / 1000, cpuSeconds: cpuMs(c1) / 1000 });
  }
}
await svc.idle();
const pick = (a: number[], q: number) => [...a].sort((x, y) => x - y)[Math.floor(a.length * q)];
const result = {
  backend: svc.backend,
  grid: opts.grid,
  roads: net.roads.length,
  simulatedHours: opts.hours,
  refreshMs: { medianWall: +pick(refreshWall, 0.5).toFixed(2), p90Wall: +pick(refreshWall, 0.9).toFixed(2), medianCpu: +pick(refreshCpu, 0.5).toFixed(2), maxWall: +Math.max(...refreshWall).toFixed(2) },
  firstTraining: training && { wallSeconds: +training.wallSeconds.toFixed(1), cpuSeconds: +training.cpuSeconds.toFixed(1) },
  updates: updates.map((u) => ({ wallSeconds: +u.wallSeconds.toFixed(2), cpuSeconds: +u.cpuSeconds.toFixed(2) })),
  model: svc.modelStatus,
};
await svc.stop();
await db.close();
if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  process.stdout.write(
    [
      `forecasting in the service: ${result.roads} roads (grid ${opts.grid}), backend ${result.backend}, ${opts.hours} simulated hours`,
      `per-minute refresh: median ${result.refreshMs.medianWall} ms wall (p90 ${result.refreshMs.p90Wall}, max ${result.refreshMs.maxWall}), median ${result.refreshMs.medianCpu} ms CPU`,
      `first training (${svc.options.trainAfterRows} rows, beside the tick in the service): ${result.firstTraining ? `${result.firstTraining.wallSeconds} s wall, ${result.firstTraining.cpuSeconds} s CPU` : 'not reached'}`,
      `incremental updates: ${result.model.updates}${updates.length ? ` (each, beside the tick in the service: ${result.updates.map((u) => `${u.wallSeconds} s wall / ${u.cpuSeconds} s CPU`).join(', ')})` : ''}`,
    ].join('\n') + '\n',
  );
}
