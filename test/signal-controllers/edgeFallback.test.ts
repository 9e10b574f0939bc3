/**
 * An edge controller that loses the centre: it holds the last central plan, then falls back to
 * its LOCAL ACTUATED plan driven by its own detectors (LocalDetectors) — it serves the approach
 * that has demand, and follows the demand when it moves — never showing conflicting greens, and
 * returns to the central plan when the centre answers again. With its detectors stale it still
 * runs, timing the actuated plan on its own clock.
 */
import { describe, expect, it } from 'vitest';
import { generateGrid } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { safetyModels } from '../../signal-controllers/fieldSignals.ts';
import { actuatedPolicy } from '../../signal-controllers/policies/actuated.ts';
import { fixedTimePolicy } from '../../signal-controllers/policies/fixedTime.ts';
import { controlSites } from '../../signal-controllers/policies/sites.ts';
import { GREEN, conflicts } from '../../signal-controllers/SafetyValidator.ts';
import { EdgeController, type EdgeMode } from '../../signal-controllers/edge/EdgeController.ts';
import { LocalDetectors, DetectorReadingSchema, type DetectorReading } from '../../signal-controllers/edge/LocalDetectors.ts';

const net = importRoadnet(generateGrid({ rows: 3, cols: 3 }), 'grid 3x3');
const safety = [...safetyModels(net).values()][4];
const site = controlSites(net).sites.find((s) => s.index === safety.index)!;
const local = actuatedPolicy(net).controllers.find((c) => c.intersection === safety.index)!;
const central = { ...fixedTimePolicy(net).controllers.find((c) => c.intersection === safety.index)!.plan, version: 1 };
const DT = 0.25;

/** Movements of a plan phase that place calls (right turns never do). */
const served = (k: number) => local.plan.phases[k].movements.filter((m) => !site.lanes.isRight[m]);
const lanesOf = (k: number) => new Set(served(k).flatMap((m) => site.lanes.inLanes[m]));
const allLanes = [...new Set(site.lanes.inLanes.flat())];

/** A phase whose approach lanes feed no movement of another phase: demand there calls it alone. */
function lonePhase(skip = -1): number {
  return local.plan.phases.findIndex((_, k) => k !== skip && local.plan.phases.every((__, j) => j === k || served(j).every((m) => site.lanes.inLanes[m].every((l) => !lanesOf(k).has(l)))));
}

/** The detectors with vehicles standing on phase `k`'s lanes and `count` of them gone over its stop lines so far. */
function reading(k: number, count: number[]): DetectorReading {
  const busy = lanesOf(k);
  for (const m of served(k)) count[m] += 1;
  return DetectorReadingSchema.parse({
    lanes: allLanes,
    vehicles: allLanes.map((l) => (busy.has(l) ? 3 : 0)),
    queue: allLanes.map((l) => (busy.has(l) ? 2 : 0)),
    movements: Array.from(safety.globalMovement),
    departures: count.slice(),
  });
}

