/**
 * The centre's RTAS shell: it measures the compute nodes (the centre itself and every edge agent
 * that heartbeats), places the standing tasks on them with the RTAS core every control interval,
 * runs the plan jobs where their task is placed (in-process on the centre, or handed to an edge
 * agent that long-polls `GET /api/rtas/jobs`), and moves the tasks of a node that stops
 * answering or answers late. Node shares follow the latency-feedback law on the control-loop
 * latency the edges report for the plans each node computed.
 */
import { computePlanJob, type PlanJob, type PlanResult } from '../signal-controllers/rtas/planJob.ts';
import { DEFAULT_RTAS, feedbackShare, placeTasks, reliability, type NodeStats, type Placement, type Task, type TaskClass } from '../signal-controllers/rtas/Rtas.ts';
import type { Site } from '../signal-controllers/policies/sites.ts';
import type { ControllerState } from './ControllerRegistry.ts';
import type { Metrics } from './Metrics.ts';

export interface RtasConfig {
  /** How often placements are revised (wall ms): a failed node's tasks move within one of these after it is found failed. */
  controlIntervalMs: number;
  /** A node silent this long (wall ms) has failed. */
  failAfterMs: number;
  /** A job not answered within this (wall ms) is late: it runs elsewhere and counts against its node. */
  jobDeadlineMs: number;
  /** Control-loop latency target (wall ms) and the feedback gain. */
  slaMs: number;
  eta: number;
  /** Field seconds per wall second: the edges report latencies on the field's clock. */
  speed: number;
}

export const DEFAULT_RTAS_CONFIG: Omit<RtasConfig, 'speed'> = { controlIntervalMs: 250, failAfterMs: 1200, jobDeadlineMs: 2000, slaMs: 1000, eta: 0.2 };

interface Node extends NodeStats {
  lastSeenMs: number;
  samples: number[];
}

interface JobRecord {
  job: PlanJob;
  node: string;
  queuedAt: number;
  dispatchedAt: number | null;
  deadlineAt: number;
  tried: Set<string>;
  resolve: (r: PlanResult | null) => void;
}

export interface RtasView {
  time: number;
  slaMs: number;
  nodes: (Omit<NodeStats, 'heartbeatsExpected' | 'heartbeatsHeard' | 'jobsDone' | 'jobsOnTime'> & { reliability: number; jobsDone: number; jobsOnTime: number; lastSeenAgoMs: number })[];
  placements: Placement[];
  /** The latest moves of tasks between nodes, newest last. */
  moves: Placement[];
}

const EWMA = 0.3;
const zeroCompute = (): Record<TaskClass, number> => ({ preemption: 0, plan: 0, forecast: 0 });

