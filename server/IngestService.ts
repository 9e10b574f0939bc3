/**
 * Sensor ingest as the service does it: the twin's one ingest function validates each message
 * (good ones kept when others are bad, duplicates by sensor and sequence, ordered by timestamp,
 * late ones refused), then every accepted reading is written to the database before the batch is
 * acknowledged, so an acknowledged reading survives a crash. After a restart the readings of the
 * last minutes are replayed into the twin.
 */
import { sql } from 'drizzle-orm';
import { parseValidHlc } from '../twin/sensors/HybridLogicalClock.ts';
import type { SensorBatch } from '../twin/sensors/messages.ts';
import type { TwinState } from '../twin/state/TwinState.ts';
import type { IngestResult } from '../twin/state/ingest.ts';
import { rowsOf, type Database, type Db } from './db/Database.ts';
import { GroupCommit } from './db/GroupCommit.ts';
import type { Metrics } from './Metrics.ts';

/** A reading as stored (one row of sensor_readings); `payload` is the message without sensorId and seq. */
export interface StoredRow {
  sensor_id: string;
  seq: number;
  ts_ms: number;
  payload: Record<string, unknown>;
}

/**
 * How rows travel to the database, encoded on the service's thread (so the database's thread only
 * loads): on PGlite as lines of COPY's text format, loaded by one COPY statement; on PostgreSQL as
 * JSON objects, inserted by one statement over json_to_recordset.
 */
interface RowCodec {
  /** One row, ready to be concatenated with others by `join`. */
  row(sensorId: string, seq: number, tsMs: number, payloadJson: string): string;
  join(parts: string[]): string;
}

/** COPY text format: tab-separated, backslash escapes for backslash, tab, newline and carriage return. */
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const copyEscape = (s: string) => (COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]) : s);
/** JSON text has no raw tab, newline or carriage return (JSON.stringify escapes them): only backslashes need doubling. */
const copyEscapeJson = (s: string) => (s.includes('\\') ? s.replaceAll('\\', '\\\\') : s);
const copyCodec: RowCodec = {
  row: (sensorId, seq, tsMs, payloadJson) => `${copyEscape(sensorId)}\t${seq}\t${tsMs}\t${copyEscapeJson(payloadJson)}\n`,
  join: (parts) => parts.join(''),
};
const jsonCodec: RowCodec = {
  row: (sensorId, seq, tsMs, payloadJson) => `{"sensor_id":${JSON.stringify(sensorId)},"seq":${seq},"ts_ms":${tsMs},"payload":${payloadJson}}`,
  join: (parts) => `[${parts.join(',')}]`,
};

const unstoredKey = (sensorId: string, seq: number) => `${sensorId}\u0000${seq}`;

const COPY_READINGS = `copy sensor_readings (sensor_id, seq, ts_ms, payload) from '/dev/blob'`;

/** A sensor's newest stored reading (by sequence number). */
export interface NewestReading {
  id: string;
  seq: number;
  tsMs: number;
  intervalMs: number | null;
}

/** Each listed sensor's newest stored reading, found through the key (one probe per sensor). */
export async function newestStoredReadings(db: Db, sensorIds: readonly string[]): Promise<NewestReading[]> {
  const rows = rowsOf(
    await db.execute(sql`select s.id, r.seq, r.ts_ms, r.interval_ms from json_array_elements_text(${JSON.stringify(sensorIds)}::json) as s(id)
      cross join lateral (select seq, ts_ms, (payload->>'intervalMs')::float8 as interval_ms from sensor_readings where sensor_id = s.id order by seq desc limit 1) r`),
  ) as { id: string; seq: number | string; ts_ms: number | string; interval_ms: number | null }[];
  return rows.map((r) => ({ id: r.id, seq: Number(r.seq), tsMs: Number(r.ts_ms), intervalMs: r.interval_ms === null ? null : Number(r.interval_ms) || null }));
}

/**
 * Where a restarted in-process field resumes: its clock one second past the newest stored reading
 * (whole seconds, 0 with nothing stored) and each sensor's numbering after its newest stored one.
 * The demo field restarts with the service; without this its first readings would reuse stored
 * (sensor, seq) keys, dropped as duplicates, and be stamped before readings already stored.
 */
export function fieldResumePoint(newest: readonly NewestReading[]): { epochMs: number; startSeq: Record<string, number> } {
  if (newest.length === 0) return { epochMs: 0, startSeq: {} };
  const latest = Math.max(...newest.map((n) => n.tsMs));
  return { epochMs: Math.floor(latest / 1000) * 1000 + 1000, startSeq: Object.fromEntries(newest.map((n) => [n.id, n.seq + 1])) };
}

