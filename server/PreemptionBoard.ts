/**
 * The pre-emption windows the centre currently wants, per intersection, as the edges poll them
 * (`GET /api/emergency/preemptions/{intersection}`, long-poll with ETag like plans). Each answer
 * is the whole current set: a window missing from it is released at the edge. Re-issued windows
 * that moved by less than `jitter` seconds do not wake the edges.
 */
import type { PreemptionFeed, PreemptionOrder } from '../signal-controllers/edge/Preemption.ts';
import type { PreemptionWindow } from '../twin/routing/PreemptionWindow.ts';
import type { PreemptionSink } from '../twin/routing/EmergencyTracker.ts';

interface Entry {
  version: number;
  windows: Map<string, PreemptionOrder>;
  waiters: Set<() => void>;
}

export class PreemptionBoard implements PreemptionSink {
  private readonly entries = new Map<string, Entry>();
  /** Called with the window and what happened to it (the emergency service keeps its statuses). */
  onChange: ((intersection: string, id: string, w: PreemptionOrder | null) => void) | null = null;

  constructor(private readonly jitter = 1) {}

  private entry(intersection: string): Entry {
    let e = this.entries.get(intersection);
    if (!e) this.entries.set(intersection, (e = { version: 0, windows: new Map(), waiters: new Set() }));
    return e;
  }

  private bump(e: Entry): void {
    e.version++;
    for (const w of [...e.waiters]) w();
  }

  upsertWindows(ws: readonly PreemptionWindow[]): void {
    const touched = new Set<Entry>();
    for (const w of ws) {
      const e = this.entry(w.intersection);
      const order: PreemptionOrder = { id: w.id, vehicle: w.vehicle, intersection: w.intersection, movements: [...w.movements], eta: w.eta, start: w.start, end: w.end };
      const prev = e.windows.get(w.id);
      const moved =
        !prev ||
        Math.abs(prev.start - order.start) > this.jitter ||
        Math.abs(prev.end - order.end) > this.jitter ||
        prev.movements.join(',') !== order.movements.join(',');
      if (!moved) continue;
      e.windows.set(w.id, order);
      touched.add(e);
      this.onChange?.(w.intersection, w.id, order);
    }
    for (const e of touched) this.bump(e);
  }

  releaseWindow(id: string): void {
    const intersection = id.slice(id.lastIndexOf('@') + 1);
    const e = this.entries.get(intersection);
    if (!e?.windows.delete(id)) return;
    this.onChange?.(intersection, id, null);
    this.bump(e);
  }

  releaseVehicle(vehicle: string): void {
    for (const [intersection, e] of this.entries) {
      let changed = false;
      for (const [id, w] of e.windows) {
        if (w.vehicle !== vehicle) continue;
        e.windows.delete(id);
        this.onChange?.(intersection, id, null);
        changed = true;
      }
      if (changed) this.bump(e);
    }
  }

  /** Windows ending before `now` are dropped (the edges drop them by themselves too). */
  expire(now: number): void {
    for (const [intersection, e] of this.entries) {
      let changed = false;
      for (const [id, w] of e.windows) {
        if (w.end > now) continue;
        e.windows.delete(id);
        this.onChange?.(intersection, id, null);
        changed = true;
      }
      if (changed) this.bump(e);
    }
  }

  feed(intersection: string): PreemptionFeed & { etag: string } {
    const e = this.entry(intersection);
    return { intersection, version: e.version, windows: [...e.windows.values()], etag: `"p${e.version}"` };
  }

  /** The current set once its ETag differs from `etag` (at once if it already does), or null after `timeoutMs`. */
  waitForChange(intersection: string, etag: string | undefined, timeoutMs: number): Promise<(PreemptionFeed & { etag: string }) | null> {
    const cur = this.feed(intersection);
    if (cur.etag !== etag) return Promise.resolve(cur);
    if (timeoutMs <= 0) return Promise.resolve(null);
    const e = this.entry(intersection);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        e.waiters.delete(done);
        resolve(this.feed(intersection));
      };
      const timer = setTimeout(() => {
        e.waiters.delete(done);
        resolve(null);
      }, timeoutMs);
      e.waiters.add(done);
    });
  }

  /** Wakes every waiting poll with no change (shutdown). */
  close(): void {
    for (const e of this.entries.values()) for (const w of [...e.waiters]) w();
  }
}
