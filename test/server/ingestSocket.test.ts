/**
 * Sensor ingest over a real WebSocket (/ws/ingest) against a started service: the same batches
 * and verdicts as POST /api/ingest, an ack per batch once its readings are stored, idempotency by
 * sensor and sequence shared with the HTTP route, and only integrators (and admins) let in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../server/Service.ts';
import { serializeHlc } from '../../twin/sensors/HybridLogicalClock.ts';
import { ADMIN, api, openSocket, startTestService } from './helpers.ts';

let svc: RunningService;
let integrator: string;
let viewer: string;
let wsBase: string;

beforeAll(async () => {
  svc = await startTestService({ FIELD: '0', SENSORS: '0', PLANNER: '0', EDGES: '0' });
  wsBase = svc.url.replace('http', 'ws');
  const mk = async (name: string, role: string) => (await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name, role }) })).body.token as string;
  integrator = await mk('ws-loops', 'integrator');
  viewer = await mk('ws-viewer', 'viewer');
});
afterAll(async () => {
  await svc?.stop();
});

function loopReading(sensorId: string, seq: number, tMs: number) {
  return { type: 'loop', sensorId, seq, ts: serializeHlc({ pt: tMs, lc: seq }), intervalMs: 1000, count: 1, occupancy: 0.2, speed: 9.5, presence: false, total: seq };
}

describe('ingest over WebSocket', () => {
  it('acknowledges each batch once stored, with a verdict per reading; duplicates by sensor and sequence', async () => {
    const sensor = svc.twin.layout.detectors[1].id;
    const before = await svc.ingest.count();
    const s = await openSocket(`${wsBase}/ws/ingest?token=${integrator}`);
    expect((await s.next((m) => m.type === 'hello')).role).toBe('integrator');

    const batch = [loopReading(sensor, 1, 0), { ...loopReading(sensor, 2, 0), occupancy: 3 }, loopReading('no-such-sensor', 1, 0), { nonsense: true }, loopReading(sensor, 3, 0)];
    s.ws.send(JSON.stringify({ type: 'batch', id: 'b1', messages: batch }));
    const ack = await s.next((m) => m.id === 'b1');
    expect(ack.type).toBe('ack');
    // Acknowledged means stored: the rows are in the database when the ack arrives.
    expect(await svc.ingest.count()).toBe(before + 2);
    expect([ack.accepted, ack.duplicates, ack.rejected]).toEqual([2, 0, 3]);
    const byIndex = Object.fromEntries(ack.results.map((r: { index: number }) => [r.index, r]));
    expect(byIndex[0].status).toBe('accepted');
    expect(byIndex[1].reason).toContain('occupancy');
    expect(byIndex[2].reason).toContain('unknown sensor');
    expect(byIndex[3].status).toBe('rejected');
    expect(byIndex[4].status).toBe('accepted');

    // Pipelined batches are acknowledged in order; a resent reading is a duplicate.
    s.ws.send(JSON.stringify({ type: 'batch', id: 2, messages: [loopReading(sensor, 1, 0), loopReading(sensor, 4, 0)] }));
    s.ws.send(JSON.stringify({ type: 'batch', id: 3, messages: [loopReading(sensor, 4, 0)] }));
    const a2 = await s.next((m) => m.id === 2);
    const a3 = await s.next((m) => m.id === 3);
    expect(s.messages.indexOf(a2)).toBeLessThan(s.messages.indexOf(a3));
    expect([a2.accepted, a2.duplicates]).toEqual([1, 1]);
    expect([a3.accepted, a3.duplicates]).toEqual([0, 1]);
    expect(await svc.ingest.count()).toBe(before + 3);

    // The HTTP route shares the same ingest: what came over the socket is a duplicate there.
    const http = await api(svc.url, '/api/ingest', integrator, { method: 'POST', body: JSON.stringify({ messages: [loopReading(sensor, 4, 0)] }) });
    expect(http.body.duplicates).toBe(1);
    s.ws.close();
  });

  it('refuses frames that are not batches, naming the field', async () => {
    const s = await openSocket(`${wsBase}/ws/ingest?token=${integrator}`);
    s.ws.send(JSON.stringify({ type: 'batch', id: 'x', readings: [] }));
    const err = await s.next((m) => m.type === 'error');
    expect(err.id).toBe('x');
    expect(err.fields.map((f: { path: string }) => f.path)).toContain('messages');
    s.ws.send('not json');
    expect((await s.next((m) => m.type === 'error' && m.message.includes('JSON'))).message).toContain('not JSON');
    s.ws.close();
  });

  it('lets in integrators and admins only', async () => {
    await expect(openSocket(`${wsBase}/ws/ingest`)).rejects.toThrow('401');
    await expect(openSocket(`${wsBase}/ws/ingest?token=wrong-token-123`)).rejects.toThrow('401');
    await expect(openSocket(`${wsBase}/ws/ingest?token=${viewer}`)).rejects.toThrow('403');
    const admin = await openSocket(`${wsBase}/ws/ingest?token=${ADMIN}`);
    expect((await admin.next((m) => m.type === 'hello')).role).toBe('admin');
    admin.ws.close();
  });
});
