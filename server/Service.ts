/**
 * Builds and starts the whole service from a configuration: database, auth, the twin runtime on
 * the demo city, the HTTP API, WebSocket streams and the viewer. main.ts calls it; integration
 * tests call it too, on a free port and a temporary data directory.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getRequestListener } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import demoSpec from '../data/demo-city.json' with { type: 'json' };
import { demoCityFromSpec, generateDemand, generateGrid, withRealisticPeak, type City } from '../twin/network/generator.ts';
import { importFlows, importRoadnet } from '../twin/network/importCityFlow.ts';
import { createApp, type Services } from './api/app.ts';
import { AuditLog } from './AuditLog.ts';
import { AuthService } from './auth/AuthService.ts';
import type { Config } from './config.ts';
import { openDatabase, type Database } from './db/Database.ts';
import { networks } from './db/schema.ts';
import { ControllerRegistry } from './ControllerRegistry.ts';
import { Retention, tableBytes } from './Retention.ts';
import { controllerRoutes } from './api/routes/controllers.ts';
import { planRoutes } from './api/routes/plans.ts';
import { buildSensorLayout } from '../twin/sensors/SensorLayout.ts';
import { TwinState } from '../twin/state/TwinState.ts';
import { ingestRoutes } from './api/routes/ingest.ts';
import { fieldRoutes } from './api/routes/field.ts';
import { rtasRoutes } from './api/routes/rtas.ts';
import { DEFAULT_RTAS_CONFIG, RtasScheduler } from './RtasScheduler.ts';
import { controlSites } from '../signal-controllers/policies/sites.ts';
import { intersectionRoutes } from './api/routes/intersections.ts';
import { forecastRoutes } from './api/routes/forecasts.ts';
import { AlertMonitor } from './AlertMonitor.ts';
import { IntersectionHistory } from './IntersectionHistory.ts';
import { CentralPlanner } from './CentralPlanner.ts';
import { EdgeFleet } from './EdgeFleet.ts';
import { fieldResumePoint, IngestService, newestStoredReadings } from './IngestService.ts';
import { SensorFeed } from './SensorFeed.ts';
import { Metrics } from './Metrics.ts';
import { PlanStore } from './PlanStore.ts';
import { StreamHub } from './streams/StreamHub.ts';
import { IngestSocket, INGEST_SOCKET_ACCESS, INGEST_SOCKET_PATH } from './streams/IngestSocket.ts';
import { UNDOCUMENTED_ROUTES } from './api/http.ts';
import type { Hono } from 'hono';
import type { AppEnv } from './api/http.ts';
import { TwinRuntime } from './TwinRuntime.ts';
import { ForecastService } from './ForecastService.ts';
import { WhatIfService } from './WhatIfService.ts';
import { whatifRoutes } from './api/routes/whatif.ts';
import { EmergencyService, emergencyReserveFlow } from './EmergencyService.ts';
import { PreemptionBoard } from './PreemptionBoard.ts';
import { emergencyRoutes } from './api/routes/emergency.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface RunningService {
  whatif: WhatIfService;
  emergency: EmergencyService;
  server: Server;
  port: number;
  url: string;
  database: Database;
  runtime: TwinRuntime;
  hub: StreamHub;
  plans: PlanStore;
  controllers: ControllerRegistry;
  fleet: EdgeFleet;
  twin: TwinState;
  ingest: IngestService;
  planner: CentralPlanner;
  feed: SensorFeed | null;
  /** Congestion forecasts per road (null when FORECAST=0). */
  forecasts: ForecastService | null;
  /** Token printed on first start (null when an admin already existed or ADMIN_TOKEN was given). */
  generatedAdminToken: string | null;
  /** The Hono app (its `routes` list every route, for the role test). */
  app: Hono<AppEnv>;
  stop(): Promise<void>;
}

