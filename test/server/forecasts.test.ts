/**
 * Forecasts in the running service, over real HTTP and WebSocket: a forecaster for the demo
 * city's roads is stored in the service's database beforehand (trained here on synthetic data:
 * the service's own first training needs hours of simulated data); the started service loads it,
 * forecasts every road each simulated minute from the twin's estimate, publishes on the
 * 'forecasts' topic with running accuracy beside the baselines, and /health names the backend.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import demoSpec from '../../data/demo-city.json' with { type: 'json' };
import { FORECAST_MODEL_CONFIG, ForecastsStateSchema } from '../../server/ForecastService.ts';
import { openDatabase } from '../../server/db/Database.ts';
import { modelArtifacts } from '../../server/db/schema.ts';
import { initForecastBackend } from '../../twin/forecast/backend.ts';
import { forecasterToArtefact } from '../../twin/forecast/forecasterStore.ts';
import { roadGraph } from '../../twin/forecast/roadReadings.ts';
import { makeSeries } from '../../twin/forecast/series.ts';
import { disposeForecaster, trainForecaster } from '../../twin/forecast/SpeedForecaster.ts';
import { demoCityFromSpec } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { syntheticCorridor } from '../forecast/synthetic.ts';
import { ADMIN, api, openSocket, startTestService } from './helpers.ts';

type Svc = Awaited<ReturnType<typeof startTestService>>;

/** A small forecaster for the demo city's roads, stored under the name the service looks for. */
async function storeForecaster(dataDir: string): Promise<void> {
  await initForecastBackend();
  const city = demoCityFromSpec({ ...demoSpec, demand: { ...demoSpec.demand, duration: 600 } }, 0, 'data/demo-city.json');
  const net = importRoadnet(city.roadnet, 'demo roadnet');
  const synthetic = syntheticCorridor(net.roads.length, 1, 5, 5);
  // Urban speeds (km/h) rather than the corridor's freeway ones.
  const values = synthetic.series.values.map((v) => v * 0.6);
  const series = makeSeries(net.roads.map((r) => r.id), { stepMinutes: 5, startDayOfWeek: 0, startSlot: 0 }, values);
  const { forecaster } = await trainForecaster(series, roadGraph(net), { ...FORECAST_MODEL_CONFIG, hiddenUnits: [16] }, { maxEpochs: 2, foldInEpochs: 0, progress: false });
  const artifact = await forecasterToArtefact(forecaster);
  disposeForecaster(forecaster);
  const database = await openDatabase({ dataDir });
  await database.db.insert(modelArtifacts).values({ name: `speed-forecaster:${city.name}`, artifact });
  await database.close();
}

