/**
 * Pre-emption at the edge (signal-controllers/edge/Preemption.ts), trying to break safety: a
 * window that asks for a conflicting movement in the middle of a green must still get minimum
 * green, yellow and all-red before the vehicle's green; bad windows are refused; windows end by
 * themselves; plans arriving during a pre-emption wait for it.
 */
import { describe, expect, it } from 'vitest';
import { generateGrid } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import type { RoadNetwork } from '../../twin/network/RoadNetwork.ts';
import { Mt19937 } from '../../twin/random.ts';
import { safetyModels } from '../../signal-controllers/fieldSignals.ts';
import { fixedTimePolicy } from '../../signal-controllers/policies/fixedTime.ts';
import { GREEN, YELLOW, conflicts, validatePlan, type IntersectionSafety } from '../../signal-controllers/SafetyValidator.ts';
import type { TimingPlan } from '../../signal-controllers/TimingPlan.ts';
import { EdgeController } from '../../signal-controllers/edge/EdgeController.ts';
import { preemptionPlan, type PreemptionOrder } from '../../signal-controllers/edge/Preemption.ts';

const net: RoadNetwork = importRoadnet(generateGrid({ rows: 3, cols: 3 }), 'grid 3x3');
const models = safetyModels(net);
const policy = fixedTimePolicy(net);
const DT = 0.1;

function site(k = 0): { safety: IntersectionSafety; plan: TimingPlan } {
  const c = policy.controllers[k];
  return { safety: models.get(c.intersection)!, plan: c.plan };
}

/**
 * Watches every light change of one intersection and checks, independently of the state
 * machine: no two conflicting movements green together; a green that ends shows yellow for at
 * least its required yellow; a movement turns green only once every conflicting movement has
 * been out of green for its yellow + all-red.
 */
class Watcher {
  readonly violations: string[] = [];
  private readonly prev: number[];
  private readonly yellowSince: number[];
  private readonly greenEnded: number[];
  constructor(private readonly s: IntersectionSafety) {
    this.prev = Array(s.n).fill(-1);
    this.yellowSince = Array(s.n).fill(Number.NaN);
    this.greenEnded = Array(s.n).fill(-Infinity);
  }
  see(light: (m: number) => number, now: number): void {
    const s = this.s;
    for (let m = 0; m < s.n; m++) {
      const l = light(m);
      const p = this.prev[m];
      if (p === GREEN && l !== GREEN) {
        if (l !== YELLOW) this.violations.push(`t=${now}: ${m} went from green to red without yellow`);
        this.yellowSince[m] = now;
        this.greenEnded[m] = now;
      }
      if (p === YELLOW && l !== YELLOW && now - this.yellowSince[m] < s.requiredYellow[m] - 1e-6)
        this.violations.push(`t=${now}: ${m} yellow ${(now - this.yellowSince[m]).toFixed(2)} s < ${s.requiredYellow[m]}`);
      if (p !== GREEN && p !== -1 && l === GREEN) {
        for (const x of s.conflictsOf[m]) {
          if (light(x) === GREEN) this.violations.push(`t=${now}: ${m} green with conflicting ${x}`);
          const cleared = this.greenEnded[x] + s.requiredYellow[x] + s.requiredAllRed[x];
          if (now < cleared - 1e-6) this.violations.push(`t=${now}: ${m} green ${(cleared - now).toFixed(2)} s before ${x} cleared`);
        }
      }
      this.prev[m] = l;
    }
  }
}

function order(s: IntersectionSafety, movements: number[], start: number, end: number, vehicle = 'ev-1'): PreemptionOrder {
  return { id: `${vehicle}@${s.id}`, vehicle, intersection: s.id, movements, eta: (start + end) / 2, start, end };
}

function run(ctl: EdgeController, from: number, to: number, watch: Watcher, id: string, each?: (now: number) => void): void {
  const r = ctl.runners.get(id)!;
  for (let t = from; t <= to + 1e-9; t = Math.round((t + DT) * 1000) / 1000) {
    ctl.tick(t);
    watch.see((m) => r.machine.light(m), t);
    each?.(t);
  }
}

