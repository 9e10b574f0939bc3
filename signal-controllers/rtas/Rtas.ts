/**
 * The real-time adaptive scheduler (RTAS) of our source paper, as a deterministic core. Standing
 * tasks (an intersection's plan computation, its pre-emption, forecast jobs) are placed on compute
 * nodes (edge agents and the centre) by
 *
 *   T* = argmin_T Σ_i ( α_i L_i + β_i (1 − R_i) )
 *
 * where, for task i on the node T gives it, L_i is the node's predicted latency for the task's
 * class (round trip + compute × (queue ahead + 1), all measured) and R_i the node's reliability
 * (heartbeats heard and jobs completed on time, Laplace-smoothed). α and β are per task class: a
 * pre-emption is latency-critical (large α), a forecast job is not.
 *
 * The sum couples the tasks only through the queues, so it is minimised greedily: tasks in order
 * of class urgency, each to the node with the least marginal cost given the tasks already placed
 * (the exact argmin over all T is combinatorial; the greedy one is optimal when queues do not
 * bind). Each node also takes at most its share of the tasks: the share p_i follows the
 * latency-feedback law p_i(t+1) = p_i(t) + η (L_SLA − L_sys,i(t)) / L_SLA on the control-loop
 * latency measured for the work it did, so a node that makes the loop late gets less work.
 * A standing task moves only when its node has failed or another node is cheaper by a margin
 * (no flapping). Every placement keeps the terms that decided it. Time is an argument.
 */
import { z } from 'zod';

export const TASK_CLASSES = ['preemption', 'plan', 'forecast'] as const;
export const TaskClassSchema = z.enum(TASK_CLASSES);
export type TaskClass = z.infer<typeof TaskClassSchema>;

export interface ClassWeights {
  /** Cost per millisecond of predicted latency. */
  alpha: number;
  /** Cost of unreliability (1 − R). */
  beta: number;
}

/** Pre-emption: 100 ms costs as much as a node that fails one time in ten; forecasts tolerate seconds. */
export const DEFAULT_WEIGHTS: Record<TaskClass, ClassWeights> = {
  preemption: { alpha: 1 / 100, beta: 10 },
  plan: { alpha: 1 / 1000, beta: 5 },
  forecast: { alpha: 1 / 10_000, beta: 2 },
};

export interface Task {
  id: string;
  cls: TaskClass;
  /** The intersection it serves (its own edge node is preferred on a tie), if any. */
  intersection?: string;
}

export interface NodeStats {
  id: string;
  kind: 'centre' | 'edge';
  /** Intersections the node runs (edges). */
  intersections: string[];
  alive: boolean;
  /** Measured round trip to the node (ms, smoothed). */
  rttMs: number;
  /** Measured compute time per job of each class (ms, smoothed). */
  computeMs: Record<TaskClass, number>;
  heartbeatsExpected: number;
  heartbeatsHeard: number;
  jobsDone: number;
  jobsOnTime: number;
  /** Share of the work (latency-feedback law). */
  share: number;
  /** Control-loop latency of the work it did last interval (ms), null when none. */
  loopLatencyMs: number | null;
}

export interface Terms {
  node: string;
  latencyMs: number;
  reliability: number;
  alpha: number;
  beta: number;
  cost: number;
}

export interface Placement {
  task: string;
  cls: TaskClass;
  node: string;
  /** Why: the chosen node's terms and the runners-up (cheapest first). */
  chosen: Terms;
  candidates: Terms[];
  reason: 'new' | 'kept' | 'cheaper' | 'node-failed' | 'over-share';
  /** When the placement was made (s, the caller's clock). */
  at: number;
  /** The node it moved from, when it moved. */
  from?: string;
}

export interface RtasOptions {
  weights: Record<TaskClass, ClassWeights>;
  /** A placed task moves to a cheaper node only when that saves this fraction of its cost... */
  moveMargin: number;
  /**
   * ...and at least this much cost outright: costs of a few ms differ by large fractions, so a
   * relative margin alone lets measurement jitter move tasks back and forth (flapping). 0.05 is
   * 50 ms of a plan job's latency, or 1 % of reliability, at the plan weights.
   */
  moveMinGain: number;
  /** Capacity slack over a node's proportional share (1.5: up to 50 % above it). */
  shareSlack: number;
}

export const DEFAULT_RTAS: RtasOptions = { weights: DEFAULT_WEIGHTS, moveMargin: 0.2, moveMinGain: 0.05, shareSlack: 1.5 };

/** Predicted latency of one more job of class `cls` on the node with `ahead` jobs already placed on it. */
export function predictedLatencyMs(n: NodeStats, cls: TaskClass, ahead: number): number {
  return n.rttMs + n.computeMs[cls] * (ahead + 1);
}

/** Heartbeats heard × jobs on time, each smoothed by one success so a new node starts trusted and learns from evidence. */
export function reliability(n: NodeStats): number {
  const hb = (n.heartbeatsHeard + 1) / (n.heartbeatsExpected + 1);
  const jobs = (n.jobsOnTime + 1) / (n.jobsDone + 1);
  return Math.max(0, Math.min(1, hb)) * Math.max(0, Math.min(1, jobs));
}

export function terms(n: NodeStats, cls: TaskClass, ahead: number, w: ClassWeights): Terms {
  const latencyMs = predictedLatencyMs(n, cls, ahead);
  const r = reliability(n);
  return { node: n.id, latencyMs, reliability: r, alpha: w.alpha, beta: w.beta, cost: w.alpha * latencyMs + w.beta * (1 - r) };
}

