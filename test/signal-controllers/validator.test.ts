import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateGrid } from '../../twin/network/generator.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import {
  GREEN,
  MIN_GREEN_FLOOR_S,
  RED,
  YELLOW,
  checkSignalState,
  intersectionSafety,
  isSignalStateSafe,
  newSignalHistory,
  recordSignalState,
  validatePlan,
  validatePlanChange,
  type SafetyCode,
} from '../../signal-controllers/SafetyValidator.ts';
import { makePlan, planTemplate } from '../../signal-controllers/plans.ts';
import type { TimingPlan } from '../../signal-controllers/TimingPlan.ts';
import { anyIntersection, validPlanArb, type TestIntersection } from './helpers.ts';

/** A benchmark-style 4-way intersection: movements 0 W straight, 1 W left, 2 W right, 3 S right, 4 S straight, 5 S left, 6 E right, 7 E straight, 8 E left, 9 N left, 10 N right, 11 N straight. */
function benchmarkIntersection() {
  const net = importRoadnet(generateGrid({ rows: 1, cols: 1 }));
  const inter = net.intersections.find((i) => !i.virtual)!;
  return { net, inter, safety: intersectionSafety(net, inter.index) };
}

function plan(safety: { id: string }, phases: { movements: number[]; minGreen?: number; yellow?: number; allRed?: number }[]): TimingPlan {
  const ps = phases.map((p, k) => ({ id: k + 1, movements: p.movements, minGreen: p.minGreen ?? 5, maxGreen: 60, green: 20, yellow: p.yellow ?? 3, allRed: p.allRed ?? 2 }));
  return {
    intersection: safety.id,
    version: 1,
    validFrom: 0,
    validUntil: null,
    control: 'fixed-time',
    phases: ps,
    sequence: ps.map((_, k) => k),
    cycle: ps.reduce((s, p) => s + p.green + p.yellow + p.allRed, 0),
    offset: 0,
  };
}

describe('timing plan validation: examples', () => {
  it('accepts every green phase of the benchmark program (right turns green with everything)', () => {
    const { net, safety } = benchmarkIntersection();
    const t = planTemplate(net, safety);
    expect(t.phaseIds).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(t.dropped).toEqual([]);
    const p = makePlan(t, { control: 'fixed-time', green: t.phaseIds.map(() => 30), minGreen: 5, maxGreen: 30 });
    expect(validatePlan(p, safety)).toEqual({ ok: true });
    // Clearance from ITE at 40 km/h across 15 m (3 + 1.8 s), raised to the program's 5 s phase 0.
    expect(p.phases[0].yellow).toBe(3);
    expect(p.phases[0].allRed).toBeCloseTo(2, 9);
  });

  it('refuses crossing straights of different approaches, naming them', () => {
    const { safety } = benchmarkIntersection();
    const v = validatePlan(plan(safety, [{ movements: [0, 4] }]), safety);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.reasons).toHaveLength(1);
    expect(v.reasons[0].code).toBe('conflicting-greens');
    expect(v.reasons[0].message).toMatch(/0 \(straight\).*4 \(straight\)/);
  });

  it('refuses a permissive left (left against the opposing straight) and lefts merging with a straight', () => {
    const { safety } = benchmarkIntersection();
    for (const ms of [[1, 7], [0, 9]]) {
      const v = validatePlan(plan(safety, [{ movements: ms }]), safety);
      expect(v.ok, `movements ${ms}`).toBe(false);
    }
    // Opposing lefts and opposing straights do not meet; one approach's straight and left diverge.
    for (const ms of [[1, 8], [0, 7], [0, 1], [0, 1, 2, 3, 6, 10]]) expect(validatePlan(plan(safety, [{ movements: ms }]), safety), `movements ${ms}`).toEqual({ ok: true });
  });

  it('refuses short greens and clearances with a reason each', () => {
    const { safety } = benchmarkIntersection();
    const v = validatePlan(plan(safety, [{ movements: [0, 7], minGreen: 3, yellow: 2.5, allRed: 1 }, { movements: [4, 11], yellow: 7 }]), safety);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.reasons.map((r) => r.code).sort()).toEqual(['all-red-short', 'min-green', 'yellow-long', 'yellow-short']);
  });

  it('refuses malformed plans, foreign plans and unknown movements with the field named', () => {
    const { safety } = benchmarkIntersection();
    const p = plan(safety, [{ movements: [0, 7] }]);
    const bad = validatePlan({ ...p, sequence: [3] }, safety);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.reasons[0].message).toContain('sequence.0');
    const foreign = validatePlan({ ...p, intersection: 'elsewhere' }, safety);
    expect(!foreign.ok && foreign.reasons[0].code).toBe('wrong-intersection');
    const unknown = validatePlan(plan(safety, [{ movements: [0, 42] }]), safety);
    expect(!unknown.ok && unknown.reasons[0].code).toBe('unknown-movement');
    const cycle = validatePlan({ ...p, cycle: p.cycle + 3 }, safety);
    expect(!cycle.ok && cycle.reasons[0].code).toBe('cycle');
  });

  it('lets a plan change only when newer, valid now, and at a safe boundary', () => {
    const { safety } = benchmarkIntersection();
    const cur = plan(safety, [{ movements: [0, 7] }, { movements: [4, 11] }]);
    const next = { ...cur, version: 2, validFrom: 100, validUntil: 1000 };
    const at = { inGreen: true, greenElapsed: 10, minGreen: 5 };
    expect(validatePlanChange(safety, cur, next, 200, at)).toEqual({ ok: true });
    const code = (v: ReturnType<typeof validatePlanChange>) => (v.ok ? [] : v.reasons.map((r) => r.code));
    expect(code(validatePlanChange(safety, cur, { ...next, version: 1 }, 200, at))).toEqual(['plan-version']);
    expect(code(validatePlanChange(safety, cur, next, 50, at))).toEqual(['plan-validity']);
    expect(code(validatePlanChange(safety, cur, next, 1000, at))).toEqual(['plan-validity']);
    expect(code(validatePlanChange(safety, cur, next, 200, { ...at, inGreen: false }))).toEqual(['plan-boundary']);
    expect(code(validatePlanChange(safety, cur, next, 200, { ...at, greenElapsed: 3 }))).toEqual(['plan-boundary']);
    expect(code(validatePlanChange(safety, cur, { ...next, phases: [{ ...next.phases[0], movements: [0, 4] }, next.phases[1]] }, 200, at))).toEqual([
      'conflicting-greens',
    ]);
  });
});

