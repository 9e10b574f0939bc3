/**
 * How accepted readings are stored on PGlite, with the database in its worker thread and on the
 * calling thread: one row per (sensor, seq) holding the message as sent (COPY's escaping of tabs,
 * backslashes and newlines round-trips), rows already stored are kept when a twin that has not
 * seen them accepts them again (the COPY conflict falls back to ON CONFLICT DO NOTHING without
 * losing the batch's new rows), and after a restart the readings of the window are found through
 * the key alone, across gaps in a sensor's sequence.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import demoSpec from '../../data/demo-city.json' with { type: 'json' };
import { openDatabase, type Database } from '../../server/db/Database.ts';
import { IngestService } from '../../server/IngestService.ts';
import { Metrics } from '../../server/Metrics.ts';
import { demoCityFromSpec } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { serializeHlc } from '../../twin/sensors/HybridLogicalClock.ts';
import { buildSensorLayout } from '../../twin/sensors/SensorLayout.ts';
import { TwinState } from '../../twin/state/TwinState.ts';

const city = demoCityFromSpec({ ...demoSpec, demand: { ...demoSpec.demand, duration: 600 } }, 0, 'demo city');
const net = importRoadnet(city.roadnet, 'demo roadnet');
const layout = buildSensorLayout(net);
const [a, b, c] = layout.detectors.map((d) => d.id);

const loop = (sensorId: string, seq: number, tMs: number) => ({ type: 'loop', sensorId, seq, ts: serializeHlc({ pt: tMs, lc: 0 }), intervalMs: 1000, count: 1, occupancy: 0.2, speed: 9.5, presence: false, total: seq });

interface Row {
  sensor_id: string;
  seq: number;
  ts_ms: number;
  payload: Record<string, unknown>;
}
async function rows(database: Database): Promise<Row[]> {
  const res = (await database.db.execute(sql`select sensor_id, seq, ts_ms, payload from sensor_readings order by sensor_id, seq`)) as unknown as { rows: Row[] };
  return res.rows.map((r) => ({ ...r, seq: Number(r.seq) }));
}

let open: Database[] = [];
afterEach(async () => {
  for (const d of open) await d.close();
  open = [];
});
async function database(worker: boolean): Promise<Database> {
  const d = await openDatabase({ dataDir: mkdtempSync(join(tmpdir(), 'twin-ingest-store-')), worker });
  open.push(d);
  return d;
}

describe.each([
  ['worker thread', true],
  ['calling thread', false],
])('sensor readings on PGlite (%s)', (_name, worker) => {
  it('stores each accepted reading once, as sent, through COPY and through the conflict fallback', async () => {
    const db = await database(worker);
    const odd = { ...loop(a, 0, 0), note: 'tab\there, back\\slash \\N, newline\n, cr\r, quote", ünïcode' };
    const first = new IngestService(db, new TwinState(net, layout), new Metrics(), () => 0);
    expect((await first.accept({ messages: [odd, loop(b, 0, 0)] })).accepted).toBe(2);
    const stored = await rows(db);
    expect(stored.map((r) => [r.sensor_id, r.seq])).toEqual([a, b].sort().map((s) => [s, 0]));
    const { sensorId: _s, seq: _q, ...payload } = odd;
    expect(stored.find((r) => r.sensor_id === a)!.payload).toEqual(payload);

    // A twin that has not seen them (a restart that did not replay them) accepts them again: the
    // rows already stored stay as they are, the batch's new reading is stored all the same.
    const again = new IngestService(db, new TwinState(net, layout), new Metrics(), () => 0);
    const r = await again.accept({ messages: [{ ...loop(a, 0, 0), count: 9 }, loop(b, 0, 0), loop(a, 1, 0)] });
    expect(r.accepted).toBe(3);
    const after = await rows(db);
    expect(after.map((x) => [x.sensor_id, x.seq])).toEqual([...[a, b].sort().map((s) => [s, 0]), [a, 1]].sort((x, y) => String(x[0]).localeCompare(String(y[0])) || Number(x[1]) - Number(y[1])));
    expect(after.find((x) => x.sensor_id === a && x.seq === 0)!.payload).toEqual(payload);
    expect(await again.count()).toBe(3);
  });

  it('a reading whose write failed is not acknowledged, and its retry is stored and accepted, not called a duplicate', async () => {
    const db = await database(worker);
    const svc = new IngestService(db, new TwinState(net, layout), new Metrics(), () => 0);
    expect((await svc.accept({ messages: [loop(a, 0, 0)] })).accepted).toBe(1);
    // The table goes away for a moment (a real failed statement, not a stand-in).
    await db.db.execute(sql`alter table sensor_readings rename to sensor_readings_away`);
    const batch = { messages: [loop(a, 1, 0), loop(b, 0, 0), loop(a, 0, 0)] };
    await expect(svc.accept(batch)).rejects.toThrow();
    await db.db.execute(sql`alter table sensor_readings_away rename to sensor_readings`);
    const retry = await svc.accept(batch);
    expect(retry.results.map((r) => r.status)).toEqual(['accepted', 'accepted', 'duplicate']);
    expect([retry.accepted, retry.duplicates]).toEqual([2, 1]);
    expect((await rows(db)).map((r) => [r.sensor_id, r.seq])).toEqual([[a, 0], [a, 1], [b, 0]].sort((x, y) => String(x[0]).localeCompare(String(y[0])) || Number(x[1]) - Number(y[1])));
    // Stored now: a third time they are duplicates.
    expect((await svc.accept(batch)).duplicates).toBe(3);
  });

  it('replays after a restart the readings of the window, found through the key across gaps', { timeout: 60_000 }, async () => {
    const db = await database(worker);
    // A twin that admits old readings, so that every reading the replay finds is counted.
    const twin = () => new TwinState(net, layout, { ingest: { latenessMs: 3_600_000 } });
    let now = 0;
    const first = new IngestService(db, twin(), new Metrics(), () => now);
    // a: seq 0…1199, one a second; b: two a second (seq 0…2399; its messages say 1,000 ms, so the
    // first range read is too short and must be widened), 1400…1599 missing; c: only the first 100.
    for (let s0 = 0; s0 < 1200; s0 += 100) {
      const messages = [];
      for (let t = s0; t < s0 + 100; t++) {
        messages.push(loop(a, t, t * 1000));
        for (const seq of [2 * t, 2 * t + 1]) if (seq < 1400 || seq >= 1600) messages.push(loop(b, seq, seq * 500));
        if (t < 100) messages.push(loop(c, t, t * 1000));
      }
      now = (s0 + 99) * 1000 + 500;
      const r = await first.accept({ messages });
      expect(r.rejected).toBe(0);
    }
    const restarted = new IngestService(db, twin(), new Metrics(), () => now);
    // Window 600 s before the newest reading (b's at 1,199.5 s): a 600…1199, b 1199…1399 and 1600…2399, nothing of c.
    expect(await restarted.recover({ windowMs: 600_000 })).toBe(600 + 201 + 800);
    // A twin with the default lateness window (30 s) is handed every reading of the window too:
    // the replay runs in time order, slice by slice (at once, it took only the last 30 s).
    expect(await new IngestService(db, new TwinState(net, layout), new Metrics(), () => now).recover({ windowMs: 600_000 })).toBe(600 + 201 + 800);
    expect(restarted.latestReadingMs).toBe(1_199_500);
    const resent = await restarted.accept({ messages: [loop(a, 1000, 1_000_000), loop(b, 2000, 1_000_000), loop(c, 50, 50_000)] });
    expect(resent.results.map((x) => x.status)).toEqual(['duplicate', 'duplicate', 'accepted']);
    // c/50 was stored before the restart (older than the window, so not replayed): still one row.
    expect(await restarted.count()).toBe(1200 + 2200 + 100);
  });
});
