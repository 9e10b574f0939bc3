/**
 * Data retention: tables that grow with time are pruned to a configured number of days, so a
 * service left running does not fill its disk. Covered: `heartbeats` (the controllers' event log)
 * and `forecasts` (a refresh of every road every 5 minutes; 0.45 MiB a row on a 3,720-road
 * city). Not covered: `audit_log` (an audit trail is not pruned silently) and `sensor_readings`
 * (see the README).
 *
 * Rows are found through the primary key: ids rise with the time a row was written, so the rows
 * to drop are the ids below the first one inside the window, and deleting them walks the key
 * index in chunks (no index on the time column needed, no long transaction). A table's newest row
 * is always kept (the forecasts' newest row carries the running accuracy a restart takes up).
 */
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { rowsOf, type Db } from './db/Database.ts';

export const RetentionDaysSchema = z.object({
  /** Days of the controllers' event log kept (0: all). */
  heartbeats: z.number().nonnegative(),
  /** Days of stored forecasts kept (0: all). */
  forecasts: z.number().nonnegative(),
});
export type RetentionDays = z.infer<typeof RetentionDaysSchema>;

/** The pruned tables, each with the column its rows are dated by (wall clock when written). */
const TABLES = { heartbeats: 'at', forecasts: 'created_at' } as const satisfies Record<keyof RetentionDays, string>;

const DAY_MS = 86_400_000;

export class Retention {
  /** Rows deleted per table since start (for /metrics and tests). */
  readonly deleted: Record<keyof RetentionDays, number> = { heartbeats: 0, forecasts: 0 };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly db: Db,
    private readonly days: RetentionDays,
    private readonly options: { now?: () => number; chunkRows?: number; onDeleted?: (table: keyof RetentionDays, rows: number) => void } = {},
  ) {}

  /** Prunes every table once; returns the rows deleted per table. */
  async prune(): Promise<Record<keyof RetentionDays, number>> {
    const out = { heartbeats: 0, forecasts: 0 };
    for (const table of Object.keys(TABLES) as (keyof RetentionDays)[]) {
      if (this.days[table] <= 0) continue;
      out[table] = await this.pruneTable(table, new Date((this.options.now ?? Date.now)() - this.days[table] * DAY_MS));
      this.deleted[table] += out[table];
      if (out[table] > 0) this.options.onDeleted?.(table, out[table]);
    }
    return out;
  }

  private async pruneTable(table: keyof RetentionDays, cutoff: Date): Promise<number> {
    const t = sql.identifier(table);
    const column = sql.identifier(TABLES[table]);
    // The first row inside the window, else the newest row (kept whatever its age).
    const bound = rowsOf<{ id: string | number | null }>(
      await this.db.execute(sql`select coalesce(
        (select id from ${t} where ${column} >= ${cutoff.toISOString()}::timestamptz order by id limit 1),
        (select max(id) from ${t})) as id`),
    );
    const keepFrom = bound[0]?.id;
    if (keepFrom === null || keepFrom === undefined) return 0;
    const chunk = this.options.chunkRows ?? 20_000;
    let total = 0;
    for (;;) {
      const r = rowsOf<{ n: number }>(
        await this.db.execute(sql`with gone as (
          delete from ${t} where id in (select id from ${t} where id < ${Number(keepFrom)} order by id limit ${chunk}) returning 1
        ) select count(*)::int as n from gone`),
      );
      const n = r[0]?.n ?? 0;
      total += n;
      if (n < chunk) return total;
    }
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
