/**
 * Emergency routing through the running service, over real HTTP and WebSocket: a dispatcher
 * routes an ambulance across the demo city; its pre-emption windows reach the edge controllers
 * (polled over HTTP) and go active there, the field never shows an unsafe signal state, the
 * vehicle arrives and every window is released. Roles, validation, cancellation and the audit
 * trail too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../server/Service.ts';
import { ADMIN, api, openSocket, startTestService } from './helpers.ts';

let svc: RunningService;
let dispatcher: string;
let viewer: string;
let from: string;
let to: string;

/** Waits (wall clock, generous: the machine is shared) until `cond` holds; the test fails if it never does. */
async function until<T>(what: string, cond: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 120_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  svc = await startTestService({ FORECAST: '0', SPEED: '40' });
  const mk = async (name: string, role: string) => (await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name, role }) })).body.token as string;
  dispatcher = await mk('dora', 'dispatcher');
  viewer = await mk('vic', 'viewer');
  // Across the city: the two boundary points farthest apart.
  const net = svc.runtime.network;
  const edge = net.intersections.filter((i) => i.virtual);
  let best = -1;
  for (const a of edge)
    for (const b of edge) {
      const d = Math.hypot(a.point.x - b.point.x, a.point.y - b.point.y);
      if (d > best && net.roads.some((r) => r.from === a.index) && net.roads.some((r) => r.to === b.index)) [best, from, to] = [d, a.id, b.id];
    }
}, 120_000);
afterAll(async () => {
  await svc?.stop();
});

