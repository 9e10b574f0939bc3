import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GREEN, MIN_GREEN_FLOOR_S, RED, SignalSafetyMonitor, YELLOW } from '../../signal-controllers/SafetyValidator.ts';
import { SignalStateMachine } from '../../signal-controllers/SignalStateMachine.ts';
import type { TimingPlan } from '../../signal-controllers/TimingPlan.ts';
import { anyIntersection, testIntersections, validPlanArb, type TestIntersection } from './helpers.ts';

const EPS = 1e-9;

/** Watches the lights from outside and checks the safety rules with the oracle's conflicts. */
class Watcher {
  private readonly light: number[];
  private readonly greenStart: number[];
  private readonly yellowStart: number[];
  /** Time each movement last stopped being green (went yellow), and last turned red. */
  private readonly greenEnd: number[];
  private readonly redStart: number[];
  readonly violations: string[] = [];

  constructor(private readonly t: TestIntersection) {
    const n = t.safety.n;
    this.light = new Array<number>(n).fill(RED);
    this.greenStart = new Array<number>(n).fill(Number.NaN);
    this.yellowStart = new Array<number>(n).fill(Number.NaN);
    this.greenEnd = new Array<number>(n).fill(-Infinity);
    this.redStart = new Array<number>(n).fill(-Infinity);
  }

  see(now: number, lights: number[]): void {
    const t = this.t;
    const n = t.safety.n;
    const bad = (s: string) => this.violations.length < 5 && this.violations.push(`t=${now}: ${s}`);
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++) if (t.mustSeparate[a][b] && lights[a] !== RED && lights[b] !== RED) bad(`conflicting ${a} and ${b} open together`);
    for (let m = 0; m < n; m++) {
      const was = this.light[m];
      const is = lights[m];
      if (was === is) continue;
      if (was === GREEN && is === RED) bad(`${m} green → red without yellow`);
      if (was === YELLOW && is === GREEN) bad(`${m} yellow → green`);
      if (was === GREEN && now - this.greenStart[m] < MIN_GREEN_FLOOR_S - EPS) bad(`${m} green for only ${now - this.greenStart[m]} s`);
      if (was === YELLOW && is === RED && now - this.yellowStart[m] < t.requiredYellow[m] - EPS) bad(`${m} yellow for only ${now - this.yellowStart[m]} s`);
      if (is === GREEN) {
        for (let c = 0; c < n; c++) {
          // Conflicting movements, and the movement itself, must have run yellow + all-red.
          if (!t.mustSeparate[m][c] && c !== m) continue;
          const owed = t.requiredYellow[c] + t.requiredAllRed[c];
          if (now - this.greenEnd[c] < owed - EPS) bad(`${m} green ${now - this.greenEnd[c]} s after conflicting ${c}, which owes ${owed} s`);
          // The all-red is shown in full, counted from when the yellow actually ended.
          if (c !== m || was === RED) {
            if (now - this.redStart[c] < t.requiredAllRed[c] - EPS && this.greenEnd[c] > -Infinity)
              bad(`${m} green ${now - this.redStart[c]} s after ${c} turned red, which owes ${t.requiredAllRed[c]} s of all-red`);
          }
        }
        this.greenStart[m] = now;
      }
      if (was === GREEN) this.greenEnd[m] = now;
      if (is === YELLOW) this.yellowStart[m] = now;
      if (is === RED) this.redStart[m] = now;
      this.light[m] = is;
    }
  }
}

type Action = { kind: 'request'; phase: number } | { kind: 'adopt'; which: number } | { kind: 'none' };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('request' as const), phase: fc.integer({ min: -1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('adopt' as const), which: fc.nat() }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
);

const stepArb = fc.record({
  dt: fc.oneof(fc.integer({ min: 0, max: 7 }), fc.double({ min: 0, max: 9, noNaN: true })),
  action: actionArb,
});