export class IngestService {
  /** Newest source time (ms) of any accepted reading: what a plan computed now is based on. */
  latestReadingMs = -Infinity;
  private readonly codec: RowCodec;

  constructor(
    private readonly database: Database,
    readonly twin: TwinState,
    private readonly metrics: Metrics,
    /** The service's physical clock (ms) for lateness checks: the field's clock in the demo. */
    private readonly nowMs: () => number,
  ) {
    this.codec = database.copyFrom ? copyCodec : jsonCodec;
  }

  async accept(body: unknown): Promise<IngestResult> {
    const result = this.twin.ingest(body, this.nowMs());
    // Readings the twin took but the database did not (a failed write): the twin now calls them
    // duplicates, yet they were never acknowledged, so a retry stores them and is told accepted.
    if (result.duplicates > 0 && this.unstored.size > 0) {
      for (const r of result.results) {
        if (r.status !== 'duplicate' || !this.unstored.has(unstoredKey(r.sensorId!, r.seq!))) continue;
        r.status = 'accepted';
        delete r.reason;
        result.duplicates--;
        result.accepted++;
      }
    }
    if (result.accepted > 0) {
      // The twin has validated every accepted message, so they have the wire form's fields.
      const messages = (body as SensorBatch).messages;
      const parts: string[] = [];
      const keys: string[] = [];
      for (const r of result.results) {
        if (r.status !== 'accepted') continue;
        const { sensorId, seq, ...payload } = messages[r.index];
        const pt = parseValidHlc(payload.ts).pt;
        if (pt > this.latestReadingMs) this.latestReadingMs = pt;
        parts.push(this.codec.row(sensorId, seq, pt, JSON.stringify(payload)));
        keys.push(unstoredKey(sensorId, seq));
      }
      try {
        await this.store(parts);
      } catch (e) {
        this.rememberUnstored(keys);
        throw e;
      }
      if (this.unstored.size > 0) for (const k of keys) this.unstored.delete(k);
    }
    this.metrics.ingestReadings.inc({ outcome: 'accepted' }, result.accepted);
    if (result.duplicates) this.metrics.ingestReadings.inc({ outcome: 'duplicate' }, result.duplicates);
    if (result.rejected) this.metrics.ingestReadings.inc({ outcome: 'rejected' }, result.rejected);
    return result;
  }

  /** `sensorId\u0000seq` of readings the twin took whose write failed, oldest first (bounded). */
  private readonly unstored = new Set<string>();
  static readonly maxUnstored = 1_000_000;

  private rememberUnstored(keys: string[]): void {
    for (const k of keys) this.unstored.add(k);
    // Beyond the bound the oldest go: by then the twin's own window has long let them expire.
    for (const k of this.unstored) {
      if (this.unstored.size <= IngestService.maxUnstored) break;
      this.unstored.delete(k);
    }
  }

  /** Rows written per statement at most (a batch larger than this is written alone). */
  static readonly groupRows = 20_000;

  /**
   * Batches arriving while a write is under way are written together in one statement, so
   * concurrent batches share one commit; resolves once this batch's rows have committed.
   * Rows in key order (each row begins with its sensor id): the key index then takes a sensor's
   * rows one after another on the same page instead of hopping between pages.
   */
  private readonly commits = new GroupCommit<string>((rows) => this.write(this.codec.join(rows.sort())), IngestService.groupRows);

  private store(rows: string[]): Promise<void> {
    return this.commits.submit(rows);
  }

  /**
   * One statement holding every row of `encoded`; rows already stored (same sensor and sequence)
   * are left as they are. On PGlite a plain COPY, which is several times cheaper than an insert
   * that checks each row for a conflict; the twin has already refused readings it holds, so a
   * conflict is rare (a reading stored before a restart and not replayed), and then the COPY,
   * atomic, stored nothing and the rows go again through a staging table with ON CONFLICT DO NOTHING.
   */
  private async write(encoded: string): Promise<void> {
    const copyFrom = this.database.copyFrom?.bind(this.database);
    const db = this.database.db;
    if (!copyFrom) {
      await db.execute(sql`insert into sensor_readings (sensor_id, seq, ts_ms, payload)
        select sensor_id, seq, ts_ms, payload
        from json_to_recordset(${encoded}::json) as x(sensor_id text, seq bigint, ts_ms float8, payload json)
        on conflict do nothing`);
      return;
    }
    try {
      await copyFrom(COPY_READINGS, encoded);
      return;
    } catch (e) {
      if ((e as { code?: unknown }).code !== '23505') throw e;
    }
    // Writes are one at a time (drain), so the one staging table is never shared.
    await db.execute(sql`create temp table if not exists ingest_stage (sensor_id text, seq bigint, ts_ms float8, payload json)`);
    await db.execute(sql`truncate ingest_stage`);
    await copyFrom(`copy ingest_stage from '/dev/blob'`, encoded);
    await db.execute(sql`insert into sensor_readings (sensor_id, seq, ts_ms, payload) select sensor_id, seq, ts_ms, payload from ingest_stage on conflict do nothing`);
  }

