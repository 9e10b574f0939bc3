/** Start-up configuration from the environment, validated; a bad value stops the start with its name. */
import { z } from 'zod';

export const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  /** PGlite data directory (default ./.data/pglite). */
  DATA_DIR: z.string().optional(),
  /** PostgreSQL connection string; when set, PGlite is not used. */
  DATABASE_URL: z.string().url().optional(),
  /** The first admin's token; otherwise one is generated and printed once. */
  ADMIN_TOKEN: z.string().min(16).optional(),
  /** Simulated seconds per wall second for the demo field. */
  SPEED: z.coerce.number().positive().max(1000).default(1),
  SEED: z.coerce.number().int().default(0),
  /** Most vehicles sent per update on the vehicles stream. */
  MAX_STREAMED_VEHICLES: z.coerce.number().int().positive().default(5000),
  /** Plan polls per second allowed per token (bursts of twice that). */
  POLL_RATE: z.coerce.number().positive().default(50),
  /** Ingest requests per second allowed per token (bursts of twice that). */
  INGEST_RATE: z.coerce.number().positive().default(200),
  /** The city: `demo` (data/demo-city.json), a synthetic grid `grid:30x30`, or CityFlow's `hangzhou` 4×4 / `jinan` 3×4 (from ../shared/data/cityflow). */
  NETWORK: z
    .string()
    .regex(/^(demo|hangzhou|jinan|grid:\d+x\d+)$/, 'expected demo, hangzhou, jinan or grid:ROWSxCOLS')
    .default('demo'),
  /** Run the demo city's field simulation (set 0 for a twin fed only by external sensors). */
  FIELD: z.enum(['0', '1']).default('1'),
  /** Simulated sensors on the demo field post their readings to the ingest API. */
  SENSORS: z.enum(['0', '1']).default('1'),
  /** The central planner publishes Webster plans from the twin's estimate. */
  PLANNER: z.enum(['0', '1']).default('1'),
  /** Seconds (field clock) between central plans. */
  PLAN_INTERVAL: z.coerce.number().positive().default(300),
  /** Connect the demo's in-process edge controllers to the centre over the HTTP API (0: they run their local plans). */
  EDGES: z.enum(['0', '1']).default('1'),
  /** Congestion forecasts per road on the 'forecasts' stream (TensorFlow.js). */
  FORECAST: z.enum(['0', '1']).default('1'),
  /** Also save the forecaster to / load it from this directory (it is always kept in the database). */
  FORECAST_DIR: z.string().min(1).optional(),
  /** Days of the controllers' event log (`heartbeats`) kept; 0 keeps all. */
  RETAIN_HEARTBEATS_DAYS: z.coerce.number().nonnegative().default(7),
  /** Days of stored forecast refreshes kept; 0 keeps all. */
  RETAIN_FORECASTS_DAYS: z.coerce.number().nonnegative().default(7),
  /** Days of accepted sensor readings kept (by when they were received); 0 keeps all. */
  RETAIN_READINGS_DAYS: z.coerce.number().nonnegative().default(7),
  /** Largest request body accepted over HTTP (bytes), but for sensor ingest. */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1 << 20),
  /** Largest ingest batch accepted (bytes), over HTTP and as one WebSocket frame. */
  MAX_INGEST_BYTES: z.coerce.number().int().positive().default(64 << 20),
  /** What-if runs at once, each in its own worker thread (more queue). */
  WHATIF_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(1),
  /** Control-loop latency target (sensor reading → plan applied at the edge, field-clock ms) the viewer checks controllers against: 1 s, as eval:edge. */
  LOOP_LATENCY_SLA_MS: z.coerce.number().positive().default(1000),
});
export type Config = z.infer<typeof ConfigSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means unset (DATABASE_URL= turns PostgreSQL off).
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const r = ConfigSchema.safeParse(given);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`bad configuration: ${msg}`);
  }
  return r.data;
}
