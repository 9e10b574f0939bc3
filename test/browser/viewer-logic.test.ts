/**
 * The viewer's data handling without a browser: stream schemas against what the service really
 * sends, signal state bookkeeping, the simulation clock, lane colouring in place and vehicle
 * extrapolation. (three's geometry and instancing need no WebGL context.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetworkViewSchema, type NetworkView } from '../../viewer/src/api.ts';
import { Frustum, Matrix4, OrthographicCamera } from 'three';
import { NetworkLayer, RIBBON_MIN_PX_PER_M } from '../../viewer/src/NetworkLayer.ts';
import { congestionIndex, congestionLut } from '../../viewer/src/palette.ts';
import { ribbonGeometry } from '../../viewer/src/ribbon.ts';
import { SIGNAL_GREEN, SIGNAL_RED, SIGNAL_UNKNOWN, SIGNAL_YELLOW, SignalState } from '../../viewer/src/SignalState.ts';
import { SimClock } from '../../viewer/src/SimClock.ts';
import { EnvelopeSchema, TopicSchemas } from '../../viewer/src/streamSchemas.ts';
import { roadForecastCheck } from '../../viewer/src/forecastCheck.ts';
import { VehicleLayer } from '../../viewer/src/VehicleLayer.ts';
import { ADMIN, openSocket, startTestService } from '../server/helpers.ts';
import type { RunningService } from '../../server/Service.ts';

describe('stream messages from the real service', () => {
  let svc: RunningService;
  let net: NetworkView;
  let messages: unknown[];

  beforeAll(async () => {
    svc = await startTestService({ SPEED: '50' });
    const res = await fetch(`${svc.url}/api/network`, { headers: { authorization: `Bearer ${ADMIN}` } });
    net = NetworkViewSchema.parse(await res.json());
    const s = await openSocket(`${svc.url.replace('http', 'ws')}/ws?token=${ADMIN}`);
    s.ws.send(JSON.stringify({ type: 'subscribe', topics: ['signals', 'lanes', 'vehicles'], rate: 10 }));
    await s.next((m) => m.type === 'delta' && m.topic === 'signals', 15_000);
    await s.next((m) => m.topic === 'vehicles' && m.data.count > 0, 15_000);
    messages = [...s.messages];
    s.ws.close();
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('match the viewer schemas, every one', () => {
    let checked = 0;
    for (const raw of messages) {
      const env = EnvelopeSchema.parse(raw);
      if (env.type !== 'snapshot' && env.type !== 'delta') continue;
      const schema = (TopicSchemas as Record<string, Record<string, { parse(d: unknown): unknown }>>)[env.topic]?.[env.type];
      expect(schema, `${env.topic} ${env.type}`).toBeDefined();
      schema.parse(env.data);
      checked++;
    }
    expect(checked).toBeGreaterThan(3);
  });

  it('build a network layer with one colour run per lane, recoloured in place', () => {
    const layer = new NetworkLayer(net);
    const lanes = layer.group.getObjectByName('lanes');
    expect(lanes?.children.length).toBeGreaterThan(0); // one merged mesh per tile
    type Colored = { geometry: { getAttribute(n: string): { array: Float32Array; version: number } } };
    const colors = (lanes!.children[0] as unknown as Colored).geometry.getAttribute('color');
    const array = colors.array;
    const version = colors.version;
    expect(layer.setSpeedRatios(net.lanes.map(() => 0))).toBe(true);
    expect(colors.array).toBe(array); // same buffer, no reallocation
    expect(colors.version).toBeGreaterThan(version);
    const lut = congestionLut();
    expect(array[0]).toBeCloseTo(lut[0]);
    // The far view's road lines follow: every road is at the stopped end of the ramp.
    const lines = layer.far.geometry.getAttribute('color').array as Float32Array;
    expect(lines[0]).toBeCloseTo(lut[0]);
    // Unchanged ratios leave the buffer alone.
    const v2 = colors.version;
    expect(layer.setSpeedRatios(net.lanes.map(() => 0))).toBe(false);
    expect(colors.version).toBe(v2);
    expect(layer.bounds.isEmpty()).toBe(false);
    layer.dispose();
  });

  it('switch the network between ribbons and lines by scale, with hysteresis', () => {
    const layer = new NetworkLayer(net);
    expect(layer.isDetailed).toBe(true);
    expect(layer.setDetail(RIBBON_MIN_PX_PER_M * 0.5)).toBe(true);
    expect(layer.near.visible).toBe(false);
    expect(layer.far.visible).toBe(true);
    expect(layer.setDetail(RIBBON_MIN_PX_PER_M * 1.02)).toBe(false); // inside the hysteresis band
    expect(layer.setDetail(RIBBON_MIN_PX_PER_M * 2)).toBe(true);
    expect(layer.near.visible).toBe(true);
    layer.dispose();
  });
});

describe('signal state', () => {
  it('applies snapshots and deltas, counts changes, understands yellow', () => {
    const s = new SignalState(4, 2);
    const seen: number[][] = [];
    s.onChange((m) => seen.push([...m]));
    s.applySnapshot({ time: 10, phases: [1, -1], movements: 'GRRG' });
    expect(Array.from(s.movement)).toEqual([SIGNAL_GREEN, SIGNAL_RED, SIGNAL_RED, SIGNAL_GREEN]);
    expect(s.changes).toBe(0); // the first picture is not a change
    s.applyDelta({ time: 20, movements: [[0, 'Y'], [1, 'G']], phases: [[0, 2]] });
    expect(s.movement[0]).toBe(SIGNAL_YELLOW);
    expect(s.phase[0]).toBe(2);
    expect(s.phaseSince[0]).toBe(20);
    expect(s.changes).toBe(2);
    expect(seen.at(-1)).toEqual([0, 1]);
    s.applyDelta({ time: 21, movements: [[2, '?'], [9, 'G']], phases: [] });
    expect(s.movement[2]).toBe(SIGNAL_UNKNOWN);
  });
});

describe('simulation clock', () => {
  it('learns the rate and never runs more than two updates ahead', () => {
    const c = new SimClock();
    expect(Number.isNaN(c.now(0))).toBe(true);
    for (let k = 0; k <= 20; k++) c.observe(k * 10, k * 1000); // 10 sim s per wall s, one update a second
    expect(c.rate).toBeCloseTo(10, 0);
    expect(c.now(20_500)).toBeCloseTo(205, 0);
    expect(c.now(60_000)).toBeCloseTo(200 + 2 * c.updateInterval, 5);
    c.observe(5, 61_000); // restarted service: time went back
    expect(c.now(61_000)).toBe(5);
  });
});

describe('vehicle layer', () => {
  const snapshot = { time: 100, count: 3, x: [0, 10, 20], y: [0, 0, 0], heading: [0, Math.PI / 2, Math.PI], speed: [10, 5, 0], cls: ['car', 'bus', 'emergency'] };

  it('writes snapshot poses and velocities; the shader carries them forward, capped', () => {
    const v = new VehicleLayer(2);
    v.setSnapshot(snapshot);
    expect(v.count).toBe(3); // grew past the initial capacity
    expect(v.update(101, 3)).toBe(true);
    expect(v.mesh.count).toBe(3);
    const a = v.mesh.instanceMatrix.array;
    expect(a[12]).toBeCloseTo(0); // snapshot position; the offset is velocity × extrapolation
    expect(a[16 + 12]).toBeCloseTo(10);
    expect(a[16]).toBeCloseTo(0); // a bus heading north: its 12 m length along y
    expect(a[16 + 1]).toBeCloseTo(12);
    const vel = v.mesh.geometry.getAttribute('vehicleVelocity').array;
    expect(vel[0]).toBeCloseTo(10); // east at 10 m/s
    expect(vel[3]).toBeCloseTo(5); // north at 5 m/s
    expect(vel[4]).toBeCloseTo(0); // stopped
    expect(v.extrapolation).toBeCloseTo(1);
    expect(v.update(200, 3)).toBe(true);
    expect(v.extrapolation).toBe(3); // capped
    expect(v.update(201, 3)).toBe(false); // nothing moves past the cap: no frame needed
    v.dispose();
  });

  it('draws points when zoomed out and only the vehicles in view', () => {
    const v = new VehicleLayer(4);
    v.setSnapshot(snapshot);
    expect(v.setDetail(0.1, 1)).toBe(true);
    v.update(100, 3);
    expect(v.points.visible).toBe(true);
    expect(v.mesh.visible).toBe(false);
    expect(v.points.geometry.drawRange.count).toBe(3);
    // A 2 m wide view looking straight down, 1 km west of the vehicles: all culled (the margin
    // is 90 m). Moved over them, all drawn (x = 20 is outside the view but inside the margin).
    const camera = new OrthographicCamera(-1, 1, 1, -1, 0.1, 10);
    camera.position.set(-1000, 0, 5);
    camera.updateMatrixWorld();
    const frustum = new Frustum().setFromProjectionMatrix(new Matrix4().multiplyMatrices(camera.projectionMatrix, camera.matrixWorldInverse));
    v.setView(frustum);
    v.update(100, 3);
    expect(v.drawn).toBe(0);
    camera.position.set(0, 0, 5);
    camera.updateMatrixWorld();
    v.setView(new Frustum().setFromProjectionMatrix(new Matrix4().multiplyMatrices(camera.projectionMatrix, camera.matrixWorldInverse)));
    v.update(100, 3);
    expect(v.drawn).toBe(3);
    v.dispose();
  });
});

describe('ribbons and palette', () => {
  it('builds a lane ribbon of the right width, trimmed for the stop bar', () => {
    const g = ribbonGeometry([0, 0, 100, 0], 1.5, 0, 2.5);
    const p = g.getAttribute('position');
    expect(p.count).toBe(4);
    expect(p.getY(0)).toBeCloseTo(1.5);
    expect(p.getY(1)).toBeCloseTo(-1.5);
    expect(p.getX(2)).toBeCloseTo(97.5);
    expect(g.getIndex()?.count).toBe(6);
  });

  it('maps speed ratios onto the ramp, with no data for missing values', () => {
    expect(congestionIndex(1)).toBe(255);
    expect(congestionIndex(0)).toBe(0);
    expect(congestionIndex(1.4)).toBe(255);
    expect(congestionIndex(Number.NaN)).toBe(-1);
  });
});

describe('one road\'s forecasts against what followed', () => {
  it('places each forecast at the minute it was for, scores it beside persistence, and stops at a restart', () => {
    // Newest first, as the history API answers: minutes 120 … 100 of this run, then rows of an
    // earlier run whose clock was ahead (the simulated clock starts again at a restart).
    const speeds: Record<number, number> = { 100: 50, 105: 40, 110: 30, 115: 30, 120: 35 };
    const rows = [120, 115, 110, 105, 100].map((minute, i) => ({ id: 10 - i, minute, speed: speeds[minute], forecast: [speeds[minute] - 8, 33] }));
    rows.push({ id: 5, minute: 900, speed: 70, forecast: [70, 70] });
    const check = roadForecastCheck({ road: 'r', horizonsMinutes: [5, 10], unit: 'km/h', rows });
    expect(check.observed.time).toEqual([100, 105, 110, 115, 120].map((m) => m * 60));
    expect(check.observed.values).toEqual([50, 40, 30, 30, 35]);
    expect(check.forecasts[1].time).toEqual([110, 115, 120, 125, 130].map((m) => m * 60));
    expect(check.spanMinutes).toBe(20);
    // +5 min: forecasts 42, 32, 22, 22 for 40, 30, 30, 35; persistence 50, 40, 30, 30.
    const [five, ten] = check.horizons;
    expect(five.count).toBe(4);
    expect(five.servedRmse).toBeCloseTo(Math.sqrt((4 + 4 + 64 + 169) / 4), 9);
    expect(five.persistenceRmse).toBeCloseTo(Math.sqrt((100 + 100 + 0 + 25) / 4), 9);
    // +10 min: 33 for 30, 30, 35 (the rows from minute 100, 105, 110); persistence 50, 40, 30.
    expect(ten.count).toBe(3);
    expect(ten.servedRmse).toBeCloseTo(Math.sqrt((9 + 9 + 4) / 3), 9);
    expect(ten.persistenceRmse).toBeCloseTo(Math.sqrt((400 + 100 + 25) / 3), 9);
  });
});
