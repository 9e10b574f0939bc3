/**
 * Retention benchmark: how long a pruning pass over `sensor_readings` takes, beside how long
 * storing the same rows took, in one run. Fills a fresh database (PGlite on disk in a temporary
 * directory, as the service runs it, or PostgreSQL with --url: its tables are dropped first) with
 * `sensors` × `rows` readings received evenly over `days` days, then prunes to `keep` days twice
 * (the second pass finds nothing: the cost of a pass on a pruned table), then stores as many new
 * readings as were pruned and reports whether the table grew (freed space must be reused).
 *
 *   npm run bench:retention -- [--sensors 500] [--rows 4000] [--days 40] [--keep 30] [--url postgres://…]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { z } from 'zod';
import { openDatabase, rowsOf } from '../server/db/Database.ts';
import { Retention } from '../server/Retention.ts';

const Args = z.object({
  sensors: z.coerce.number().int().positive(),
  rows: z.coerce.number().int().positive(),
  days: z.coerce.number().positive(),
  keep: z.coerce.number().positive(),
  url: z.string().url().optional(),
});
const { values } = parseArgs({
  options: {
    sensors: { type: 'string', default: '500' },
    rows: { type: 'string', default: '4000' },
    days: { type: 'string', default: '40' },
    keep: { type: 'string', default: '30' },
    url: { type: 'string' },
  },
});
const parsed = Args.safeParse(values);
if (!parsed.success) {
  console.error(`bad arguments: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const args = parsed.data;

const DAY_MS = 86_400_000;
const dir = args.url ? null : mkdtempSync(join(tmpdir(), 'bench-retention-'));
if (args.url) {
  const c = new pg.Client({ connectionString: args.url });
  await c.connect();
  await c.query('drop schema if exists public cascade; create schema public; drop schema if exists drizzle cascade;');
  await c.end();
}
const database = await openDatabase(args.url ? { url: args.url } : { dataDir: dir! });
const db = database.db;
const now = Date.now();
const spanMs = args.days * DAY_MS;
const total = args.sensors * args.rows;

try {
  /** Stores each sensor's readings `from` to `to` (exclusive), received one after another from `now - span`; one statement per sensor. */
  const store = async (from: number, to: number) => {
    for (let s = 0; s < args.sensors; s++) {
      await db.execute(sql`insert into sensor_readings (sensor_id, seq, ts_ms, payload, received_at)
        select ${`loop-${String(s).padStart(4, '0')}`}, g, g * 1000.0,
          ('{"type":"loop","ts":"0","intervalMs":1000,"count":1,"occupancy":0.1,"speed":8,"presence":false,"total":' || g || '}')::json,
          to_timestamp((${now - spanMs}::float8 + g * ${spanMs / args.rows}::float8) / 1000.0)
        from generate_series(${from}::bigint, ${to - 1}::bigint) g`);
    }
  };
  const tableMiB = async () => rowsOf<{ b: string | number }>(await db.execute(sql`select pg_total_relation_size('sensor_readings') as b`))[0].b as number / 2 ** 20;
  let t0 = performance.now();
  await store(0, args.rows);
  const storeSeconds = (performance.now() - t0) / 1000;
  const sizeBefore = await tableMiB();

  const retention = new Retention(db, { heartbeats: 0, forecasts: 0, readings: args.keep }, { now: () => now });
  t0 = performance.now();
  const first = await retention.prune();
  const pruneSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const second = await retention.prune();
  const idleSeconds = (performance.now() - t0) / 1000;
  const left = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from sensor_readings`))[0].n;
  // As many new readings as were pruned: the table should reuse the freed space, not grow.
  const perSensor = Math.round(first.readings / args.sensors);
  await store(args.rows, args.rows + perSensor);

  console.log(`database: ${database.kind}; ${args.sensors} sensors × ${args.rows} readings = ${total.toLocaleString('en')} rows over ${args.days} days, keeping ${args.keep}`);
  console.log(`store (server-side insert … select, one statement per sensor): ${storeSeconds.toFixed(2)} s (${Math.round(total / storeSeconds).toLocaleString('en')} rows/s)`);
  console.log(`prune: ${first.readings.toLocaleString('en')} rows deleted in ${pruneSeconds.toFixed(2)} s (${Math.round(first.readings / pruneSeconds).toLocaleString('en')} rows/s; ${(pruneSeconds / (storeSeconds * (first.readings / total))).toFixed(2)}× the time storing those rows took)`);
  console.log(`prune again (nothing to delete): ${second.readings} rows in ${idleSeconds.toFixed(2)} s; ${left.toLocaleString('en')} rows left`);
  console.log(`table with index: ${sizeBefore.toFixed(0)} MiB filled; ${(await tableMiB()).toFixed(0)} MiB after storing as many new readings as were pruned (${perSensor * args.sensors} rows)`);
} finally {
  await database.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
