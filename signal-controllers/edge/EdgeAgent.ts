/**
 * The edge agent: the imperative shell around an EdgeController. It registers with the centre,
 * long-polls each intersection's plan (ETag / If-None-Match), reports its signal state as a
 * heartbeat, and drives the signal heads through a wire function on every tick. Network errors
 * never stop the lights: the controller keeps running on its own clock and falls back by itself.
 */
import type { TrafficObservation } from '../../twin/state/TrafficObservation.ts';
import { CentreClient, type CentreResponse } from './CentreClient.ts';
import { TimingPlanSchema } from '../TimingPlan.ts';
import type { EdgeController } from './EdgeController.ts';
import { PreemptionLink } from './PreemptionLink.ts';

export interface EdgeAgentOptions {
  server: string;
  token: string;
  id: string;
  controller: EdgeController;
  /** The controller's clock (s). */
  now: () => number;
  /** The field's clock as the edge knows it (s), for latencies against sensor timestamps; default `now`. */
  fieldNow?: () => number;
  /** The wire to the signal heads: which movements (local index) may go, and the phase shown. */
  heads?: (intersection: string, available: Uint8Array, shownPhase: number, at: number) => void;
  /** Long-poll wait (s). */
  pollWait?: number;
  /** Heartbeat period (wall ms). */
  reportEveryMs?: number;
  log?: (line: string) => void;
  /** The edge's own detectors at controller time t (local actuated logic); undefined when it has none fresh. */
  observe?: (t: number) => TrafficObservation | undefined;
  /** Told of every control loop closed: a central plan applied, with its latency (ms, field clock). */
  onLoop?: (intersection: string, version: number, loopLatencyMs: number, sensorTime: number) => void;
}

function ok(r: CentreResponse): boolean {
  return r.status >= 200 && r.status < 300;
}

/** What a plan may carry besides the TimingPlan: the newest sensor reading it was computed from. */
interface PlanBasis {
  basis?: { sensorTime?: number };
}

export class EdgeAgent {
  private running = false;
  private readonly etags = new Map<string, string>();
  /** Two long-polls per intersection (plans, pre-emptions) and the heartbeat or registration. */
  private readonly centre: CentreClient;
  private reportTimer: NodeJS.Timeout | null = null;
  /** Emergency pre-emption windows, polled beside the plans. */
  private preemptions: PreemptionLink | null = null;
  private lastLoopLatencyMs: number | null = null;
  private lastTick = -Infinity;
  /** Central plans applied and not yet reported, with their control-loop latency (ms, field clock). */
  private applied: { intersection: string; version: number; loopLatencyMs: number }[] = [];
  private readonly appliedVersion = new Map<string, number>();
  /** Successful polls, 304s and failures, for tests and operators. */
  readonly counters = { plans: 0, notModified: 0, failures: 0, refused: 0, reports: 0 };

  constructor(private readonly o: EdgeAgentOptions) {
    this.centre = new CentreClient(o.server, o.token, 2 * o.controller.runners.size + 2);
  }

  get loopLatencyMs(): number | null {
    return this.lastLoopLatencyMs;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.register();
    for (const id of this.o.controller.runners.keys()) void this.pollLoop(id);
    this.preemptions = new PreemptionLink({ centre: this.centre, controller: this.o.controller, now: this.o.now, pollWait: this.o.pollWait, log: this.o.log });
    this.preemptions.start();
    const every = this.o.reportEveryMs ?? 1000;
    this.reportTimer = setInterval(() => void this.report(), every);
  }

  stop(): void {
    this.running = false;
    this.preemptions?.stop();
    this.centre.close();
    if (this.reportTimer) clearInterval(this.reportTimer);
  }

  /**
   * Runs the controller to `now` and drives the heads. A process starved of CPU ticks late; the
   * controller is then run in steps of at most `maxStep` (controller clock s) so that every
   * change of the heads (a clearance included) reaches the wire with its own time, rather than
   * a green-to-green jump that hides the clearance between them.
   */
  tick(now = this.o.now(), maxStep = 0.25): void {
    // Bounded catch-up (600 s of substeps at most) after a freeze.
    let t = this.lastTick === -Infinity ? now : Math.min(now, Math.max(this.lastTick + maxStep, now - 600));
    for (;;) {
      this.o.controller.tick(t, this.o.observe?.(t));
      if (this.o.heads) for (const [id, r] of this.o.controller.runners) this.o.heads(id, r.available(), r.shownPhase(), t);
      if (t >= now) break;
      t = Math.min(now, t + maxStep);
    }
    this.lastTick = now;
  }