/** A random plan, safe or not: random movement sets and random times around the limits. */
function anyPlanArb(t: TestIntersection): fc.Arbitrary<TimingPlan> {
  const n = t.safety.n;
  const phase = fc.record({
    movements: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: Math.min(n, 6) }),
    minGreen: fc.double({ min: 2, max: 20, noNaN: true }),
    extra: fc.double({ min: 0, max: 40, noNaN: true }),
    yellow: fc.double({ min: 2, max: 7, noNaN: true }),
    allRed: fc.double({ min: 0, max: 3, noNaN: true }),
  });
  return fc.record({ phases: fc.array(phase, { minLength: 1, maxLength: 5 }), cycleError: fc.constantFrom(0, 0, 0, -1, 2) }).map(({ phases, cycleError }) => {
    const ps = phases.map((p, k) => ({ id: k, movements: p.movements, minGreen: p.minGreen, maxGreen: p.minGreen + p.extra, green: p.minGreen, yellow: p.yellow, allRed: p.allRed }));
    const cycle = ps.reduce((s, p) => s + p.green + p.yellow + p.allRed, 0) + cycleError;
    return { intersection: t.safety.id, version: 0, validFrom: 0, validUntil: null, control: 'fixed-time' as const, phases: ps, sequence: ps.map((_, k) => k), cycle, offset: 0 };
  });
}

/** The reasons the rules call for, worked out independently of the validator. */
function expectedCodes(t: TestIntersection, p: TimingPlan): Set<SafetyCode> {
  const codes = new Set<SafetyCode>();
  for (const ph of p.phases) {
    for (const a of ph.movements) for (const b of ph.movements) if (a < b && t.mustSeparate[a][b]) codes.add('conflicting-greens');
    if (ph.minGreen < MIN_GREEN_FLOOR_S) codes.add('min-green');
    if (ph.yellow < Math.max(...ph.movements.map((m) => t.requiredYellow[m])) - 1e-9) codes.add('yellow-short');
    if (ph.yellow > 6) codes.add('yellow-long');
    if (ph.allRed < Math.max(...ph.movements.map((m) => t.requiredAllRed[m])) - 1e-9) codes.add('all-red-short');
  }
  if (codes.size === 0) {
    const planned = p.phases.reduce((s, ph) => s + ph.green + ph.yellow + ph.allRed, 0);
    if (Math.abs(planned - p.cycle) > 1e-6) codes.add('cycle');
  }
  return codes;
}

