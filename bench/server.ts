/**
 * Server benchmark, in one run so the figures compare as ratios:
 *  1. plan polling (authenticated, ETag) against a bare Hono route returning the same JSON,
 *     both at full speed (autocannon, 50 connections) and at a fixed 5,000 requests/s for p99;
 *  2. sensor ingest, acknowledged durably on PGlite: the raw store (rows straight into
 *     sensor_readings), the service's accept in-process, and end to end over HTTP and over the
 *     ingest WebSocket (a load generator in a child process, bench/ingestLoad.ts);
 *  3. WebSocket streams: N clients subscribed to signals, lanes and vehicles at 2 updates/s on
 *     the demo city and on a 900-intersection grid (--stream-network), and whether the tick
 *     keeps up.
 * autocannon and the ingest load run in child processes so they do not share the server's event loop.
 *
 *   npm run bench:server [-- --json] [-- --duration 10] [-- --clients 100] [-- --network demo] [-- --stream-network grid:30x30]
 *                        [-- --only polling,ingest,streams]   (a subset of the cases; all by default)
 *                        [-- --warm-up 900]   (simulated seconds the field runs ahead before the streams case)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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
import { serializeHlc } from '../twin/sensors/HybridLogicalClock.ts';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    json: { type: 'boolean' },
    duration: { type: 'string' },
    clients: { type: 'string' },
    network: { type: 'string' },
    'stream-network': { type: 'string' },
    only: { type: 'string' },
    'warm-up': { type: 'string' },
  },
});
const only = new Set((values.only ?? 'polling,ingest,streams').split(','));
const duration = Number(values.duration ?? 10);
const nClients = Number(values.clients ?? 100);
/** Simulated seconds the field runs ahead, as fast as it goes, before the streams are measured (a loaded city, not an empty one). */
const warmUp = Number(values['warm-up'] ?? 900);
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

type Service = Awaited<ReturnType<typeof startService>>;
type Post = (path: string, token: string, body: unknown) => Promise<any>;
interface IngestRow {
  name: string;
  readingsPerSecond: number;
  batchP50Ms?: number;
  batchP99Ms?: number;
}

