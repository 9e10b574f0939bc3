/**
 * Checks of the controllers' event log and of the retention policy against a database, shared by
 * the PGlite suite (retention.test.ts) and the PostgreSQL suite (postgres.test.ts), so both
 * drivers run the same raw SQL.
 */
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { ControllerRegistry, type ControllerState } from '../../server/ControllerRegistry.ts';
import { rowsOf, type Db } from '../../server/db/Database.ts';
import { forecasts, heartbeats } from '../../server/db/schema.ts';
import { Retention } from '../../server/Retention.ts';

const DAY = 86_400_000;

async function count(db: Db, table: 'heartbeats' | 'forecasts' | 'sensor_readings', where = sql`true`): Promise<number> {
  return rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from ${sql.identifier(table)} where ${where}`))[0].n;
}

function state(interval: 'green' | 'change', timeToChange: number, extra: Partial<ControllerState> = {}): ControllerState {
  return {
    mode: 'central',
    intersections: [{ intersection: 'i1', phase: 0, interval, movements: interval === 'green' ? 'GR' : 'YR', timeToChange, planVersion: 3 }],
    lastLoopLatencyMs: null,
    ...extra,
  };
}

/**
 * Every heartbeat updates the controller's row; the event log gets a row only when the signals
 * change, when plans were applied, or a minute after the last one; many controllers' heartbeats
 * at once are all stored, each controller's newest state winning.
 */
export async function checkHeartbeatLog(db: Db): Promise<void> {
  let now = 1_000_000;
  const registry = new ControllerRegistry(db, 5000, () => now);
  await registry.register('edge-log', ['i1']);
  const logged = () => count(db, 'heartbeats', sql`controller_id = 'edge-log'`);
  const stored = async () => rowsOf<{ state: ControllerState; at: string | Date }>(await db.execute(sql`select state, last_heartbeat_at as at from controllers where id = 'edge-log'`))[0];

  await registry.heartbeat('edge-log', state('green', 9));
  expect(await logged()).toBe(1);
  // Only the countdown moves: the controller's row follows, the log does not grow.
  for (let s = 8; s >= 1; s--) {
    now += 1000;
    await registry.heartbeat('edge-log', state('green', s));
  }
  expect(await logged()).toBe(1);
  expect((await stored()).state.intersections[0].timeToChange).toBe(1);
  expect(new Date((await stored()).at).getTime()).toBe(now);
  // Yellow: a change of what the heads show is an event.
  now += 1000;
  await registry.heartbeat('edge-log', state('change', 3));
  expect(await logged()).toBe(2);
  // Applied plans are always logged, even with the heads unchanged.
  now += 1000;
  await registry.heartbeat('edge-log', state('change', 2, { applied: [{ intersection: 'i1', version: 4, loopLatencyMs: 420 }] }));
  expect(await logged()).toBe(3);
  // Unchanged for a minute: one row to show it is still so.
  now += ControllerRegistry.logAtLeastEveryMs - 1000;
  await registry.heartbeat('edge-log', state('change', 1));
  expect(await logged()).toBe(3);
  now += 1000;
  await registry.heartbeat('edge-log', state('change', 1));
  expect(await logged()).toBe(4);

  // A fleet reporting at once: every controller's newest state is stored, none lost.
  const ids = Array.from({ length: 40 }, (_, k) => `edge-fleet-${k}`);
  for (const id of ids) await registry.register(id, ['i1']);
  await Promise.all(ids.flatMap((id) => [registry.heartbeat(id, state('green', 5)), registry.heartbeat(id, state('change', 3))]));
  const rows = rowsOf<{ id: string; state: ControllerState }>(await db.execute(sql`select id, state from controllers where id like 'edge-fleet-%'`));
  expect(rows).toHaveLength(40);
  for (const r of rows) expect(r.state.intersections[0].interval).toBe('change');
  expect(await count(db, 'heartbeats', sql`controller_id like 'edge-fleet-%'`)).toBe(80);
}

/** A sensor's stored sequence numbers, oldest first. */
async function readingSeqs(db: Db, sensor: string): Promise<number[]> {
  return rowsOf<{ seq: string | number }>(await db.execute(sql`select seq from sensor_readings where sensor_id = ${sensor} order by seq`)).map((r) => Number(r.seq));
}

/**
 * Rows older than the window go, in chunks, the newest row (of a table; of each sensor) always
 * stays, a late reading holds its sensor's later-numbered rows back, and 0 days keeps all.
 */
export async function checkRetention(db: Db): Promise<void> {
  await db.execute(sql`delete from heartbeats`);
  await db.execute(sql`delete from forecasts`);
  await db.execute(sql`delete from sensor_readings`);
  const now = Date.parse('2026-12-06T12:00:00Z');
  const ages = [30, 20, 9, 8, 7.5, 6.9, 3, 1, 0.1];
  const reading = (sensor: string, seq: number, days: number) =>
    db.execute(sql`insert into sensor_readings (sensor_id, seq, ts_ms, payload, received_at)
      values (${sensor}, ${seq}, ${seq}, ${JSON.stringify({ type: 'loop', days })}::json, ${new Date(now - days * DAY).toISOString()}::timestamptz)`);
  for (const [k, days] of ages.entries()) {
    const at = new Date(now - days * DAY);
    await db.insert(heartbeats).values({ controllerId: 'edge-old', at, state: state('green', 1) });
    await db.insert(forecasts).values({ createdAt: at, simTime: 0, payload: { days } });
    await reading('ret-in-order', k + 1, days);
  }
  // Seq 6 arrived late (a field buffer replayed), after 7 and 8: it holds them back.
  for (const [seq, days] of [[5, 20], [6, 0.2], [7, 10], [8, 9]]) await reading('ret-late', seq, days);
  // Numbering with wide gaps (a sensor counting milliseconds): deleted by rows, not by numbers.
  for (const [seq, days] of [[1_000, 30], [5_000_000_000, 20], [9_000_000_000, 10]]) await reading('ret-gaps', seq, days);
  const kept = new Retention(db, { heartbeats: 0, forecasts: 0, readings: 0 }, { now: () => now });
  expect(await kept.prune()).toEqual({ heartbeats: 0, forecasts: 0, readings: 0 });

  const deletedRows: string[] = [];
  const r = new Retention(db, { heartbeats: 7, forecasts: 2, readings: 7 }, { now: () => now, chunkRows: 2, onDeleted: (t, n) => deletedRows.push(`${t}:${n}`) });
  expect(await r.prune()).toEqual({ heartbeats: 5, forecasts: 7, readings: 8 });
  expect(deletedRows).toEqual(['heartbeats:5', 'forecasts:7', 'readings:8']);
  expect(await readingSeqs(db, 'ret-in-order')).toEqual([6, 7, 8, 9]);
  expect(await readingSeqs(db, 'ret-late')).toEqual([6, 7, 8]);
  expect(await readingSeqs(db, 'ret-gaps')).toEqual([9_000_000_000]);
  expect(await count(db, 'heartbeats')).toBe(4);
  expect(await count(db, 'heartbeats', sql`at < ${new Date(now - 7 * DAY).toISOString()}::timestamptz`)).toBe(0);
  const left = rowsOf<{ payload: { days: number } }>(await db.execute(sql`select payload from forecasts order by id`)).map((x) => x.payload.days);
  expect(left).toEqual([1, 0.1]);
  // A second pass finds nothing more.
  expect(await r.prune()).toEqual({ heartbeats: 0, forecasts: 0, readings: 0 });

  // A service stopped for longer than the window: everything is old, the newest row stays.
  const later = new Retention(db, { heartbeats: 7, forecasts: 2, readings: 7 }, { now: () => now + 100 * DAY });
  expect(await later.prune()).toEqual({ heartbeats: 3, forecasts: 1, readings: 5 });
  expect(await readingSeqs(db, 'ret-in-order')).toEqual([9]);
  expect(await readingSeqs(db, 'ret-late')).toEqual([8]);
  expect(await count(db, 'sensor_readings')).toBe(3);
  // Leave no readings behind for the suites that count them.
  await db.execute(sql`delete from sensor_readings where sensor_id like 'ret-%'`);
  expect(rowsOf<{ payload: { days: number } }>(await db.execute(sql`select payload from forecasts`)).map((x) => x.payload.days)).toEqual([0.1]);
  expect(await count(db, 'heartbeats')).toBe(1);
}
