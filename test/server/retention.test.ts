/** The controllers' event log and the retention policy on PGlite (PostgreSQL: postgres.test.ts). */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../server/db/Database.ts';
import { Retention, rowStats } from '../../server/Retention.ts';
import { checkHeartbeatLog, checkRetention } from './storageChecks.ts';

describe('storage over time on PGlite', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://' });
  });
  afterAll(async () => {
    await database?.close();
  });

  it('logs controller heartbeats only when the signals change, a plan was applied or a minute passed, and stores a fleet reporting at once', async () => {
    await checkHeartbeatLog(database.db);
  });

  it('prunes heartbeats, forecasts and sensor readings older than their retention, in chunks, keeping the newest row (of each sensor too)', async () => {
    await checkRetention(database.db);
  });

  it('vacuums a pruned table on its first pass after a start, then only when dead rows pass a fifth of the live ones, as autovacuum would', async () => {
    const db = database.db;
    await db.execute(sql`delete from sensor_readings`);
    const day = 86_400_000;
    const now = Date.parse('2026-12-06T12:00:00Z');
    // 1,000 readings of one sensor, one every 0.01 day, the oldest 10 days old.
    await db.execute(sql`insert into sensor_readings (sensor_id, seq, ts_ms, payload, received_at)
      select 'vac-1', g, g, '{"type":"loop"}'::json, to_timestamp((${now - 10 * day}::float8 + g * ${day / 100}::float8) / 1000.0)
      from generate_series(0, 999) g`);
    const deadRows = async () => (await rowStats(db, 'sensor_readings')).dead;
    let clock = now;
    const vacuumed: string[] = [];
    const passes = (r: Retention) => async (days: number) => {
      clock = now + days * day;
      vacuumed.length = 0;
      const pruned = (await r.prune()).readings;
      return { pruned, vacuumed: vacuumed.includes('readings') };
    };
    const options = { now: () => clock, onVacuumed: (table: string) => vacuumed.push(table) };
    const pass = passes(new Retention(db, { heartbeats: 0, forecasts: 0, readings: 9 }, options));
    expect(await pass(0)).toEqual({ pruned: 100, vacuumed: true }); // first pass since start
    expect(await deadRows()).toBe(0);
    expect(await pass(0.5)).toEqual({ pruned: 50, vacuumed: false }); // 50 dead ≤ 0.2 × 850 + 50
    expect(await pass(1)).toEqual({ pruned: 50, vacuumed: false }); // 100 dead ≤ 0.2 × 800 + 50
    expect(await deadRows()).toBe(100);
    expect(await pass(1.5)).toEqual({ pruned: 50, vacuumed: false }); // 150 dead ≤ 0.2 × 750 + 50
    expect(await pass(2)).toEqual({ pruned: 50, vacuumed: true }); // 200 dead > 0.2 × 700 + 50
    expect(await deadRows()).toBe(0);
    expect(await pass(2.5)).toEqual({ pruned: 50, vacuumed: false });
    // A restarted service cannot trust statistics PGlite does not keep: its first prune vacuums.
    const restarted = passes(new Retention(db, { heartbeats: 0, forecasts: 0, readings: 9 }, options));
    expect(await restarted(2.6)).toEqual({ pruned: 10, vacuumed: true });
    expect(await restarted(2.7)).toEqual({ pruned: 10, vacuumed: false });
    await db.execute(sql`delete from sensor_readings where sensor_id = 'vac-1'`);
  });
});