/** Runs the ingest load generator in a child process (`--token=` since a token may begin with '-'). */
async function ingestLoad(url: string, token: string, sensorsFile: string, mode: 'http' | 'ws', batch: number, concurrency: number, seqStart: number) {
  const args = ['--import', 'tsx', join(root, 'bench/ingestLoad.ts'), '--url', url, `--token=${token}`, '--sensors', sensorsFile, '--mode', mode];
  args.push('--batch', String(batch), '--concurrency', String(concurrency), '--duration', String(duration), '--seq-start', String(seqStart));
  const { stdout } = await run(process.execPath, args, { cwd: root, maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as { accepted: number; rejected: number; errors: number; readingsPerSecond: number; batchP50Ms: number; batchP99Ms: number; nextSeq: number };
}

/** Sensor ingest, each figure counting only readings acknowledged once stored. */
async function ingestCases(svc: Service, post: Post) {
  const rows: IngestRow[] = [];
  const integrator = (await post('/api/users', ADMIN, { name: 'bench-integrator', role: 'integrator' })).token as string;
  const sensors = svc.twin.layout.detectors.map((d) => d.id);
  const sensorsFile = join(mkdtempSync(join(tmpdir(), 'bench-ingest-')), 'sensors.json');
  writeFileSync(sensorsFile, JSON.stringify(sensors));
  // Capture times follow the sequence numbers (the service's clock stands still; see ingestLoad.ts).
  const reading = (sensorId: string, seq: number) => ({ type: 'loop', sensorId, seq, ts: serializeHlc({ pt: Math.min(4999, seq), lc: 0 }), intervalMs: 1000, count: 1, occupancy: 0.1, speed: 8, presence: false, total: seq });
  let acknowledged = 0;

  // Raw store: rows straight into sensor_readings through the service's own insert, 10,000 a statement.
  log(`ingest: raw store, in-process accept, HTTP and WebSocket (${duration} s each where timed by the load generator)`);
  {
    let n = 0;
    const t0 = performance.now();
    for (let b = 0; performance.now() - t0 < (duration * 1000) / 2; b++) {
      const batch = Array.from({ length: 10_000 }, (_, i) => {
        const { sensorId, seq, ...payload } = reading(`raw-${i % 1000}`, b * 10 + Math.floor(i / 1000));
        return { sensor_id: sensorId, seq, ts_ms: 0, payload };
      });
      await svc.ingest.insertRows(batch);
      n += batch.length;
    }
    acknowledged += n;
    rows.push({ name: 'raw store (insertRows, 10,000 rows a statement)', readingsPerSecond: Math.round(n / ((performance.now() - t0) / 1000)) });
  }
  // In-process accept: validation by the twin's ingest, then the store (no HTTP).
  let seq = 0;
  {
    let n = 0;
    const t0 = performance.now();
    const lat: number[] = [];
    while (performance.now() - t0 < (duration * 1000) / 2) {
      const messages = Array.from({ length: 5000 }, (_, i) => reading(sensors[(seq * 5000 + i) % sensors.length], Math.floor((seq * 5000 + i) / sensors.length)));
      const t = performance.now();
      const r = await svc.ingest.accept({ messages });
      lat.push(performance.now() - t);
      if (r.rejected) throw new Error(`in-process accept rejected readings: ${JSON.stringify(r.results.find((x) => x.status === 'rejected'))}`);
      n += r.accepted;
      seq++;
    }
    acknowledged += n;
    lat.sort((a, b) => a - b);
    rows.push({ name: 'service accept in-process (5,000 a batch)', readingsPerSecond: Math.round(n / ((performance.now() - t0) / 1000)), batchP50Ms: Math.round(lat[lat.length >> 1]), batchP99Ms: Math.round(lat[Math.floor(lat.length * 0.99)]) });
  }
  let nextSeq = Math.ceil((seq * 5000) / sensors.length) + 1;
  for (const mode of ['http', 'ws'] as const) {
    const r = await ingestLoad(svc.url, integrator, sensorsFile, mode, 5000, 4, nextSeq);
    if (r.rejected || r.errors) log(`  ${mode}: ${r.rejected} rejected, ${r.errors} errors`);
    nextSeq = r.nextSeq;
    acknowledged += r.accepted;
    rows.push({ name: `end to end over ${mode === 'http' ? 'HTTP POST /api/ingest' : 'WebSocket /ws/ingest'} (5,000 a batch, 4 in flight)`, readingsPerSecond: r.readingsPerSecond, batchP50Ms: r.batchP50Ms, batchP99Ms: r.batchP99Ms });
  }
  return { rows, acknowledged, storedRows: await svc.ingest.count() };
}

/** N clients at 2 updates/s on signals, lanes and vehicles while the field runs in real time. */
async function streamCase(svc: Service) {
  log(`streams: ${svc.runtime.view.name}: running the field ${warmUp} simulated seconds ahead (sensors, twin and control included) …`);
  const warmUntil = svc.runtime.engine.time + warmUp;
  while (svc.runtime.engine.time < warmUntil) await svc.runtime.tick();
  log(`streams: ${nClients} WebSocket clients on ${svc.runtime.view.name} (${svc.runtime.engine.runningCount} vehicles in the network) at 2 updates/s for ${duration} s`);
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
  // Updates skipped for clients whose send buffer ran over the soft limit, and clients dropped.
  const slowClients = async () => {
    const text = await fetch(`${svc.url}/metrics`).then((r) => r.text());
    const read = (name: string) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? 0);
    return { thinned: read('twin_ws_thinned_total'), dropped: read('twin_ws_dropped_total') };
  };
  const slowBefore = await slowClients();
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
    intersections: svc.plans.intersections().length,
    vehiclesInNetwork: svc.runtime.engine.runningCount,
    messagesPerSecond: Math.round(messages / wall),
    megabytesPerSecond: Math.round((bytes / wall / 1e6) * 10) / 10,
    simSecondsPerWallSecond: Math.round((simAdvanced / wall) * 100) / 100,
    tickLagP95Seconds: lag[Math.floor(lag.length * 0.95)] ?? 0,
    tickLagMaxSeconds: lag[lag.length - 1] ?? 0,
    // Behind: the loop's lag grew past a second, or simulated time ran slower than the wall clock.
    fallsBehind: (lag[lag.length - 1] ?? 0) > 1 || simAdvanced / wall < 0.95,
  };

  const slowAfter = await slowClients();
  svc.runtime.stop();
  return { ...streams, updatesThinned: slowAfter.thinned - slowBefore.thinned, clientsDropped: slowAfter.dropped - slowBefore.dropped };
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
      INGEST_RATE: '1000000',
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
  const rows: Record<string, unknown>[] = [];
  let ratio = NaN;
  if (only.has('polling')) {
    log(`plan polling: bare Hono vs /api/plans/${it.id} (${duration} s each, 50 connections)`);
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
    ratio = ours.requests.average / bareFull.requests.average;
  }

  const ingest = only.has('ingest') ? await ingestCases(svc, post) : { rows: [], acknowledged: 0, storedRows: 0 };
  const streams = only.has('streams') ? [await streamCase(svc)] : [];
  await svc.stop();
  bareServer.close();
  if (only.has('streams')) {
    // The 900-intersection city: the field in real time with its sensors posting to the ingest API and
    // the twin estimating from them, in-process edge controllers driving the heads (EDGES=0: no HTTP
    // long-polls, no central planner), plus the clients.
    const gridNet = values['stream-network'] ?? 'grid:30x30';
    log(`starting the service on ${gridNet} for the streams case (field, sensors, twin; EDGES=0, PLANNER=0)`);
    const grid = await startService(
      ConfigSchema.parse({ PORT: '0', DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-server-grid-')), ADMIN_TOKEN: ADMIN, SPEED: '1', FIELD: '0', EDGES: '0', PLANNER: '0', NETWORK: gridNet }),
    );
    streams.push(await streamCase(grid));
    await grid.stop();
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
  const out = { machine, durationSeconds: duration, planPolling: { rows, ratioToBareHono: Math.round(ratio * 1000) / 1000 }, ingest, streams };
  if (values.json) process.stdout.write(JSON.stringify(out) + '\n');
  else {
    console.log(`machine: ${machine}`);
    console.log('case | req/s | p50 ms | p99 ms | non-2xx | errors');
    for (const r of rows) console.log(`${r.name} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.non2xx} | ${r.errors}`);
    console.log(`plan poll throughput / bare Hono: ${out.planPolling.ratioToBareHono}`);
    console.log('ingest case | readings/s acknowledged | batch p50 ms | batch p99 ms');
    for (const r of ingest.rows) console.log(`${r.name} | ${r.readingsPerSecond} | ${r.batchP50Ms ?? ''} | ${r.batchP99Ms ?? ''}`);
    console.log(`ingest: rows in sensor_readings ${ingest.storedRows}, acknowledged ${ingest.acknowledged}`);
    for (const st of streams) console.log(`streams: ${JSON.stringify(st)}`);
  }
}

await main();
