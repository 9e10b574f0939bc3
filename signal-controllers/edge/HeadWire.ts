/**
 * The wire from an edge process to its signal heads. In this project the city is simulated by
 * the service, so the heads are reached over HTTP: every change of an intersection's heads is
 * queued with its time on the edge's clock and sent (with the changes not yet acknowledged, so a
 * lost request loses nothing) to `POST /api/field/heads`; the field applies the newest, through
 * its cabinet's conflict hold, and answers with its clock.
 */
import { z } from 'zod';
import type { EdgeClock } from './EdgeClock.ts';
import { DetectorReadingSchema, type DetectorReading } from './LocalDetectors.ts';

const AckSchema = z.object({
  time: z.number(),
  speed: z.number().positive(),
  acked: z.record(z.string(), z.number()),
  /** The cabinet's detector inputs (absent from a field that has none). */
  detectors: z.record(z.string(), DetectorReadingSchema).optional(),
});

interface Change {
  seq: number;
  at: number;
  heads: string;
  phase: number;
}

export class HeadWire {
  private readonly queues = new Map<string, Change[]>();
  private readonly last = new Map<string, string>();
  private seq = 0;
  private dirty = false;
  private inFlight = false;
  /** One per process start: the field judges each session's changes as one timeline. */
  private readonly session = `${process.pid}-${Date.now().toString(36)}`;
  private lastSent = -Infinity;
  /** Requests answered and failed, for operators. */
  readonly counters = { sent: 0, failed: 0 };
  /** Told of each detector reading the field answers with. */
  onDetectors: ((intersection: string, reading: DetectorReading) => void) | null = null;

  constructor(
    private readonly server: string,
    private readonly token: string,
    private readonly controller: string,
    private readonly clock: EdgeClock,
    /** Wall ms between sends when nothing changed (the field's liveness signal). */
    private readonly keepAliveMs = 200,
  ) {
  }

  /** Records the heads of an intersection (local movement order) as of edge time `at`; queues a change if they moved. */
  set(intersection: string, available: Uint8Array, shownPhase: number, at = this.clock.now()): void {
    let heads = '';
    for (let k = 0; k < available.length; k++) heads += available[k] ? '1' : '0';
    if (this.last.get(intersection) === heads) return;
    this.last.set(intersection, heads);
    const q = this.queues.get(intersection) ?? [];
    q.push({ seq: ++this.seq, at, heads, phase: shownPhase });
    // Bounded: a long outage keeps only the newest changes (the field restarts its check from them).
    if (q.length > 64) q.splice(0, q.length - 64);
    this.queues.set(intersection, q);
    this.dirty = true;
  }

  /** Sends when there is something new or the keep-alive is due (one request at a time). */
  async flush(force = false): Promise<void> {
    if (this.inFlight) return;
    const t = performance.now();
    if (!force && !this.dirty && t - this.lastSent < this.keepAliveMs) return;
    this.inFlight = true;
    this.dirty = false;
    this.lastSent = t;
    try {
      const intersections = [...this.queues].filter(([, q]) => q.length > 0).map(([intersection, changes]) => ({ intersection, changes }));
      if (intersections.length === 0) return;
      const abort = AbortSignal.timeout(2000);
      const r = await fetch(this.server + '/api/field/heads', {
        method: 'POST',
        signal: abort,
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ controller: this.controller, session: this.session, intersections }),
      });
      const body = (await r.json().catch(() => null)) as unknown;
      if (!r.ok) throw new Error(`head report refused: ${r.status} ${JSON.stringify(body)}`);
      const ack = AckSchema.parse(body);
      this.clock.sync(ack.time, ack.speed, t);
      if (ack.detectors && this.onDetectors) for (const [id, reading] of Object.entries(ack.detectors)) this.onDetectors(id, reading);
      // Keep the newest change of each intersection: it is the heads now, resent as the keep-alive.
      for (const [id, q] of this.queues) {
        const upTo = ack.acked[id];
        if (upTo === undefined) continue;
        const rest = q.filter((c) => c.seq > upTo);
        this.queues.set(id, rest.length ? rest : q.slice(-1));
      }
      this.counters.sent++;
    } catch (e) {
      this.counters.failed++;
      this.dirty = true;
      if ((e as Error).message.startsWith('head report refused: 40')) throw e;
    } finally {
      this.inFlight = false;
    }
  }
}
