/**
 * Forecasts as an operator sees them: the whole service on the demo city (field simulation →
 * sensors → ingest → twin estimate → forecaster), started with a fresh database and run faster
 * than real time, read over its real WebSocket 'forecasts' topic. Every simulated hour it prints
 * the running RMSE (km/h) per horizon of the learned model, persistence, the historical average
 * and what was served (per horizon the three combined by their recent skill), scored on the same
 * (road, due minute) pairs once the model forecasts.
 *
 *   npm run eval:forecast-live -- [--hours 12] [--speed 200] [--json]
 *
 * The model is trained by the service itself once 4 simulated hours are recorded (from 07:30),
 * so the figures are those of its first day. Runs are not bit-identical: sensor messages cross
 * real sockets, so the twin's estimate depends on timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { z } from 'zod';
import { ConfigSchema } from '../server/config.ts';
import { ForecastsStateSchema, type ForecastsState } from '../server/ForecastService.ts';
import { startService } from '../server/Service.ts';
import type { ServedWeights } from '../twin/forecast/ForecastAccuracy.ts';

const { values } = parseArgs({ options: { hours: { type: 'string' }, speed: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
const opts = z
  .object({
    hours: z.coerce.number().min(5).max(48).default(12),
    speed: z.coerce.number().positive().max(1000).default(200),
    json: z.boolean().default(false),
  })
  .parse(values);
const log = (s: string) => process.stderr.write(s + '\n');
const ADMIN = 'bench-admin-token-0123456789';

const dataDir = mkdtempSync(join(tmpdir(), 'forecast-live-'));
const svc = await startService(ConfigSchema.parse({ PORT: '0', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, SPEED: String(opts.speed) }));
const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/ws?token=${ADMIN}`);
await new Promise<void>((resolve, reject) => {
  ws.once('open', () => resolve());
  ws.once('error', reject);
});
ws.send(JSON.stringify({ type: 'subscribe', topics: ['forecasts'] }));
// Written by the socket's handler (an object, so the loop below sees its updates).
const seen: { latest: ForecastsState | null } = { latest: null };
ws.on('message', (raw) => {
  const m = JSON.parse(String(raw)) as { topic?: string; data?: unknown };
  if (m.topic !== 'forecasts' || m.data === null) return;
  const parsed = ForecastsStateSchema.safeParse(m.data);
  if (parsed.success) seen.latest = parsed.data;
});

const fmt = (v: number | null) => (v === null ? '—' : v.toFixed(2));
const shares = (w: ServedWeights) =>
  Object.entries(w)
    .map(([m, v]) => `${m} ${Math.round(v * 100)} %`)
    .join(', ');
const table = (s: ForecastsState) =>
  s.accuracy
    .map((a, k) => `  +${a.minutes} min: model ${fmt(a.model.rmse)}, persistence ${fmt(a.persistence.rmse)}, historical average ${fmt(a.historicalAverage.rmse)}, served ${fmt(a.served.rmse)} (now ${shares(s.servedWeights[k])})`)
    .join('\n');

const startSim = svc.runtime.engine.time;
const startWall = performance.now();
let reported = 0;
while (svc.runtime.engine.time - startSim < opts.hours * 3600) {
  await new Promise((r) => setTimeout(r, 1000));
  const hours = Math.floor((svc.runtime.engine.time - startSim) / 3600);
  const s = seen.latest;
  if (hours > reported && s !== null) {
    reported = hours;
    const wall = (performance.now() - startWall) / 1000;
    log(`${hours} simulated h (${(((svc.runtime.engine.time - startSim) / wall) | 0)}× real time), model ${s.model.state}, ${s.model.updates} updates, paired ${s.accuracy[0].paired}\n${table(s)}`);
  }
}
const final = seen.latest;
ws.close();
await svc.stop();
rmSync(dataDir, { recursive: true, force: true });
if (final === null) {
  log('no forecasts were published');
  process.exit(1);
}
const result = {
  network: 'demo city',
  simulatedHours: opts.hours,
  backend: final.backend,
  model: final.model,
  servedWeights: final.servedWeights,
  accuracy: final.accuracy,
};
if (opts.json) process.stdout.write(JSON.stringify(result) + '\n');
else process.stdout.write(`running RMSE (km/h) after ${opts.hours} simulated hours of the demo city, ${final.backend} backend\n${table(final)}\n`);
process.exit(0);