describe('forecasts over HTTP and WebSocket', () => {
  let svc: Svc;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'twin-forecasts-'));
    await storeForecaster(dataDir);
    svc = await startTestService({ DATA_DIR: dataDir, SPEED: '60' });
  }, 240_000);
  afterAll(async () => {
    await svc?.stop();
  });

  it('/health names the forecasting backend', async () => {
    let backend: unknown = null;
    for (let i = 0; i < 600 && backend === null; i++) {
      const r = await api(svc.url, '/health', null);
      backend = r.body.forecastBackend;
      if (backend === null) await new Promise((res) => setTimeout(res, 100));
    }
    expect(backend).toMatch(/^(tensorflow|wasm|cpu)$/);
  }, 90_000);

  it('streams per-road forecasts from the stored model, with running accuracy beside the baselines', async () => {
    const { ws, next } = await openSocket(`${svc.url.replace('http', 'ws')}/ws?token=${ADMIN}`);
    try {
      ws.send(JSON.stringify({ type: 'subscribe', topics: ['forecasts'], rate: 5 }));
      const first = await next((m) => m.topic === 'forecasts' && m.data?.source === 'model', 120_000);
      const state = ForecastsStateSchema.parse(first.data);
      expect(state.model.loadedFrom).toBe('database');
      expect(state.backend).toMatch(/^(tensorflow|wasm|cpu)$/);
      expect(state.horizonsMinutes).toEqual([5, 10, 15, 30, 45, 60]);
      expect(state.roads.map((r) => r.road)).toEqual(svc.runtime.network.roads.map((r) => r.id));
      for (const road of state.roads) {
        expect(road.speed).toBeGreaterThan(0);
        expect(road.forecast).toHaveLength(6);
        expect(road.forecast.every((v) => v !== null && v > 0)).toBe(true);
        expect(road.level.every((l) => l !== null)).toBe(true);
      }
      // Five simulated minutes later the first forecasts are scored against what happened.
      const scored = await next((m) => m.topic === 'forecasts' && (m.data?.accuracy?.[0]?.model?.count ?? 0) > 0, 180_000);
      const acc = ForecastsStateSchema.parse(scored.data).accuracy[0];
      expect(acc.minutes).toBe(5);
      expect(acc.model.rmse).toBeGreaterThanOrEqual(0);
      // The model forecast from the start: the baselines are scored on exactly its pairs.
      expect(acc.paired).toBe(true);
      expect(acc.persistence.count).toBe(acc.model.count);
      expect(acc.historicalAverage.count).toBe(acc.model.count);
      // The next refresh is a new minute.
      expect(scored.data.minute).toBeGreaterThan(state.minute);
    } finally {
      ws.close();
    }
  }, 320_000);

  it('serves the latest forecasts and a road\'s stored forecasts over HTTP', async () => {
    const roads = svc.runtime.network.roads.map((r) => r.id);
    const latest = await api(svc.url, '/api/forecasts', ADMIN);
    expect(latest.status).toBe(200);
    const state = ForecastsStateSchema.parse(latest.body);
    expect(state.roads.map((r) => r.road)).toEqual(roads);

    const two = await api(svc.url, `/api/forecasts?roads=${roads[3]},${roads[0]}`, ADMIN);
    expect(two.status).toBe(200);
    expect(two.body.roads.map((r: { road: string }) => r.road)).toEqual([roads[3], roads[0]]);
    const unknown = await api(svc.url, `/api/forecasts?roads=${roads[0]},no-such-road`, ADMIN);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain('no-such-road');
    expect((await api(svc.url, '/api/forecasts?roads=a,,b', ADMIN)).status).toBe(400);
    expect((await api(svc.url, '/api/forecasts', null)).status).toBe(401);

    // Every 5th refresh is stored: wait for a few, then read one road's back, newest first.
    const road = roads[5];
    let rows: { id: number; minute: number; speed: number | null; forecast: (number | null)[]; servedWeights: unknown[] }[] = [];
    for (let i = 0; i < 600 && rows.length < 3; i++) {
      const r = await api(svc.url, `/api/forecasts/roads/${road}/history?limit=3`, ADMIN);
      expect(r.status).toBe(200);
      rows = r.body.rows;
      if (rows.length < 3) await new Promise((res) => setTimeout(res, 200));
    }
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.forecast).toHaveLength(6);
      expect(row.servedWeights).toHaveLength(6);
    }
    expect(rows[0].minute).toBeGreaterThan(rows[1].minute);
    expect(rows[0].id).toBeGreaterThan(rows[1].id);
    // Paging back from the second row gives the third.
    const older = await api(svc.url, `/api/forecasts/roads/${road}/history?limit=1&before=${rows[1].id}`, ADMIN);
    expect(older.body.rows.map((r: { id: number }) => r.id)).toEqual([rows[2].id]);
    // The stored row holds what was published for that road then: the stream's values.
    const other = await api(svc.url, `/api/forecasts/roads/${roads[6]}/history?limit=1&before=${rows[0].id + 1}`, ADMIN);
    expect(other.body.rows[0].id).toBe(rows[0].id);
    expect(other.body.rows[0].forecast).not.toEqual(rows[0].forecast);

    expect((await api(svc.url, '/api/forecasts/roads/no-such-road/history', ADMIN)).status).toBe(404);
    const bad = await api(svc.url, `/api/forecasts/roads/${road}/history?limit=0`, ADMIN);
    expect(bad.status).toBe(400);
  }, 180_000);

  it('says so when forecasting is off', async () => {
    const off = await startTestService({ FORECAST: '0' });
    try {
      for (const path of ['/api/forecasts', `/api/forecasts/roads/${off.runtime.network.roads[0].id}/history`]) {
        const r = await api(off.url, path, ADMIN);
        expect(r.status).toBe(404);
        expect(r.body.error.message).toContain('FORECAST=0');
      }
    } finally {
      await off.stop();
    }
  }, 60_000);
});
