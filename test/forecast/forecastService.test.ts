/**
 * The service's forecasting loop on the demo city's roads, driven with synthetic observations
 * (a morning slowdown travelling along the roads) through its real minute clock: baselines
 * from the first minute, a first model trained once enough rows exist, incremental updates,
 * running accuracy, and the model saved to / loaded from the database and a directory.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import demoSpec from '../../data/demo-city.json' with { type: 'json' };
import { desc, eq } from 'drizzle-orm';
import { ForecastService } from '../../server/ForecastService.ts';
import { openDatabase, type Database } from '../../server/db/Database.ts';
import { forecasts as forecastsTable, modelArtifacts } from '../../server/db/schema.ts';
import { demoCityFromSpec } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { combineForecasts, ForecastAccuracy, type HorizonAccuracy } from '../../twin/forecast/ForecastAccuracy.ts';
import { RoadSpeedRecorder } from '../../twin/forecast/RoadSpeedRecorder.ts';

function demoNetwork(): { net: RoadNetwork; name: string } {
  const city = demoCityFromSpec({ ...demoSpec, demand: { ...demoSpec.demand, duration: 600 } }, 0, 'data/demo-city.json');
  return { net: importRoadnet(city.roadnet, 'demo roadnet'), name: city.name };
}

/** Lane speeds with a slowdown that reaches road r a little after road r − 1, and a little noise. */
function syntheticObservation(net: RoadNetwork, time: number): TrafficObservation {
  const nL = net.lanes.length;
  const laneSpeed = new Float64Array(nL);
  for (let l = 0; l < nL; l++) {
    const r = net.lanes[l].road;
    const hour = time / 3600 - 0.02 * (r % 20);
    const dip = 0.6 * Math.exp(-(((hour - 2.5) / 0.8) ** 2));
    laneSpeed[l] = net.lanes[l].maxSpeed * (1 - dip) * (1 + 0.03 * Math.sin(time / 97 + l));
  }
  return {
    time,
    laneVehicles: new Float64Array(nL).fill(4),
    laneQueue: new Float64Array(nL),
    laneSpeed,
    laneArrivals: new Float64Array(nL).fill(5),
    movementDepartures: new Float64Array(net.movements.length),
    interval: 60,
    laneConfidence: new Float64Array(nL).fill(1),
  };
}