/** The latency-feedback law on a node's share, kept within [min, max]. */
export function feedbackShare(share: number, loopLatencyMs: number | null, slaMs: number, eta: number, min = 0.05, max = 4): number {
  if (loopLatencyMs === null) return share;
  return Math.max(min, Math.min(max, share + (eta * (slaMs - loopLatencyMs)) / slaMs));
}

/** Most tasks each live node may hold: its share of all tasks, with slack, at least one. */
export function capacities(nodes: readonly NodeStats[], taskCount: number, slack: number): Map<string, number> {
  const live = nodes.filter((n) => n.alive);
  const total = live.reduce((s, n) => s + n.share, 0);
  return new Map(live.map((n) => [n.id, Math.max(1, Math.ceil((taskCount * slack * n.share) / (total || 1)))]));
}

const URGENCY: Record<TaskClass, number> = { preemption: 0, plan: 1, forecast: 2 };

/**
 * Places every task given where they are now (`current`, task → node). Returns the placements
 * and the total cost Σ(α L + β (1 − R)) of the result.
 *
 * Two passes, so that placed tasks are stable: first every task whose node is alive and has room
 * stays there unless another node is cheaper by the margin (relative and absolute); then the
 * others (new, on a failed node, over their node's share, or beaten by the margin) go greedily to
 * the cheapest open node. Without the first pass a task earlier in the order could take an
 * incumbent's slot and push it off for nothing.
 */
export function placeTasks(
  tasks: readonly Task[],
  nodes: readonly NodeStats[],
  current: ReadonlyMap<string, string>,
  now: number,
  o: RtasOptions = DEFAULT_RTAS,
): { placements: Placement[]; cost: number } {
  const live = nodes.filter((n) => n.alive);
  if (live.length === 0) throw new Error('RTAS: no live compute node');
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const cap = capacities(nodes, tasks.length, o.shareSlack);
  const load = new Map(live.map((n) => [n.id, 0]));
  const order = [...tasks].sort((a, b) => URGENCY[a.cls] - URGENCY[b.cls] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const candidates = (t: Task) => {
    const w = o.weights[t.cls];
    const open = live.filter((n) => load.get(n.id)! < cap.get(n.id)!);
    const pool = open.length ? open : live;
    return pool
      .map((n) => terms(n, t.cls, load.get(n.id)!, w))
      .sort((a, b) => a.cost - b.cost || affinity(byId, b.node, t) - affinity(byId, a.node, t) || (a.node < b.node ? -1 : 1));
  };
  const worthMoving = (stay: Terms, best: Terms) => stay.cost - best.cost > Math.max(o.moveMargin * best.cost, o.moveMinGain) + 1e-12;
  const placed = new Map<string, Placement>();
  const reasons = new Map<string, Placement['reason']>();
  // Pass 1: incumbents keep their node unless it failed, is full, or is beaten by the margin.
  for (const t of order) {
    const was = current.get(t.id);
    if (was === undefined) continue;
    const prev = byId.get(was);
    if (!prev || !prev.alive) {
      reasons.set(t.id, 'node-failed');
      continue;
    }
    const cands = candidates(t);
    const stay = cands.find((c) => c.node === was);
    if (!stay) {
      reasons.set(t.id, 'over-share');
      continue;
    }
    if (worthMoving(stay, cands[0])) {
      reasons.set(t.id, 'cheaper');
      continue;
    }
    load.set(was, load.get(was)! + 1);
    placed.set(t.id, { task: t.id, cls: t.cls, node: was, chosen: stay, candidates: cands.slice(0, 4), reason: 'kept', at: now });
  }
  // Pass 2: everything else to the cheapest open node.
  for (const t of order) {
    if (placed.has(t.id)) continue;
    const cands = candidates(t);
    const chosen = cands[0];
    const was = current.get(t.id);
    load.set(chosen.node, load.get(chosen.node)! + 1);
    placed.set(t.id, {
      task: t.id,
      cls: t.cls,
      node: chosen.node,
      chosen,
      candidates: cands.slice(0, 4),
      reason: was === chosen.node ? 'kept' : (reasons.get(t.id) ?? 'new'),
      at: now,
      ...(was !== undefined && was !== chosen.node ? { from: was } : {}),
    });
  }
  const placements = order.map((t) => placed.get(t.id)!);
  return { placements, cost: placements.reduce((s, p) => s + p.chosen.cost, 0) };
}

function affinity(byId: Map<string, NodeStats>, node: string, t: Task): number {
  return t.intersection !== undefined && byId.get(node)?.intersections.includes(t.intersection) ? 1 : 0;
}

/** Exhaustive argmin over every assignment (tests and tiny cases only: nodes^tasks). */
export function bruteForceCost(tasks: readonly Task[], nodes: readonly NodeStats[], o: RtasOptions = DEFAULT_RTAS): number {
  const live = nodes.filter((n) => n.alive);
  const cap = capacities(nodes, tasks.length, o.shareSlack);
  let best = Infinity;
  const pick: number[] = new Array(tasks.length).fill(0);
  const order = [...tasks].sort((a, b) => URGENCY[a.cls] - URGENCY[b.cls] || (a.id < b.id ? -1 : 1));
  const rec = (k: number) => {
    if (k === order.length) {
      const load = new Map<string, number>();
      let c = 0;
      for (let i = 0; i < order.length; i++) {
        const n = live[pick[i]];
        const ahead = load.get(n.id) ?? 0;
        if (ahead + 1 > cap.get(n.id)!) return;
        load.set(n.id, ahead + 1);
        c += terms(n, order[i].cls, ahead, o.weights[order[i].cls]).cost;
      }
      best = Math.min(best, c);
      return;
    }
    for (let j = 0; j < live.length; j++) {
      pick[k] = j;
      rec(k + 1);
    }
  };
  rec(0);
  return best;
}
