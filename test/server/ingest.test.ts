/**
 * Sensor ingest over real HTTP: each reading in a batch is judged on its own, duplicates are
 * recognised by sensor and sequence, accepted readings are in the database when acknowledged,
 * and the demo field's own sensors feed the twin through the same route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../server/Service.ts';
import { serializeHlc } from '../../twin/sensors/HybridLogicalClock.ts';
import { ADMIN, api, startTestService } from './helpers.ts';

let svc: RunningService;
let integrator: string;

beforeAll(async () => {
  svc = await startTestService({ FIELD: '0', SENSORS: '0', PLANNER: '0' });
  integrator = (await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'acme-loops', role: 'integrator' }) })).body.token;
});
afterAll(async () => {
  await svc?.stop();
});

function loopReading(sensorId: string, seq: number, tMs: number) {
  return {
    type: 'loop',
    sensorId,
    seq,
    ts: serializeHlc({ pt: tMs, lc: seq }),
    intervalMs: 1000,
    count: 1,
    occupancy: 0.2,
    speed: 9.5,
    presence: false,
    total: seq,
  };
}

describe('ingest', () => {
  it('keeps the good readings of a batch, refuses the bad ones with reasons, and stores what it acknowledges', async () => {
    const sensor = svc.twin.layout.detectors[0].id;
    const good = loopReading(sensor, 1, 0);
    const ok = await api(svc.url, '/api/ingest', integrator, { method: 'POST', body: JSON.stringify({ messages: [good] }) });
    if (ok.body.accepted !== 1) throw new Error(`first reading not accepted: ${JSON.stringify(ok.body)}`);
    const batch = [loopReading(sensor, 2, 0), { ...loopReading(sensor, 3, 0), occupancy: 7 }, loopReading('no-such-sensor', 1, 0), good, { nonsense: true }];
    const r = await api(svc.url, '/api/ingest', integrator, { method: 'POST', body: JSON.stringify({ messages: batch }) });
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(1);
    expect(r.body.duplicates).toBe(1);
    expect(r.body.rejected).toBe(3);
    const byIndex = Object.fromEntries(r.body.results.map((x: { index: number; status: string; reason?: string }) => [x.index, x]));
    expect(byIndex[0].status).toBe('accepted');
    expect(byIndex[1].reason).toContain('occupancy');
    expect(byIndex[2].reason).toContain('unknown sensor');
    expect(byIndex[3].status).toBe('duplicate');
    expect(await svc.ingest.count()).toBe(2);
  });

  it('refuses what is not a batch, and roles other than integrator', async () => {
    const bad = await api(svc.url, '/api/ingest', integrator, { method: 'POST', body: JSON.stringify({ readings: [] }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields[0].path).toBe('messages');
    const viewer = (await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'vic', role: 'viewer' }) })).body.token;
    expect((await api(svc.url, '/api/ingest', viewer, { method: 'POST', body: JSON.stringify({ messages: [] }) })).status).toBe(403);
  });
});

describe('the field feeding the twin', () => {
  let live: RunningService;
  beforeAll(async () => {
    live = await startTestService({ SPEED: '10', PLAN_INTERVAL: '120' });
  });
  afterAll(async () => {
    await live?.stop();
  });

  it('posts sensor readings through the ingest API; the twin estimates lanes and the planner publishes plans', async () => {
    const end = Date.now() + 120_000;
    while (Date.now() < end && (live.runtime.engine.time < 400 || live.planner.published === 0)) await new Promise((r) => setTimeout(r, 500));
    // Compare at one instant: stop the field, let the last readings arrive, bring the twin up to date.
    live.runtime.stop();
    while (live.feed!.pending > 0 && Date.now() < end + 30_000) await new Promise((r) => setTimeout(r, 100));
    live.twin.advance(live.runtime.engine.time);
    expect(live.feed!.posted).toBeGreaterThan(100);
    expect(await live.ingest.count()).toBeGreaterThan(100);
    // The estimate follows the truth on the demo city (a loose bound: the evaluation measures it).
    const est = live.twin.observe();
    const truth = live.runtime.truth.observe();
    let err = 0;
    let tot = 0;
    for (let l = 0; l < est.laneVehicles.length; l++) {
      err += Math.abs(est.laneVehicles[l] - truth.laneVehicles[l]);
      tot += truth.laneVehicles[l];
    }
    expect(tot).toBeGreaterThan(0);
    expect(1 - err / tot).toBeGreaterThan(0.6);
    expect(live.planner.published).toBeGreaterThan(0);
    const audit = await api(live.url, '/api/audit?limit=200', ADMIN);
    expect(audit.body.entries.some((e: { actor: string; action: string }) => e.actor === 'system:central-planner' && e.action === 'plan.publish')).toBe(true);
    expect((await api(live.url, '/health', null)).body.unsafeSignalStates).toBe(0);
  });
});