describe('forecasts in the service', () => {
  const { net, name } = demoNetwork();
  let database: Database;
  const dir = mkdtempSync(join(tmpdir(), 'forecast-svc-'));
  let svc: ForecastService;
  const clock = { t: 0 };
  let now = 0;

  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://' });
    svc = new ForecastService(
      { network: net, networkName: name, db: database.db, observe: () => syntheticObservation(net, now), clockOffsetSeconds: 0, dir },
      { trainAfterRows: 40, trainSeconds: 60, hiddenUnits: [16] },
    );
    await svc.start();
  });
  afterAll(async () => {
    await svc.stop();
    await database.close();
  });

  const run = async (to: number) => {
    for (; clock.t <= to; clock.t += 10) {
      now = clock.t;
      svc.onTick(clock.t);
    }
    await svc.idle();
  };

  it('publishes persistence forecasts for every road before a model exists, with levels', async () => {
    expect(svc.backend).toMatch(/^(tensorflow|wasm|cpu)$/);
    await run(30 * 60);
    const s = svc.state;
    expect(s).not.toBeNull();
    expect(s!.source).toBe('persistence');
    expect(s!.model.state).toBe('collecting');
    expect(s!.roads).toHaveLength(net.roads.length);
    expect(s!.roads.map((r) => r.road)).toEqual(net.roads.map((r) => r.id));
    for (const r of s!.roads) {
      expect(r.forecast).toHaveLength(6);
      expect(r.speed).toBeGreaterThan(0);
      // Served by persistence alone: the speed now repeated.
      r.forecast.forEach((v, k) => s!.servedWeights[k].persistence === 1 && expect(v).toBe(r.speed));
      expect(r.level.every((l) => l !== null)).toBe(true);
    }
    expect(s!.horizonsMinutes).toEqual([5, 10, 15, 30, 45, 60]);
    expect(s!.servedWeights.every((w) => w.model === undefined)).toBe(true);
    // Persistence has been scored 5 minutes ahead; no model yet.
    expect(s!.accuracy[0].persistence.count).toBeGreaterThan(0);
    expect(s!.accuracy[0].model.count).toBe(0);
  });

  it('trains a first model once enough rows are recorded, saves it, and forecasts with it', async () => {
    // 40 five-minute rows = 200 minutes.
    await run(200 * 60 + 60);
    expect(svc.modelStatus.error).toBeNull();
    expect(svc.hasModel).toBe(true);
    const status = svc.modelStatus;
    expect(status.state).toBe('ready');
    expect(status.lastTrainedAt).not.toBeNull();
    const stored = await database.db.select().from(modelArtifacts).where(eq(modelArtifacts.name, svc.artefactName));
    expect(stored).toHaveLength(1);
    await run(200 * 60 + 120);
    // A new model waits behind the baselines, which have a record, until it has one.
    expect(svc.state!.source).toBe('model');
    expect(svc.state!.servedWeights.every((w) => w.model === undefined)).toBe(true);
    await run(200 * 60 + 600);
    const s = svc.state!;
    expect(s.roads.every((r) => r.forecast.every((v) => v !== null && v > 0))).toBe(true);
    // Its forecasts are scored on the same pairs as the baselines', and are its own, not the
    // last reading repeated.
    const a = s.accuracy[0];
    expect(a.paired).toBe(true);
    expect(a.model.count).toBeGreaterThan(0);
    expect(a.persistence.count).toBe(a.model.count);
    expect(a.model.rmse).not.toBe(a.persistence.rmse);
  });

  it('updates the model incrementally as new rows arrive and scores it beside the baselines', async () => {
    const before = svc.modelStatus.updates;
    await run(4 * 3600 + 120);
    expect(svc.modelStatus.updates).toBeGreaterThan(before);
    const acc = svc.state!.accuracy;
    for (const h of acc.filter((a) => a.minutes <= 30)) {
      expect(h.model.count).toBeGreaterThan(0);
      expect(h.persistence.count).toBeGreaterThan(0);
      expect(h.historicalAverage.count).toBeGreaterThan(0);
      expect(h.model.rmse).toBeGreaterThanOrEqual(0);
    }
  });

  it('a new service loads the saved model from the database, or from the directory', async () => {
    const fromDb = new ForecastService({ network: net, networkName: name, db: database.db, observe: () => syntheticObservation(net, 0), clockOffsetSeconds: 0 });
    await fromDb.start();
    expect(fromDb.hasModel).toBe(true);
    expect(fromDb.modelStatus.loadedFrom).toBe('database');
    await fromDb.stop();

    const empty = await openDatabase({ dataDir: 'memory://' });
    const fromDir = new ForecastService({ network: net, networkName: name, db: empty.db, observe: () => syntheticObservation(net, 0), clockOffsetSeconds: 0, dir });
    await fromDir.start();
    expect(fromDir.modelStatus.loadedFrom).toBe('directory');
    await fromDir.stop();
    await empty.close();
  });
  it('a restarted service carries on the running accuracy and recent skill it had stored', async () => {
    const rows = await database.db.select().from(forecastsTable).orderBy(desc(forecastsTable.id)).limit(1);
    const stored = rows[0].payload as { accuracy: HorizonAccuracy[] };
    expect(stored.accuracy[0].model.count).toBeGreaterThan(0);

    const restarted = new ForecastService({ network: net, networkName: name, db: database.db, observe: () => syntheticObservation(net, now), clockOffsetSeconds: 0 });
    await restarted.start();
    expect(restarted.accuracy.summary()).toEqual(stored.accuracy);
    // The first refresh after the restart already blends the methods by their stored records,
    // rather than serving the loaded model alone.
    for (let t = 0; t <= 70; t += 10) restarted.onTick(t);
    expect(restarted.state!.source).toBe('model');
    const [first, ...longer] = restarted.state!.servedWeights;
    expect(first.model).toBeGreaterThan(0);
    expect(first.persistence).toBeGreaterThan(0);
    expect(first.historicalAverage).toBeGreaterThan(0);
    // Farther ahead the model may not have a record yet; the baselines do.
    for (const w of longer) expect(Object.keys(w).length).toBeGreaterThanOrEqual(2);
    await restarted.stop();

    // Without the model it scored (another city's artefact name), nothing of the model is kept.
    const other = new ForecastService({ network: net, networkName: `${name}-other`, db: database.db, observe: () => syntheticObservation(net, now), clockOffsetSeconds: 0 });
    await other.start();
    expect(other.accuracy.summary()[0].model.count).toBe(0);
    expect(other.accuracy.summary()[0].persistence.count).toBe(0);
    await other.stop();
  });
});

