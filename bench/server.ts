/**
 * Server benchmark, in one run so the figures compare as ratios:
 *  1. plan polling (authenticated, ETag) against a bare Hono route returning the same JSON,
 *     both at full speed (autocannon, 50 connections) and at a fixed 5,000 requests/s for p99;
 *  2. WebSocket streams: N clients subscribed to signals, lanes and vehicles of a city at
 *     2 updates/s, and whether the tick keeps up.
 * autocannon runs in a child process so it does not share the server's event loop.
 *
 *   npm run bench:server [-- --json] [-- --duration 10] [-- --clients 100] [-- --network grid:30x30]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import WebSocket from 'ws';
import { ConfigSchema } from '../server/config.ts';
import { startService } from '../server/Service.ts';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { json: { type: 'boolean' }, duration: { type: 'string' }, clients: { type: 'string' }, network: { type: 'string' } },
});
const duration = Number(values.duration ?? 10);
const nClients = Number(values.clients ?? 100);
const log = (s: string) => process.stderr.write(s + '\n');
const ADMIN = 'bench-admin-token-0123456789';

interface Cannon {
  requests: { average: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  '2xx': number;
}

async function cannon(url: string, headers: Record<string, string>, rate?: number): Promise<Cannon> {
  const args = [join(root, 'node_modules/autocannon/autocannon.js'), '-j', '-c', '50', '-d', String(duration)];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  if (rate) args.push('-R', String(rate));
  args.push(url);
  const { stdout } = await run(process.execPath, args, { maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as Cannon;
}

async function main() {
  const svc = await startService(
    ConfigSchema.parse({
      PORT: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-server-')),
      ADMIN_TOKEN: ADMIN,
      SPEED: '1',
      FIELD: '0',
      NETWORK: values.network ?? 'demo',
      POLL_RATE: '1000000',
    }),
  );
  const post = (path: string, token: string, body: unknown) =>
    fetch(svc.url + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
  const net = await fetch(svc.url + '/api/network', { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json());
  const it = net.intersections.find((i: { virtual: boolean }) => !i.virtual);
  const eng = await post('/api/users', ADMIN, { name: 'bench-eng', role: 'engineer' });
  const ctl = await post('/api/users', ADMIN, { name: 'bench-ctl', role: 'controller', intersections: [it.id] });
  const plan = {
    intersection: it.id,
    version: 0,
    validFrom: 0,
    validUntil: null,
    control: 'fixed-time',
    phases: [it.phases[1], it.phases[2]].map((movements: number[], k: number) => ({ id: k + 1, movements, minGreen: 7, maxGreen: 60, green: 30, yellow: 4, allRed: 2 })),
    sequence: [0, 1],
    cycle: 72,
    offset: 0,
  };
  const pub = await post('/api/plans', eng.token, { plan, reason: 'benchmark' });
  if (!pub.version) throw new Error(`could not publish: ${JSON.stringify(pub)}`);
  const current = await fetch(`${svc.url}/api/plans/${it.id}`, { headers: { authorization: `Bearer ${ctl.token}` } });
  const body = await current.text();
  const etag = current.headers.get('etag')!;

  // The bare Hono route: same JSON body, no auth, no lookup.
  const bare = new Hono();
  bare.get('/plan', (c) => c.body(body, 200, { 'content-type': 'application/json', etag }));
  const bareServer = createServer(getRequestListener(bare.fetch));
  await new Promise<void>((r) => bareServer.listen(0, '127.0.0.1', r));
  const barePort = (bareServer.address() as { port: number }).port;

  // One controller token carries all the load; the service's per-token polling limit is lifted
  // (POLL_RATE) so the benchmark measures the route, not the limiter.
  const auth = { authorization: `Bearer ${ctl.token}` };
  log(`plan polling: bare Hono vs /api/plans/${it.id} (${duration} s each, 50 connections)`);
  const rows: Record<string, unknown>[] = [];
  const bareFull = await cannon(`http://127.0.0.1:${barePort}/plan`, {});
  const ours = await cannon(`${svc.url}/api/plans/${it.id}`, auth);
  const ours304 = await cannon(`${svc.url}/api/plans/${it.id}`, { ...auth, 'if-none-match': etag });
  const bareRate = await cannon(`http://127.0.0.1:${barePort}/plan`, {}, 5000);
  const oursRate = await cannon(`${svc.url}/api/plans/${it.id}`, auth, 5000);
  const row = (name: string, c: Cannon) => ({
    name,
    requestsPerSecond: Math.round(c.requests.average),
    p50Ms: c.latency.p50,
    p99Ms: c.latency.p99,
    non2xx: c.non2xx,
    errors: c.errors,
  });
  rows.push(row('bare Hono, full speed', bareFull), row('plan poll 200, full speed', ours), row('plan poll 304 (If-None-Match), full speed', ours304));
  rows.push(row('bare Hono at 5,000/s', bareRate), row('plan poll at 5,000/s', oursRate));
  const ratio = ours.requests.average / bareFull.requests.average;

  // Streams: N clients at 2 updates/s while the field runs in real time.
  log(`streams: ${nClients} WebSocket clients on ${svc.runtime.view.name} at 2 updates/s for ${duration} s`);
  svc.runtime.start();
  const sockets: WebSocket[] = [];
  let messages = 0;
  let bytes = 0;
  for (let k = 0; k < nClients; k++) {
    const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/ws?token=${ADMIN}`);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topics: ['signals', 'lanes', 'vehicles'], rate: 2 })));
    ws.on('message', (d: Buffer) => {
      messages++;
      bytes += d.length;
    });
    sockets.push(ws);
  }
  const lag: number[] = [];
  const t0 = svc.runtime.engine.time;
  const w0 = performance.now();
  const probe = setInterval(() => lag.push(svc.runtime.tickLagSeconds), 250);
  await new Promise((r) => setTimeout(r, duration * 1000));
  clearInterval(probe);
  const simAdvanced = svc.runtime.engine.time - t0;
  const wall = (performance.now() - w0) / 1000;
  for (const ws of sockets) ws.close();
  lag.sort((a, b) => a - b);
  const streams = {
    clients: nClients,
    network: svc.runtime.view.name,
    vehiclesInNetwork: svc.runtime.engine.runningCount,
    messagesPerSecond: Math.round(messages / wall),
    megabytesPerSecond: Math.round((bytes / wall / 1e6) * 10) / 10,
    simSecondsPerWallSecond: Math.round((simAdvanced / wall) * 100) / 100,
    tickLagP95Seconds: lag[Math.floor(lag.length * 0.95)] ?? 0,
  };

  await svc.stop();
  bareServer.close();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
  const out = { machine, durationSeconds: duration, planPolling: { rows, ratioToBareHono: Math.round(ratio * 1000) / 1000 }, streams };
  if (values.json) process.stdout.write(JSON.stringify(out) + '\n');
  else {
    console.log(`machine: ${machine}`);
    console.log('case | req/s | p50 ms | p99 ms | non-2xx | errors');
    for (const r of rows) console.log(`${r.name} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.non2xx} | ${r.errors}`);
    console.log(`plan poll throughput / bare Hono: ${out.planPolling.ratioToBareHono}`);
    console.log(`streams: ${JSON.stringify(streams)}`);
  }
}

await main();
