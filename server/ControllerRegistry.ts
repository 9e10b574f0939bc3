/**
 * Edge intersection controllers as the centre sees them: registration, heartbeats with their
 * signal state (what SPaT carries), and whether they are online. The last state is stored so a
 * restart shows the controllers as they were. The `heartbeats` table is the controllers' event
 * log: a heartbeat is kept there when what the heads show changed (mode, phase, interval,
 * movements, plan version; not the countdown), when it reports applied plans, or when the
 * controller's last kept row is a minute old. A fleet reports every second; storing each report
 * would write a row per controller per second, almost all saying "still counting down".
 *
 * Heartbeats are written by group commit: those arriving while a write is under way go together
 * in one statement, so a city's fleet costs a few statements a second, not two per heartbeat.
 */
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from './db/Database.ts';
import { GroupCommit } from './db/GroupCommit.ts';
import { controllers } from './db/schema.ts';
import { EDGE_MODES } from '../signal-controllers/edge/EdgeController.ts';

export const IntersectionStateSchema = z.object({
  intersection: z.string().min(1),
  /** Roadnet phase index showing now (during a change interval: the phase being left; -1 before the first green). */
  phase: z.number().int().min(-1),
  interval: z.enum(['green', 'change']),
  /** Per movement: G, Y or R. */
  movements: z.string().regex(/^[GYR]*$/),
  /** Seconds until the current interval may end (min green left, or clearance left). */
  timeToChange: z.number().nonnegative(),
  planVersion: z.number().int().nonnegative().nullable(),
});
export type IntersectionState = z.infer<typeof IntersectionStateSchema>;

export const ControllerStateSchema = z.object({
  /**
   * Where its plans come from: the centre, the last central plan held (centre quiet), its local
   * plan while the centre has none for it, or its local plan because the centre is lost.
   */
  mode: z.enum(EDGE_MODES),
  intersections: z.array(IntersectionStateSchema).min(1),
  /** Control-loop latency of the last applied plan (sensor reading → applied), ms. */
  lastLoopLatencyMs: z.number().nonnegative().nullable().optional(),
  /** Central plans applied since the last heartbeat answered, each with its control-loop latency (field-clock ms). */
  applied: z
    .array(z.object({ intersection: z.string().min(1), version: z.number().int().positive(), loopLatencyMs: z.number().nonnegative() }))
    .max(256)
    .optional(),
});
export type ControllerState = z.infer<typeof ControllerStateSchema>;

export interface ControllerInfo {
  id: string;
  intersections: string[];
  online: boolean;
  lastHeartbeatMs: number | null;
  state: ControllerState | null;
}

/** One heartbeat on its way to the database; `keep`: also a row of the event log. */
interface HeartbeatRow {
  id: string;
  at: string;
  state: ControllerState;
  keep: boolean;
}

/** What the heads show, without the countdown: a change of it is an event worth a log row. */
function signalSignature(s: ControllerState): string {
  let sig = s.mode;
  for (const i of s.intersections) sig += `|${i.intersection}:${i.phase}:${i.interval}:${i.movements}:${i.planVersion}`;
  return sig;
}

export class ControllerRegistry {
  /** A controller whose signals did not change still gets a log row this often (ms). */
  static readonly logAtLeastEveryMs = 60_000;
  /** Per controller, the signature and time of its last row in the event log. */
  private readonly lastLogged = new Map<string, { signature: string; atMs: number }>();
  private readonly commits = new GroupCommit<HeartbeatRow>((rows) => this.write(rows), 10_000);
  private readonly listeners: ((id: string, state: ControllerState, atMs: number) => void)[] = [];
  private readonly known = new Map<string, { intersections: string[]; lastSeen: number | null; state: ControllerState | null }>();

  constructor(
    private readonly db: Db,
    /** A controller silent for longer than this is offline. */
    private readonly offlineAfterMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<void> {
    for (const r of await this.db.select().from(controllers)) {
      this.known.set(r.id, { intersections: r.intersections, lastSeen: r.lastHeartbeatAt?.getTime() ?? null, state: (r.state as ControllerState | null) ?? null });
    }
  }

  async register(id: string, intersections: string[]): Promise<void> {
    const prev = this.known.get(id);
    this.known.set(id, { intersections, lastSeen: this.now(), state: prev?.state ?? null });
    await this.db
      .insert(controllers)
      .values({ id, intersections, lastHeartbeatAt: new Date(this.now()) })
      .onConflictDoUpdate({ target: controllers.id, set: { intersections, lastHeartbeatAt: new Date(this.now()) } });
  }

  /** Called on every heartbeat as it arrives (the scheduler's failure detector, the loop-latency metric). */
  onHeartbeat(fn: (id: string, state: ControllerState, atMs: number) => void): void {
    this.listeners.push(fn);
  }

  isRegistered(id: string): boolean {
    return this.known.has(id);
  }

  async heartbeat(id: string, state: ControllerState): Promise<void> {
    const c = this.known.get(id);
    if (!c) throw new Error(`controller ${id} is not registered`);
    c.lastSeen = this.now();
    for (const l of this.listeners) l(id, state, c.lastSeen);
    c.state = state;
    const signature = signalSignature(state);
    const last = this.lastLogged.get(id);
    const keep = !last || last.signature !== signature || (state.applied?.length ?? 0) > 0 || c.lastSeen - last.atMs >= ControllerRegistry.logAtLeastEveryMs;
    if (keep) this.lastLogged.set(id, { signature, atMs: c.lastSeen });
    try {
      await this.commits.submit([{ id, at: new Date(c.lastSeen).toISOString(), state, keep }]);
    } catch (e) {
      // Not stored: the next heartbeat starts the log again, whatever it says.
      if (keep) this.lastLogged.delete(id);
      throw e;
    }
  }

  /**
   * One statement for a group of heartbeats: each controller's newest state onto its row, and
   * the kept ones appended to the event log, atomically.
   */
  private async write(rows: HeartbeatRow[]): Promise<void> {
    const newest = new Map<string, HeartbeatRow>();
    for (const r of rows) newest.set(r.id, r);
    const latest = JSON.stringify([...newest.values()].map(({ id, at, state }) => ({ id, at, state })));
    const logged = JSON.stringify(rows.filter((r) => r.keep).map(({ id, at, state }) => ({ id, at, state })));
    await this.db.execute(sql`with logged as (
        insert into heartbeats (controller_id, at, state)
        select id, at, state from jsonb_to_recordset(${logged}::jsonb) as x(id text, at timestamptz, state jsonb)
      )
      update controllers c set last_heartbeat_at = x.at, state = x.state
      from jsonb_to_recordset(${latest}::jsonb) as x(id text, at timestamptz, state jsonb)
      where c.id = x.id`);
  }

  list(): ControllerInfo[] {
    const t = this.now();
    return [...this.known].map(([id, c]) => ({
      id,
      intersections: c.intersections,
      online: c.lastSeen !== null && t - c.lastSeen <= this.offlineAfterMs,
      lastHeartbeatMs: c.lastSeen,
      state: c.state,
    }));
  }
}
