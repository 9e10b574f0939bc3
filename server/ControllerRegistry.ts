/**
 * Edge intersection controllers as the centre sees them: registration, heartbeats with their
 * signal state (what SPaT carries), and whether they are online. The last state is stored so a
 * restart shows the controllers as they were; every heartbeat is kept as history.
 */
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from './db/Database.ts';
import { controllers, heartbeats } from './db/schema.ts';

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
  /** Where its plans come from: the centre, the last central plan held, or the local fallback. */
  mode: z.enum(['central', 'holding', 'fallback']),
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

export class ControllerRegistry {
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
    const at = new Date(c.lastSeen);
    await this.db.update(controllers).set({ lastHeartbeatAt: at, state }).where(eq(controllers.id, id));
    await this.db.insert(heartbeats).values({ controllerId: id, at, state });
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
