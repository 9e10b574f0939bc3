/**
 * An edge agent as an RTAS compute node: it long-polls the jobs the centre placed on it, runs
 * each with the same function the centre would (so only where and when it runs differ) and posts
 * the result. `slowdown` repeats the computation (a weaker or busier node, for the fault
 * evaluation); a node's network delay is whatever its requests meet on the way.
 */
import { z } from 'zod';
import type { Site } from '../policies/sites.ts';
import { PlanJobSchema, computePlanJob } from '../rtas/planJob.ts';

const JobsSchema = z.object({ jobs: z.array(PlanJobSchema) });

export interface JobWorkerOptions {
  server: string;
  token: string;
  node: string;
  sites: Map<string, Site>;
  slowdown?: number;
  log?: (line: string) => void;
}

export class JobWorker {
  private running = false;
  private abort: AbortController | null = null;
  readonly counters = { done: 0, failed: 0 };

  constructor(private readonly o: JobWorkerOptions) {}

  start(): void {
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.running = false;
    this.abort?.abort();
  }

  private async loop(): Promise<void> {
    let delay = 250;
    const auth = { authorization: `Bearer ${this.o.token}` };
    while (this.running) {
      try {
        this.abort = new AbortController();
        const timer = setTimeout(() => this.abort?.abort(), 15_000);
        const r = await fetch(`${this.o.server}/api/rtas/jobs?node=${encodeURIComponent(this.o.node)}&wait=10`, { headers: auth, signal: this.abort.signal }).finally(() => clearTimeout(timer));
        if (!r.ok) {
          await r.body?.cancel();
          throw new Error(`jobs: ${r.status}`);
        }
        const { jobs } = JobsSchema.parse(await r.json());
        for (const job of jobs) {
          const site = this.o.sites.get(job.intersection);
          if (!site) continue;
          const t0 = performance.now();
          let res = computePlanJob(site, job.flow);
          for (let k = 1; k < (this.o.slowdown ?? 1); k++) res = computePlanJob(site, job.flow);
          const computeMs = performance.now() - t0;
          const p = await fetch(`${this.o.server}/api/rtas/jobs/${encodeURIComponent(job.id)}/result`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ node: this.o.node, greens: res.greens, cycle: res.cycle, computeMs }),
            signal: AbortSignal.timeout(5000),
          });
          await p.body?.cancel();
          if (p.status === 204) this.counters.done++;
          else this.counters.failed++;
        }
        delay = 250;
      } catch {
        if (!this.running) return;
        this.counters.failed++;
        await new Promise((res) => setTimeout(res, delay));
        delay = Math.min(5000, delay * 2);
      }
    }
  }
}