describe('emergency routing over the service', () => {
  it('routes, pre-empts at the edges safely, follows the vehicle to arrival and releases every window', async () => {
    const sock = await openSocket(`${svc.url.replace('http', 'ws')}/ws?token=${viewer}`);
    sock.ws.send(JSON.stringify({ type: 'subscribe', topics: ['emergency'], rate: 10 }));
    await sock.next((m) => m.type === 'snapshot' && m.topic === 'emergency');

    const r = await api(svc.url, '/api/emergency/routes', dispatcher, {
      method: 'POST',
      body: JSON.stringify({ origin: { intersection: from }, destination: { intersection: to }, vehicleId: 'AMB-7', note: 'cardiac arrest' }),
    });
    expect(r.status).toBe(201);
    const id = r.body.id as string;
    expect(r.body.status).toBe('active');
    expect(r.body.vehicleId).toBe('AMB-7');
    expect(r.body.route.roads.length).toBeGreaterThan(1);
    expect(r.body.route.intersections[0]).toBe(from);
    expect(r.body.route.intersections.at(-1)).toBe(to);
    expect(r.body.route.etaSeconds).toBeGreaterThan(0);
    expect(Array.isArray(r.body.alternatives)).toBe(true);
    for (const a of r.body.alternatives) expect(a.roads.join()).not.toBe(r.body.route.roads.join());
    // Windows are issued once the vehicle is in the field (a tick later when its first road's start is taken).
    const planned = await until('the first windows', async () => {
      const p = (await api(svc.url, `/api/emergency/routes/${r.body.id}`, dispatcher)).body.preemptions as { intersection: string; start: number; end: number; status: string }[];
      return p.length > 0 ? p : null;
    });
    for (const p of planned) {
      expect(r.body.route.intersections).toContain(p.intersection);
      expect(p.end).toBeGreaterThan(p.start);
    }

    // The windows reach the edge controllers over HTTP and are served there.
    const served = await until('a pre-emption active at an edge', () => {
      for (const p of planned) {
        const s = svc.fleet.controllerOf(p.intersection)?.preemptionStates(svc.runtime.engine.time).find((x) => x.status === 'active');
        if (s) return p.intersection;
      }
      return null;
    });
    expect(planned.map((p) => p.intersection)).toContain(served);

    // The live stream carries the vehicle's position and ETA while it drives.
    const moving = await sock.next((m) => m.topic === 'emergency' && m.data?.requests?.some((q: any) => q.id === id && q.position !== null), 120_000);
    const live = moving.data.requests.find((q: any) => q.id === id);
    expect(typeof live.position.x).toBe('number');
    expect(live.eta).toBeGreaterThan(0);

    const done = await until('the vehicle to arrive', async () => {
      const g = await api(svc.url, `/api/emergency/routes/${id}`, viewer);
      return g.body.status === 'completed' ? g.body : null;
    }, 240_000);
    expect(done.travelSeconds).toBeGreaterThan(0);
    expect(done.preemptions.length).toBeGreaterThan(0);
    expect(done.preemptions.every((p: { status: string }) => p.status === 'released')).toBe(true);
    // …and at the edges: nothing held for it any more.
    await until('the edges to release', () =>
      done.preemptions.every((p: { intersection: string }) => {
        const c = svc.fleet.controllerOf(p.intersection);
        return !c || !c.preemption.get(p.intersection)?.active;
      }),
    );
    const health = await api(svc.url, '/health', null);
    expect(health.body.unsafeSignalStates).toBe(0);
    sock.ws.close();

    const audit = await api(svc.url, `/api/audit?target=emergency:${id}`, ADMIN);
    const actions = audit.body.entries.map((e: { action: string }) => e.action);
    expect(actions).toContain('emergency.create');
    expect(actions).toContain('emergency.complete');
    expect(audit.body.entries.find((e: { action: string }) => e.action === 'emergency.create').actor).toBe('dora');
  }, 400_000);

  it('cancels: every window is withdrawn from the edges', async () => {
    const r = await api(svc.url, '/api/emergency/routes', dispatcher, { method: 'POST', body: JSON.stringify({ origin: { intersection: to }, destination: { intersection: from } }) });
    expect(r.status).toBe(201);
    const id = r.body.id as string;
    // Windows are issued once the vehicle is in the field: at once, or a tick later when the start of its first road is taken.
    let view = r.body;
    await until('the first windows', async () => (view = (await api(svc.url, `/api/emergency/routes/${id}`, dispatcher)).body).preemptions.length > 0);
    const first = view.preemptions[0].intersection as string;
    const poll = await api(svc.url, `/api/emergency/preemptions/${first}`, dispatcher);
    expect(poll.status).toBe(200);
    expect(poll.body.windows.length).toBeGreaterThan(0);
    const c = await api(svc.url, `/api/emergency/routes/${id}`, dispatcher, { method: 'DELETE' });
    expect(c.status).toBe(200);
    expect(c.body.status).toBe('cancelled');
    expect(c.body.preemptions.every((p: { status: string }) => p.status === 'released')).toBe(true);
    const after = await api(svc.url, `/api/emergency/preemptions/${first}`, dispatcher);
    expect(after.body.windows.filter((w: { id: string }) => w.id.endsWith(first))).toEqual([]);
    await until('the edge to drop the window', () => !svc.fleet.controllerOf(first)?.preemption.get(first)?.active && svc.fleet.controllerOf(first)!.preemptionStates(svc.runtime.engine.time).every((s) => s.status !== 'active'));
    const list = await api(svc.url, '/api/emergency/routes', viewer);
    expect(list.body.requests.find((q: { id: string }) => q.id === id).status).toBe('cancelled');
    const audit = await api(svc.url, `/api/audit?target=emergency:${id}`, ADMIN);
    expect(audit.body.entries[0].action).toBe('emergency.cancel');
    expect((await api(svc.url, '/health', null)).body.unsafeSignalStates).toBe(0);
  }, 120_000);

  it('keeps roles to their rights and names the bad field', async () => {
    const body = JSON.stringify({ origin: { intersection: from }, destination: { intersection: to } });
    expect((await api(svc.url, '/api/emergency/routes', viewer, { method: 'POST', body })).status).toBe(403);
    expect((await api(svc.url, '/api/emergency/routes', viewer)).status).toBe(200);
    expect((await api(svc.url, '/api/emergency/routes/em-nope', viewer, { method: 'DELETE' })).status).toBe(403);
    expect((await api(svc.url, '/api/emergency/routes/em-nope', dispatcher)).status).toBe(404);

    const bad = await api(svc.url, '/api/emergency/routes', dispatcher, { method: 'POST', body: JSON.stringify({ origin: { intersection: from }, destination: { x: 'far' } }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields.some((f: { path: string }) => f.path.startsWith('destination'))).toBe(true);
    const unknown = await api(svc.url, '/api/emergency/routes', dispatcher, { method: 'POST', body: JSON.stringify({ origin: { intersection: 'atlantis' }, destination: { intersection: to } }) });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.fields[0].path).toBe('origin.intersection');
    const missing = await api(svc.url, '/api/emergency/routes', dispatcher, { method: 'POST', body: JSON.stringify({ origin: { x: 0, y: 0 }, preempt: 'yes' }) });
    expect(missing.status).toBe(400);
    const paths = missing.body.error.fields.map((f: { path: string }) => f.path);
    expect(paths).toContain('destination');
    expect(paths).toContain('preempt');

    const doc = await api(svc.url, '/api/openapi.json', null);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/emergency/routes', '/api/emergency/routes/{id}', '/api/emergency/preemptions/{intersection}']));
  });
});
