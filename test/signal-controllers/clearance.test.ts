import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClearanceOverrideError, clearanceFor, iteAllRed, iteYellow, requiredClearance, withTotalAtLeast } from '../../signal-controllers/clearance.ts';

describe('ITE change and clearance intervals', () => {
  it('yellow = 1 s + v / (2a + 2Gg), clamped to 3–6 s', () => {
    // 40 km/h (the benchmark lanes): 1 + 11.111 / 6.1 = 2.82 s → 3 s.
    expect(iteYellow(11.111)).toBe(3);
    // 72 km/h: 1 + 20 / 6.1.
    expect(iteYellow(20)).toBeCloseTo(1 + 20 / 6.1, 12);
    // 5 % downgrade at 72 km/h: the denominator shrinks, the yellow grows.
    expect(iteYellow(20, -0.05)).toBeCloseTo(1 + 20 / (6.1 - 2 * 9.81 * 0.05), 12);
    expect(iteYellow(20, 0.05)).toBeLessThan(iteYellow(20));
    // 144 km/h would need 7.6 s: clamped to 6.
    expect(iteYellow(40)).toBe(6);
    // A downgrade that cancels braking: as long as allowed.
    expect(iteYellow(20, -0.4)).toBe(6);
  });

  it('all-red = (intersection width + vehicle length) / v', () => {
    expect(iteAllRed(11.111, 15)).toBeCloseTo(20 / 11.111, 12);
    expect(iteAllRed(10, 20, 12)).toBeCloseTo(3.2, 12);
    // The benchmark's 5 s clearance covers the formulas at 40 km/h across a 15 m intersection.
    const c = requiredClearance({ speed: 11.111, intersectionWidth: 15 });
    expect(c.yellow + c.allRed).toBeLessThanOrEqual(5);
  });

  it('refuses nonsense inputs', () => {
    expect(() => iteYellow(0)).toThrow(RangeError);
    expect(() => iteAllRed(10, -1)).toThrow(RangeError);
  });

  it('overrides may only raise the intervals', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 5, max: 25, noNaN: true }),
        fc.double({ min: 0, max: 40, noNaN: true }),
        fc.option(fc.double({ min: 0, max: 8, noNaN: true }), { nil: undefined }),
        fc.option(fc.double({ min: 0, max: 8, noNaN: true }), { nil: undefined }),
        (speed, width, yellow, allRed) => {
          const a = { speed, intersectionWidth: width };
          const req = requiredClearance(a);
          const tooLow = (yellow !== undefined && yellow < req.yellow - 1e-9) || (allRed !== undefined && allRed < req.allRed - 1e-9);
          const tooLong = yellow !== undefined && yellow > 6 + 1e-9;
          if (tooLow || tooLong) {
            expect(() => clearanceFor(a, { yellow, allRed })).toThrow(ClearanceOverrideError);
          } else {
            const c = clearanceFor(a, { yellow, allRed });
            expect(c.yellow).toBeGreaterThanOrEqual(req.yellow);
            expect(c.allRed).toBeGreaterThanOrEqual(req.allRed);
            expect(c.yellow).toBe(Math.max(req.yellow, yellow ?? 0));
            expect(c.allRed).toBe(Math.max(req.allRed, allRed ?? 0));
          }
        },
      ),
      { numRuns: 300, seed: 3 },
    );
  });

  it('raises the total to a floor through the all-red', () => {
    expect(withTotalAtLeast({ yellow: 3, allRed: 1.8 }, 5)).toEqual({ yellow: 3, allRed: 2 });
    expect(withTotalAtLeast({ yellow: 4, allRed: 2 }, 5)).toEqual({ yellow: 4, allRed: 2 });
  });
});
