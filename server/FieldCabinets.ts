/**
 * The field side of the signal heads: one cabinet per signalised intersection of the simulated
 * city. The heads follow the edge controller that drives the intersection — a separate edge
 * process reporting its head states over HTTP (`POST /api/field/heads`), or else the cabinet's
 * own standby controller (the in-process edge controller on its local plan), so an intersection
 * whose edge process died or went silent is never dark.
 *
 * Like a real cabinet's conflict monitor, every change passes the shared validator before it
 * reaches the heads: a movement commanded open while a conflicting one has not yet cleared (a
 * report that arrived late, a hand-over between controllers) is held red until it is safe.
 * Separately, each edge's own timeline of head changes is checked with the same validator at the
 * edge's timestamps, so a controller that commanded an unsafe state is counted even though the
 * field never showed it.
 */
import { z } from 'zod';
import type { Engine } from '../twin/sim/Engine.ts';
import type { DetectorReading } from '../signal-controllers/edge/LocalDetectors.ts';
import { movementLanes } from '../signal-controllers/movementLanes.ts';
import {
  GREEN,
  RED,
  isSignalStateSafe,
  newSignalHistory,
  recordSignalState,
  type IntersectionSafety,
  type SignalHistory,
  type StateRules,
} from '../signal-controllers/SafetyValidator.ts';

export const HeadChangeSchema = z.object({
  /** Increases with every change the edge makes at this intersection. */
  seq: z.number().int().nonnegative(),
  /** Edge clock (s) at which the heads took this state. */
  at: z.number().nonnegative(),
  /** Per local movement: 1 = may go, 0 = closed (yellow and all-red included). */
  heads: z.string().regex(/^[01]+$/, 'one 0/1 digit per movement'),
  /** Roadnet phase shown (-1 before the first green). */
  phase: z.number().int().min(-1),
});

export const HeadReportSchema = z.object({
  /** The reporting edge controller (its registered id). */
  controller: z.string().min(1).max(100),
  /** Changes with each start of the edge process: a new session is a new timeline of changes. */
  session: z.string().min(1).max(100),
  intersections: z
    .array(
      z.object({
        intersection: z.string().min(1),
        /** The changes not yet acknowledged, oldest first (the last one is the heads now). */
        changes: z.array(HeadChangeSchema).min(1).max(64),
      }),
    )
    .min(1),
});
export type HeadReport = z.infer<typeof HeadReportSchema>;

/** What the field answers a head report with: its clock, so an edge can run on field time. */
export interface HeadAck {
  time: number;
  speed: number;
  /** Highest change applied per intersection (the edge drops those from its queue). */
  acked: Record<string, number>;
  /** The cabinet's detector inputs per reported intersection: what the edge's local actuated logic reads. */
  detectors: Record<string, DetectorReading>;
}

export interface CabinetStatus {
  time: number;
  /** Intersection-steps the heads would have been unsafe without the cabinet's hold (late reports, hand-overs). */
  guardHolds: number;
  /** Head changes that edge controllers commanded which were unsafe on their own timeline. */
  commandedUnsafe: number;
  /** Intersection-seconds with every movement closed longer than twice its longest clearance: an intersection not serving anyone. */
  darkSeconds: number;
  /** Intersection-seconds driven by the cabinet's standby controller (no live edge process). */
  standbySeconds: number;
  intersections: { intersection: string; driver: string; lastHeardAgo: number | null }[];
}

interface External {
  controller: string;
  session: string;
  seq: number;
  heads: Uint8Array;
  phase: number;
  /** Field time the last report arrived. */
  heardAt: number;
  /** The edge's own timeline, checked with the validator. */
  history: SignalHistory;
}

interface Cabinet {
  index: number;
  safety: IntersectionSafety;
  rules: StateRules;
  /** What the heads show (validator history on field time). */
  history: SignalHistory;
  next: Uint8Array;
  external: External | null;
  closedSince: number;
  darkAfter: number;
  /** Approach lanes (global ids) wired to the cabinet's detector inputs. */
  detectorLanes: number[];
}

