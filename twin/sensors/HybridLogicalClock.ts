/**
 * Hybrid logical clock (Kulkarni et al., 2014): a timestamp is (physical ms, logical counter).
 * It stays close to physical time, never goes backwards, and orders causally related events even
 * when physical clocks tie or skew. Sensor messages carry one so that the twin can order and
 * deduplicate them by source time, never by arrival.
 *
 * Functional core: the physical time is always an argument (here the simulation clock in ms);
 * nothing reads the wall clock.
 */
import { z } from 'zod';

export interface Hlc {
  /** Physical component (ms). */
  readonly pt: number;
  /** Logical counter: orders events within the same physical ms. */
  readonly lc: number;
}

/** Widths of the serialized form: fixed, so that string order is timestamp order. */
const PT_DIGITS = 15;
const LC_DIGITS = 5;
const MAX_LC = 10 ** LC_DIGITS - 1;
const HLC_PATTERN = /^(\d{15}):(\d{5})$/;

export const ZERO_HLC: Hlc = { pt: 0, lc: 0 };

/** Total order: physical time, then logical counter. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.pt - b.pt || a.lc - b.lc;
}

/** `"000001700000000:00003"`: fixed-width, sorts lexicographically in timestamp order. */
export function serializeHlc(t: Hlc): string {
  return `${String(t.pt).padStart(PT_DIGITS, '0')}:${String(t.lc).padStart(LC_DIGITS, '0')}`;
}

export function parseHlc(s: string): Hlc {
  if (!HLC_PATTERN.test(s)) throw new RangeError(`not an HLC timestamp: ${JSON.stringify(s)}`);
  return parseValidHlc(s);
}

/** Parses a string already validated by `HlcStringSchema` (hot path of ingest). */
export function parseValidHlc(s: string): Hlc {
  return { pt: Number(s.slice(0, PT_DIGITS)), lc: Number(s.slice(PT_DIGITS + 1)) };
}

/**
 * The wire form. Validated as a string (a zod transform per message would double the cost of
 * ingesting millions of readings); `parseHlc` turns a validated one into numbers.
 */
export const HlcStringSchema = z.string().regex(HLC_PATTERN, 'expected an HLC timestamp "<15-digit ms>:<5-digit counter>"');

/**
 * One node's clock. `send` stamps a local event (a reading); `receive` merges a remote timestamp
 * (the twin receiving a message) so that everything it stamps afterwards is ordered after it.
 */
export class HybridLogicalClock {
  private last: Hlc;

  constructor(start: Hlc = ZERO_HLC) {
    this.last = start;
  }

  get current(): Hlc {
    return this.last;
  }

  /** Timestamp for a local event at physical time `physicalMs`. */
  send(physicalMs: number): Hlc {
    const pt = Math.floor(physicalMs);
    const l = this.last;
    this.last = pt > l.pt ? { pt, lc: 0 } : { pt: l.pt, lc: bump(l.lc) };
    return this.last;
  }

  /** Merges a received timestamp at local physical time `physicalMs`. */
  receive(remote: Hlc, physicalMs: number): Hlc {
    const pt = Math.floor(physicalMs);
    const l = this.last;
    const max = Math.max(pt, l.pt, remote.pt);
    let lc: number;
    if (max === l.pt && max === remote.pt) lc = bump(Math.max(l.lc, remote.lc));
    else if (max === l.pt) lc = bump(l.lc);
    else if (max === remote.pt) lc = bump(remote.lc);
    else lc = 0;
    this.last = { pt: max, lc };
    return this.last;
  }
}

function bump(lc: number): number {
  // The counter only grows within one physical ms; overflowing it means over 10^5 events in
  // one ms from one node, which no sensor does. Refuse rather than wrap out of order.
  if (lc >= MAX_LC) throw new RangeError('HLC logical counter overflow');
  return lc + 1;
}
