/**
 * Retention benchmark: how long a pruning pass over `sensor_readings` takes, beside how long
 * storing the same rows took, in one run. Fills a fresh database (PGlite on disk in a temporary
 * directory, as the service runs it, or PostgreSQL with --url: its tables are dropped first) with
 * `sensors` × `rows` readings received evenly over `days` days, then prunes to `keep` days twice
 * (the second pass finds nothing: the cost of a pass on a pruned table), then stores as many new
 * readings as were pruned and reports whether the table grew (freed space must be reused), then
 * runs the next hourly pass. Each pass reports whether it vacuumed and how long a one-row statement
 * issued beside it had to wait (what an ingest write would).
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

  const vacuumMs: number[] = [];
  let clock = now;
  const retention = new Retention(db, { heartbeats: 0, forecasts: 0, readings: args.keep }, { now: () => clock, onVacuumed: (_table, ms) => vacuumMs.push(ms) });
  /**
   * One pass, timed, with a one-row probe statement issued over and over beside it: PGlite runs
   * one statement at a time (in its worker), so the probe's longest wait is how long an ingest
   * write could be held up by the pass.
   */
  const timedPass = async () => {
    vacuumMs.length = 0;
    let done = false;
    let longestWaitMs = 0;
    const probe = (async () => {
      while (!done) {
        const p0 = performance.now();
        await db.execute(sql`select 1`);
        longestWaitMs = Math.max(longestWaitMs, performance.now() - p0);
      }
    })();
    const p0 = performance.now();
    const pruned = (await retention.prune()).readings;
    const seconds = (performance.now() - p0) / 1000;
    done = true;
    await probe;
    return { pruned, seconds, longestWaitMs, vacuumMs: vacuumMs[0] ?? null };
  };
  const first = await timedPass();
  const second = await timedPass();
  const left = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from sensor_readings`))[0].n;
  // As many new readings as were pruned: the table should reuse the freed space, not grow.
  const perSensor = Math.round(first.pruned / args.sensors);
  await store(args.rows, args.rows + perSensor);
  const sizeAfter = await tableMiB();
  // The steady state: the hourly pass an hour later (vacuums only past autovacuum's threshold).
  clock = now + 3_600_000;
  const hourly = await timedPass();

  const describe = (p: typeof first) =>
    `${p.pruned.toLocaleString('en')} rows deleted in ${p.seconds.toFixed(2)} s; ${p.vacuumMs === null ? 'no vacuum' : `vacuum ${(p.vacuumMs / 1000).toFixed(2)} s`}; a one-row statement waited at most ${(p.longestWaitMs / 1000).toFixed(2)} s`;
  console.log(`database: ${database.kind}; ${args.sensors} sensors × ${args.rows} readings = ${total.toLocaleString('en')} rows over ${args.days} days, keeping ${args.keep}`);
  console.log(`store (server-side insert … select, one statement per sensor): ${storeSeconds.toFixed(2)} s (${Math.round(total / storeSeconds).toLocaleString('en')} rows/s)`);
  console.log(`prune (first pass since start): ${describe(first)} (${Math.round(first.pruned / first.seconds).toLocaleString('en')} rows/s; ${(first.seconds / (storeSeconds * (first.pruned / total))).toFixed(2)}× the time storing those rows took)`);
  console.log(`prune again (nothing to delete): ${describe(second)}; ${left.toLocaleString('en')} rows left`);
  console.log(`table with index: ${sizeBefore.toFixed(0)} MiB filled; ${sizeAfter.toFixed(0)} MiB after storing as many new readings as were pruned (${perSensor * args.sensors} rows)`);
  console.log(`an hour later: ${describe(hourly)}`);
} finally {
  await database.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