describe('stored forecast history', () => {
  it("reads one road's rows newest first and skips rows of another network instead of failing on them", async () => {
    const { net, name } = demoNetwork();
    const database = await openDatabase({ dataDir: 'memory://' });
    const svc = new ForecastService({ network: net, networkName: name, db: database.db, observe: () => syntheticObservation(net, 0), clockOffsetSeconds: 0 });
    try {
      const roads = net.roads.map((r) => r.id);
      const element = (road: string, speed: number) => ({ road, speed, flow: 100, forecast: [speed, speed], level: ['free', 'free'] });
      const row = (minute: number, list: unknown[]) => ({ simTime: minute * 60, payload: { minute, source: 'persistence', servedWeights: [{ persistence: 1 }, { persistence: 1 }], roads: list } });
      await database.db.insert(forecastsTable).values([
        row(100, roads.map((r) => element(r, 30))),
        row(105, [element(roads[0], 20)]), // another network: one road only
        row(110, roads.map((r, j) => element(j === 3 ? 'elsewhere' : r, 25))), // another road at index 3
        row(115, roads.map((r) => element(r, 40))),
      ]);
      const got = await svc.storedHistory(roads[3], { limit: 10 });
      expect(got!.map((r) => [r.minute, r.speed])).toEqual([[115, 40], [100, 30]]);
      expect(got![0].forecast).toEqual([40, 40]);
      const older = await svc.storedHistory(roads[3], { limit: 10, before: got![0].id });
      expect(older!.map((r) => r.minute)).toEqual([100]);
      expect(await svc.storedHistory('no-such-road', { limit: 10 })).toBeNull();
    } finally {
      await svc.stop();
      await database.close();
    }
  });
});

describe('road speed recorder', () => {
  it('keeps aligned 5-minute rows and rolling windows ending at any minute', () => {
    const rec = new RoadSpeedRecorder(['a', 'b'], { stepMinutes: 5, inputSteps: 2, keepMinutes: 30 });
    for (let m = 0; m < 10; m++) {
      rec.addSample([m + 1, 10 * (m + 1)]);
      rec.addSample([m + 2, 0]); // an invalid reading is ignored
      const row = rec.closeMinute(m);
      expect(row === null).toBe((m + 1) % 5 !== 0);
    }
    expect(rec.rowCount).toBe(2);
    const s = rec.series(0, 2);
    // Minute means a: m + 1.5; row 0 = minutes 0–4 → 3.5; b: 10(m+1) → row 0 = 30.
    expect(Array.from(s.values)).toEqual([3.5, 30, 8.5, 80]);
    const w = rec.window(7);
    // Rolling rows ending at minutes 2 (minutes 0–2) and 7 (3–7).
    expect(Array.from(w.values)).toEqual([2.5, 20, 6.5, 60]);
    expect(w.lastRowTime).toEqual({ dayOfWeek: 0, slot: 0 });
    expect(() => rec.closeMinute(9)).toThrow(/increase/);
  });
});