describe('edge pre-emption', () => {
  it('pre-empting mid-green of a conflicting phase still runs min green, yellow and all-red', () => {
    const { safety, plan } = site(4);
    const ctl = new EdgeController([{ safety, fallback: plan }], 0);
    const r = ctl.runners.get(safety.id)!;
    const watch = new Watcher(safety);
    // Run until a phase has just turned green.
    let t = 0;
    let phase = -1;
    for (; t < 300; t = Math.round((t + DT) * 1000) / 1000) {
      ctl.tick(t);
      watch.see((m) => r.machine.light(m), t);
      const v = r.machine.view();
      if (phase >= 0 && v.interval === 'green' && v.phase !== phase) break;
      if (v.interval === 'green') phase = v.phase;
    }
    const greenNow = r.machine.plan.phases[r.machine.view().phase].movements;
    // The vehicle's movement: one that conflicts with something green right now.
    const wanted = Array.from({ length: safety.n }, (_, m) => m).find((m) => !greenNow.includes(m) && greenNow.some((g) => conflicts(safety, g, m)));
    expect(wanted).toBeDefined();
    const m = wanted!;
    const start = t + DT;
    expect(ctl.receivePreemptions(safety.id, [order(safety, [m], start, start + 60)], t).ok).toBe(true);
    let firstGreen = Number.NaN;
    run(ctl, start, start + 70, watch, safety.id, (now) => {
      if (Number.isNaN(firstGreen) && r.machine.light(m) === GREEN) firstGreen = now;
    });
    expect(watch.violations).toEqual([]);
    // Served: the movement went green within the window, after at least min green + the clearance.
    expect(firstGreen).toBeGreaterThan(start);
    expect(firstGreen).toBeLessThan(start + 60);
    const cut = greenNow.filter((g) => conflicts(safety, g, m));
    const clearance = Math.max(...cut.map((g) => safety.requiredYellow[g] + safety.requiredAllRed[g]));
    expect(firstGreen - (t - DT)).toBeGreaterThanOrEqual(Math.min(...r.plan.phases.map((p) => p.minGreen)) - 1e-6 + clearance - 2 * DT);
    // Released at the window's end: the local plan is back.
    expect(ctl.preemption.get(safety.id)!.active).toBe(false);
    expect(r.plan.control).toBe('fixed-time');
    expect(ctl.preemptionStates(start + 70).find((s) => s.id === `ev-1@${safety.id}`)?.status).toBe('released');
  });

  it('builds a validated phase when no phase of the plan carries the movement', () => {
    const { safety, plan } = site(4);
    // A plan with one phase only: every other movement needs a built phase.
    const onePhase: TimingPlan = { ...plan, phases: [plan.phases[0]], sequence: [0], cycle: plan.phases[0].green + plan.phases[0].yellow + plan.phases[0].allRed, offset: 0 };
    expect(validatePlan(onePhase, safety).ok).toBe(true);
    const m = Array.from({ length: safety.n }, (_, x) => x).find((x) => !onePhase.phases[0].movements.includes(x) && onePhase.phases[0].movements.some((g) => conflicts(safety, g, x)))!;
    const built = preemptionPlan(onePhase, safety, [m], 1, 0)!;
    expect(built).not.toBeNull();
    expect(built.plan.phases).toHaveLength(2);
    expect(built.plan.phases[built.target].movements).toContain(m);
    expect(validatePlan(built.plan, safety).ok).toBe(true);
    for (const a of built.plan.phases[built.target].movements) for (const b of built.plan.phases[built.target].movements) expect(conflicts(safety, a, b)).toBe(false);
    // Asking for conflicting movements together gives no plan at all.
    const pair = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].flatMap((a) => safety.conflictsOf[a].map((b) => [a, b]))[0];
    expect(preemptionPlan(onePhase, safety, pair, 1, 0)).toBeNull();

    const ctl = new EdgeController([{ safety, fallback: onePhase }], 0);
    const r = ctl.runners.get(safety.id)!;
    const watch = new Watcher(safety);
    run(ctl, 0, 20, watch, safety.id);
    ctl.receivePreemptions(safety.id, [order(safety, [m], 21, 80)], 20);
    let served = false;
    run(ctl, 20.1, 90, watch, safety.id, () => (served ||= r.machine.light(m) === GREEN));
    expect(served).toBe(true);
    expect(watch.violations).toEqual([]);
  });

  it('refuses malformed windows, releases withdrawn ones, holds central plans until release', () => {
    const { safety, plan } = site(0);
    const ctl = new EdgeController([{ safety, fallback: plan }], 0);
    const r = ctl.runners.get(safety.id)!;
    const watch = new Watcher(safety);
    const bad = ctl.receivePreemptions(safety.id, [order(safety, [safety.n + 3], 1, 50), { ...order(safety, [0], 1, 50), intersection: 'elsewhere' }], 0);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.reasons.map((x) => x.code).sort()).toEqual(['unknown-movement', 'wrong-intersection']);
    expect(ctl.receivePreemptions('nowhere', [], 0).ok).toBe(false);

    const m = plan.phases[1].movements.find((x) => !plan.phases[0].movements.includes(x))!;
    ctl.receivePreemptions(safety.id, [order(safety, [m], 1, 500)], 0);
    run(ctl, 0, 40, watch, safety.id);
    expect(ctl.preemption.get(safety.id)!.active).toBe(true);
    // A central plan arriving now is checked but waits for the release.
    const central: TimingPlan = { ...plan, version: 7 };
    expect(ctl.receivePlan(safety.id, central, 40).ok).toBe(true);
    expect(r.plan.control).toBe('adaptive');
    // The centre withdraws the window (the vehicle has passed): back to the central plan, safely.
    ctl.receivePreemptions(safety.id, [], 40);
    run(ctl, 40.1, 120, watch, safety.id, (now) => ctl.contact(now));
    expect(ctl.preemption.get(safety.id)!.active).toBe(false);
    expect(r.plan.control).toBe('fixed-time');
    expect(r.state(120).planVersion).toBe(7);
    expect(watch.violations).toEqual([]);
  });

  it('lets go of a vehicle that holds the signal too long', () => {
    const { safety, plan } = site(0);
    const ctl = new EdgeController([{ safety, fallback: plan }], 0);
    const watch = new Watcher(safety);
    const m = plan.phases[1].movements.find((x) => !plan.phases[0].movements.includes(x))!;
    ctl.receivePreemptions(safety.id, [order(safety, [m], 1, 10_000)], 0);
    run(ctl, 0, 400, watch, safety.id);
    const p = ctl.preemption.get(safety.id)!;
    expect(p.counters.timedOut).toBe(1);
    expect(p.active).toBe(false);
    expect(watch.violations).toEqual([]);
  });

  it('random windows at random times on every intersection never show an unsafe state', () => {
    const rng = new Mt19937(5);
    for (let k = 0; k < policy.controllers.length; k++) {
      const { safety, plan } = site(k);
      const ctl = new EdgeController([{ safety, fallback: plan }], 0);
      const watch = new Watcher(safety);
      const r = ctl.runners.get(safety.id)!;
      let served = 0;
      for (let t = 0; t < 900; t = Math.round((t + DT) * 1000) / 1000) {
        if (rng.nextFloat() < 0.004) {
          // A fresh set of one or two windows, sometimes replacing one being served.
          const ws: PreemptionOrder[] = [];
          for (let j = 0; j < 1 + rng.nextInt(2); j++) {
            const start = t + rng.nextFloat() * 20;
            ws.push(order(safety, [rng.nextInt(safety.n)], start, start + 5 + rng.nextFloat() * 60, `ev-${rng.nextInt(3)}`));
          }
          ctl.receivePreemptions(safety.id, ws, t);
        }
        ctl.tick(t);
        if (ctl.preemption.get(safety.id)!.active) served++;
        watch.see((m) => r.machine.light(m), t);
      }
      expect(watch.violations, safety.id).toEqual([]);
      expect(r.machine.refusedChanges).toBe(0);
      expect(served).toBeGreaterThan(0);
    }
  });
});
