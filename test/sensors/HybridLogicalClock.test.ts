import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HlcStringSchema, HybridLogicalClock, compareHlc, parseHlc, serializeHlc, type Hlc } from '../../twin/sensors/HybridLogicalClock.ts';

const hlc = fc.record({ pt: fc.integer({ min: 0, max: 10 ** 14 }), lc: fc.integer({ min: 0, max: 99_999 }) });

describe('HybridLogicalClock', () => {
  it('serializes to a fixed-width string that round-trips and sorts like the timestamps', () => {
    fc.assert(
      fc.property(hlc, hlc, (a, b) => {
        const sa = serializeHlc(a);
        expect(parseHlc(sa)).toEqual(a);
        expect(HlcStringSchema.safeParse(sa).success).toBe(true);
        const byString = sa < serializeHlc(b) ? -1 : sa > serializeHlc(b) ? 1 : 0;
        expect(byString).toBe(Math.sign(compareHlc(a, b)));
      }),
    );
  });

  it('rejects malformed strings', () => {
    for (const s of ['', '12:3', '000000000001000-00001', '00000000000100a:00001', '000000000001000:000001']) {
      expect(HlcStringSchema.safeParse(s).success).toBe(false);
      expect(() => parseHlc(s)).toThrow();
    }
  });

  it('never goes backwards, even when the physical clock does, and orders events within a ms', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 50 }), (times) => {
        const clock = new HybridLogicalClock();
        let prev: Hlc | null = null;
        for (const t of times) {
          const now = clock.send(t);
          if (prev) expect(compareHlc(now, prev)).toBeGreaterThan(0);
          expect(now.pt).toBeGreaterThanOrEqual(t);
          prev = now;
        }
      }),
    );
  });

  it('orders what it stamps after a received timestamp, even one from a clock ahead of it', () => {
    // A remote counter at the very top would (rightly) overflow: leave room for the two bumps.
    const remoteHlc = fc.record({ pt: fc.integer({ min: 0, max: 10 ** 14 }), lc: fc.integer({ min: 0, max: 99_990 }) });
    fc.assert(
      fc.property(remoteHlc, fc.integer({ min: 0, max: 10 ** 14 }), (remote, local) => {
        const clock = new HybridLogicalClock();
        const merged = clock.receive(remote, local);
        expect(compareHlc(merged, remote)).toBeGreaterThan(0);
        expect(merged.pt).toBe(Math.max(remote.pt, local));
        expect(compareHlc(clock.send(local), merged)).toBeGreaterThan(0);
      }),
    );
  });

  it('uses the physical time when it is ahead (logical counter back to 0)', () => {
    const clock = new HybridLogicalClock();
    expect(clock.send(1000)).toEqual({ pt: 1000, lc: 0 });
    expect(clock.send(1000)).toEqual({ pt: 1000, lc: 1 });
    expect(clock.send(999)).toEqual({ pt: 1000, lc: 2 });
    expect(clock.send(1001)).toEqual({ pt: 1001, lc: 0 });
    expect(clock.receive({ pt: 5000, lc: 7 }, 1002)).toEqual({ pt: 5000, lc: 8 });
  });
});
