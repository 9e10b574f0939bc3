/**
 * The edge's link for pre-emption windows: long-polls `GET /api/emergency/preemptions/{id}`
 * for each intersection it runs (ETag / If-None-Match, like plans) and hands the whole current
 * set to the EdgeController. A malformed answer is refused and changes nothing; when the link is
 * down the windows already held still end by themselves at their end time (Preemption.ts).
 */
import type { CentreClient } from './CentreClient.ts';
import type { EdgeController } from './EdgeController.ts';
import { PreemptionFeedSchema } from './Preemption.ts';

export interface PreemptionLinkOptions {
  /** The edge agent's link to the centre (this link's long-polls hold one connection each). */
  centre: CentreClient;
  controller: EdgeController;
  /** The controller's clock (s). */
  now: () => number;
  /** Long-poll wait (s). */
  pollWait?: number;
  log?: (line: string) => void;
}

export class PreemptionLink {
  private running = false;
  readonly counters = { updates: 0, notModified: 0, refused: 0, failures: 0 };

  constructor(private readonly o: PreemptionLinkOptions) {}

  start(): void {
    this.running = true;
    for (const id of this.o.controller.runners.keys()) void this.loop(id);
  }

  stop(): void {
    this.running = false;
  }

  private async loop(intersection: string): Promise<void> {
    const wait = this.o.pollWait ?? 10;
    let etag: string | null = null;
    let delay = 250;
    while (this.running) {
      try {
        const r = await this.o.centre.request(`/api/emergency/preemptions/${encodeURIComponent(intersection)}?wait=${wait}`, {
          method: 'GET',
          headers: etag ? { 'if-none-match': etag } : {},
          timeoutMs: (wait + 5) * 1000,
        });
        if (r.status === 200) {
          const parsed = PreemptionFeedSchema.safeParse(await r.json());
          if (!parsed.success || parsed.data.intersection !== intersection) {
            this.counters.refused++;
            this.o.log?.(`${intersection}: malformed pre-emption windows from the centre`);
            await new Promise((res) => setTimeout(res, 1000));
          } else {
            const v = this.o.controller.receivePreemptions(intersection, parsed.data.windows, this.o.now());
            if (!v.ok) {
              this.counters.refused++;
              this.o.log?.(`${intersection}: pre-emption windows refused: ${v.reasons.map((x) => x.message).join('; ')}`);
            }
            this.counters.updates++;
            etag = r.header('etag') ?? null;
          }
          delay = 250;
        } else if (r.status === 304) {
          await r.discard();
          this.counters.notModified++;
          delay = 250;
        } else {
          await r.discard();
          // 404 (a centre without emergency routing, or an unsignalised intersection), 403, 429: wait and try again.
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
}
