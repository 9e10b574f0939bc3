/**
 * Builds and starts the whole service from a configuration: database, auth, the twin runtime on
 * the demo city, the HTTP API, WebSocket streams and the viewer. main.ts calls it; integration
 * tests call it too, on a free port and a temporary data directory.
 */
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
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
import { controllerRoutes } from './api/routes/controllers.ts';
import { planRoutes } from './api/routes/plans.ts';
import { buildSensorLayout } from '../twin/sensors/SensorLayout.ts';
import { TwinState } from '../twin/state/TwinState.ts';
import { ingestRoutes } from './api/routes/ingest.ts';
import { CentralPlanner } from './CentralPlanner.ts';
import { EdgeFleet } from './EdgeFleet.ts';
import { IngestService } from './IngestService.ts';
import { SensorFeed } from './SensorFeed.ts';
import { Metrics } from './Metrics.ts';
import { PlanStore } from './PlanStore.ts';
import { StreamHub } from './streams/StreamHub.ts';
import { TwinRuntime } from './TwinRuntime.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface RunningService {
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
  /** Token printed on first start (null when an admin already existed or ADMIN_TOKEN was given). */
  generatedAdminToken: string | null;
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
  const flows = importFlows(city.flows, network, 'demo city flows');
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

  // The twin: built only from sensor messages arriving through the ingest API.
  const layout = buildSensorLayout(network);
  const twin = new TwinState(network, layout);
  const ingest = new IngestService(database.db, twin, metrics, () => runtime.engine.time * 1000);
  await ingest.recover();
  runtime.onTick((e) => twin.advance(e.time));
  const planner = new CentralPlanner(network, plans, { interval: config.PLAN_INTERVAL, minChange: 0.1 });
  if (config.PLANNER === '1') {
    runtime.onTick(async (e) => {
      if (Math.round(e.time) % 60 === 0) await planner.update(twin.observe(), e.time, ingest.latestReadingMs / 1000);
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
  runtime.onAfterTick(() => hub.publish());

  const services: Services = {
    database,
    auth,
    audit,
    metrics,
    status: () => ({
      simTime: runtime.engine.time,
      tickLagSeconds: runtime.tickLagSeconds,
      forecastBackend: null,
      unsafeSignalStates: runtime.safety.unsafeStates,
    }),
    networkView: () => runtime.view,
  };
  const app = createApp(services, [
    planRoutes(plans, metrics, config.POLL_RATE),
    controllerRoutes(controllers, (id) => plans.safetyOf(id) !== undefined),
    ingestRoutes(ingest, config.INGEST_RATE),
  ]);
  const viewerDist = join(root, 'viewer', 'dist');
  if (existsSync(viewerDist)) app.use('/*', serveStatic({ root: viewerDist }));

  const server = createServer(getRequestListener(app.fetch));
  server.on('upgrade', (req, socket, head) => void hub.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://${config.HOST}:${port}`;
  if (config.EDGES === '1') await fleet.connect(auth, url);
  let feed: SensorFeed | null = null;
  if (config.SENSORS === '1') {
    const f = new SensorFeed(runtime.engine, layout, url, await auth.issueToken('field-sensors', 'integrator'));
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
    database,
    runtime,
    hub,
    plans,
    controllers,
    generatedAdminToken,
    stop: async () => {
      runtime.stop();
      fleet.stop();
      hub.close();
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
  const grid = /^grid:(\d+)x(\d+)$/.exec(spec);
  if (grid) {
    const roadnet = generateGrid({ rows: Number(grid[1]), cols: Number(grid[2]) });
    // Three hours: a large grid's whole day would be hundreds of thousands of trips held in memory.
    const flows = generateDemand(roadnet, withRealisticPeak(roadnet, { seed, duration: 10_800 }));
    return { name: `Grid ${grid[1]}×${grid[2]}`, roadnet, flows, dayOffset: 0 };
  }
  return demoCityFromSpec({ ...demoSpec, demand: { ...demoSpec.demand, duration: 86_400 } }, seed, 'data/demo-city.json');
}
