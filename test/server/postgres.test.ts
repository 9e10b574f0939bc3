/**
 * The PostgreSQL path: the same service on a real PostgreSQL server (CI: 127.0.0.1:5432, trust
 * auth, database `test`; .ci/run sets DATABASE_URL). Skipped with a message where none answers.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../server/Service.ts';
import { ADMIN, api, startTestService } from './helpers.ts';

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
    svc = await startTestService({ DATABASE_URL: url, FIELD: '0' });
  });
  afterAll(async () => {
    await svc?.stop();
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
});
