/**
 * The viewer's read routes over HTTP and the alerts topic over WebSocket, against the started
 * service: an intersection's plan, controller report, detector readings and queue/delay history;
 * the alerts; controller health against the loop-latency target; role checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import type { RunningService } from '../../server/Service.ts';
import { ADMIN, api, openSocket, startTestService, twoPhasePlan } from './helpers.ts';

let svc: RunningService & { dataDir: string };
let viewer: string;
let controllerToken: string;
let net: { intersections: { id: string; virtual: boolean; phases: number[][] }[] };
let target: string;

beforeAll(async () => {
  // The field is stepped by hand, so the history has a known number of simulated minutes.
  svc = await startTestService({ FIELD: '0', PLANNER: '0' });
  net = (await api(svc.url, '/api/network', ADMIN)).body;
  target = net.intersections.find((i) => !i.virtual && i.phases.length >= 3)!.id;
  viewer = (await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'watcher', role: 'viewer' }) })).body.token;
  controllerToken = (await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'ctl-x', role: 'controller', intersections: [target] }) })).body.token;
  const pub = await api(svc.url, '/api/plans', ADMIN, { method: 'POST', body: JSON.stringify({ plan: twoPhasePlan(net, target, 25), reason: 'panel test' }) });
  expect(pub.status).toBe(201);
  for (let k = 0; k < 130; k++) await svc.runtime.tick();
  // The sensors post after each step without holding the tick: let them catch up.
  for (let wait = 0; wait < 120 && (svc.feed?.pending ?? 0) > 0; wait++) await new Promise((r) => setTimeout(r, 500));
}, 120_000);

afterAll(async () => {
  await svc?.stop();
  if (svc) rmSync(svc.dataDir, { recursive: true, force: true });
});

describe('intersection read routes', () => {
  it("gives the intersection's current plan and its approaches' detector readings", async () => {
    const r = await api(svc.url, `/api/intersections/${encodeURIComponent(target)}`, viewer);
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(target);
    expect(r.body.time).toBeGreaterThanOrEqual(120);
    expect(r.body.plan).toMatchObject({ version: 1, cycle: 62, control: 'fixed-time', sequence: [0, 1], createdBy: 'admin' });
    expect(r.body.plan.phases.map((p: { green: number }) => p.green)).toEqual([25, 25]);
    expect(r.body.detectors.length).toBeGreaterThan(0);
    const kinds = new Set(r.body.detectors.map((d: { kind: string }) => d.kind));
    expect(kinds.has('stopbar')).toBe(true);
    // A full count window has passed, and the loops' readings have arrived.
    expect(r.body.detectors.some((d: { age: number | null }) => d.age !== null)).toBe(true);
    expect(r.body.detectors.every((d: { count: number | null }) => d.count !== null && d.count >= 0)).toBe(true);
    expect(r.body.detectors.reduce((s: number, d: { count: number }) => s + d.count, 0)).toBeGreaterThan(0);
    expect(r.body.cameras.length).toBeGreaterThan(0);
  });

  it('keeps queue and delay once a simulated minute', async () => {
    const r = await api(svc.url, `/api/intersections/${encodeURIComponent(target)}/history`, viewer);
    expect(r.status).toBe(200);
    expect(r.body.every).toBe(60);
    expect(r.body.time.length).toBeGreaterThanOrEqual(3);
    for (let k = 1; k < r.body.time.length; k++) expect(r.body.time[k] - r.body.time[k - 1]).toBeGreaterThanOrEqual(60);
    expect(r.body.queue.length).toBe(r.body.time.length);
    expect(r.body.delay.length).toBe(r.body.time.length);
    expect(r.body.queue.every((q: number) => q >= 0)).toBe(true);
    const short = await api(svc.url, `/api/intersections/${encodeURIComponent(target)}/history?minutes=1`, viewer);
    expect(short.body.time.length).toBeLessThan(r.body.time.length);
  });

  it('names the problem: unknown intersection, bad query, wrong role', async () => {
    const missing = await api(svc.url, '/api/intersections/nowhere', viewer);
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(/nowhere/);
    const bad = await api(svc.url, `/api/intersections/${encodeURIComponent(target)}/history?minutes=500`, viewer);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/minutes/);
    expect((await api(svc.url, `/api/intersections/${encodeURIComponent(target)}`, controllerToken)).status).toBe(403);
    expect((await api(svc.url, '/api/alerts', null)).status).toBe(401);
  });

  it('reports controller health against the loop-latency target', async () => {
    const r = await api(svc.url, '/api/control-health', viewer);
    expect(r.status).toBe(200);
    expect(r.body.slaMs).toBe(1000);
    expect(Array.isArray(r.body.controllers)).toBe(true);
  });

  it('serves alerts over HTTP and on the alerts topic, a controller in fallback among them', async () => {
    // A controller that reports its local fallback plan raises an alert at its intersection.
    await api(svc.url, '/api/controllers', controllerToken, { method: 'POST', body: JSON.stringify({ id: 'ctl-x', intersections: [target] }) });
    const st = await api(svc.url, '/api/controllers/ctl-x/state', controllerToken, {
      method: 'POST',
      body: JSON.stringify({ mode: 'fallback', intersections: [{ intersection: target, phase: 0, interval: 'green', movements: '', timeToChange: 3, planVersion: null }] }),
    });
    expect(st.status).toBe(204);
    for (let k = 0; k < 3; k++) await svc.runtime.tick();
    const r = await api(svc.url, '/api/alerts', viewer);
    expect(r.status).toBe(200);
    const a = r.body.alerts.find((x: { id: string }) => x.id === 'controller:ctl-x');
    expect(a).toMatchObject({ kind: 'controller-fallback', place: { intersection: target } });
    const it = net.intersections.find((i) => i.id === target)! as unknown as { x: number; y: number };
    expect(a.place.x).toBeCloseTo(it.x, 3);

    const sock = await openSocket(`${svc.url.replace('http', 'ws')}/ws?token=${viewer}`);
    sock.ws.send(JSON.stringify({ type: 'subscribe', topics: ['alerts'] }));
    const snap = await sock.next((m) => m.type === 'snapshot' && m.topic === 'alerts');
    expect(snap.data.alerts.some((x: { id: string }) => x.id === 'controller:ctl-x')).toBe(true);
    sock.ws.close();
  });
});