describe('forecast accuracy', () => {
  it('scores each method against the value observed at the due minute', () => {
    const acc = new ForecastAccuracy([5, 10]);
    acc.issue(0, [
      { model: Float32Array.from([10, 20]), persistence: Float32Array.from([12, 20]), historicalAverage: null },
      { model: Float32Array.from([1, 1]), persistence: Float32Array.from([1, 1]), historicalAverage: null },
    ]);
    acc.resolve(5, Float32Array.from([11, 22]));
    const s = acc.summary();
    expect(s[0].model).toEqual({ rmse: Math.round(Math.sqrt((1 + 4) / 2) * 1000) / 1000, mae: 1.5, accuracy: expect.any(Number), count: 2 });
    expect(s[0].persistence.mae).toBe(1.5);
    expect(s[0].historicalAverage.count).toBe(0);
    expect(s[1].model.count).toBe(0);
    expect(acc.pendingCount).toBe(1);
    // A due minute that passed without a resolve is dropped, not scored late.
    acc.resolve(11, Float32Array.from([1, 1]));
    expect(acc.summary()[1].model.count).toBe(0);
    expect(acc.pendingCount).toBe(0);
  });

  it('weights each method by the inverse of its recent squared error, and scores what was served', () => {
    const acc = new ForecastAccuracy([5], { recentHalfLifeMinutes: 10, minRecentMinutes: 3 });
    const truth = Float32Array.from([50, 50]);
    let minute = 0;
    const step = (model: number) => {
      const s = { model: Float32Array.from([model, model]), persistence: Float32Array.from([44, 44]), historicalAverage: Float32Array.from([48, 48]) };
      const w = acc.recentWeights(0) ?? { model: 1 };
      acc.issue(minute, [{ ...s, served: combineForecasts(w, s, 2) }]);
      acc.resolve(minute, truth);
      minute++;
      return w;
    };
    // Issued at minute m, due at m + 5: scored from minute 5, a record (3 decayed minutes) by minute 9.
    for (let i = 0; i < 9; i++) expect(step(52)).toEqual({ model: 1 });
    // Errors +2 (model), −6 (persistence), −2 (historical average): weights ∝ 1/4, 1/36, 1/4.
    const w = step(52);
    expect(w.model).toBeCloseTo(9 / 19, 6);
    expect(w.persistence).toBeCloseTo(1 / 19, 6);
    expect(w.historicalAverage).toBeCloseTo(9 / 19, 6);
    for (let i = 0; i < 30; i++) step(52);
    const s = acc.summary()[0];
    expect(s.served.count).toBe(s.model.count);
    // Opposite errors partly cancel: what was served beats every method it combines.
    expect(s.served.rmse!).toBeLessThan(Math.min(s.model.rmse!, s.persistence.rmse!, s.historicalAverage.rmse!));
    // Without the model (not offered), the baselines share the weight.
    expect(acc.recentWeights(0, ['persistence', 'historicalAverage'])).toEqual({ persistence: expect.closeTo(0.1, 6), historicalAverage: expect.closeTo(0.9, 6) });
  });

  it('a stored record carries on the sums and recent skill; without its model, only the baselines', () => {
    const scored = new ForecastAccuracy([5, 10], { minRecentMinutes: 1 });
    for (let m = 0; m < 20; m++) {
      const s = { model: Float32Array.from([51, 49]), persistence: Float32Array.from([45, 45]), historicalAverage: Float32Array.from([52, 52]) };
      scored.issue(m, [s, s]);
      scored.resolve(m, Float32Array.from([50, 50]));
    }
    const record = JSON.parse(JSON.stringify(scored.record()));
    const same = new ForecastAccuracy([5, 10], { minRecentMinutes: 1 });
    expect(same.merge(record, { withModel: true })).toBe(true);
    expect(same.summary()).toEqual(scored.summary());
    expect(same.recentWeights(0)).toEqual(scored.recentWeights(0));
    // Sums add: scoring done before the record was read is kept.
    same.merge(record, { withModel: true });
    expect(same.summary()[0].model.count).toBe(2 * scored.summary()[0].model.count);

    const newModel = new ForecastAccuracy([5, 10], { minRecentMinutes: 1 });
    newModel.merge(record, { withModel: false });
    expect(newModel.summary()[0].model.count).toBe(0);
    expect(Object.keys(newModel.recentWeights(0)!)).toEqual(['persistence', 'historicalAverage']);

    expect(new ForecastAccuracy([5, 15]).merge(record, { withModel: true })).toBe(false);
    expect(() => new ForecastAccuracy([5, 10]).merge({ ...record, recent: [[{ se: -1, count: 1, minutes: 1 }]] }, { withModel: true })).toThrow(/se/);
  });

  it('scores the baselines apart before the model exists, then all three on the same roads', () => {
    const acc = new ForecastAccuracy([5]);
    // Before a model: persistence alone, perfect on two roads.
    acc.issue(0, [{ model: null, persistence: Float32Array.from([10, 20, 30]), historicalAverage: Float32Array.from([10, 20, 30]) }]);
    acc.resolve(5, Float32Array.from([10, 20, 30]));
    let s = acc.summary()[0];
    expect(s.paired).toBe(false);
    expect(s.model.count).toBe(0);
    expect(s.persistence).toMatchObject({ rmse: 0, count: 3 });
    // With the model: its forecast for road 3 is missing, so road 3 counts for no method.
    acc.issue(1, [{ model: Float32Array.from([12, 20, Number.NaN]), persistence: Float32Array.from([10, 24, 30]), historicalAverage: Float32Array.from([10, 20, 30]) }]);
    acc.resolve(6, Float32Array.from([10, 20, 90]));
    s = acc.summary()[0];
    expect(s.paired).toBe(true);
    // Only the paired forecasts: the earlier perfect persistence scores no longer flatter it.
    expect(s.model).toMatchObject({ rmse: Math.round(Math.sqrt(4 / 2) * 1000) / 1000, mae: 1, count: 2 });
    expect(s.persistence).toMatchObject({ rmse: Math.round(Math.sqrt(16 / 2) * 1000) / 1000, mae: 2, count: 2 });
    expect(s.historicalAverage).toMatchObject({ rmse: 0, count: 2 });
  });
});
