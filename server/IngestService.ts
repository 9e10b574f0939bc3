/**
 * Sensor ingest as the service does it: the twin's one ingest function validates each message
 * (good ones kept when others are bad, duplicates by sensor and sequence, ordered by timestamp,
 * late ones refused), then every accepted reading is written to the database before the batch is
 * acknowledged, so an acknowledged reading survives a crash. After a restart the readings of the
 * last minutes are replayed into the twin.
 */
import { sql } from 'drizzle-orm';
import { parseValidHlc } from '../twin/sensors/HybridLogicalClock.ts';
import type { TwinState } from '../twin/state/TwinState.ts';
import type { IngestResult } from '../twin/state/ingest.ts';
import type { Db } from './db/Database.ts';
import type { Metrics } from './Metrics.ts';

/** A reading as stored (one row of sensor_readings). */
export interface StoredRow {
  sensor_id: string;
  seq: number;
  ts_ms: number;
  hlc: string;
  kind: string;
  payload: unknown;
}

export class IngestService {
  /** Newest source time (ms) of any accepted reading: what a plan computed now is based on. */
  latestReadingMs = -Infinity;

  constructor(
    private readonly db: Db,
    readonly twin: TwinState,
    private readonly metrics: Metrics,
    /** The service's physical clock (ms) for lateness checks: the field's clock in the demo. */
    private readonly nowMs: () => number,
  ) {}

  async accept(body: unknown): Promise<IngestResult> {
    const result = this.twin.ingest(body, this.nowMs());
    if (result.accepted > 0) {
      const messages = (body as { messages: { sensorId: string; seq: number; ts: string; type: string }[] }).messages;
      const rows: StoredRow[] = [];
      for (const r of result.results) {
        if (r.status !== 'accepted') continue;
        const m = messages[r.index];
        const pt = parseValidHlc(m.ts).pt;
        if (pt > this.latestReadingMs) this.latestReadingMs = pt;
        rows.push({ sensor_id: m.sensorId, seq: m.seq, ts_ms: pt, hlc: m.ts, kind: m.type, payload: m });
      }
      await this.store(rows);
    }
    this.metrics.ingestReadings.inc({ outcome: 'accepted' }, result.accepted);
    if (result.duplicates) this.metrics.ingestReadings.inc({ outcome: 'duplicate' }, result.duplicates);
    if (result.rejected) this.metrics.ingestReadings.inc({ outcome: 'rejected' }, result.rejected);
    return result;
  }

  /**
   * Group commit: batches arriving while a write is under way wait and are then written
   * together, in one statement, so concurrent batches share one commit. Resolves once the
   * statement holding this batch's rows has committed.
   */
  private store(rows: StoredRow[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ rows, resolve, reject });
      if (!this.writing) this.writing = this.drain();
    });
  }

  private readonly waiting: { rows: StoredRow[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing: Promise<void> | null = null;
  /** Rows written per statement (one JSON parameter; PGlite holds it in memory). */
  static readonly groupRows = 20_000;

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const group: typeof this.waiting = [];
      let n = 0;
      while (this.waiting.length > 0 && (n === 0 || n + this.waiting[0].rows.length <= IngestService.groupRows)) {
        const w = this.waiting.shift()!;
        group.push(w);
        n += w.rows.length;
      }
      try {
        await this.insertRows(group.length === 1 ? group[0].rows : group.flatMap((g) => g.rows));
        for (const g of group) g.resolve();
      } catch (e) {
        for (const g of group) g.reject(e);
      }
    }
    this.writing = null;
  }

  /**
   * Inserts rows, one statement per group: rows travel as one JSON parameter (no per-row
   * parameters). Rows already stored (same sensor and sequence) are left as they are. Public
   * for the benchmark's raw-store figure.
   */
  async insertRows(rows: StoredRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += IngestService.groupRows) {
      const chunk = JSON.stringify(i === 0 && rows.length <= IngestService.groupRows ? rows : rows.slice(i, i + IngestService.groupRows));
      await this.db.execute(sql`insert into sensor_readings (sensor_id, seq, ts_ms, hlc, kind, payload)
        select sensor_id, seq, ts_ms, hlc, kind, payload
        from jsonb_to_recordset(${chunk}::jsonb) as x(sensor_id text, seq bigint, ts_ms float8, hlc text, kind text, payload jsonb)
        on conflict do nothing`);
    }
  }

  /** Replays the stored readings of the last `windowMs` into the twin (after a restart). */
  async recover(windowMs = 10 * 60_000): Promise<number> {
    const res = await this.db.execute(sql`select max(ts_ms) as latest from sensor_readings`);
    const latest = Number((rowsOf(res)[0] as { latest: number | null } | undefined)?.latest ?? NaN);
    if (!Number.isFinite(latest)) return 0;
    const rows = rowsOf(await this.db.execute(sql`select payload from sensor_readings where ts_ms >= ${latest - windowMs} order by ts_ms, seq`)) as { payload: unknown }[];
    if (rows.length === 0) return 0;
    const r = this.twin.ingest({ messages: rows.map((x) => x.payload) }, latest);
    this.latestReadingMs = latest;
    return r.accepted;
  }

  async count(): Promise<number> {
    const res = await this.db.execute(sql`select count(*)::int as n from sensor_readings`);
    return Number((rowsOf(res)[0] as { n: number }).n);
  }
}

/** node-postgres answers {rows}, PGlite too; drizzle passes them through. */
function rowsOf(res: unknown): unknown[] {
  return (res as { rows?: unknown[] }).rows ?? (res as unknown[]);
}
