/**
 * Data retention: tables that grow with time are pruned to a configured number of days, so a
 * service left running does not fill its disk. Covered: `heartbeats` (the controllers' event log),
 * `forecasts` (a refresh of every road every 5 minutes; 0.45 MiB a row on a 3,720-road city) and
 * `sensor_readings` (every accepted reading). Not covered: `audit_log` (an audit trail is not
 * pruned silently).
 *
 * Rows are found through the primary key, never a scan of the time column (it has no index: every
 * index is paid on every insert). In `heartbeats` and `forecasts` ids rise with the time a row was
 * written, so the rows to drop are the ids below the first one inside the window. In
 * `sensor_readings` the key is (sensor, seq): per sensor, the rows to drop are the sequence
 * numbers below the first one received inside the window, so a late arrival with an old sequence
 * number holds the rows after it back until it ages out itself (nothing newer is ever deleted).
 * Deletes walk the key index in chunks (no long transaction, ingest writes interleave). The newest
 * row of a table, and of each sensor, is always kept (the forecasts' newest row carries the running
 * accuracy a restart takes up; a sensor's newest reading is where recovery starts).
 */
import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { rowsOf, type Db } from './db/Database.ts';

export const RetentionDaysSchema = z.object({
  /** Days of the controllers' event log kept (0: all). */
  heartbeats: z.number().nonnegative(),
  /** Days of stored forecasts kept (0: all). */
  forecasts: z.number().nonnegative(),
  /** Days of accepted sensor readings kept, by the time they were received (0: all). */
  readings: z.number().nonnegative(),
});
export type RetentionDays = z.infer<typeof RetentionDaysSchema>;

/** The tables pruned by id, each with the column its rows are dated by (wall clock when written). */
const BY_ID = { heartbeats: 'at', forecasts: 'created_at' } as const satisfies Partial<Record<keyof RetentionDays, string>>;
const TABLE_NAMES = { heartbeats: 'heartbeats', forecasts: 'forecasts', readings: 'sensor_readings' } as const satisfies Record<keyof RetentionDays, string>;
const TABLES = Object.keys(TABLE_NAMES) as (keyof RetentionDays)[];

const DAY_MS = 86_400_000;
/** PostgreSQL's autovacuum defaults (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold). */
const AUTOVACUUM_SCALE_FACTOR = 0.2;
const AUTOVACUUM_THRESHOLD = 50;

export class Retention {
  /** Rows deleted per table since start (for /metrics and tests). */
  readonly deleted: Record<keyof RetentionDays, number> = { heartbeats: 0, forecasts: 0, readings: 0 };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  /** Tables this instance has vacuumed (statistics of dead rows are trusted only after that). */
  private readonly vacuumedOnce = new Set<keyof RetentionDays>();

  constructor(
    private readonly db: Db,
    private readonly days: RetentionDays,
    private readonly options: {
      now?: () => number;
      chunkRows?: number;
      onDeleted?: (table: keyof RetentionDays, rows: number) => void;
      /** After a table is vacuumed, with the wall time the vacuum took. */
      onVacuumed?: (table: keyof RetentionDays, ms: number) => void;
    } = {},
  ) {}

  /** Prunes every table once; returns the rows deleted per table. */
  async prune(): Promise<Record<keyof RetentionDays, number>> {
    const out = { heartbeats: 0, forecasts: 0, readings: 0 };
    for (const table of TABLES) {
      if (this.days[table] <= 0) continue;
      const cutoff = new Date((this.options.now ?? Date.now)() - this.days[table] * DAY_MS);
      out[table] = table === 'readings' ? await this.pruneReadings(cutoff) : await this.pruneTable(table, cutoff);
      if (await this.needsVacuum(table, out[table])) {
        const t0 = performance.now();
        await this.db.execute(sql`vacuum ${sql.identifier(TABLE_NAMES[table])}`);
        this.vacuumedOnce.add(table);
        this.options.onVacuumed?.(table, performance.now() - t0);
      }
      this.deleted[table] += out[table];
      if (out[table] > 0) this.options.onDeleted?.(table, out[table]);
    }
    return out;
  }

  /**
   * PGlite runs no autovacuum: without a vacuum the freed space is never reused and the files keep
   * growing (seen: 85 → 109 MiB storing as many readings as were pruned). But a vacuum walks the
   * whole key index (3.3 s on 10 M readings, seen), and PGlite's worker runs nothing else
   * meanwhile, so ingest waits. So vacuum when PostgreSQL's autovacuum would by default: dead rows
   * over 20 % of the live ones plus 50; an hourly pass of a 7-day window then vacuums about every
   * 34 hours instead of every hour, and the files carry up to a fifth of dead space, as PostgreSQL
   * tolerates. PGlite keeps no statistics across a restart, so the first pass that prunes after a
   * start vacuums regardless. On PostgreSQL autovacuum will usually have done it already.
   */
  private async needsVacuum(table: keyof RetentionDays, prunedNow: number): Promise<boolean> {
    // Read (and so flushed) before any vacuum: counts flushed after it would be counted again.
    const { live, dead } = await rowStats(this.db, TABLE_NAMES[table]);
    if (prunedNow > 0 && !this.vacuumedOnce.has(table)) return true;
    return dead > AUTOVACUUM_SCALE_FACTOR * live + AUTOVACUUM_THRESHOLD;
  }

