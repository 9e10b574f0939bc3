/**
 * What-if runs through the API, over real HTTP and WebSocket against a started service on the
 * demo city: a planner closes lanes for roadworks and gets the comparison with the baseline from
 * the twin's current estimate, with progress on the 'whatif' topic; runs can be cancelled; roles
 * and bad scenarios are refused; runs are stored, audited, and survive a restart.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whatifRuns } from '../../server/db/schema.ts';
import type { RunningService } from '../../server/Service.ts';
import { ADMIN, api, openSocket, startTestService, until as untilWithin } from './helpers.ts';

let svc: (RunningService & { dataDir: string }) | null = null;
let planner: string;
let viewer: string;
const FINISHED = ['done', 'failed', 'cancelled'];

/** The middle (through) lane of the roads around Main Avenue's central intersections: roadworks. */
const ROADWORKS = ['road_2_2_0', 'road_2_2_1', 'road_2_2_2', 'road_2_2_3', 'road_3_2_0', 'road_3_2_1', 'road_3_2_2', 'road_3_2_3'].map((road) => `${road}_1`);

/** What-if runs take a while on a loaded machine: this file waits up to 150 s. */
const until = <T>(fn: () => Promise<T | null | undefined | false>) => untilWithin(fn, 150_000);

const post = (token: string, body: unknown) => api(svc!.url, '/api/whatif', token, { method: 'POST', body: JSON.stringify(body) });

const finished = (id: string, token = planner) =>
  until(async () => {
    const r = await api(svc!.url, `/api/whatif/${id}`, token);
    return FINISHED.includes(r.body.status) ? r.body : null;
  });

beforeAll(async () => {
  // The field runs with its sensors, so the twin has an estimate to start from; no central planner or HTTP edges (less load).
  svc = await startTestService({ SPEED: '20', PLANNER: '0', EDGES: '0' });
  const mk = async (name: string, role: string) => (await api(svc!.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name, role }) })).body.token as string;
  planner = await mk('pia', 'planner');
  viewer = await mk('val', 'viewer');
  // Two simulated minutes of traffic seen by the sensors.
  await until(async () => svc!.twin.observe().time >= 120);
});
afterAll(async () => {
  await svc?.stop();
});