const scenarioArb = anyIntersection().chain((t) =>
  fc.record({
    t: fc.constant(t),
    plan: validPlanArb(t, 0),
    others: fc.array(validPlanArb(t, 0), { maxLength: 3 }),
    keep: fc.constantFrom('shared' as const, 'every-phase' as const),
    startupAllRed: fc.constantFrom(0, 0, 2.5, 5),
    steps: fc.array(stepArb, { minLength: 1, maxLength: 150 }),
  }),
);

function lightsOf(m: SignalStateMachine, n: number): number[] {
  return Array.from({ length: n }, (_, k) => m.light(k));
}

describe('signal state machine', () => {
  it('never shows conflicting greens, nor a green after a conflicting one without full clearance, whatever the requests', () => {
    fc.assert(
      fc.property(scenarioArb, ({ t, plan, others, keep, startupAllRed, steps }) => {
        const n = t.safety.n;
        let now = 0;
        const m = new SignalStateMachine(t.safety, plan, now, { keepOnChange: keep, startupAllRed });
        const w = new Watcher(t);
        // The simulation's monitor watches the same heads as the field sees them (no yellow).
        const monitor = new SignalSafetyMonitor(t.net, [t.safety]);
        const heads = new Uint8Array(t.net.movements.length);
        const show = () => {
          const ls = lightsOf(m, n);
          w.see(now, ls);
          ls.forEach((l, k) => (heads[t.safety.globalMovement[k]] = l === GREEN ? 1 : 0));
          monitor.check(heads, now);
        };
        show();
        let version = 0;
        for (const s of steps) {
          now += s.dt;
          if (s.action.kind === 'request') {
            const v = m.request(s.action.phase, now);
            const exists = s.action.phase >= 0 && s.action.phase < m.plan.phases.length;
            if (v.ok !== exists) return false;
            if (!v.ok && v.reasons[0].code !== 'unknown-phase') return false;
          } else if (s.action.kind === 'adopt' && others.length > 0) {
            const next: TimingPlan = { ...others[s.action.which % others.length], version: ++version };
            if (!m.adopt(next, now).ok) return false;
          }
          m.advance(now);
          show();
          const spat = m.spat(now);
          for (const x of spat) {
            if (x.state !== 'GYR'[2 - m.light(x.movement)]) return false;
            if (x.minTimeToChange !== null && x.minTimeToChange < 0) return false;
          }
        }
        if (w.violations.length > 0) throw new Error(w.violations.join('\n'));
        return m.refusedChanges === 0 && monitor.unsafeStates === 0;
      }),
      // FC_RUNS / FC_SEED let a long hunt run the same property (e.g. FC_RUNS=20000).
      { numRuns: Number(process.env.FC_RUNS ?? 400), seed: Number(process.env.FC_SEED ?? 17) },
    );
  });

  it('serves a persistent request within min green + clearance, and the requested phase shows all its movements', () => {
    fc.assert(
      fc.property(
        anyIntersection().chain((t) =>
          fc.record({
            t: fc.constant(t),
            plan: validPlanArb(t, 0),
            warmup: fc.integer({ min: 0, max: 60 }),
            target: fc.nat(),
            keep: fc.constantFrom('shared' as const, 'every-phase' as const),
          }),
        ),
        ({ t, plan, warmup, target, keep }) => {
          const m = new SignalStateMachine(t.safety, plan, 0, { keepOnChange: keep });
          let now = 0;
          for (; now < warmup; now++) m.advance(now);
          const q = target % plan.phases.length;
          const maxMin = Math.max(...plan.phases.map((p) => p.minGreen));
          const maxClear = Math.max(...plan.phases.map((p) => p.yellow + p.allRed));
          const bound = now + 2 * maxClear + maxMin + 2;
          m.request(q, now);
          for (; now <= bound; now++) {
            m.advance(now);
            const v = m.view();
            if (v.interval === 'green' && v.phase === q) return plan.phases[q].movements.every((mv) => m.light(mv) === GREEN);
            m.request(q, now);
          }
          return false;
        },
      ),
      { numRuns: 300, seed: 23 },
    );
  });

  it('runs green → yellow → all-red → green, with SPaT counting down', () => {
    const t = testIntersections().find((x) => x.name === 'grid1x1-3/intersection_1_1')!;
    const plan: TimingPlan = {
      intersection: t.safety.id,
      version: 0,
      validFrom: 0,
      validUntil: null,
      control: 'adaptive',
      phases: [
        { id: 1, movements: [0, 2, 3, 6, 7, 10], minGreen: 10, maxGreen: 60, green: 20, yellow: 3, allRed: 2 },
        { id: 2, movements: [2, 3, 4, 6, 10, 11], minGreen: 10, maxGreen: 60, green: 20, yellow: 3, allRed: 2 },
      ],
      sequence: [0, 1],
      cycle: 50,
      offset: 0,
    };
    const m = new SignalStateMachine(t.safety, plan, 0);
    expect(m.view()).toMatchObject({ phase: 0, interval: 'green', greenStart: 0 });
    m.request(1, 4);
    m.advance(4);
    expect(m.light(0)).toBe(GREEN); // min green not yet over
    expect(m.spat(4)[0]).toMatchObject({ state: 'G', minTimeToChange: 6, maxTimeToChange: 6 });
    m.advance(10);
    expect([m.light(0), m.light(7), m.light(4), m.light(2)]).toEqual([YELLOW, YELLOW, RED, GREEN]);
    expect(m.spat(10)[0]).toMatchObject({ state: 'Y', minTimeToChange: 3 });
    expect(m.spat(10)[4]).toMatchObject({ state: 'R', minTimeToChange: 5 });
    m.advance(13);
    expect([m.light(0), m.light(4)]).toEqual([RED, RED]); // all-red
    m.advance(14);
    expect(m.light(4)).toBe(RED);
    m.advance(15);
    expect([m.light(0), m.light(4), m.light(11), m.light(2)]).toEqual([RED, GREEN, GREEN, GREEN]);
    expect(m.view()).toMatchObject({ phase: 1, interval: 'green', greenStart: 15 });
    expect(m.switches).toBe(1);
    // Max-out: with no request, the machine moves on at the maximum green.
    m.advance(74);
    expect(m.view().phase).toBe(1);
    m.advance(75);
    expect(m.view()).toMatchObject({ interval: 'change', target: 0 });
    expect(() => m.advance(70)).toThrow(RangeError);
  });

  it('takes a new plan over only at a safe boundary and keeps a pending request', () => {
    const t = testIntersections().find((x) => x.name === 'grid1x1-3/intersection_1_1')!;
    const base: TimingPlan = {
      intersection: t.safety.id,
      version: 0,
      validFrom: 0,
      validUntil: null,
      control: 'adaptive',
      phases: [
        { id: 1, movements: [0, 7], minGreen: 10, maxGreen: 60, green: 20, yellow: 3, allRed: 2 },
        { id: 2, movements: [4, 11], minGreen: 10, maxGreen: 60, green: 20, yellow: 3, allRed: 2 },
      ],
      sequence: [0, 1],
      cycle: 50,
      offset: 0,
    };
    const m = new SignalStateMachine(t.safety, base, 0);
    const next = { ...base, version: 1, phases: base.phases.map((p) => ({ ...p, minGreen: 6, green: 6 })) };
    expect(m.adopt(next, 2).ok).toBe(true);
    m.advance(2);
    expect(m.plan.version).toBe(0); // min green of the plan in force not over
    m.request(1, 10);
    m.advance(10);
    expect(m.plan.version).toBe(1);
    expect(m.view().interval).toBe('change'); // and the request survived the takeover
    // Refused: older version, or a plan with conflicting greens.
    expect(m.adopt({ ...base, version: 1 }, 11).ok).toBe(false);
    const bad = m.adopt({ ...base, version: 5, phases: [{ ...base.phases[0], movements: [0, 4] }, base.phases[1]] }, 11);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.reasons.some((r) => r.code === 'conflicting-greens')).toBe(true);
  });
});
