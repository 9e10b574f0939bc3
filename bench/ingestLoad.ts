/**
 * Load generator for the ingest benchmark (bench/server.ts runs it as a child process, so it
 * does not share the service's event loop): posts batches of fresh loop readings (unique by
 * sensor and sequence) over HTTP or the ingest WebSocket, `concurrency` batches in flight, for
 * `duration` seconds, and prints one JSON line with what was acknowledged. The service's clock
 * stands still in the benchmark (FIELD=0), so capture times follow the sequence numbers within
 * the allowed skew (5 s), keeping the twin's hybrid logical clock moving.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { serializeHlc } from '../twin/sensors/HybridLogicalClock.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    sensors: { type: 'string' },
    mode: { type: 'string', default: 'http' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
    duration: { type: 'string', default: '10' },
    'seq-start': { type: 'string', default: '0' },
  },
});
const sensors = JSON.parse(readFileSync(values.sensors!, 'utf8')) as string[];
const batchSize = Number(values.batch);
const concurrency = Number(values.concurrency);
const durationMs = Number(values.duration) * 1000;
let k = 0;
const seqStart = Number(values['seq-start']);

// Each sensor's fixed part of a message, serialised once: the generator shares the machine's
// cores with the service, so what it spends per reading is taken from the service.
const prefix = sensors.map((id) => `{"type":"loop","sensorId":${JSON.stringify(id)},"seq":`);

/** The next batch: readings k, k+1, … spread over the sensors, each sensor's sequence counting up. */
function nextBatch(): string {
  const msgs: string[] = new Array(batchSize);
  for (let i = 0; i < batchSize; i++, k++) {
    const seq = seqStart + Math.floor(k / sensors.length);
    const ts = serializeHlc({ pt: Math.min(4999, seq), lc: 0 });
    msgs[i] = `${prefix[k % sensors.length]}${seq},"ts":"${ts}","intervalMs":1000,"count":1,"occupancy":0.1,"speed":8,"presence":false,"total":${seq}}`;
  }
  return msgs.join(',');
}

const totals = { batches: 0, accepted: 0, duplicates: 0, rejected: 0, errors: 0 };
const latencies: number[] = [];
const note = (r: { accepted?: number; duplicates?: number; rejected?: number }, t0: number) => {
  latencies.push(performance.now() - t0);
  totals.batches++;
  totals.accepted += r.accepted ?? 0;
  totals.duplicates += r.duplicates ?? 0;
  totals.rejected += r.rejected ?? 0;
};

const start = performance.now();
const end = start + durationMs;
if (values.mode === 'ws') {
  const ws = new WebSocket(`${values.url!.replace('http', 'ws')}/ws/ingest?token=${values.token}`);
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  const sentAt = new Map<number, number>();
  let id = 0;
  let inFlight = 0;
  await new Promise<void>((resolve) => {
    const send = () => {
      while (inFlight < concurrency && performance.now() < end) {
        sentAt.set(id, performance.now());
        ws.send(`{"type":"batch","id":${id++},"messages":[${nextBatch()}]}`);
        inFlight++;
      }
      if (inFlight === 0) resolve();
    };
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as { type: string; id?: number; accepted?: number };
      if (m.type === 'hello') return;
      if (m.type === 'ack') note(m, sentAt.get(m.id!)!);
      else totals.errors++;
      sentAt.delete(m.id!);
      inFlight--;
      send();
    });
    send();
  });
  ws.close();
} else {
  // node:http with keep-alive rather than fetch: fetch's web streams cost the generator several
  // times more CPU per batch, taken from the cores the service runs on.
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL('/api/ingest', values.url);
  const post = (body: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(target, { method: 'POST', agent, headers: { authorization: `Bearer ${values.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  const worker = async () => {
    while (performance.now() < end) {
      const body = `{"messages":[${nextBatch()}]}`;
      const t0 = performance.now();
      const res = await post(body);
      const r = JSON.parse(res.text) as { accepted?: number };
      if (res.status === 200) note(r, t0);
      else totals.errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
}
const seconds = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({
    ...totals,
    seconds: Math.round(seconds * 100) / 100,
    readingsPerSecond: Math.round(totals.accepted / seconds),
    batchP50Ms: Math.round(latencies[Math.floor(latencies.length / 2)] ?? 0),
    batchP99Ms: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
    nextSeq: seqStart + Math.ceil(k / sensors.length) + 1,
  }) + '\n',
);