describe('timing plan validation: properties', () => {
  it('refuses every unsafe plan with its reasons and accepts every safe one', () => {
    fc.assert(
      fc.property(
        anyIntersection().chain((t) => fc.tuple(fc.constant(t), anyPlanArb(t))),
        ([t, p]) => {
          const want = expectedCodes(t, p);
          const v = validatePlan(p, t.safety);
          if (want.size === 0) return v.ok;
          if (v.ok) return false;
          const got = new Set(v.reasons.map((r) => r.code));
          return [...want].every((c) => got.has(c)) && [...got].every((c) => want.has(c)) && v.reasons.every((r) => r.message.length > 10);
        },
      ),
      { numRuns: 600, seed: 21 },
    );
  });

  it('accepts every plan built from compatible movement sets with the required clearances', () => {
    fc.assert(
      fc.property(
        anyIntersection().chain((t) => fc.tuple(fc.constant(t), validPlanArb(t))),
        ([t, p]) => validatePlan(p, t.safety).ok,
      ),
      { numRuns: 300, seed: 5 },
    );
  });
});

describe('signal state checks: properties', () => {
  it('refuses exactly the states with conflicting greens, missing clearance, missing yellow, yellow→green or a short green', () => {
    const light = fc.constantFrom(RED, YELLOW, GREEN);
    fc.assert(
      fc.property(
        anyIntersection().chain((t) =>
          fc.tuple(
            fc.constant(t),
            fc.array(light, { minLength: t.safety.n, maxLength: t.safety.n }),
            fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: t.safety.n, maxLength: t.safety.n }),
            fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { minLength: t.safety.n, maxLength: t.safety.n }),
            fc.array(light, { minLength: t.safety.n, maxLength: t.safety.n }),
          ),
        ),
        ([t, before, clearAgo, greenFor, next]) => {
          const now = 100;
          const n = t.safety.n;
          const h = newSignalHistory(n);
          for (let m = 0; m < n; m++) {
            h.light[m] = before[m];
            h.clearUntil[m] = now + clearAgo[m];
            h.greenSince[m] = before[m] === GREEN ? now - greenFor[m] : Number.NaN;
          }
          const clearance = new Float64Array(n).fill(5);
          const minGreen = new Float64Array(n).fill(8);
          const allRed = new Float64Array(n).fill(2);
          const rules = { clearance, allRed, minGreen, yellow: true };
          const want = new Set<SafetyCode>();
          for (let a = 0; a < n; a++) {
            if (next[a] === RED) continue;
            for (let b = 0; b < n; b++) {
              if (!t.mustSeparate[a][b]) continue;
              if (next[b] !== RED) want.add('conflicting-greens');
              const until = next[b] !== RED ? h.clearUntil[b] : before[b] === GREEN ? now + 5 : before[b] === YELLOW ? Math.max(h.clearUntil[b], now + 2) : h.clearUntil[b];
              // Times within a nanosecond are equal (as in the validator).
              if (next[b] === RED && now < until - 1e-9) want.add('no-clearance');
            }
            if (before[a] === YELLOW && next[a] === GREEN) want.add('yellow-to-green');
            else if (before[a] === RED && now < h.clearUntil[a] - 1e-9) want.add('no-clearance');
          }
          for (let a = 0; a < n; a++) {
            if (before[a] !== GREEN || next[a] === GREEN) continue;
            if (next[a] === RED) want.add('no-yellow');
            if (greenFor[a] < 8 - 1e-9) want.add('min-green');
          }
          const issues = checkSignalState(t.safety, h, next, now, rules);
          const got = new Set(issues.map((i) => i.code));
          const same = want.size === got.size && [...want].every((c) => got.has(c));
          return same && isSignalStateSafe(t.safety, h, next, now, rules) === (want.size === 0);
        },
      ),
      { numRuns: 800, seed: 9 },
    );
  });

  it('a movement stopping now owes its clearance to a conflicting one starting now', () => {
    const { safety } = benchmarkIntersection();
    const h = newSignalHistory(safety.n);
    const g = new Uint8Array(safety.n);
    g[0] = GREEN;
    recordSignalState(h, g, 0, { clearance: new Float64Array(safety.n).fill(5), allRed: new Float64Array(safety.n).fill(2) });
    const swap = new Uint8Array(safety.n);
    swap[4] = GREEN;
    const rules = { clearance: new Float64Array(safety.n).fill(5), allRed: new Float64Array(safety.n).fill(2), minGreen: null, yellow: false };
    expect(checkSignalState(safety, h, swap, 30, rules).map((i) => i.code)).toEqual(['no-clearance']);
  });
});
