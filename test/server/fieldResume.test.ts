/**
 * The demo field runs inside the service, so a restart restarts it. It must resume as a real
 * field (which kept running) would look to the centre: numbering after the readings stored and
 * its clock after theirs. Before, it started again at sequence 0 and time 0: its first readings
 * reused stored (sensor, seq) keys and were dropped as duplicates, and the cameras were flagged
 * as losing most frames.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openDatabase, rowsOf } from '../../server/db/Database.ts';
import { ADMIN, api, startTestService, until } from './helpers.ts';

/** Readings by outcome from /metrics. */
async function ingestOutcomes(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^twin_ingest_readings_total\{outcome="(\w+)"\} (\d+)/gm)].map((m) => [m[1], Number(m[2])]));
}

describe('the demo field across a restart', () => {
  it('resumes numbering and clock after the stored readings: nothing it sends is a duplicate, every accepted reading is stored', { timeout: 400_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'twin-resume-'));
    const env = { DATA_DIR: dataDir, SPEED: '40', FORECAST: '0' };
    const runFor = async (simSeconds: number) => {
      const svc = await startTestService(env);
      try {
        await until(() => svc.runtime.engine.time > simSeconds, 150_000);
        // The field stops; what it already sent is answered (a batch leaves the queue once acknowledged).
        svc.runtime.stop();
        await until(() => svc.feed!.pending === 0, 150_000);
        const alerts = (await api(svc.url, '/api/alerts', ADMIN)).body.alerts as { kind: string; message: string }[];
        return { outcomes: await ingestOutcomes(svc.url), alerts };
      } finally {
        await svc.stop();
      }
    };
    const stored = async () => {
      const db = await openDatabase({ dataDir });
      try {
        const [r] = rowsOf<{ n: number; newest: string | number; back: number }>(
          await db.db.execute(sql`select count(*)::int as n, max(ts_ms) as newest,
            (select count(*)::int from (select ts_ms < lag(ts_ms) over (partition by sensor_id order by seq) as back from sensor_readings) x where back) as back
            from sensor_readings`),
        );
        return { rows: r.n, newestMs: Number(r.newest), backwards: r.back };
      } finally {
        await db.close();
      }
    };

    // Longer than the window a restart re-reads (10 min): the twin sees each sensor's numbers
    // only from partway, and must not count the earlier ones as lost.
    const first = await runFor(720);
    const after1 = await stored();
    expect(first.outcomes.accepted).toBe(after1.rows);
    expect(after1.rows).toBeGreaterThan(1000);

    const second = await runFor(120);
    const after2 = await stored();
    // Every reading of the second run was new and was stored; none went back in time per sensor.
    expect(second.outcomes.duplicate ?? 0).toBe(0);
    expect(second.outcomes.rejected ?? 0).toBe(0);
    expect(after2.rows - after1.rows).toBe(second.outcomes.accepted);
    expect(after2.newestMs).toBeGreaterThan(after1.newestMs + 80_000);
    expect(after2.backwards).toBe(0);
    expect(second.alerts.filter((a) => a.kind === 'sensor-fault').map((a) => a.message)).toEqual([]);
  });
});
