import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../server/Service.ts';
import { ADMIN, api, openSocket, startTestService } from './helpers.ts';

let svc: RunningService;

beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.stop();
});

describe('service over real HTTP', () => {
  it('answers /health with the database and the field clock', async () => {
    const r = await api(svc.url, '/health', null);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
    expect(r.body.database).toEqual({ kind: 'pglite', ok: true });
    expect(typeof r.body.simTime).toBe('number');
  });

  it('serves Prometheus metrics', async () => {
    const res = await fetch(svc.url + '/metrics');
    const text = await res.text();
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(text).toContain('twin_tick_seconds_bucket');
    expect(text).toContain('twin_ws_clients');
  });

  it('serves an OpenAPI document generated from the schemas', async () => {
    const r = await api(svc.url, '/api/openapi.json', null);
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    expect(Object.keys(r.body.paths)).toContain('/api/users');
    expect(r.body.components.schemas.CreateUser).toBeDefined();
  });

  it("routes with Hono's RegExpRouter (every path fits its one compiled pattern; a clash falls back to the slower trie)", async () => {
    expect((await api(svc.url, '/api/network', ADMIN)).status).toBe(200);
    expect((svc.app as unknown as { router: { name: string } }).router.name).toContain('RegExpRouter');
  });

  it('refuses requests without a valid token', async () => {
    expect((await api(svc.url, '/api/network', null)).status).toBe(401);
    expect((await api(svc.url, '/api/network', 'not-a-token')).status).toBe(401);
  });

  it('lets the admin create users with roles, and enforces the roles', async () => {
    const created = await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'eve', role: 'viewer' }) });
    expect(created.status).toBe(201);
    const viewerToken = created.body.token as string;
    expect((await api(svc.url, '/api/network', viewerToken)).status).toBe(200);
    const forbidden = await api(svc.url, '/api/users', viewerToken, { method: 'POST', body: JSON.stringify({ name: 'mallory', role: 'admin' }) });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.message).toContain('viewer');
    // Revoked tokens stop working at once.
    expect((await api(svc.url, '/api/users/eve', ADMIN, { method: 'DELETE' })).status).toBe(200);
    expect((await api(svc.url, '/api/network', viewerToken)).status).toBe(401);
    const audit = await api(svc.url, '/api/audit?target=user:eve', ADMIN);
    expect(audit.body.entries.map((e: { action: string }) => e.action)).toEqual(['user.revoke', 'user.create']);
  });

  it('refuses a malformed body naming the fields', async () => {
    const r = await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'x y', role: 'king' }) });
    expect(r.status).toBe(400);
    const paths = r.body.error.fields.map((f: { path: string }) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'role']));
    const ctl = await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'c1', role: 'controller' }) });
    expect(ctl.status).toBe(400);
    expect(ctl.body.error.fields[0].path).toBe('intersections');
  });

  it('returns the network geometry', async () => {
    const r = await api(svc.url, '/api/network', ADMIN);
    expect(r.body.name).toBe('Riverside');
    expect(r.body.intersections.filter((i: { virtual: boolean }) => !i.virtual)).toHaveLength(16);
    expect(r.body.lanes[0].line.length).toBeGreaterThanOrEqual(4);
  });
});

describe('streams over a real WebSocket', () => {
  it('refuses an upgrade without a token', async () => {
    await expect(openSocket(svc.url.replace('http', 'ws') + '/ws')).rejects.toThrow(/401/);
  });

  it('sends a snapshot on subscribe, then deltas as the field runs', async () => {
    const { ws, next } = await openSocket(`${svc.url.replace('http', 'ws')}/ws?token=${ADMIN}`);
    await next((m) => m.type === 'hello');
    ws.send(JSON.stringify({ type: 'subscribe', topics: ['signals', 'vehicles'], rate: 10 }));
    const snap = await next((m) => m.type === 'snapshot' && m.topic === 'signals');
    expect(snap.data.movements.length).toBeGreaterThan(100);
    const veh = await next((m) => m.topic === 'vehicles' && m.data.count > 0, 15_000);
    expect(veh.data.x.length).toBe(Math.min(veh.data.count, 5000));
    const delta = await next((m) => m.type === 'delta' && m.topic === 'signals' && m.data.movements.length > 0, 15_000);
    expect(delta.data.movements[0][1]).toMatch(/^[GR]$/);
    ws.send('{"type":"subscribe","topics":["nonsense"]}');
    const err = await next((m) => m.type === 'error');
    expect(err.fields[0].path).toContain('topics');
    ws.close();
  });
});