export interface StandbyHeads {
  available(intersection: number): Uint8Array;
  shown(intersection: number): number;
}

export class FieldCabinets {
  private readonly cabinets: Cabinet[] = [];
  private readonly byId = new Map<string, Cabinet>();
  guardHolds = 0;
  commandedUnsafe = 0;
  darkSeconds = 0;
  standbySeconds = 0;
  /** Vehicles over each movement's stop line since the field started (the stop-line loops' counters). */
  private readonly departures: Float64Array;
  private readonly linkMovement: Int32Array;

  constructor(
    models: Iterable<IntersectionSafety>,
    private readonly engine: Engine,
    /** Field seconds without a report after which an edge process no longer drives its heads. */
    private readonly staleAfter: number,
    private readonly speed: number,
  ) {
    this.departures = new Float64Array(engine.net.movements.length);
    this.linkMovement = Int32Array.from(engine.net.laneLinks, (l) => l.movement);
    for (const safety of models) {
      const clearance = Float64Array.from(safety.requiredYellow, (y, k) => y + safety.requiredAllRed[k]);
      const c: Cabinet = {
        index: safety.index,
        safety,
        rules: { clearance, allRed: safety.requiredAllRed, minGreen: null, yellow: false },
        history: newSignalHistory(safety.n),
        next: new Uint8Array(safety.n),
        external: null,
        closedSince: engine.time,
        darkAfter: 2 * Math.max(...clearance) + 2,
        detectorLanes: [...new Set(movementLanes(engine.net, safety.index).inLanes.flat())],
      };
      this.cabinets.push(c);
      this.byId.set(safety.id, c);
    }
  }

  has(intersection: string): boolean {
    return this.byId.has(intersection);
  }

  /**
   * Takes an edge's head report. Checks each change on the edge's own timeline; the newest becomes
   * what the heads should show (applied, through the hold, at the next field step).
   */
  report(r: HeadReport): HeadAck | { error: string; path: string } {
    const now = this.engine.time;
    const acked: Record<string, number> = {};
    for (const [k, it] of r.intersections.entries()) {
      const c = this.byId.get(it.intersection);
      if (!c) return { error: `no signalised intersection "${it.intersection}"`, path: `intersections.${k}.intersection` };
      const bad = it.changes.findIndex((ch) => ch.heads.length !== c.safety.n);
      if (bad >= 0) return { error: `expected ${c.safety.n} head digits`, path: `intersections.${k}.changes.${bad}.heads` };
    }
    for (const it of r.intersections) {
      const c = this.byId.get(it.intersection)!;
      let ext = c.external;
      const first = it.changes[0];
      // A new controller, or the same one restarted: a fresh timeline.
      if (!ext || ext.controller !== r.controller || ext.session !== r.session) {
        ext = { controller: r.controller, session: r.session, seq: -1, heads: new Uint8Array(c.safety.n), phase: -1, heardAt: now, history: newSignalHistory(c.safety.n) };
        c.external = ext;
        // The first state of a timeline is its baseline; only the changes after it are judged.
        const base = Uint8Array.from(first.heads, (d) => (d === '1' ? GREEN : RED));
        recordSignalState(ext.history, base, first.at, c.rules);
        ext.seq = first.seq;
        ext.heads = Uint8Array.from(first.heads, (d) => (d === '1' ? 1 : 0));
        ext.phase = first.phase;
      }
      const lights = new Uint8Array(c.safety.n);
      for (const ch of it.changes) {
        if (ch.seq <= ext.seq) continue;
        for (let a = 0; a < c.safety.n; a++) lights[a] = ch.heads[a] === '1' ? GREEN : RED;
        if (!isSignalStateSafe(c.safety, ext.history, lights, ch.at, c.rules)) this.commandedUnsafe++;
        recordSignalState(ext.history, lights, ch.at, c.rules);
        ext.seq = ch.seq;
        for (let a = 0; a < c.safety.n; a++) ext.heads[a] = lights[a] === GREEN ? 1 : 0;
        ext.phase = ch.phase;
      }
      ext.heardAt = now;
      acked[it.intersection] = ext.seq;
    }
    const detectors: Record<string, DetectorReading> = {};
    for (const it of r.intersections) detectors[it.intersection] = this.detectorsOf(this.byId.get(it.intersection)!);
    return { time: now, speed: this.speed, acked, detectors };
  }

