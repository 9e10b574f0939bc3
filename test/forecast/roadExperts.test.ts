import { describe, expect, it } from 'vitest';
import { applyRoadExpert, fitRoadExperts } from '../../twin/forecast/RoadExperts.ts';
import { Mt19937 } from '../../twin/random.ts';

describe('road experts', () => {
  it('learn each road its own relation (ridge per road), in the data units', () => {
    const rng = new Mt19937(5);
    const rows = 400;
    const width = 3; // two inputs and one column the experts must not read
    const x = new Float32Array(rows * width);
    const y = new Float32Array(rows * 2);
    const road = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const a = 10 + 5 * rng.nextFloat();
      const b = -3 + 2 * rng.nextFloat();
      road[r] = r % 2;
      x.set([a, b, 1000 * rng.nextFloat()], r * width);
      // Road 0: change = 2a + 1 at one horizon, −b at the other; road 1: the opposite roles.
      if (road[r] === 0) y.set([2 * a + 1, -b], r * 2);
      else y.set([-b, 2 * a + 1], r * 2);
    }
    const e = fitRoadExperts(x, width, 2, y, 2, road, 3, 1e-6);
    const out = new Float32Array(2);
    applyRoadExpert(e, 0, Float32Array.from([12, -2]), 0, out, 0);
    expect(out[0]).toBeCloseTo(25, 2);
    expect(out[1]).toBeCloseTo(2, 2);
    applyRoadExpert(e, 1, Float32Array.from([12, -2]), 0, out, 0);
    expect(out[0]).toBeCloseTo(2, 2);
    expect(out[1]).toBeCloseTo(25, 2);
    // Road 2 had no rows: it predicts no change.
    applyRoadExpert(e, 2, Float32Array.from([12, -2]), 0, out, 0);
    expect(Array.from(out)).toEqual([0, 0]);
  });

  it('shrink towards the mean change as the penalty grows', () => {
    const rows = 200;
    const x = Float32Array.from({ length: rows }, (_, r) => r % 10);
    const y = Float32Array.from(x, (v) => 3 * v);
    const road = new Int32Array(rows);
    const slope = (lambda: number) => fitRoadExperts(x, 1, 1, y, 1, road, 1, lambda).coef[0];
    expect(slope(1e-6)).toBeCloseTo(3, 3);
    expect(slope(1)).toBeLessThan(2);
    expect(slope(1)).toBeGreaterThan(0);
  });
});
