/**
 * What-if runs for the API: accepts scenarios, freezes their start state (the twin's estimate at
 * the moment of the request, unless the scenario brings its own), stores them in `whatif_runs`,
 * and runs them one after another (or `concurrency` at once) in worker threads, off the thread
 * serving requests. Tracks progress, cancels on request, stores results and replays.
 *
 * Restarts: a run accepted is not lost. On start, runs found `queued` or `running` are queued
 * again (in the order they were accepted) and run from their stored start state, which gives
 * the same result as the interrupted run would have (runs are deterministic per seed). A run
 * that was already interrupted while running `maxAttempts` times is marked failed instead, so a
 * run that brings the service down cannot do so on every start.
 */
import { randomUUID } from 'node:crypto';
import { desc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { FlowFile } from '../twin/network/cityflowFormat.ts';
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../twin/state/TrafficObservation.ts';
import { ObservationSchema, ScenarioSchema, StartSchema, type Scenario } from '../twin/whatif/Scenario.ts';
import { ScenarioError, resolveChanges } from '../twin/whatif/ScenarioChanges.ts';
import { runWhatIfInWorker, WhatIfWorkerError } from '../twin/whatif/runInWorker.ts';
import type { WhatIfProgress, WhatIfResult } from '../twin/whatif/ScenarioRunner.ts';
import type { Replay } from '../twin/whatif/Replay.ts';
import { CONTROLLERS } from '../signal-controllers/registry.ts';
import type { AuditLog } from './AuditLog.ts';
import type { Db } from './db/Database.ts';
import { whatifRuns } from './db/schema.ts';
import type { TopicSource } from './streams/StreamHub.ts';

export const WHATIF_STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type WhatIfStatus = (typeof WHATIF_STATUSES)[number];
const FINISHED: ReadonlySet<WhatIfStatus> = new Set(['done', 'failed', 'cancelled']);

/**
 * Where a run starts, as the API takes it: the twin's current estimate (`twin`, the default),
 * or an estimate given in full (`estimate`, ScenarioSchema's own). Engine snapshots are not
 * taken over HTTP: they hold typed arrays that JSON does not carry.
 */
export const TwinStartSchema = z.object({
  kind: z.literal('twin'),
  /** Where synthesised vehicles' routes come from (see StateSynthesis). */
  routes: z.enum(['demand', 'turning', 'auto']).default('auto'),
});
/** ScenarioSchema's estimate start as JSON carries it (number arrays; typed arrays have no OpenAPI form). */
const EstimateStartSchema = StartSchema.options[1].extend({
  observation: ObservationSchema.extend({
    laneVehicles: z.array(z.number()),
    laneQueue: z.array(z.number()),
    laneSpeed: z.array(z.number()),
    laneArrivals: z.array(z.number()).optional(),
    movementDepartures: z.array(z.number()).optional(),
    laneConfidence: z.array(z.number()).optional(),
  }),
});

/** The start state stored with an earlier run: several scenarios compared from exactly the same state. */
export const RunStartSchema = z.object({
  kind: z.literal('run'),
  /** Id of the earlier what-if run. */
  run: z.string().min(1).max(100),
});

/** A what-if request: a scenario (ScenarioSchema) whose start defaults to the twin's estimate, and why it is asked. */
export const WhatIfRequestSchema = ScenarioSchema.extend({
  start: z.union([TwinStartSchema, EstimateStartSchema, RunStartSchema]).default({ kind: 'twin', routes: 'auto' }),
  /** Why the run is asked (kept in the audit log). */
  reason: z.string().min(3).max(500).optional(),
});
export type WhatIfRequest = z.infer<typeof WhatIfRequestSchema>;

export interface RunSummary {
  id: string;
  status: WhatIfStatus;
  progress: number;
  createdAt: string;
  createdBy: string;
  name: string | null;
}

export interface RunDetail extends RunSummary {
  updatedAt: string;
  /** The scenario as run (start state resolved: the twin's estimate as it was when accepted). */
  scenario: unknown;
  result: unknown;
  error: string | null;
  hasReplay: boolean;
}

/** A replay as JSON: frames of vehicle ids and flat [x, y, heading] triples. */
export interface ReplayJson {
  run: 'scenario' | 'baseline';
  seed: number;
  everySteps: number;
  stepSeconds: number;
  thinned: boolean;
  frames: { time: number; ids: number[]; poses: number[] }[];
}

export class WhatIfRequestError extends Error {
  constructor(
    message: string,
    readonly fields: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'WhatIfRequestError';
  }
}

export interface WhatIfSource {
  network: RoadNetwork;
  /** CityFlow roadnet and flow JSON the field runs on (the workers rebuild the network from them). */
  roadnet: unknown;
  flows: FlowFile;
  /** The twin's current estimate. */
  estimate(): TrafficObservation;
}

export interface WhatIfServiceOptions {
  /** Runs at once (each in its own worker thread). */
  concurrency?: number;
  /** Starts of a run interrupted by restarts after which it is failed rather than queued again. */
  maxAttempts?: number;
  /** Cap on a replay's position data (bytes); a scenario asking more gets this. */
  maxReplayBytes?: number;
  /** Called when a run's status or progress changes (progress at most every `progressIntervalMs`). */
  onChange?: (run: RunSummary) => void;
  progressIntervalMs?: number;
  /** Runs kept in the WebSocket topic's list (the newest). */
  topicRuns?: number;
}

interface Job {
  id: string;
  status: WhatIfStatus;
  progress: number;
  createdAt: Date;
  createdBy: string;
  name: string | null;
  attempts: number;
  abort: AbortController | null;
  /** DB writes of this run, in order (a cancel and a completion must not land reversed). */
  writes: Promise<unknown>;
  lastNotified: number;
}

/** Seconds of demand past the horizon handed to a run (see flowsFor). */
const ROUTE_LOOKAHEAD = 900;
/** The part of a stored scenario that says which demand it needs. */
const StoredStartSchema = z.object({
  horizon: z.number(),
  start: z.object({ kind: z.literal('estimate'), time: z.number().optional(), observation: z.object({ time: z.number() }) }),
});

const KNOWN_CONTROLLERS = new Set(['program', ...Object.keys(CONTROLLERS)]);

/** Float64Array and other typed arrays as plain arrays, NaN as null: what jsonb can hold. */
function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as Float64Array) : v)));
}

