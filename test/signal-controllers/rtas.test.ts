/** RTAS placement: the cost terms, the argmin, shares from the latency-feedback law, and moving tasks off failed or late nodes. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RTAS,
  bruteForceCost,
  feedbackShare,
  placeTasks,
  predictedLatencyMs,
  reliability,
  terms,
  type NodeStats,
  type Task,
} from '../../signal-controllers/rtas/Rtas.ts';

function node(id: string, over: Partial<NodeStats> = {}): NodeStats {
  return {
    id,
    kind: id === 'centre' ? 'centre' : 'edge',
    intersections: id === 'centre' ? [] : [id.replace(/^edge-/, '')],
    alive: true,
    rttMs: 20,
    computeMs: { preemption: 2, plan: 5, forecast: 50 },
    heartbeatsExpected: 100,
    heartbeatsHeard: 100,
    jobsDone: 10,
    jobsOnTime: 10,
    share: 1,
    loopLatencyMs: null,
    ...over,
  };
}

const planTasks = (ids: string[]): Task[] => ids.map((i) => ({ id: `plan:${i}`, cls: 'plan', intersection: i }));

describe('RTAS terms', () => {
  it('predicts latency from round trip, compute and the queue ahead', () => {
    const n = node('edge-a', { rttMs: 30, computeMs: { preemption: 1, plan: 10, forecast: 100 } });
    expect(predictedLatencyMs(n, 'plan', 0)).toBe(40);
    expect(predictedLatencyMs(n, 'plan', 3)).toBe(70);
    expect(predictedLatencyMs(n, 'forecast', 1)).toBe(230);
  });

  it('reliability falls with missed heartbeats and late jobs, and starts trusted', () => {
    expect(reliability(node('x', { heartbeatsExpected: 0, heartbeatsHeard: 0, jobsDone: 0, jobsOnTime: 0 }))).toBe(1);
    const missed = reliability(node('x', { heartbeatsExpected: 9, heartbeatsHeard: 4 }));
    expect(missed).toBeCloseTo(0.5, 5);
    const late = reliability(node('x', { jobsDone: 9, jobsOnTime: 4 }));
    expect(late).toBeCloseTo(0.5, 5);
  });

  it('cost is α L + β (1 − R) with the class weights', () => {
    const n = node('edge-a', { heartbeatsExpected: 9, heartbeatsHeard: 4 });
    const t = terms(n, 'plan', 0, { alpha: 0.01, beta: 3 });
    expect(t.cost).toBeCloseTo(0.01 * 25 + 3 * 0.5, 9);
  });
});

describe('RTAS placement', () => {
  it('matches the exhaustive argmin on small cases', () => {
    const nodes = [node('centre', { rttMs: 1, computeMs: { preemption: 1, plan: 40, forecast: 200 } }), node('edge-a', { rttMs: 30 }), node('edge-b', { rttMs: 80, jobsDone: 10, jobsOnTime: 6 })];
    const tasks: Task[] = [...planTasks(['a', 'b']), { id: 'pre:a', cls: 'preemption', intersection: 'a' }, { id: 'fc', cls: 'forecast' }];
    const { cost } = placeTasks(tasks, nodes, new Map(), 0);
    expect(cost).toBeCloseTo(bruteForceCost(tasks, nodes), 9);
  });

  it('sends a latency-critical pre-emption to the fastest node and explains it', () => {
    const nodes = [node('centre', { rttMs: 150 }), node('edge-a', { rttMs: 10 })];
    const { placements } = placeTasks([{ id: 'pre:a', cls: 'preemption', intersection: 'a' }], nodes, new Map(), 5);
    expect(placements[0].node).toBe('edge-a');
    expect(placements[0].candidates.map((c) => c.node)).toEqual(['edge-a', 'centre']);
    expect(placements[0].chosen.latencyMs).toBe(12);
    expect(placements[0].at).toBe(5);
  });

  it('prefers the intersection’s own edge between equal nodes', () => {
    const nodes = [node('edge-a'), node('edge-b')];
    const { placements } = placeTasks(planTasks(['b', 'a']), nodes, new Map(), 0);
    expect(Object.fromEntries(placements.map((p) => [p.task, p.node]))).toEqual({ 'plan:a': 'edge-a', 'plan:b': 'edge-b' });
  });

  it('spreads tasks by share: a node takes at most its share with slack', () => {
    const nodes = [node('centre', { rttMs: 0, share: 1 }), node('edge-a', { share: 1 }), node('edge-b', { share: 1 })];
    const ids = Array.from({ length: 12 }, (_, k) => `i${k}`);
    const { placements } = placeTasks(planTasks(ids), nodes, new Map(), 0, { ...DEFAULT_RTAS, shareSlack: 1 });
    const count = (n: string) => placements.filter((p) => p.node === n).length;
    expect(count('centre')).toBe(4);
    expect(count('edge-a') + count('edge-b')).toBe(8);
  });

  it('keeps a task where it is unless another node is cheaper by the margin', () => {
    const nodes = [node('edge-a', { rttMs: 22 }), node('edge-b', { rttMs: 20 })];
    const kept = placeTasks(planTasks(['x']), nodes, new Map([['plan:x', 'edge-a']]), 1);
    expect(kept.placements[0]).toMatchObject({ node: 'edge-a', reason: 'kept' });
    const slow = [node('edge-a', { rttMs: 220 }), node('edge-b', { rttMs: 20 })];
    const moved = placeTasks(planTasks(['x']), slow, new Map([['plan:x', 'edge-a']]), 2);
    expect(moved.placements[0]).toMatchObject({ node: 'edge-b', reason: 'cheaper', from: 'edge-a' });
  });

  it('does not flap between nodes on measurement noise, yet still leaves a failed node at once', () => {
    // Round trips measured a few ms apart, the ordering swapping every interval (jitter): a
    // relative margin alone moves tasks back and forth, as costs this small differ by > 20 %.
    const ids = Array.from({ length: 6 }, (_, k) => `i${k}`);
    const where = new Map<string, string>();
    let moves = 0;
    for (let round = 0; round < 20; round++) {
      const jitter = round % 2 === 0 ? [3, 6, 9] : [9, 6, 3];
      const nodes = [node('edge-a', { rttMs: jitter[0] }), node('edge-b', { rttMs: jitter[1] }), node('edge-c', { rttMs: jitter[2] })];
      const { placements } = placeTasks(planTasks(ids), nodes, where, round);
      for (const p of placements) {
        if (round > 0 && p.from !== undefined) moves++;
        where.set(p.task, p.node);
      }
    }
    expect(moves).toBe(0);
    // The same placement with one node failed: its tasks move in that one round, and only they.
    const before = new Map(where);
    const failed = [node('edge-a', { alive: false }), node('edge-b'), node('edge-c')];
    const { placements } = placeTasks(planTasks(ids), failed, where, 21);
    for (const p of placements) {
      if (before.get(p.task) === 'edge-a') expect(p).toMatchObject({ reason: 'node-failed', from: 'edge-a' });
      else expect(p).toMatchObject({ node: before.get(p.task), reason: 'kept' });
    }
    expect([...before.values()]).toContain('edge-a');
  });

  it('moves every task off a failed node, and none onto it', () => {
    const nodes = [node('centre'), node('edge-a', { alive: false }), node('edge-b')];
    const current = new Map([
      ['plan:a', 'edge-a'],
      ['plan:b', 'edge-b'],
    ]);
    const { placements } = placeTasks(planTasks(['a', 'b']), nodes, current, 3);
    const a = placements.find((p) => p.task === 'plan:a')!;
    expect(a.reason).toBe('node-failed');
    expect(a.from).toBe('edge-a');
    expect(a.node).not.toBe('edge-a');
    expect(placements.every((p) => p.candidates.every((c) => c.node !== 'edge-a'))).toBe(true);
  });

  it('moves tasks off a node whose jobs come late (reliability drops)', () => {
    const nodes = [node('edge-a', { jobsDone: 20, jobsOnTime: 5 }), node('edge-b')];
    const { placements } = placeTasks(planTasks(['a']), nodes, new Map([['plan:a', 'edge-a']]), 0);
    expect(placements[0]).toMatchObject({ node: 'edge-b', reason: 'cheaper' });
  });

  it('refuses to place with no live node', () => {
    expect(() => placeTasks(planTasks(['a']), [node('edge-a', { alive: false })], new Map(), 0)).toThrow(/no live/);
  });
});

describe('latency feedback on node shares', () => {
  it('grows a node under the SLA and shrinks one over it, by η (L_SLA − L)/L_SLA', () => {
    expect(feedbackShare(1, 500, 1000, 0.2)).toBeCloseTo(1.1, 9);
    expect(feedbackShare(1, 2000, 1000, 0.2)).toBeCloseTo(0.8, 9);
    expect(feedbackShare(1, null, 1000, 0.2)).toBe(1);
    expect(feedbackShare(0.06, 10_000, 1000, 0.2)).toBe(0.05);
  });

  it('a shrunken share takes tasks off the slow node', () => {
    let slow = 1;
    for (let k = 0; k < 10; k++) slow = feedbackShare(slow, 3000, 1000, 0.2);
    const nodes = [node('edge-a', { share: slow }), node('edge-b'), node('edge-c')];
    const ids = Array.from({ length: 9 }, (_, k) => `i${k}`);
    const { placements } = placeTasks(planTasks(ids), nodes, new Map(), 0, { ...DEFAULT_RTAS, shareSlack: 1 });
    expect(placements.filter((p) => p.node === 'edge-a').length).toBe(1);
  });
});