  /** What the cabinet's detectors read now: presence and standing vehicles per approach lane, stop-line counts per movement. */
  private detectorsOf(c: Cabinet): DetectorReading {
    const vehicles: number[] = [];
    const queue: number[] = [];
    for (const l of c.detectorLanes) {
      let n = 0;
      let q = 0;
      this.engine.forEachOn(l, (_v, _dis, speed) => {
        n++;
        if (speed < 0.1) q++;
      });
      vehicles.push(n);
      queue.push(q);
    }
    const g = Array.from(c.safety.globalMovement);
    return { lanes: c.detectorLanes, vehicles, queue, movements: g, departures: g.map((m) => this.departures[m]) };
  }

  clock(): { time: number; speed: number } {
    return { time: this.engine.time, speed: this.speed };
  }

  /** Who drives an intersection's heads now: an edge process (its id) or the standby. */
  driverOf(intersection: string): string | null {
    const c = this.byId.get(intersection);
    if (!c) return null;
    return this.live(c) ? c.external!.controller : 'standby';
  }

  private live(c: Cabinet): boolean {
    return c.external !== null && this.engine.time - c.external.heardAt <= this.staleAfter;
  }

  /** Sets every head for the step about to run: the live edge's state, else the standby's, through the hold. */
  apply(standby: StandbyHeads): void {
    const now = this.engine.time;
    const dt = this.engine.dt;
    // Called once before each step: count the stop-line crossings of the step just run.
    const nL = this.engine.nLanes;
    this.engine.forEachMove((_v, from, _to, via) => {
      if (from < nL && via >= nL) this.departures[this.linkMovement[via - nL]]++;
    });
    for (const c of this.cabinets) {
      const live = this.live(c);
      const want = live ? c.external!.heads : standby.available(c.index);
      const shown = live ? c.external!.phase : standby.shown(c.index);
      if (!live) this.standbySeconds += dt;
      const h = c.history;
      const next = c.next;
      // Closing is always safe; opening waits until every conflicting movement has cleared.
      let held = false;
      for (let a = 0; a < c.safety.n; a++) next[a] = want[a] && h.light[a] === GREEN ? GREEN : RED;
      for (let a = 0; a < c.safety.n; a++) {
        if (!want[a] || next[a] === GREEN) continue;
        next[a] = GREEN;
        if (!isSignalStateSafe(c.safety, h, next, now, c.rules)) {
          next[a] = RED;
          held = true;
        }
      }
      if (held) this.guardHolds++;
      recordSignalState(h, next, now, c.rules);
      let open = false;
      for (let a = 0; a < c.safety.n; a++) if (next[a] === GREEN) open = true;
      if (open) c.closedSince = now;
      else if (now - c.closedSince >= c.darkAfter) this.darkSeconds += dt;
      this.engine.lights.setMovements(c.index, next, shown);
    }
  }

  status(): CabinetStatus {
    const now = this.engine.time;
    return {
      time: now,
      guardHolds: this.guardHolds,
      commandedUnsafe: this.commandedUnsafe,
      darkSeconds: this.darkSeconds,
      standbySeconds: this.standbySeconds,
      intersections: this.cabinets.map((c) => ({
        intersection: c.safety.id,
        driver: this.live(c) ? c.external!.controller : 'standby',
        lastHeardAgo: c.external ? now - c.external.heardAt : null,
      })),
    };
  }
}