describe('edge fallback to its local actuated plan', () => {
  it('holds, falls back to actuated on its own detectors, follows the demand, returns to central', () => {
    const p = lonePhase();
    const q = lonePhase(p);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(q).toBeGreaterThanOrEqual(0);
    expect(local.plan.control).toBe('actuated');

    const ctl = new EdgeController([{ safety, fallback: local.plan, local }], 0, { lostAfter: 3, holdFor: 10 });
    const runner = ctl.runners.get(safety.id)!;
    const detectors = new LocalDetectors(net.lanes.length, net.movements.length, 5);
    const count = Array(safety.n).fill(0);
    const modes: EdgeMode[] = [];
    const conflictsSeen: string[] = [];
    const greenOf = (k: number) => local.plan.phases[k].movements.every((m) => runner.machine.light(m) === GREEN);
    /** Seconds phase `k` was green over [from, to), with `demand` on phase `demandOn` (or no detector data), contacting the centre when `contact`. */
    const run = (from: number, to: number, demandOn: number | null, contact: boolean, k: number) => {
      let green = 0;
      for (let t = from; t < to; t = Math.round((t + DT) * 1000) / 1000) {
        if (contact && Number.isInteger(t)) ctl.contact(t);
        if (demandOn !== null && Number.isInteger(t)) detectors.update(safety.id, reading(demandOn, count), t);
        ctl.tick(t, detectors.observe(t));
        if (modes.at(-1) !== ctl.mode) modes.push(ctl.mode);
        for (let a = 0; a < safety.n; a++)
          for (let b = a + 1; b < safety.n; b++)
            if (runner.machine.light(a) === GREEN && runner.machine.light(b) === GREEN && conflicts(safety, a, b)) conflictsSeen.push(`t=${t}: ${a} and ${b}`);
        if (greenOf(k)) green += DT;
      }
      return green / (to - from);
    };

    expect(ctl.receivePlan(safety.id, central, 0).ok).toBe(true);
    // On the central (fixed-time) plan the demand on p does not hold its green: the cycle runs on.
    const centralShare = run(0, 200, p, true, p);
    expect(runner.plan.control).toBe('fixed-time');
    expect(centralShare).toBeLessThan(0.4);

    // The centre goes quiet: hold the central plan, then the local actuated plan.
    run(200, 260, p, false, p);
    expect(modes).toEqual(['central', 'holding', 'fallback']);
    expect(runner.plan.control).toBe('actuated');
    // Actuated on its own detectors: p's green rests while p has all the demand (cut only by the
    // plan's maximum-green backstop, then p is called again)...
    expect(run(260, 460, p, false, p)).toBeGreaterThan(0.75);
    // ...and when the demand moves to q, q is served and holds the green.
    run(460, 520, q, false, q);
    expect(run(520, 720, q, false, q)).toBeGreaterThan(0.75);

    // Detectors gone stale (no readings): the actuated plan still runs, on its own clock, serving every phase in turn.
    const phasesShown = new Set<number>();
    for (let t = 720; t < 1000; t = Math.round((t + DT) * 1000) / 1000) {
      ctl.tick(t, detectors.observe(t));
      const v = runner.machine.view();
      if (v.interval === 'green') phasesShown.add(v.phase);
    }
    expect(phasesShown.size).toBe(local.plan.sequence.length);

    // The centre answers again: back on its plan at a safe boundary.
    run(1000, 1200, null, true, p);
    expect(ctl.mode).toBe('central');
    expect(runner.plan.control).toBe('fixed-time');
    expect(runner.state(1200).planVersion).toBe(1);
    expect(conflictsSeen).toEqual([]);
  });

  it('refuses detector readings that do not fit the network, and lets stale ones go', () => {
    const d = new LocalDetectors(net.lanes.length, net.movements.length, 5);
    const count = Array(safety.n).fill(0);
    expect(d.update(safety.id, { ...reading(0, count), lanes: allLanes.map(() => net.lanes.length) }, 0)).toBe(false);
    expect(d.observe(0)).toBeUndefined();
    expect(d.update(safety.id, reading(0, count), 0)).toBe(true);
    expect(d.update(safety.id, reading(0, count), 2)).toBe(true);
    const o = d.observe(3)!;
    // One vehicle over each demanded stop line between the two readings, 2 s apart.
    expect(served(0).map((m) => o.movementDepartures[safety.globalMovement[m]])).toEqual(served(0).map(() => 1));
    expect(o.interval).toBe(2);
    expect(d.observe(7.5)).toBeUndefined();
    expect(DetectorReadingSchema.safeParse({ lanes: [1, 2], vehicles: [1], queue: [0, 0], movements: [], departures: [] }).success).toBe(false);
  });

  it('starts on its local plans (local), calls the centre lost only after the same grace (fallback), and takes a central plan from either', () => {
    const ctl = new EdgeController([{ safety, fallback: local.plan, local }], 100, { lostAfter: 3, holdFor: 10 });
    const modes: EdgeMode[] = [ctl.mode];
    const step = (t: number) => {
      ctl.tick(t);
      if (modes.at(-1) !== ctl.mode) modes.push(ctl.mode);
    };
    // The centre answers but has no plan for it: local, however long.
    for (let t = 100; t <= 200; t++) {
      ctl.contact(t);
      step(t);
    }
    expect(modes).toEqual(['local']);
    // The centre stops answering: after lostAfter + holdFor (13 s) the centre counts as lost.
    for (let t = 201; t <= 212; t++) step(t);
    expect(modes).toEqual(['local']);
    for (let t = 213; t <= 215; t++) step(t);
    expect(modes).toEqual(['local', 'fallback']);
    // It answers again, still without a plan: local; then a plan: central.
    ctl.contact(216);
    step(216);
    expect(ctl.receivePlan(safety.id, central, 220).ok).toBe(true);
    step(220);
    expect(modes).toEqual(['local', 'fallback', 'local', 'central']);
    // A controller whose centre never answers at all is in fallback after the grace.
    const alone = new EdgeController([{ safety, fallback: local.plan, local }], 0, { lostAfter: 3, holdFor: 10 });
    alone.tick(13);
    expect(alone.mode).toBe('local');
    alone.tick(13.5);
    expect(alone.mode).toBe('fallback');
  });

  it('back from fallback on a new plan for one intersection, its other intersections return to their central plans too', () => {
    const models = [...safetyModels(net).values()];
    const [a, b] = [models[0], models[8]];
    const planOf = (s: typeof a, version: number) => ({ ...fixedTimePolicy(net).controllers.find((c) => c.intersection === s.index)!.plan, version });
    const localOf = (s: typeof a) => actuatedPolicy(net).controllers.find((c) => c.intersection === s.index)!;
    const ctl = new EdgeController(
      [a, b].map((s) => ({ safety: s, fallback: localOf(s).plan, local: localOf(s) })),
      0,
      { lostAfter: 3, holdFor: 10 },
    );
    const runA = ctl.runners.get(a.id)!;
    const runB = ctl.runners.get(b.id)!;
    expect(ctl.receivePlan(a.id, planOf(a, 1), 0).ok).toBe(true);
    expect(ctl.receivePlan(b.id, planOf(b, 1), 0).ok).toBe(true);
    let t = 0;
    const until = (end: number, contact: boolean) => {
      for (; t < end; t = Math.round((t + DT) * 1000) / 1000) {
        if (contact && Number.isInteger(t)) ctl.contact(t);
        ctl.tick(t);
      }
    };
    until(200, true);
    expect([runA.state(t).planVersion, runB.state(t).planVersion]).toEqual([1, 1]);
    until(300, false);
    expect(ctl.mode).toBe('fallback');
    expect([runA.plan.control, runB.plan.control]).toEqual(['actuated', 'actuated']);
    // The centre's first answer is a new plan for a alone (before any other contact).
    expect(ctl.receivePlan(a.id, planOf(a, 2), t).ok).toBe(true);
    until(600, true);
    expect(ctl.mode).toBe('central');
    expect([runA.plan.control, runB.plan.control]).toEqual(['fixed-time', 'fixed-time']);
    expect([runA.state(t).planVersion, runB.state(t).planVersion]).toEqual([2, 1]);
  });
});