function replayToJson(r: Replay): ReplayJson {
  // Centimetres and milliradians are ample for drawing; rounding keeps the JSON small.
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    run: r.run,
    seed: r.seed,
    everySteps: r.everySteps,
    stepSeconds: r.stepSeconds,
    thinned: r.thinned,
    frames: r.frames.map((f) => ({ time: f.time, ids: Array.from(f.ids), poses: Array.from(f.poses, round) })),
  };
}

/** What recovery reads of a run: its summary and how often it was tried. */
const RECOVERY_COLUMNS = {
  id: whatifRuns.id,
  status: whatifRuns.status,
  progress: whatifRuns.progress,
  createdAt: whatifRuns.createdAt,
  createdBy: whatifRuns.createdBy,
  name: whatifRuns.name,
  attempts: whatifRuns.attempts,
};

export class WhatIfService {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: string[] = [];
  private readonly active = new Map<string, Promise<void>>();
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly maxReplayBytes: number;
  private readonly progressIntervalMs: number;
  private readonly topicRuns: number;
  private stopping = false;
  private readonly controllerModule = new URL(import.meta.url.endsWith('.ts') ? '../twin/whatif/registryControllers.ts' : '../twin/whatif/registryControllers.js', import.meta.url).href;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly source: WhatIfSource,
    private readonly options: WhatIfServiceOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.maxAttempts = options.maxAttempts ?? 3;
    this.maxReplayBytes = options.maxReplayBytes ?? 4_000_000;
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
    this.topicRuns = options.topicRuns ?? 50;
  }

  /** Loads recent runs and queues again those a previous process accepted but did not finish. */
  async recover(): Promise<{ requeued: string[]; failed: string[] }> {
    const rows = await this.db
      .select(RECOVERY_COLUMNS)
      .from(whatifRuns)
      .orderBy(desc(whatifRuns.createdAt))
      .limit(this.topicRuns);
    const unfinished = await this.db
      .select(RECOVERY_COLUMNS)
      .from(whatifRuns)
      .where(inArray(whatifRuns.status, ['queued', 'running']))
      .orderBy(whatifRuns.createdAt);
    for (const r of [...rows, ...unfinished]) {
      if (this.jobs.has(r.id)) continue;
      this.jobs.set(r.id, this.newJob(r.id, r.status as WhatIfStatus, r.progress, r.createdAt, r.createdBy, r.name, r.attempts));
    }
    const requeued: string[] = [];
    const failed: string[] = [];
    for (const r of unfinished) {
      const job = this.jobs.get(r.id) as Job;
      if (r.status === 'running' && r.attempts >= this.maxAttempts) {
        const error = `interrupted by a service restart ${r.attempts} times while running; not retried`;
        job.status = 'failed';
        await this.write(job, { status: 'failed', error });
        await this.audit.record({ actor: 'service', action: 'whatif.fail', target: `whatif:${r.id}`, detail: { reason: error } });
        failed.push(r.id);
        continue;
      }
      job.status = 'queued';
      job.progress = 0;
      await this.write(job, { status: 'queued', progress: 0 });
      this.queue.push(r.id);
      requeued.push(r.id);
    }
    if (requeued.length > 0) await this.audit.record({ actor: 'service', action: 'whatif.requeue', target: 'whatif', detail: { runs: requeued, reason: 'accepted before a restart and not finished' } });
    this.pump();
    return { requeued, failed };
  }

  /**
   * Checks a request against the network (unknown roads, lanes, intersections, controllers),
   * freezes its start state and queues it. Throws WhatIfRequestError naming the fields.
   */
  async submit(request: WhatIfRequest, actor: string): Promise<RunSummary> {
    if (this.stopping) throw new Error('the service is stopping');
    const { reason, start, ...rest } = request;
    const net = this.source.network;
    let resolvedStart: z.input<typeof StartSchema>;
    if (start.kind === 'twin') {
      const o = this.source.estimate();
      resolvedStart = { kind: 'estimate', observation: o, time: o.time, routes: start.routes };
    } else if (start.kind === 'run') {
      const [earlier] = await this.db.select({ scenario: whatifRuns.scenario }).from(whatifRuns).where(eq(whatifRuns.id, start.run)).limit(1);
      const stored = earlier ? StartSchema.safeParse((earlier.scenario as { start?: unknown }).start) : null;
      if (!stored) throw new WhatIfRequestError('invalid scenario', [{ path: 'start.run', message: `no what-if run ${start.run}` }]);
      if (!stored.success) throw new WhatIfRequestError('invalid scenario', [{ path: 'start.run', message: `run ${start.run} has no usable start state` }]);
      resolvedStart = stored.data;
    } else {
      resolvedStart = start;
    }
    const replay = { ...rest.replay, maxBytes: Math.min(rest.replay.maxBytes, this.maxReplayBytes) };
    const scenario: Scenario = ScenarioSchema.parse({ ...rest, replay, start: resolvedStart });
    this.check(scenario, net);

    const id = randomUUID();
    const stored = toJson(scenario);
    const [row] = await this.db
      .insert(whatifRuns)
      .values({ id, createdBy: actor, status: 'queued', scenario: stored, name: scenario.name, progress: 0 })
      .returning({ createdAt: whatifRuns.createdAt });
    const job = this.newJob(id, 'queued', 0, row.createdAt, actor, scenario.name, 0);
    this.jobs.set(id, job);
    await this.audit.record({
      actor,
      action: 'whatif.create',
      target: `whatif:${id}`,
      detail: {
        reason: reason ?? null,
        name: scenario.name,
        start: start.kind === 'run' ? `run:${start.run}` : start.kind,
        startTime: scenario.start.kind === 'estimate' ? (scenario.start.time ?? scenario.start.observation.time) : null,
        horizon: scenario.horizon,
        seeds: scenario.seeds,
        changes: scenario.changes.map((c) => c.kind),
      },
    });
    this.queue.push(id);
    this.notify(job, true);
    this.pump();
    return this.summary(job);
  }

  /** Semantic checks the schema cannot make: names that must exist in the network or the registry. */
  private check(scenario: Scenario, net: RoadNetwork): void {
    const fields: { path: string; message: string }[] = [];
    if (scenario.start.kind === 'estimate') {
      const o = scenario.start.observation;
      for (const k of ['laneVehicles', 'laneQueue', 'laneSpeed'] as const) {
        if (o[k].length !== net.lanes.length) fields.push({ path: `start.observation.${k}`, message: `expected ${net.lanes.length} lanes, got ${o[k].length}` });
      }
    }
    if (scenario.control !== null && !KNOWN_CONTROLLERS.has(scenario.control)) {
      fields.push({ path: 'control', message: `unknown controller "${scenario.control}" (known: ${[...KNOWN_CONTROLLERS].join(', ')})` });
    }
    scenario.changes.forEach((c, k) => {
      if (c.kind === 'control' && !KNOWN_CONTROLLERS.has(c.controller)) {
        fields.push({ path: `changes.${k}.controller`, message: `unknown controller "${c.controller}" (known: ${[...KNOWN_CONTROLLERS].join(', ')})` });
      }
    });
    try {
      resolveChanges(net, scenario.changes, 0, scenario.horizon);
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      // ScenarioError paths read `changes[0].roads[1]`; the API names fields with dots.
      fields.push({ path: e.path.replace(/\[(\w+)\]/g, '.$1').replace(/\(\w+\)/g, ''), message: e.message.slice(e.path.length + 2) });
    }
    if (fields.length > 0) throw new WhatIfRequestError('invalid scenario', fields);
  }

  list(limit = 100): Promise<RunSummary[]> {
    return this.db
      .select({ id: whatifRuns.id, status: whatifRuns.status, progress: whatifRuns.progress, createdAt: whatifRuns.createdAt, createdBy: whatifRuns.createdBy, name: whatifRuns.name })
      .from(whatifRuns)
      .orderBy(desc(whatifRuns.createdAt))
      .limit(limit)
      .then((rows) =>
        rows.map((r) => {
          const live = this.jobs.get(r.id);
          return live ? this.summary(live) : { id: r.id, status: r.status as WhatIfStatus, progress: r.progress, createdAt: r.createdAt.toISOString(), createdBy: r.createdBy, name: r.name };
        }),
      );
  }

  async get(id: string): Promise<RunDetail | null> {
    const [r] = await this.db
      .select({
        id: whatifRuns.id,
        status: whatifRuns.status,
        progress: whatifRuns.progress,
        createdAt: whatifRuns.createdAt,
        updatedAt: whatifRuns.updatedAt,
        createdBy: whatifRuns.createdBy,
        name: whatifRuns.name,
        scenario: whatifRuns.scenario,
        result: whatifRuns.result,
        error: whatifRuns.error,
        hasReplay: sql<boolean>`${whatifRuns.replay} is not null`,
      })
      .from(whatifRuns)
      .where(eq(whatifRuns.id, id))
      .limit(1);
    if (!r) return null;
    // The in-memory state is ahead of the row while a run is going (progress is not written per
    // step). Once it has finished, the row decides: its result is stored in the same write as its
    // final status, so a reader never sees 'done' without the result.
    const job = this.jobs.get(id);
    const live = job && !FINISHED.has(job.status) ? job : undefined;
    const status = live?.status ?? (r.status as WhatIfStatus);
    const progress = live?.progress ?? r.progress;
    return {
      id: r.id,
      status,
      progress,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
      createdBy: r.createdBy,
      name: r.name,
      scenario: r.scenario,
      result: r.result,
      error: r.error,
      hasReplay: r.hasReplay === true,
    };
  }

  async replay(id: string): Promise<{ status: WhatIfStatus; replay: ReplayJson | null } | null> {
    const [r] = await this.db.select({ status: whatifRuns.status, replay: whatifRuns.replay }).from(whatifRuns).where(eq(whatifRuns.id, id)).limit(1);
    if (!r) return null;
    return { status: this.jobs.get(id)?.status ?? (r.status as WhatIfStatus), replay: (r.replay as ReplayJson | null) ?? null };
  }

  /**
   * Cancels a queued or running run. Returns null for an unknown run, `{ finished }` with its
   * status when it had already finished (nothing to cancel).
   */
  async cancel(id: string, actor: string, reason?: string): Promise<{ ok: true; run: RunSummary } | { ok: false; status: WhatIfStatus } | null> {
    const job = this.jobs.get(id);
    if (!job) {
      const [r] = await this.db.select({ status: whatifRuns.status }).from(whatifRuns).where(eq(whatifRuns.id, id)).limit(1);
      if (!r) return null;
      // Not in memory means it is older than what recover() loaded, and recover() loads every unfinished run.
      return { ok: false, status: r.status as WhatIfStatus };
    }
    if (FINISHED.has(job.status)) return { ok: false, status: job.status };
    const wasRunning = job.status === 'running';
    job.status = 'cancelled';
    const q = this.queue.indexOf(id);
    if (q >= 0) this.queue.splice(q, 1);
    job.abort?.abort();
    const why = reason ?? 'cancelled on request';
    await this.write(job, { status: 'cancelled', progress: job.progress, error: `cancelled by ${actor}: ${why}` });
    await this.audit.record({ actor, action: 'whatif.cancel', target: `whatif:${id}`, detail: { reason: reason ?? null, wasRunning, progress: job.progress } });
    this.notify(job, true);
    return { ok: true, run: this.summary(job) };
  }

  /** The 'whatif' topic: the newest runs with status and progress; changes are pushed as events (see onChange). */
  topicSource(): TopicSource<{ runs: RunSummary[] }> {
    return {
      snapshot: () => ({ runs: this.recent() }),
      // Updates go out as events when a run changes, so they flow even while the field clock (which drives publishing) is stopped.
      delta: () => null,
    };
  }

  /** Runs waiting or going (for /health or tests). */
  get pending(): number {
    return this.queue.length + this.active.size;
  }

  /** Stops the workers without marking their runs finished: the next start queues them again. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    for (const job of this.jobs.values()) job.abort?.abort();
    await Promise.allSettled([...this.active.values()]);
    await Promise.allSettled([...this.jobs.values()].map((j) => j.writes));
  }

  // ------------------------------------------------------------------ running

  private pump(): void {
    while (!this.stopping && this.active.size < this.concurrency && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      const job = this.jobs.get(id);
      if (!job || job.status !== 'queued') continue;
      const p = this.execute(job).finally(() => {
        this.active.delete(id);
        this.pump();
      });
      this.active.set(id, p);
    }
  }

  private async execute(job: Job): Promise<void> {
    const [row] = await this.db.select({ scenario: whatifRuns.scenario }).from(whatifRuns).where(eq(whatifRuns.id, job.id)).limit(1);
    if (job.status !== 'queued' || this.stopping) return;
    if (!row) {
      job.status = 'failed';
      return;
    }
    const abort = new AbortController();
    job.abort = abort;
    job.status = 'running';
    job.progress = 0;
    job.attempts++;
    void this.write(job, { status: 'running', progress: 0, attempts: job.attempts });
    this.notify(job, true);
    let result: WhatIfResult;
    try {
      result = await runWhatIfInWorker(
        { roadnet: this.source.roadnet, flows: this.flowsFor(row.scenario), scenario: row.scenario, controllerModule: this.controllerModule },
        { signal: abort.signal, onProgress: (p) => this.onProgress(job, p) },
      );
    } catch (e) {
      job.abort = null;
      const err = e as Error;
      // Cancelled on request (status already written) or stopped by shutdown (left to be queued again).
      if (err.name === 'AbortError' || job.status !== 'running' || this.stopping) return;
      job.status = 'failed';
      const message = err instanceof WhatIfWorkerError && err.path ? `${err.path}: ${err.message}` : err.message;
      await this.write(job, { status: 'failed', error: message, progress: job.progress });
      await this.audit.record({ actor: 'service', action: 'whatif.fail', target: `whatif:${job.id}`, detail: { reason: message } });
      this.notify(job, true);
      return;
    }
    job.abort = null;
    if (job.status !== 'running') return; // cancelled while the result was on its way
    const { replay, ...kpis } = result;
    job.status = 'done';
    job.progress = 1;
    await this.write(job, { status: 'done', progress: 1, result: toJson(kpis), replay: replay ? replayToJson(replay) : null, error: null });
    this.notify(job, true);
  }

  /**
   * The demand a run needs: trips starting from its start to a while past its horizon (the
   * lookahead gives synthesised vehicles a pool of current routes). A day of demand would cost a
   * structured clone of megabytes on this thread for every run, and change nothing it computes
   * but the draw of those routes.
   */
  private flowsFor(stored: unknown): FlowFile {
    const start = StoredStartSchema.safeParse(stored);
    if (!start.success) return this.source.flows;
    const t0 = start.data.start.time ?? start.data.start.observation.time;
    const t1 = t0 + start.data.horizon + ROUTE_LOOKAHEAD;
    const flows = this.source.flows.filter((f) => f.startTime <= t1 && (f.endTime === -1 || f.endTime >= t0));
    // No trips left (the demand's end): one past flow still gives the synthesised vehicles their parameters.
    return flows.length > 0 ? flows : this.source.flows.slice(0, 1);
  }

  private onProgress(job: Job, p: WhatIfProgress): void {
    if (job.status !== 'running') return;
    job.progress = p.fraction;
    this.notify(job, false);
  }

  // ------------------------------------------------------------------ helpers

  private newJob(id: string, status: WhatIfStatus, progress: number, createdAt: Date, createdBy: string, name: string | null, attempts: number): Job {
    return { id, status, progress, createdAt, createdBy, name, attempts, abort: null, writes: Promise.resolve(), lastNotified: 0 };
  }

  private write(job: Job, set: Partial<typeof whatifRuns.$inferInsert>): Promise<unknown> {
    const w = job.writes.then(() => this.db.update(whatifRuns).set({ ...set, updatedAt: new Date() }).where(eq(whatifRuns.id, job.id)));
    // The chain goes on after a failed write; the caller still sees the failure.
    job.writes = w.catch((e: unknown) => console.error(`whatif ${job.id}: write failed:`, e));
    return w;
  }

  private notify(job: Job, force: boolean): void {
    if (FINISHED.has(job.status)) this.prune();
    const now = performance.now();
    if (!force && now - job.lastNotified < this.progressIntervalMs) return;
    job.lastNotified = now;
    this.options.onChange?.(this.summary(job));
  }

  private summary(job: Job): RunSummary {
    return { id: job.id, status: job.status, progress: job.progress, createdAt: job.createdAt.toISOString(), createdBy: job.createdBy, name: job.name };
  }

  /** Forgets finished runs beyond the newest `topicRuns` (they stay in the database). */
  private prune(): void {
    if (this.jobs.size <= 2 * this.topicRuns) return;
    const keep = new Set(this.recentJobs().map((j) => j.id));
    for (const [id, j] of this.jobs) if (!keep.has(id) && FINISHED.has(j.status)) this.jobs.delete(id);
  }

  private recentJobs(): Job[] {
    return [...this.jobs.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, this.topicRuns);
  }

  private recent(): RunSummary[] {
    return this.recentJobs().map((j) => this.summary(j));
  }
}
