/**
 * The PostgreSQL path: the same service on a real PostgreSQL server (CI: 127.0.0.1:5432, trust
 * auth, database `test`; .ci/run sets DATABASE_URL). Skipped with a message where none answers.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestService } from '../../server/IngestService.ts';
import { Metrics } from '../../server/Metrics.ts';
import type { RunningService } from '../../server/Service.ts';
import { serializeHlc } from '../../twin/sensors/HybridLogicalClock.ts';
import { TwinState } from '../../twin/state/TwinState.ts';
import { ADMIN, api, startTestService } from './helpers.ts';
import { checkHeartbeatLog, checkRetention } from './storageChecks.ts';

const url = process.env.DATABASE_URL || 'postgres://root@127.0.0.1:5432/test';

async function reachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    // A clean slate: this suite owns the test database while it runs.
    await c.query('drop schema if exists public cascade; create schema public; drop schema if exists drizzle cascade;');
    return true;
  } catch (e) {
    console.warn(`PostgreSQL tests skipped: no server at ${url} (${(e as Error).message})`);
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const available = await reachable();

describe.skipIf(!available)('service on PostgreSQL', () => {
  let svc: RunningService;
  beforeAll(async () => {
    // No forecasts: the retention check counts the rows of that table.
    svc = await startTestService({ DATABASE_URL: url, FIELD: '0', SENSORS: '0', FORECAST: '0' });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('logs controller heartbeats by change and stores a fleet reporting at once (the same checks as on PGlite)', async () => {
    await checkHeartbeatLog(svc.database.db);
  });

  it('prunes heartbeats, forecasts and sensor readings to their retention (the same checks as on PGlite)', async () => {
    await checkRetention(svc.database.db);
  });

  it('migrates, reports PostgreSQL in /health and stores users and audit entries', async () => {
    const h = await api(svc.url, '/health', null);
    expect(h.body.database).toEqual({ kind: 'postgres', ok: true });
    const u = await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'pat', role: 'planner' }) });
    expect(u.status).toBe(201);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const rows = await c.query("select role from users where name = 'pat'");
    const audit = await c.query("select action from audit_log where target = 'user:pat'");
    await c.end();
    expect(rows.rows[0].role).toBe('planner');
    expect(audit.rows[0].action).toBe('user.create');
  });

  it('stores ingested readings once each (lean rows), keeps stored ones on a re-send, and replays them after a restart', async () => {
    const [a, b] = svc.twin.layout.detectors.map((d) => d.id);
    const reading = (sensorId: string, seq: number) => ({ type: 'loop', sensorId, seq, ts: serializeHlc({ pt: 0, lc: seq }), intervalMs: 1000, count: 1, occupancy: 0.2, speed: 9.5, presence: false, total: seq, note: 'tab\there \\ "q"' });
    const integrator = (await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'pg-loops', role: 'integrator' }) })).body.token as string;
    const first = await api(svc.url, '/api/ingest', integrator, { method: 'POST', body: JSON.stringify({ messages: [reading(a, 0), reading(b, 0)] }) });
    expect(first.body.accepted).toBe(2);
    // A twin that has not seen a/0 accepts it again: the database keeps its one row (ON CONFLICT DO NOTHING).
    const fresh = new IngestService(svc.database, new TwinState(svc.twin.net, svc.twin.layout), new Metrics(), () => 0);
    expect((await fresh.accept({ messages: [reading(a, 0), reading(a, 1)] })).accepted).toBe(2);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const stored = await c.query('select sensor_id, seq, payload from sensor_readings order by sensor_id, seq');
    await c.end();
    expect(stored.rows.length).toBe(3);
    const { sensorId: _s, seq: _q, ...payload } = reading(a, 0);
    expect(stored.rows.find((r) => r.sensor_id === a && Number(r.seq) === 0)!.payload).toEqual(payload);
    // After a restart the twin re-reads them: each is a duplicate when sent again.
    const restarted = new IngestService(svc.database, new TwinState(svc.twin.net, svc.twin.layout), new Metrics(), () => 0);
    expect(await restarted.recover()).toBe(3);
    expect((await restarted.accept({ messages: [reading(a, 1), reading(b, 0)] })).duplicates).toBe(2);
  });
});