  private async register(): Promise<void> {
    let delay = 250;
    while (this.running) {
      try {
        const r = await this.centre.request('/api/controllers', {
          method: 'POST',
          body: JSON.stringify({ id: this.o.id, intersections: [...this.o.controller.runners.keys()] }),
          timeoutMs: 5000,
        });
        if (ok(r)) {
          await r.discard();
          return;
        }
        this.o.log?.(`register refused: ${r.status} ${await r.text()}`);
        if (r.status === 401 || r.status === 403) throw new Error(`edge ${this.o.id}: the centre refused registration (${r.status})`);
      } catch (e) {
        if ((e as Error).message.includes('refused registration')) throw e;
        this.counters.failures++;
      }
      await new Promise((res) => setTimeout(res, delay));
      delay = Math.min(5000, delay * 2);
    }
  }

  private async pollLoop(intersection: string): Promise<void> {
    const wait = this.o.pollWait ?? 10;
    let delay = 250;
    while (this.running) {
      try {
        const etag = this.etags.get(intersection);
        const r = await this.centre.request(`/api/plans/${encodeURIComponent(intersection)}?wait=${wait}`, {
          method: 'GET',
          headers: etag ? { 'if-none-match': etag } : {},
          timeoutMs: (wait + 5) * 1000,
        });
        const now = this.o.now();
        if (r.status === 200) {
          const body = (await r.json()) as unknown;
          const parsed = TimingPlanSchema.safeParse(body);
          if (!parsed.success) {
            this.counters.refused++;
            this.o.log?.(`${intersection}: malformed plan from the centre: ${parsed.error.issues[0]?.message}`);
          } else {
            const v = this.o.controller.receivePlan(intersection, parsed.data, now);
            if (v.ok) {
              this.counters.plans++;
              const basis = (body as PlanBasis).basis?.sensorTime;
              // A plan delivered again (after a restart of the centre) is not a new loop.
              const seen = this.appliedVersion.get(intersection) ?? 0;
              this.appliedVersion.set(intersection, Math.max(seen, parsed.data.version));
              // Only a plan that arrived while this edge was waiting for it closes a control loop
              // (the first fetch after start-up brings a plan published before the edge listened).
              if (typeof basis === 'number' && parsed.data.version > seen && etag !== undefined) {
                const loopLatencyMs = Math.max(0, ((this.o.fieldNow ?? this.o.now)() - basis) * 1000);
                this.lastLoopLatencyMs = loopLatencyMs;
                if (this.applied.length < 256) this.applied.push({ intersection, version: parsed.data.version, loopLatencyMs });
                this.o.onLoop?.(intersection, parsed.data.version, loopLatencyMs, basis);
              }
            } else {
              this.counters.refused++;
              this.o.log?.(`${intersection}: plan refused at the edge: ${v.reasons.map((x) => x.message).join('; ')}`);
            }
          }
          const tag = r.header('etag');
          if (tag) this.etags.set(intersection, tag);
          this.o.controller.contact(now);
          delay = 250;
        } else if (r.status === 304 || r.status === 404) {
          await r.discard();
          this.counters.notModified++;
          this.o.controller.contact(now);
          delay = 250;
          // A 404 (no plan yet) answers at once: do not spin.
          if (r.status === 404) await new Promise((res) => setTimeout(res, 1000));
        } else {
          await r.discard();
          throw new Error(`status ${r.status}`);
        }
      } catch {
        if (!this.running) return;
        this.counters.failures++;
        await new Promise((res) => setTimeout(res, delay));
        delay = Math.min(5000, delay * 2);
      }
    }
  }

  private async report(): Promise<void> {
    if (!this.running) return;
    const now = this.o.now();
    const applied = this.applied.splice(0);
    const body = { mode: this.o.controller.mode, intersections: this.o.controller.states(now), lastLoopLatencyMs: this.lastLoopLatencyMs, ...(applied.length ? { applied } : {}) };
    try {
      const r = await this.centre.request(`/api/controllers/${encodeURIComponent(this.o.id)}/state`, { method: 'POST', body: JSON.stringify(body), timeoutMs: 3000 });
      await r.discard();
      if (!ok(r)) this.applied.unshift(...applied.slice(0, 256 - this.applied.length));
      if (ok(r)) {
        this.counters.reports++;
        // A heartbeat answered is the centre alive, even while a long-poll is still waiting.
        this.o.controller.contact(this.o.now());
      }
      // The centre forgot us (e.g. it restarted on an empty database): register again.
      if (r.status === 404) await this.register();
    } catch {
      this.applied.unshift(...applied.slice(0, 256 - this.applied.length));
      this.counters.failures++;
    }
  }
}
