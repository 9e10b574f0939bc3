/**
 * The loop as it runs from npm start: in-process edge controllers register over HTTP, drive the
 * field's heads safely, report their state, and adopt a central plan once an engineer publishes
 * one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../server/Service.ts';
import { ADMIN, api, startTestService, twoPhasePlan, until } from './helpers.ts';

let svc: RunningService;

beforeAll(async () => {
  // The central planner stays off so the engineer's plan is the only central one.
  svc = await startTestService({ SPEED: '10', PLANNER: '0' });
});
afterAll(async () => {
  await svc?.stop();
});


describe('edge controllers in the loop', () => {
  it('register, report their state and keep the field safe', async () => {
    const list = await until(async () => {
      const r = await api(svc.url, '/api/controllers', ADMIN);
      const online = r.body.controllers.filter((c: { online: boolean; state: unknown }) => c.online && c.state);
      return online.length === 16 ? r.body.controllers : null;
    });
    // No central plan yet (the first comes after a planning interval): local plans, not fallback (the centre answers).
    expect(list.every((c: { state: { mode: string } }) => c.state.mode === 'local')).toBe(true);
    // The heads change phase over time and the monitor never saw an unsafe state.
    const phases0 = Array.from(svc.runtime.engine.lights.phase);
    await until(async () => svc.runtime.engine.time > 120);
    expect(Array.from(svc.runtime.engine.lights.phase)).not.toEqual(phases0);
    const health = await api(svc.url, '/health', null);
    expect(health.body.unsafeSignalStates).toBe(0);
  });

  it('a published central plan reaches the edge and runs', async () => {
    const eng = await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'loop-eng', role: 'engineer' }) });
    const net = (await api(svc.url, '/api/network', ADMIN)).body;
    const X = 'intersection_2_2';
    const plan = twoPhasePlan(net, X, 20);
    const pub = await api(svc.url, '/api/plans', eng.body.token, { method: 'POST', body: JSON.stringify({ plan, reason: 'two-phase test plan' }) });
    expect(pub.status).toBe(201);
    const edge = await until(async () => {
      const r = await api(svc.url, '/api/controllers', ADMIN);
      const c = r.body.controllers.find((x: { id: string }) => x.id === `edge-${X}`);
      return c?.state?.intersections[0].planVersion === pub.body.version ? c : null;
    });
    expect(edge.state.mode).toBe('central');
    // Only the plan's two phases show from now on.
    const idx = net.intersections.findIndex((i: { id: string }) => i.id === X);
    const seen = new Set<number>();
    const t0 = svc.runtime.engine.time;
    await until(async () => {
      // A loaded machine can delay heartbeats enough for the edge to hold or fall back; count only central running.
      const runner = svc.fleet.controllerOf(X);
      if (runner?.mode === 'central') seen.add(svc.runtime.engine.lights.phase[idx]);
      return svc.runtime.engine.time > t0 + 200;
    });
    expect(seen.size).toBeGreaterThan(0);
    for (const p of seen) expect([-1, 1, 2]).toContain(p);
    expect((await api(svc.url, '/health', null)).body.unsafeSignalStates).toBe(0);
  });
});