  /** Writes rows as accept does (one statement per group of rows). Public for the benchmark's raw-store figure. */
  async insertRows(rows: StoredRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += IngestService.groupRows) {
      const chunk = rows.slice(i, i + IngestService.groupRows).map((r) => this.codec.row(r.sensor_id, r.seq, r.ts_ms, JSON.stringify(r.payload)));
      await this.write(this.codec.join(chunk.sort()));
    }
  }

  /**
   * Replays the stored readings of the last `windowMs` into the twin (after a restart). There is
   * no index on capture time (it would cost every reading a second index entry); a sensor's
   * sequence number rises with its capture time, so each sensor's newest readings are read
   * backwards through the key: first its newest, then ranges of sequence numbers sized from its
   * reading interval, widened until they reach past the window.
   */
  async recover(options: { windowMs?: number; newest?: readonly NewestReading[] } = {}): Promise<number> {
    const db = this.database.db;
    const windowMs = options.windowMs ?? 10 * 60_000;
    const newest = options.newest ?? (await newestStoredReadings(db, [...this.twin.layout.byId.keys()]));
    if (newest.length === 0) return 0;
    const latest = Math.max(...newest.map((n) => n.tsMs));
    const cutoff = latest - windowMs;
    // Per sensor: sequence numbers below `hi` still to read, `step` of them at a time.
    let pending = newest
      .filter((n) => n.tsMs >= cutoff)
      .map((n) => ({ id: n.id, hi: n.seq + 1, step: Math.ceil((n.tsMs - cutoff) / Math.max(1, n.intervalMs ?? 1000)) + 8 }));
    const found: { sensorId: string; seq: number; ts: number; payload: Record<string, unknown> }[] = [];
    while (pending.length > 0) {
      const ranges = pending.map((p) => ({ id: p.id, lo: Math.max(0, p.hi - p.step), hi: p.hi }));
      const rows = rowsOf(
        await db.execute(sql`select s.id, r.seq, r.ts_ms, r.payload from json_to_recordset(${JSON.stringify(ranges)}::json) as s(id text, lo bigint, hi bigint)
          cross join lateral (select seq, ts_ms, payload from sensor_readings where sensor_id = s.id and seq >= s.lo and seq < s.hi) r`),
      ) as { id: string; seq: number | string; ts_ms: number; payload: Record<string, unknown> }[];
      const oldest = new Map<string, number>();
      for (const r of rows) {
        const ts = Number(r.ts_ms);
        oldest.set(r.id, Math.min(oldest.get(r.id) ?? Infinity, ts));
        if (ts >= cutoff) found.push({ sensorId: r.id, seq: Number(r.seq), ts, payload: r.payload });
      }
      // Go further back where the range read was all inside the window (or empty: a gap in the sequence).
      pending = ranges.filter((r) => r.lo > 0 && (oldest.get(r.id) ?? Infinity) >= cutoff).map((r) => ({ id: r.id, hi: r.lo, step: 2 * (r.hi - r.lo) }));
    }
    if (found.length === 0) return 0;
    found.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    // The twin takes readings up to its lateness window behind "now": replay the window in time
    // order, in slices of half that, each at its own newest time (all at once, only the last
    // 30 s of the window were taken).
    const slice = Math.max(1000, this.twin.ingestOptions.latenessMs / 2);
    let accepted = 0;
    for (let i = 0; i < found.length; ) {
      let j = i;
      while (j < found.length && found[j].ts < found[i].ts + slice) j++;
      const part = found.slice(i, j);
      // Rows stored before the lean schema carry sensorId and seq in the payload too; the key wins.
      accepted += this.twin.ingest({ messages: part.map((f) => ({ ...f.payload, sensorId: f.sensorId, seq: f.seq })) }, part[part.length - 1].ts).accepted;
      i = j;
    }
    this.latestReadingMs = latest;
    return accepted;
  }

  async count(): Promise<number> {
    const res = await this.database.db.execute(sql`select count(*)::int as n from sensor_readings`);
    return Number((rowsOf(res)[0] as { n: number }).n);
  }
}

/** node-postgres answers {rows}, PGlite too; drizzle passes them through. */