  private async pruneTable(table: keyof typeof BY_ID, cutoff: Date): Promise<number> {
    const t = sql.identifier(table);
    const column = sql.identifier(BY_ID[table]);
    // The first row inside the window, else the newest row (kept whatever its age).
    const bound = rowsOf<{ id: string | number | null }>(
      await this.db.execute(sql`select coalesce(
        (select id from ${t} where ${column} >= ${cutoff.toISOString()}::timestamptz order by id limit 1),
        (select max(id) from ${t})) as id`),
    );
    const keepFrom = bound[0]?.id;
    if (keepFrom === null || keepFrom === undefined) return 0;
    const chunk = this.chunkRows();
    let total = 0;
    for (;;) {
      const n = await this.deleteCounting(sql`delete from ${t} where id in (select id from ${t} where id < ${Number(keepFrom)} order by id limit ${chunk})`);
      total += n;
      if (n < chunk) return total;
    }
  }

  /**
   * Per sensor: its oldest sequence number, and the first one received inside the window (else its
   * newest, kept whatever its age); the rows between go, in chunks.
   * Sensors are listed by skipping through the key index (one probe per sensor, not a scan), so
   * the readings of sensors no longer in the network are pruned too.
   */
  private async pruneReadings(cutoff: Date): Promise<number> {
    const sensors = rowsOf<{ id: string }>(
      await this.db.execute(sql`with recursive s(id) as (
        (select sensor_id from sensor_readings order by sensor_id limit 1)
        union all
        select (select sensor_id from sensor_readings where sensor_id > s.id order by sensor_id limit 1) from s where s.id is not null
      ) select id from s where id is not null`),
    ).map((r) => r.id);
    const chunk = this.chunkRows();
    let total = 0;
    for (let i = 0; i < sensors.length; i += 500) {
      const ids = JSON.stringify(sensors.slice(i, i + 500));
      const spans = rowsOf<{ id: string; lo: string | number; keep_from: string | number }>(
        await this.db.execute(sql`select s.id, lo.seq as lo, coalesce(inside.seq, hi.seq) as keep_from
          from json_array_elements_text(${ids}::json) as s(id)
          cross join lateral (select seq from sensor_readings where sensor_id = s.id order by seq limit 1) lo
          cross join lateral (select seq from sensor_readings where sensor_id = s.id order by seq desc limit 1) hi
          left join lateral (select seq from sensor_readings where sensor_id = s.id and received_at >= ${cutoff.toISOString()}::timestamptz order by seq limit 1) inside on true`),
      );
      for (const span of spans) {
        const end = Number(span.keep_from);
        if (Number(span.lo) >= end) continue;
        // Chunks by rows, not by sequence numbers: a sensor's numbering may have wide gaps.
        for (;;) {
          const n = await this.deleteCounting(sql`delete from sensor_readings where sensor_id = ${span.id} and seq in (
            select seq from sensor_readings where sensor_id = ${span.id} and seq < ${end} order by seq limit ${chunk})`);
          total += n;
          if (n < chunk) break;
        }
      }
    }
    return total;
  }

  private chunkRows(): number {
    return this.options.chunkRows ?? 20_000;
  }

  /** Runs a delete and answers how many rows it removed. */
  private async deleteCounting(statement: SQL): Promise<number> {
    const r = rowsOf<{ n: number }>(await this.db.execute(sql`with gone as (${statement} returning 1) select count(*)::int as n from gone`));
    return r[0]?.n ?? 0;
  }

  /** Prunes now and then every `everyMs`; a failed pass is reported and tried again next time. */
  start(everyMs = 3_600_000): void {
    const pass = () => {
      if (this.running) return;
      this.running = this.prune()
        .catch((e: unknown) => console.error('retention: pruning failed:', e instanceof Error ? e.message : e))
        .finally(() => (this.running = null));
    };
    pass();
    this.timer = setInterval(pass, everyMs);
    this.timer.unref();
  }

  /** Stops the schedule and waits for a pass under way. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}

/** Every table of the schema with its size on disk (heap, indexes and TOAST), for /metrics. */
export async function tableBytes(db: Db): Promise<Record<string, number>> {
  const rows = rowsOf<{ name: string; bytes: string | number }>(
    await db.execute(sql`select c.relname as name, pg_total_relation_size(c.oid) as bytes from pg_class c
      join pg_namespace n on n.oid = c.relnamespace where n.nspname = current_schema() and c.relkind = 'r'`),
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.bytes)]));
}

/**
 * A table's live and dead rows from the statistics. A connection's counts reach the shared
 * statistics after its statements, at most once a second: this connection's are forced out first.
 */
export async function rowStats(db: Db, table: string): Promise<{ live: number; dead: number }> {
  await db.execute(sql`select pg_stat_force_next_flush()`);
  const stats = rowsOf<{ live: string | number; dead: string | number }>(
    await db.execute(sql`select n_live_tup as live, n_dead_tup as dead from pg_stat_user_tables where relid = to_regclass(${table})`),
  );
  return { live: Number(stats[0]?.live ?? 0), dead: Number(stats[0]?.dead ?? 0) };
}