export async function startService(config: Config): Promise<RunningService> {
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const auth = new AuthService(database.db);
  const generatedAdminToken = await auth.ensureAdmin(config.ADMIN_TOKEN);
  const audit = new AuditLog(database.db);
  const metrics = new Metrics();

  const city = loadCity(config.NETWORK, config.SEED);
  const network = importRoadnet(city.roadnet, `${city.name} roadnet`);
  // Plus one flow that never spawns: emergency vehicles are put into the field with its parameters.
  const reserveFlow = city.flows.length > 0 ? city.flows.length : null;
  const flows = importFlows(reserveFlow === null ? city.flows : [...city.flows, emergencyReserveFlow(city.flows[0].route)], network, 'demo city flows');
  await database.db
    .insert(networks)
    .values({ id: 'current', name: city.name, roadnet: city.roadnet })
    .onConflictDoUpdate({ target: networks.id, set: { name: city.name, roadnet: city.roadnet } });

  // The field's heads are driven by edge controllers (the roadnet's program made safe until a
  // central plan arrives), never by the raw program, which has no clearance between its phases.
  const runtime = new TwinRuntime(
    { name: city.name, network, flows, speed: config.SPEED, seed: config.SEED, signalMode: 'external', maxStreamedVehicles: config.MAX_STREAMED_VEHICLES },
    metrics,
  );
  const fleet = new EdgeFleet(runtime.engine, config.SPEED);
  runtime.onBeforeStep(() => fleet.tick());
  fleet.tick();
  const plans = new PlanStore(database.db, network, audit);
  await plans.load();
  const controllers = new ControllerRegistry(database.db);
  await controllers.load();
  const retention = new Retention(
    database.db,
    { heartbeats: config.RETAIN_HEARTBEATS_DAYS, forecasts: config.RETAIN_FORECASTS_DAYS, readings: config.RETAIN_READINGS_DAYS },
    { onDeleted: (table, rows) => metrics.retentionDeleted.inc({ table }, rows) },
  );
  retention.start();
  metrics.measureTables(() => tableBytes(database.db));

  // The twin: built only from sensor messages arriving through the ingest API.
  const layout = buildSensorLayout(network);
  const newest = await newestStoredReadings(database.db, [...layout.byId.keys()]);
  // The demo field runs in this process and restarts with it, empty: its clock and numbering
  // resume after the stored readings (so none is overwritten or reordered), the twin reads its
  // clock from there, and the twin starts empty too (the stored readings describe traffic the
  // restarted simulation no longer has). A field outside (SENSORS=0) kept running: it keeps its own
  // clock and numbering, and the twin re-reads the last minutes of its readings.
  const inProcessField = config.SENSORS === '1';
  const resume = inProcessField ? fieldResumePoint(newest) : { epochMs: 0, startSeq: {} };
  const twin = new TwinState(network, layout, { epochMs: resume.epochMs });
  const ingest = new IngestService(database, twin, metrics, () => resume.epochMs + runtime.engine.time * 1000);
  if (!inProcessField) await ingest.recover({ newest });
  runtime.onTick((e) => twin.advance(e.time));
  // The viewer's panels: an hour of queue and delay per intersection, and alerts with a place.
  const history = new IntersectionHistory(network, twin);
  const alerts = new AlertMonitor(network, layout, {
    sensorFlags: () => twin.sensorFlags(),
    laneQueue: () => twin.observe().laneQueue,
    controllers: () => controllers.list(),
    feedSilentSeconds: () => twin.feedSilentSeconds(),
    // The first plans come one planning interval after start; allow a second round (a job can
    // fail on its RTAS node) and a minute before a controller still without one is an alert.
    centralPlanExpectedWithin: config.PLANNER === '1' ? 2 * config.PLAN_INTERVAL + 60 : undefined,
  });
  let alertsAt = -Infinity;
  runtime.onTick((e) => {
    history.record(e.time);
    if (e.time - alertsAt >= 2) {
      alertsAt = e.time;
      alerts.update(e.time);
    }
  });
  // RTAS places each intersection's plan computation on a compute node (the centre, or an edge agent that takes jobs).
  const rtas = new RtasScheduler(new Map(controlSites(network).sites.map((x) => [x.safety.id, x])), { ...DEFAULT_RTAS_CONFIG, speed: config.SPEED }, metrics);
  controllers.onHeartbeat((id, state, at) => rtas.heartbeat(id, state, at));
  rtas.start();
  const planner = new CentralPlanner(network, plans, { interval: config.PLAN_INTERVAL, minChange: 0.1 }, (job) => rtas.run(job), (i, v, node) => rtas.published(i, v, node));
  if (config.PLANNER === '1') {
    runtime.onTick(async (e) => {
      if (Math.round(e.time) % 60 === 0) await planner.update(twin.observe(), e.time, (ingest.latestReadingMs - resume.epochMs) / 1000);
    });
  }

  const hub = new StreamHub(auth, metrics);
  hub.register('controllers', { snapshot: () => ({ controllers: controllers.list() }) });
  hub.register('signals', runtime.signalsSource());
  hub.register(
    'lanes',
    runtime.lanesSource(() => {
      const o = twin.observe();
      return {
        time: o.time,
        source: 'estimate',
        vehicles: Array.from(o.laneVehicles, (v) => Math.round(v * 10) / 10),
        queue: Array.from(o.laneQueue, (v) => Math.round(v * 10) / 10),
        speedRatio: Array.from(o.laneSpeed, (v, l) => Math.round(Math.min(1, v / network.lanes[l].maxSpeed) * 100) / 100),
      };
    }),
  );
  hub.register('vehicles', runtime.vehiclesSource());
  // Congestion forecasts from the twin's estimate, refreshed each simulated minute; the model
  // loads (or later trains) in the background so the start is not held up.
  let forecasts: ForecastService | null = null;
  if (config.FORECAST === '1') {
    const fs = new ForecastService({ network, networkName: city.name, db: database.db, observe: () => twin.observe(), clockOffsetSeconds: city.dayOffset, dir: config.FORECAST_DIR });
    void fs.start().catch((e: unknown) => console.error('forecasts: start failed:', e));
    runtime.onTick((e) => fs.onTick(e.time));
    hub.register('forecasts', fs.source());
    forecasts = fs;
  }
  hub.register('alerts', { snapshot: () => alerts.state(), delta: (prev, next) => (prev?.version === next.version ? null : next) });
  runtime.onAfterTick(() => hub.publish());
  // What-if runs in worker threads, from the twin's estimate; unfinished runs of a previous process are queued again.
  const whatif = new WhatIfService(
    database.db,
    audit,
    { network, roadnet: city.roadnet, flows: city.flows, estimate: () => twin.observe() },
    { concurrency: config.WHATIF_CONCURRENCY, onChange: (run) => hub.broadcast('whatif', { runs: [run] }) },
  );
  hub.register('whatif', whatif.topicSource());
  await whatif.recover();
  // Emergency routes on the twin's estimate; pre-emption windows go to the edges through the board.
  const preemptions = new PreemptionBoard();
  const emergency = new EmergencyService({ db: database.db, audit, net: network, engine: runtime.engine, observe: () => twin.observe(), board: preemptions, reserveFlow, ...(forecasts ? { forecasts: () => forecasts?.state ?? null } : {}) });
  await emergency.load();
  runtime.onTick((e) => emergency.afterStep(e));
  hub.register('emergency', emergency.topic());

  const services: Services = {
    database,
    auth,
    audit,
    metrics,
    status: () => ({
      simTime: runtime.engine.time,
      tickLagSeconds: runtime.tickLagSeconds,
      forecastBackend: forecasts?.backend ?? null,
      unsafeSignalStates: runtime.safety.unsafeStates,
    }),
    networkView: () => runtime.view,
  };
  const app = createApp(services, [
    planRoutes(plans, metrics, config.POLL_RATE),
    controllerRoutes(controllers, (id) => plans.safetyOf(id) !== undefined),
    ingestRoutes(ingest, config.INGEST_RATE),
    rtasRoutes(rtas, controllers),
    fieldRoutes(fleet.cabinets, () => city.roadnet, () => ({ averageTravelTime: runtime.engine.averageTravelTime(), finished: runtime.engine.metrics().finished })),
    whatifRoutes(whatif),
    emergencyRoutes(emergency, preemptions, (id) => plans.safetyOf(id) !== undefined, config.POLL_RATE),
    intersectionRoutes({ plans, controllers, history, alerts, simTime: () => runtime.engine.time, loopLatencySlaMs: config.LOOP_LATENCY_SLA_MS }),
    forecastRoutes(forecasts),
  ], { default: config.MAX_BODY_BYTES, byPath: { '/api/ingest': config.MAX_INGEST_BYTES } });
  const viewerDist = join(root, 'viewer', 'dist');
  if (existsSync(viewerDist)) app.use('/*', serveStatic({ root: viewerDist }));

  const server = createServer(getRequestListener(app.fetch));
  // WebSocket upgrades: sensor ingest at /ws/ingest, the live streams at /ws.
  const ingestSocket = new IngestSocket(auth, ingest, { perSecond: config.INGEST_RATE, maxInFlight: 64, maxPayload: config.MAX_INGEST_BYTES });
  UNDOCUMENTED_ROUTES.set(`GET ${INGEST_SOCKET_PATH}`, INGEST_SOCKET_ACCESS);
  UNDOCUMENTED_ROUTES.set('GET /ws', 'any');
  server.on('upgrade', (req, socket, head) => {
    if (req.url?.split('?')[0] === INGEST_SOCKET_PATH) void ingestSocket.handleUpgrade(req, socket, head);
    else void hub.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://${config.HOST}:${port}`;
  if (config.EDGES === '1') await fleet.connect(auth, url);
  let feed: SensorFeed | null = null;
  if (config.SENSORS === '1') {
    const f = new SensorFeed(runtime.engine, layout, url, await auth.issueToken('field-sensors', 'integrator'), resume);
    runtime.onTick(() => f.afterStep());
    feed = f;
  }
  if (config.FIELD === '1') runtime.start();

  return {
    server,
    port,
    url,
    fleet,
    twin,
    ingest,
    planner,
    feed,
    forecasts,
    database,
    runtime,
    hub,
    plans,
    controllers,
    generatedAdminToken,
    app,
    whatif,
    emergency,
    stop: async () => {
      await retention.stop();
      runtime.stop();
      rtas.stop();
      fleet.stop();
      preemptions.close();
      await whatif.stop();
      await forecasts?.stop();
      hub.close();
      ingestSocket.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.close();
    },
  };
}

/**
 * The city the field runs: the demo city (default) or a synthetic grid `grid:ROWSxCOLS` at a
 * realistic peak, with demand for a whole day (the demo) or three hours (a grid).
 */
function loadCity(spec: string, seed: number): City {
  // The CityFlow data sets (real roadnets and recorded flows), when ../shared/data holds them.
  const real = { hangzhou: ['roadnet_4_4.json', 'anon_4_4_hangzhou_real.json'], jinan: ['roadnet_3_4.json', 'anon_3_4_jinan_real.json'] }[spec];
  if (real) {
    const dir = join(root, '..', 'shared', 'data', 'cityflow', spec);
    const read = (f: string) => {
      const path = join(dir, f);
      if (!existsSync(path)) throw new Error(`NETWORK=${spec}: ${path} is missing (see ../shared/data/README.md)`);
      return JSON.parse(readFileSync(path, 'utf8')) as unknown;
    };
    // importRoadnet/importFlows validate both files when the service imports them.
    return { name: `${spec[0].toUpperCase()}${spec.slice(1)} (CityFlow)`, roadnet: read(real[0]) as City['roadnet'], flows: read(real[1]) as City['flows'], dayOffset: 0 };
  }
  const grid = /^grid:(\d+)x(\d+)$/.exec(spec);
  if (grid) {
    const roadnet = generateGrid({ rows: Number(grid[1]), cols: Number(grid[2]) });
    // Three hours: a large grid's whole day would be hundreds of thousands of trips held in memory.
    const flows = generateDemand(roadnet, withRealisticPeak(roadnet, { seed, duration: 10_800 }));
    return { name: `Grid ${grid[1]}×${grid[2]}`, roadnet, flows, dayOffset: 0 };
  }
  return demoCityFromSpec({ ...demoSpec, demand: { ...demoSpec.demand, duration: 86_400 } }, seed, 'data/demo-city.json');
}
