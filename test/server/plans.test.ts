import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../server/Service.ts';
import { ADMIN, api, startTestService } from './helpers.ts';

let svc: RunningService;
let engineer: string;
let controller: string;
let otherController: string;
const X = 'intersection_1_1';

/** A two-phase plan from the roadnet's phases 1 and 2 (EW and NS straight, right turns with both). */
function plan(phases: number[][], overrides: Record<string, unknown> = {}) {
  return {
    intersection: X,
    version: 0,
    validFrom: 0,
    validUntil: null,
    control: 'fixed-time',
    phases: phases.map((movements, k) => ({ id: k + 1, movements, minGreen: 7, maxGreen: 60, green: 30, yellow: 4, allRed: 2 })),
    sequence: phases.map((_, k) => k),
    cycle: phases.length * 36,
    offset: 0,
    ...overrides,
  };
}

beforeAll(async () => {
  svc = await startTestService({ FIELD: '0' });
  const mk = async (name: string, role: string, intersections: string[] = []) =>
    (await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name, role, intersections }) })).body.token as string;
  engineer = await mk('ella', 'engineer');
  controller = await mk('ctl-1-1', 'controller', [X]);
  otherController = await mk('ctl-2-2', 'controller', ['intersection_2_2']);
});
afterAll(async () => {
  await svc?.stop();
});

describe('timing plans', () => {
  let phases: number[][];
  beforeAll(async () => {
    const net = (await api(svc.url, '/api/network', ADMIN)).body;
    const it = net.intersections.find((i: { id: string }) => i.id === X);
    phases = [it.phases[1], it.phases[2]];
  });

  it('refuses an unsafe plan with the reasons and audits the refusal', async () => {
    const unsafe = plan([[...new Set([...phases[0], ...phases[1]])]]);
    const r = await api(svc.url, '/api/plans', engineer, { method: 'POST', body: JSON.stringify({ plan: unsafe, reason: 'try both straights at once' }) });
    expect(r.status).toBe(422);
    expect(r.body.reasons.some((x: { code: string }) => x.code === 'conflicting-greens')).toBe(true);
    const short = plan(phases, { phases: phases.map((movements, k) => ({ id: k + 1, movements, minGreen: 7, maxGreen: 60, green: 30, yellow: 1, allRed: 0 })) });
    const r2 = await api(svc.url, '/api/plans', engineer, { method: 'POST', body: JSON.stringify({ plan: short, reason: 'too short a yellow' }) });
    expect(r2.status).toBe(422);
    const audit = await api(svc.url, `/api/audit?target=intersection:${X}`, ADMIN);
    expect(audit.body.entries[0].action).toBe('plan.refuse');
  });

  it('publishes safe plans as new versions; controllers poll with ETag and long-poll', async () => {
    expect((await api(svc.url, `/api/plans/${X}`, controller)).status).toBe(404);
    const p1 = await api(svc.url, '/api/plans', engineer, { method: 'POST', body: JSON.stringify({ plan: plan(phases), reason: 'morning plan' }) });
    expect(p1.status).toBe(201);
    expect(p1.body.version).toBe(1);

    const got = await api(svc.url, `/api/plans/${X}`, controller);
    expect(got.status).toBe(200);
    expect(got.body.version).toBe(1);
    const etag = got.headers.get('etag')!;
    expect(etag).toContain('v1');
    expect(got.headers.get('content-type')).toBe('application/json');
    expect(Number(got.headers.get('content-length'))).toBe(Buffer.byteLength(JSON.stringify(got.body)));
    const same = await api(svc.url, `/api/plans/${X}`, controller, { headers: { 'if-none-match': etag } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    // The poll's parameter and query are validated like every route's: 400 with the failing field.
    const bad = await api(svc.url, `/api/plans/${X}?wait=soon`, controller);
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields.map((f: { path: string }) => f.path)).toEqual(['wait']);
    expect((await api(svc.url, `/api/plans/${X}?wait=61`, controller)).status).toBe(400);

    // A long-poll returns as soon as a new version is published.
    const t0 = Date.now();
    const waiting = api(svc.url, `/api/plans/${X}?wait=20`, controller, { headers: { 'if-none-match': etag } });
    await new Promise((r) => setTimeout(r, 300));
    const longer = plan(phases, { phases: phases.map((movements, k) => ({ id: k + 1, movements, minGreen: 7, maxGreen: 60, green: 40, yellow: 4, allRed: 2 })), cycle: 92 });
    expect((await api(svc.url, '/api/plans', engineer, { method: 'POST', body: JSON.stringify({ plan: longer, reason: 'longer greens' }) })).status).toBe(201);
    const woke = await waiting;
    expect(woke.status).toBe(200);
    expect(woke.body.version).toBe(2);
    expect(Date.now() - t0).toBeLessThan(10_000);

    // A long-poll with nothing new answers 304 after the wait.
    const idle = await api(svc.url, `/api/plans/${X}?wait=0.5`, controller, { headers: { 'if-none-match': woke.headers.get('etag')! } });
    expect(idle.status).toBe(304);
    // The answer kept for the old version is not served for the new one, nor its ETag honoured.
    const again = await api(svc.url, `/api/plans/${X}`, controller, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(2);
    expect(again.headers.get('etag')).toBe(woke.headers.get('etag'));

    const history = await api(svc.url, `/api/plans/${X}/history`, engineer);
    expect(history.body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
  });

  it('keeps controllers to their own intersections and roles to their rights', async () => {
    expect((await api(svc.url, `/api/plans/${X}`, otherController)).status).toBe(403);
    expect((await api(svc.url, '/api/plans', controller, { method: 'POST', body: JSON.stringify({ plan: plan(phases), reason: 'sneaky' }) })).status).toBe(403);
    const reg = await api(svc.url, '/api/controllers', controller, { method: 'POST', body: JSON.stringify({ id: 'edge-1', intersections: [X] }) });
    expect(reg.status).toBe(200);
    const foreign = await api(svc.url, '/api/controllers', controller, { method: 'POST', body: JSON.stringify({ id: 'edge-1', intersections: ['intersection_2_2'] }) });
    expect(foreign.status).toBe(403);
    const state = {
      mode: 'central',
      intersections: [{ intersection: X, phase: 1, interval: 'green', movements: 'GRRGRRGRRGRR', timeToChange: 12, planVersion: 2 }],
    };
    expect((await api(svc.url, '/api/controllers/edge-1/state', controller, { method: 'POST', body: JSON.stringify(state) })).status).toBe(204);
    const bad = await api(svc.url, '/api/controllers/edge-1/state', controller, { method: 'POST', body: JSON.stringify({ ...state, mode: 'rogue' }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields[0].path).toBe('mode');
    const list = await api(svc.url, '/api/controllers', engineer);
    const edge = list.body.controllers.find((c: { id: string }) => c.id === 'edge-1');
    expect(edge.online).toBe(true);
    expect(edge.state.intersections[0].planVersion).toBe(2);
  });
});