describe('what-if API', () => {
  it('is in the OpenAPI document', async () => {
    const doc = await api(svc!.url, '/api/openapi.json', null);
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/whatif', '/api/whatif/{id}', '/api/whatif/{id}/replay']));
    expect(doc.body.paths['/api/whatif'].post).toBeDefined();
    expect(doc.body.paths['/api/whatif/{id}'].delete).toBeDefined();
  });

  it('refuses roles that may not ask, and bad scenarios naming the field', async () => {
    const scenario = { horizon: 120, changes: [{ kind: 'closure', lanes: ROADWORKS }] };
    const denied = await post(viewer, scenario);
    expect(denied.status).toBe(403);
    expect((await post((await api(svc!.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'dora', role: 'dispatcher' }) })).body.token, scenario)).status).toBe(403);
    // Every operator role reads.
    expect((await api(svc!.url, '/api/whatif', viewer)).status).toBe(200);

    const noHorizon = await post(planner, { changes: [] });
    expect(noHorizon.status).toBe(400);
    expect(noHorizon.body.error.fields.map((f: { path: string }) => f.path)).toContain('horizon');
    const badSeeds = await post(planner, { horizon: 120, seeds: 0 });
    expect(badSeeds.status).toBe(400);
    expect(badSeeds.body.error.fields.map((f: { path: string }) => f.path)).toContain('seeds');
    const badLane = await post(planner, { horizon: 120, changes: [{ kind: 'closure', lanes: ['road_2_2_0_1', 'road_nowhere_7'] }] });
    expect(badLane.status).toBe(400);
    expect(badLane.body.error.fields).toEqual([{ path: 'changes.0.lanes.1', message: expect.stringContaining('road_nowhere_7') }]);
    const badController = await post(planner, { horizon: 120, changes: [{ kind: 'control', intersections: 'all', controller: 'telepathy' }] });
    expect(badController.status).toBe(400);
    expect(badController.body.error.fields[0].path).toBe('changes.0.controller');
    const badObservation = await post(planner, { horizon: 120, start: { kind: 'estimate', observation: { time: 0, laneVehicles: [1, 2], laneQueue: [0, 0], laneSpeed: [5, 5] } } });
    expect(badObservation.status).toBe(400);
    expect(badObservation.body.error.fields[0].path).toBe('start.observation.laneVehicles');
    // Nothing refused was stored.
    expect((await api(svc!.url, '/api/whatif', planner)).body.runs).toEqual([]);
  });

  it('runs a lane closure from the twin estimate against the baseline, with progress on the WebSocket', async () => {
    const ws = await openSocket(`${svc!.url.replace('http', 'ws')}/ws?token=${viewer}`);
    try {
      ws.ws.send(JSON.stringify({ type: 'subscribe', topics: ['whatif'] }));
      const snap = await ws.next((m) => m.type === 'snapshot' && m.topic === 'whatif');
      expect(Array.isArray(snap.data.runs)).toBe(true);

      const asked = svc!.twin.observe().time;
      const created = await post(planner, { name: 'roadworks on Main Avenue', horizon: 240, seeds: 2, changes: [{ kind: 'closure', lanes: ROADWORKS }], reason: 'roadworks planned for next week' });
      expect(created.status).toBe(202);
      expect(created.body.status).toBe('queued');
      const id: string = created.body.id;

      // Progress on the topic: the run goes running, reports a share done in between, then done.
      const events = () => ws.messages.filter((m) => m.type === 'event' && m.topic === 'whatif').flatMap((m) => m.data.runs).filter((r: { id: string }) => r.id === id);
      await ws.next((m) => m.type === 'event' && m.topic === 'whatif' && m.data.runs.some((r: { id: string; status: string }) => r.id === id && r.status === 'done'), 150_000);
      const seen = events();
      expect(seen[0].status).toBe('queued');
      expect(seen.some((r: { status: string }) => r.status === 'running')).toBe(true);
      const partial = seen.filter((r: { progress: number }) => r.progress > 0 && r.progress < 1).map((r: { progress: number }) => r.progress);
      expect(partial.length).toBeGreaterThan(0);
      expect([...partial].sort((a, b) => a - b)).toEqual(partial);
      expect(seen.at(-1)).toMatchObject({ status: 'done', progress: 1, createdBy: 'pia', name: 'roadworks on Main Avenue' });

      const run = (await api(svc!.url, `/api/whatif/${id}`, viewer)).body;
      expect(run).toMatchObject({ id, status: 'done', progress: 1, error: null, hasReplay: true });
      // The start is the twin's estimate frozen when asked (with traffic on it), and the scenario as run.
      expect(run.scenario.start.kind).toBe('estimate');
      expect(run.scenario.start.time).toBeGreaterThanOrEqual(asked);
      expect(run.scenario.start.observation.laneVehicles.reduce((a: number, b: number) => a + b, 0)).toBeGreaterThan(10);
      expect(run.scenario.changes[0].lanes).toEqual(ROADWORKS);

      const r = run.result;
      expect(r.seeds).toEqual([0, 1]);
      expect(r.horizon).toBe(240);
      for (const k of ['att', 'stoppedDelay', 'throughput', 'stopsPerVehicle']) {
        expect(r.kpis[k].baseline.n).toBe(2);
        expect(r.kpis[k].scenario.n).toBe(2);
      }
      // Closing a through lane on each of those roads costs delay: more standing vehicle-seconds.
      expect(r.kpis.stoppedDelay.scenario.mean).toBeGreaterThan(r.kpis.stoppedDelay.baseline.mean);
      expect(r.kpis.stoppedDelay.difference.mean).toBeGreaterThan(0);
      // Spread over seeds, and per intersection (every signalised one of the demo's 16).
      expect(r.kpis.att.baseline.std).toBeGreaterThanOrEqual(0);
      expect(r.intersections).toHaveLength(16);
      expect(r.intersections[0]).toMatchObject({ intersection: expect.any(String), delay: { difference: { n: 2 } } });
      expect(r.worstQueues.scenario.length).toBeGreaterThan(0);
      expect(r.perSeed).toHaveLength(2);

      const replay = await api(svc!.url, `/api/whatif/${id}/replay`, viewer);
      expect(replay.status).toBe(200);
      expect(replay.body.run).toBe('scenario');
      expect(replay.body.frames.length).toBeGreaterThan(10);
      for (const f of replay.body.frames) expect(f.poses.length).toBe(3 * f.ids.length);
      expect(replay.body.frames.at(-1).time).toBeGreaterThan(replay.body.frames[0].time);

      // Stored, and audited with who and why.
      const [row] = await svc!.database.db.select().from(whatifRuns).where(eq(whatifRuns.id, id));
      expect(row).toMatchObject({ status: 'done', createdBy: 'pia', progress: 1, name: 'roadworks on Main Avenue' });
      expect(row.result).not.toBeNull();
      expect(row.replay).not.toBeNull();
      const audit = await api(svc!.url, `/api/audit?target=whatif:${id}`, ADMIN);
      expect(audit.body.entries[0]).toMatchObject({ actor: 'pia', action: 'whatif.create', detail: { reason: 'roadworks planned for next week', horizon: 240, seeds: 2 } });

      // Another scenario from the same stored start: the baseline is the same run, so its figures are equal.
      expect((await post(planner, { horizon: 240, start: { kind: 'run', run: 'no-such-run' } })).body.error.fields[0].path).toBe('start.run');
      const again = await post(planner, { name: 'more demand', horizon: 240, seeds: 2, start: { kind: 'run', run: id }, changes: [{ kind: 'demand', area: { bbox: { minX: -1e6, minY: -1e6, maxX: 1e6, maxY: 1e6 } }, factor: 2 }] });
      expect(again.status).toBe(202);
      const second = await finished(again.body.id);
      expect(second.status).toBe('done');
      expect(second.scenario.start).toEqual(run.scenario.start);
      expect(second.result.kpis.att.baseline).toEqual(r.kpis.att.baseline);
      expect(second.result.kpis.stoppedDelay.baseline).toEqual(r.kpis.stoppedDelay.baseline);
      // Twice the trips entering: more vehicles standing.
      expect(second.result.kpis.stoppedDelay.difference.mean).toBeGreaterThan(0);

      const list = await api(svc!.url, '/api/whatif', viewer);
      expect(list.body.runs.find((x: { id: string }) => x.id === id)).toMatchObject({ status: 'done', progress: 1, createdBy: 'pia' });
      // A finished run cannot be cancelled.
      const late = await api(svc!.url, `/api/whatif/${id}`, planner, { method: 'DELETE' });
      expect(late.status).toBe(409);
      expect(late.body.status).toBe('done');
    } finally {
      ws.ws.close();
    }
  });

  it('cancels a running run and a queued one; only planners may', async () => {
    const long = { name: 'long', horizon: 20_000, seeds: 4, changes: [{ kind: 'closure', lanes: ROADWORKS }], replay: { enabled: false } };
    const a = (await post(planner, long)).body.id as string;
    const b = (await post(planner, { ...long, name: 'long too' })).body.id as string;
    await until(async () => (await api(svc!.url, `/api/whatif/${a}`, planner)).body.status === 'running');
    // One run at a time by default: the second waits.
    expect((await api(svc!.url, `/api/whatif/${b}`, planner)).body.status).toBe('queued');

    expect((await api(svc!.url, `/api/whatif/${a}`, viewer, { method: 'DELETE' })).status).toBe(403);
    const cq = await api(svc!.url, `/api/whatif/${b}?reason=${encodeURIComponent('asked twice by mistake')}`, planner, { method: 'DELETE' });
    expect(cq.status).toBe(200);
    expect(cq.body).toEqual({ id: b, status: 'cancelled' });
    const ca = await api(svc!.url, `/api/whatif/${a}`, planner, { method: 'DELETE' });
    expect(ca).toMatchObject({ status: 200, body: { id: a, status: 'cancelled' } });
    expect((await api(svc!.url, `/api/whatif/${a}`, planner, { method: 'DELETE' })).status).toBe(409);
    expect((await api(svc!.url, '/api/whatif/no-such-run', planner, { method: 'DELETE' })).status).toBe(404);

    const gotA = (await api(svc!.url, `/api/whatif/${a}`, planner)).body;
    expect(gotA.status).toBe('cancelled');
    expect(gotA.result).toBeNull();
    expect(gotA.progress).toBeLessThan(1);
    expect((await api(svc!.url, `/api/whatif/${a}/replay`, planner)).status).toBe(409);
    // The worker is gone: nothing left running or queued, and the status stays cancelled.
    await until(async () => svc!.whatif.pending === 0);
    const [row] = await svc!.database.db.select().from(whatifRuns).where(eq(whatifRuns.id, a));
    expect(row.status).toBe('cancelled');
    const audit = await api(svc!.url, `/api/audit?target=whatif:${b}`, ADMIN);
    expect(audit.body.entries[0]).toMatchObject({ actor: 'pia', action: 'whatif.cancel', detail: { reason: 'asked twice by mistake', wasRunning: false } });

    // Without a replay asked for, there is none.
    const small = (await post(planner, { horizon: 60, replay: { enabled: false } })).body.id as string;
    expect((await finished(small)).status).toBe('done');
    expect((await api(svc!.url, `/api/whatif/${small}/replay`, planner)).status).toBe(404);
  });

  it('a run accepted before a restart is run after it', async () => {
    const id = (await post(planner, { name: 'across a restart', horizon: 600, seeds: 2, changes: [{ kind: 'closure', lanes: ROADWORKS }], replay: { enabled: false } })).body.id as string;
    await until(async () => (await api(svc!.url, `/api/whatif/${id}`, planner)).body.status === 'running');
    const dataDir = svc!.dataDir;
    await svc!.stop();
    svc = null;
    // The stop left it for the next start rather than marking it finished.
    svc = await startTestService({ DATA_DIR: dataDir, FIELD: '0', SENSORS: '0', EDGES: '0', PLANNER: '0' });
    const run = await finished(id);
    expect(run.status).toBe('done');
    expect(run.result.kpis.stoppedDelay.scenario.n).toBe(2);
    const [row] = await svc.database.db.select().from(whatifRuns).where(eq(whatifRuns.id, id));
    expect(row.attempts).toBe(2);
    const audit = await api(svc.url, '/api/audit?target=whatif', ADMIN);
    expect(audit.body.entries[0]).toMatchObject({ actor: 'service', action: 'whatif.requeue', detail: { runs: [id] } });
  });
});
