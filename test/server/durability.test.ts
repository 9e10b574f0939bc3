/**
 * A SIGKILL loses nothing acknowledged: the service runs as its own process (npm start's entry),
 * accepts a user and a plan, is killed with SIGKILL, and after a restart on the same data
 * directory the user's token, the plan and the audit entries are all there. Likewise sensor
 * readings: every reading acknowledged (over HTTP or the ingest WebSocket) before the kill is in
 * the database afterwards, and the restarted twin has re-read them (a resend is a duplicate).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import demoSpec from '../../data/demo-city.json' with { type: 'json' };
import { openDatabase } from '../../server/db/Database.ts';
import { demoCityFromSpec } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { serializeHlc } from '../../twin/sensors/HybridLogicalClock.ts';
import { buildSensorLayout } from '../../twin/sensors/SensorLayout.ts';
import { ADMIN, api, freePort, openSocket, startServiceProcess, twoPhasePlan } from './helpers.ts';

const children: ChildProcess[] = [];



afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('durability', () => {
  it('keeps acknowledged users, plans and audit entries across a SIGKILL', { timeout: 400_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'twin-kill-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const first = await startServiceProcess(children, dataDir, port, { SPEED: '20' });

    const eng = await api(base, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'kim', role: 'engineer' }) });
    expect(eng.status).toBe(201);
    const net = (await api(base, '/api/network', ADMIN)).body;
    const plan = twoPhasePlan(net, 'intersection_1_1');
    const pub = await api(base, '/api/plans', eng.body.token, { method: 'POST', body: JSON.stringify({ plan, reason: 'before the crash' }) });
    expect(pub.status).toBe(201);

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    await startServiceProcess(children, dataDir, port, { SPEED: '20' });
    const again = await api(base, '/api/plans/intersection_1_1', eng.body.token);
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(1);
    expect(again.body.phases[0].green).toBe(30);
    const audit = await api(base, '/api/audit?target=intersection:intersection_1_1', ADMIN);
    expect(audit.body.entries.map((e: { action: string }) => e.action)).toContain('plan.publish');
  });

  it('keeps every acknowledged sensor reading across a SIGKILL, and the twin re-reads them', { timeout: 600_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'twin-kill-readings-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // The field's clock stands still (FIELD=0), so readings stamped at t=0 stay within the lateness window.
    const env = { FIELD: '0', SENSORS: '0', PLANNER: '0', EDGES: '0' };
    const first = await startServiceProcess(children, dataDir, port, { SPEED: '20', ...env });
    const integrator = (await api(base, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'loops', role: 'integrator' }) })).body.token as string;

    // The same sensors the service lays out on the demo city.
    const city = demoCityFromSpec({ ...demoSpec, demand: { ...demoSpec.demand, duration: 600 } }, 0, 'demo city');
    const sensors = buildSensorLayout(importRoadnet(city.roadnet, 'demo roadnet')).detectors.map((d) => d.id);
    const reading = (sensorId: string, seq: number) => ({ type: 'loop', sensorId, seq, ts: serializeHlc({ pt: 0, lc: seq }), intervalMs: 1000, count: 1, occupancy: 0.1, speed: 8, presence: false, total: seq });
    const batches: ReturnType<typeof reading>[][] = [];
    for (let seq = 0; seq < 6; seq++) for (let i = 0; i < sensors.length; i += 40) batches.push(sensors.slice(i, i + 40).map((s) => reading(s, seq)));

    // Half the batches over HTTP, half over the ingest socket, all in flight at once; the kill
    // comes once a third are acknowledged, so some are acknowledged and some are not.
    const acked: ReturnType<typeof reading>[] = [];
    let ackedBatches = 0;
    const noteAck = (batch: ReturnType<typeof reading>[], results: { index: number; status: string }[]) => {
      for (const r of results) if (r.status === 'accepted') acked.push(batch[r.index]);
      ackedBatches++;
    };
    const sock = await openSocket(`ws://127.0.0.1:${port}/ws/ingest?token=${integrator}`);
    let killed = false;
    sock.ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'ack' && !killed) noteAck(batches[m.id], m.results);
    });
    sock.ws.on('error', () => undefined);
    const http: Promise<void>[] = [];
    batches.forEach((b, id) => {
      if (id % 2 === 0) sock.ws.send(JSON.stringify({ type: 'batch', id, messages: b }));
      else
        http.push(
          fetch(`${base}/api/ingest`, { method: 'POST', headers: { authorization: `Bearer ${integrator}`, 'content-type': 'application/json' }, body: JSON.stringify({ messages: b }) })
            .then((r) => r.json())
            .then((r: { results: { index: number; status: string }[] }) => {
              if (!killed) noteAck(b, r.results);
            })
            .catch(() => undefined),
        );
    });
    while (ackedBatches < batches.length / 3) await new Promise((r) => setTimeout(r, 5));
    killed = true;
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    await Promise.all(http);
    expect(acked.length).toBeGreaterThan(0);

    // After a restart the twin has re-read them: sent again, every acknowledged reading is a duplicate.
    const second = await startServiceProcess(children, dataDir, port, { SPEED: '20', ...env });
    for (let i = 0; i < acked.length; i += 500) {
      const again = await api(base, '/api/ingest', integrator, { method: 'POST', body: JSON.stringify({ messages: acked.slice(i, i + 500) }) });
      expect(again.status).toBe(200);
      expect(again.body.duplicates).toBe(Math.min(500, acked.length - i));
    }
    second.kill('SIGKILL');
    await new Promise((r) => second.once('exit', r));

    // And they are all in the database.
    const db = await openDatabase({ dataDir });
    try {
      const res = (await db.db.execute(sql`select sensor_id, seq from sensor_readings`)) as unknown as { rows: { sensor_id: string; seq: number }[] };
      const stored = new Set(res.rows.map((r) => `${r.sensor_id}#${Number(r.seq)}`));
      const missing = acked.filter((a) => !stored.has(`${a.sensorId}#${a.seq}`));
      expect(missing).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