export class RtasScheduler {
  private readonly nodes = new Map<string, Node>();
  private readonly tasks: Task[];
  private readonly where = new Map<string, string>();
  private readonly explain = new Map<string, Placement>();
  private readonly moves: Placement[] = [];
  private readonly jobs = new Map<string, JobRecord>();
  private readonly waiters = new Map<string, () => void>();
  private readonly producedBy = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sites: Map<string, Site>,
    private readonly cfg: RtasConfig,
    private readonly metrics: Metrics | null = null,
    private readonly now: () => number = Date.now,
  ) {
    this.tasks = [...sites.keys()].map((id) => ({ id: `plan:${id}`, cls: 'plan', intersection: id }));
    this.nodes.set('centre', this.newNode('centre', 'centre', []));
    this.control();
  }

  private newNode(id: string, kind: 'centre' | 'edge', intersections: string[]): Node {
    const centre = this.nodes.get('centre');
    return {
      id,
      kind,
      intersections,
      alive: true,
      // Until measured: the centre's compute and a LAN round trip.
      rttMs: kind === 'centre' ? 0 : 50,
      computeMs: centre ? { ...centre.computeMs } : zeroCompute(),
      heartbeatsExpected: 0,
      heartbeatsHeard: 0,
      jobsDone: 0,
      jobsOnTime: 0,
      share: 1,
      loopLatencyMs: null,
      lastSeenMs: this.now(),
      samples: [],
    };
  }

  start(): void {
    this.timer ??= setInterval(() => this.control(), this.cfg.controlIntervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const j of this.jobs.values()) j.resolve(null);
    this.jobs.clear();
    for (const w of this.waiters.values()) w();
  }

  /** A heartbeat from an edge agent: it is alive, and reports the loop latency of the plans it applied. */
  heartbeat(id: string, state: ControllerState, atMs: number): void {
    // Only agents that take jobs (they long-poll for them) are compute nodes; others just run their lights.
    const n = this.nodes.get(id);
    if (n) {
      n.intersections = state.intersections.map((s) => s.intersection);
      n.lastSeenMs = atMs;
    }
    for (const a of state.applied ?? []) {
      const wallMs = a.loopLatencyMs / this.cfg.speed;
      this.metrics?.controlLoopLatency.observe(wallMs / 1000);
      const by = this.producedBy.get(`${a.intersection}#${a.version}`);
      if (by) {
        this.producedBy.delete(`${a.intersection}#${a.version}`);
        this.nodes.get(by)?.samples.push(wallMs);
      }
    }
  }

  /** The planner published a plan: remember which node computed it, for the latency feedback. */
  published(intersection: string, version: number, node: string): void {
    this.producedBy.set(`${intersection}#${version}`, node);
    if (this.producedBy.size > 10_000) this.producedBy.delete(this.producedBy.keys().next().value!);
  }

  /** One control interval: failure detection, late jobs, the feedback law, placement. */
  control(): void {
    const t = this.now();
    for (const n of this.nodes.values()) {
      if (n.kind === 'centre') continue;
      n.heartbeatsExpected++;
      n.alive = t - n.lastSeenMs <= this.cfg.failAfterMs;
      if (n.alive) n.heartbeatsHeard++;
    }
    for (const n of this.nodes.values()) {
      if (n.samples.length === 0) continue;
      n.loopLatencyMs = n.samples.reduce((s, x) => s + x, 0) / n.samples.length;
      n.share = feedbackShare(n.share, n.loopLatencyMs, this.cfg.slaMs, this.cfg.eta);
      n.samples = [];
    }
    const stats = [...this.nodes.values()];
    const { placements } = placeTasks(this.tasks, stats, this.where, t / 1000, DEFAULT_RTAS);
    for (const p of placements) {
      this.where.set(p.task, p.node);
      this.explain.set(p.task, p);
      if (p.from !== undefined) {
        this.moves.push(p);
        if (this.moves.length > 500) this.moves.shift();
      }
    }
    // Jobs on a failed node, or past their deadline, run again on their task's node now.
    for (const j of this.jobs.values()) {
      const n = this.nodes.get(j.node);
      const late = t > j.deadlineAt;
      if (n?.alive && !late) continue;
      if (late && n) n.jobsDone++;
      this.redispatch(j, t);
    }
  }

  /** Runs a plan job on the node its task is placed on; null when no node could run it. */
  run(job: PlanJob): Promise<PlanResult | null> {
    return new Promise((resolve) => {
      const t = this.now();
      const rec: JobRecord = { job, node: '', queuedAt: t, dispatchedAt: null, deadlineAt: t + this.cfg.jobDeadlineMs, tried: new Set(), resolve };
      this.jobs.set(job.id, rec);
      this.dispatch(rec, this.where.get(`plan:${job.intersection}`) ?? 'centre');
    });
  }

  private redispatch(j: JobRecord, t: number): void {
    j.tried.add(j.node);
    const placed = this.where.get(`plan:${j.job.intersection}`);
    const next = placed && !j.tried.has(placed) && this.nodes.get(placed)?.alive ? placed : 'centre';
    j.deadlineAt = t + this.cfg.jobDeadlineMs;
    j.dispatchedAt = null;
    this.dispatch(j, next);
  }

  private dispatch(j: JobRecord, node: string): void {
    j.node = node;
    if (node === 'centre') {
      const c = this.nodes.get('centre')!;
      const site = this.sites.get(j.job.intersection);
      this.jobs.delete(j.job.id);
      if (!site) return j.resolve(null);
      const t0 = performance.now();
      const r = computePlanJob(site, j.job.flow);
      const ms = performance.now() - t0;
      c.computeMs.plan = c.computeMs.plan === 0 ? ms : (1 - EWMA) * c.computeMs.plan + EWMA * ms;
      c.jobsDone++;
      c.jobsOnTime++;
      return j.resolve({ node: 'centre', greens: r.greens, cycle: r.cycle, computeMs: ms });
    }
    this.waiters.get(node)?.();
  }

  /** Jobs waiting for an edge node; waits up to `waitMs` for one. */
  async poll(node: string, waitMs: number): Promise<PlanJob[]> {
    const take = () => {
      const out: PlanJob[] = [];
      const t = this.now();
      for (const j of this.jobs.values()) {
        if (j.node !== node || j.dispatchedAt !== null) continue;
        j.dispatchedAt = t;
        out.push(j.job);
      }
      return out;
    };
    let n = this.nodes.get(node);
    if (!n) this.nodes.set(node, (n = this.newNode(node, 'edge', [])));
    n.lastSeenMs = Math.max(n.lastSeenMs, this.now());
    let jobs = take();
    if (jobs.length || waitMs <= 0) return jobs;
    let waiter: (() => void) | null = null;
    await new Promise<void>((res) => {
      const timer = setTimeout(done, waitMs);
      function done() {
        clearTimeout(timer);
        res();
      }
      this.waiters.get(node)?.();
      this.waiters.set(node, done);
      waiter = done;
    });
    if (this.waiters.get(node) === waiter) this.waiters.delete(node);
    jobs = take();
    return jobs;
  }

  /** An edge node's answer to a job. */
  result(jobId: string, r: PlanResult): 'ok' | 'unknown' | 'wrong-node' {
    const j = this.jobs.get(jobId);
    if (!j) return 'unknown';
    if (j.node !== r.node) return 'wrong-node';
    const t = this.now();
    const n = this.nodes.get(r.node);
    if (n) {
      const rtt = Math.max(0, t - (j.dispatchedAt ?? j.queuedAt) - r.computeMs);
      n.rttMs = n.jobsDone === 0 ? rtt : (1 - EWMA) * n.rttMs + EWMA * rtt;
      n.computeMs.plan = n.jobsDone === 0 ? r.computeMs : (1 - EWMA) * n.computeMs.plan + EWMA * r.computeMs;
      n.jobsDone++;
      if (t <= j.deadlineAt) n.jobsOnTime++;
      n.lastSeenMs = Math.max(n.lastSeenMs, t);
    }
    this.jobs.delete(jobId);
    j.resolve(r);
    return 'ok';
  }

  view(): RtasView {
    const t = this.now();
    return {
      time: t / 1000,
      slaMs: this.cfg.slaMs,
      nodes: [...this.nodes.values()].map((n) => ({
        id: n.id,
        kind: n.kind,
        intersections: n.intersections,
        alive: n.alive,
        rttMs: Math.round(n.rttMs * 10) / 10,
        computeMs: n.computeMs,
        reliability: Math.round(reliability(n) * 1000) / 1000,
        share: Math.round(n.share * 1000) / 1000,
        loopLatencyMs: n.loopLatencyMs,
        jobsDone: n.jobsDone,
        jobsOnTime: n.jobsOnTime,
        lastSeenAgoMs: t - n.lastSeenMs,
      })),
      placements: [...this.explain.values()],
      moves: this.moves.slice(-100),
    };
  }
}
