import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../server/Service.ts';
import { ADMIN, api, openSocket, startTestService } from './helpers.ts';

let svc: RunningService;

/** A GET as bytes on the wire (fetch would undo the content encoding). */
function raw(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(svc.url + path, { headers: { authorization: `Bearer ${ADMIN}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

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
    // Table sizes, read from the database at the scrape: the readings table holds pages.
    const bytes = Number(/^twin_table_bytes\{table="sensor_readings"\} (\d+)$/m.exec(text)?.[1]);
    expect(bytes).toBeGreaterThan(0);
    expect(text).toMatch(/^twin_table_bytes\{table="heartbeats"\} \d+$/m);
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

  it('answers a body that is not JSON with 400, a wrong content type with 415 and a body over the limit with 413, naming the fault', async () => {
    const cut = await api(svc.url, '/api/ingest', ADMIN, { method: 'POST', body: '{"messages": [' });
    expect(cut.status).toBe(400);
    expect(cut.body.error.message).toMatch(/malformed json/i);
    const text = await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body.error.message).toMatch(/content-type/i);
    // Over the 1 MiB default: refused before parsing; sensor ingest takes batches up to 64 MiB.
    const big = { messages: Array.from({ length: 15_000 }, (_, k) => ({ type: 'loop', sensorId: `no-such-sensor-${k}`, seq: k, note: 'x'.repeat(60) })) };
    expect(JSON.stringify(big).length).toBeGreaterThan(1 << 20);
    const user = await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'big', role: 'viewer', pad: big }) });
    expect(user.status).toBe(413);
    expect(user.body.error.message).toMatch(/over 1 MiB/);
    // The unread rest of the body ends the connection; the client is told, so it does not reuse it.
    expect(user.headers.get('connection')).toBe('close');
    const batch = await api(svc.url, '/api/ingest', ADMIN, { method: 'POST', body: JSON.stringify(big) });
    expect(batch.status).toBe(200);
    expect(batch.body.rejected).toBe(15_000);
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

  it('gzips answers for clients that take them, serves the network and roadnet serialised once with an ETag, and leaves edge polls alone', async () => {
    for (const path of ['/api/network', '/api/field/roadnet']) {
      const plain = await raw(path, {});
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(Number(plain.headers['content-length'])).toBe(plain.body.length);
      const zipped = await raw(path, { 'accept-encoding': 'gzip, deflate, br' });
      expect(zipped.headers['content-encoding']).toBe('gzip');
      expect(zipped.body.length).toBeLessThan(plain.body.length / 3);
      expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
      expect(zipped.headers.etag).toBe(plain.headers.etag);
      // gzip refused by weight: plain.
      expect((await raw(path, { 'accept-encoding': 'gzip;q=0, br' })).headers['content-encoding']).toBeUndefined();
      const again = await raw(path, { 'if-none-match': String(plain.headers.etag) });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
    }
    expect(JSON.parse((await raw('/api/network', {})).body.toString()).name).toBe('Riverside');
    // Other GET answers through the compress middleware.
    const doc = await raw('/api/openapi.json', { 'accept-encoding': 'gzip' });
    expect(doc.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(doc.body).toString()).openapi).toMatch(/^3\./);
    // An edge controller's plan poll is answered as it is, whatever it accepts.
    const net = (await api(svc.url, '/api/network', ADMIN)).body as { intersections: { id: string; virtual: boolean }[] };
    const poll = await raw(`/api/plans/${net.intersections.find((i) => !i.virtual)!.id}`, { 'accept-encoding': 'gzip' });
    expect([200, 404]).toContain(poll.status);
    expect(poll.headers['content-encoding']).toBeUndefined();
    expect(() => JSON.parse(poll.body.toString())).not.toThrow();
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
