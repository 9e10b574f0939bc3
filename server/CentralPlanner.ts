/**
 * Central adaptive timing: every planning interval, Webster's cycle and splits for each
 * intersection from the demand the twin measured (its estimated departures per movement, never
 * the field's truth), published as a new plan version through the plan store (and so through
 * the shared validator) when the splits moved enough to matter. Each plan carries the time of the
 * newest sensor reading it rests on, from which the edge measures the control-loop latency.
 */
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import type { TrafficObservation } from '../twin/state/TrafficObservation.ts';
import { makePlan } from '../signal-controllers/plans.ts';
import { controlSites, type Site } from '../signal-controllers/policies/sites.ts';
import type { PlanTemplate } from '../signal-controllers/plans.ts';
import { computePlanJob, planTemplateOf, type PlanJob, type PlanResult } from '../signal-controllers/rtas/planJob.ts';
import type { PlanStore } from './PlanStore.ts';

/** Runs a plan job somewhere (RTAS: on the node it placed the intersection's plan task on); null when it failed. */
export type PlanJobRunner = (job: PlanJob) => Promise<PlanResult | null>;

interface PlannedSite {
  site: Site;
  template: PlanTemplate;
  departures: Float64Array;
  lastGreens: number[] | null;
}

export interface PlannerOptions {
  /** Seconds between plans (field clock). */
  interval: number;
  /** Relative change of any green below which no new plan is published. */
  minChange: number;
}

export class CentralPlanner {
  private readonly sites: PlannedSite[];
  private windowStart = 0;
  private lastSample = 0;
  published = 0;

  constructor(
    net: RoadNetwork,
    private readonly plans: PlanStore,
    private readonly options: PlannerOptions = { interval: 300, minChange: 0.1 },
    /** Where plan jobs run (RTAS); without one the planner computes them itself. */
    private readonly runner: PlanJobRunner | null = null,
    /** Told of every plan published: which node computed it. */
    private readonly onPublished: (intersection: string, version: number, node: string) => void = () => {},
  ) {
    this.sites = controlSites(net).sites.map((site) => ({ site, template: planTemplateOf(site).template, departures: new Float64Array(net.movements.length), lastGreens: null }));
  }

  /**
   * Feeds the twin's observation (call every `obs.interval` seconds so departure counts add up)
   * and publishes plans when a planning interval is over.
   */
  async update(obs: TrafficObservation, now: number, sensorTime: number): Promise<void> {
    if (now - this.lastSample >= obs.interval - 1e-9) {
      this.lastSample = now;
      for (const p of this.sites) for (let m = 0; m < obs.movementDepartures.length; m++) p.departures[m] += obs.movementDepartures[m];
    }
    const span = now - this.windowStart;
    if (span < this.options.interval) return;
    this.windowStart = now;
    const round: Promise<void>[] = [];
    for (const p of this.sites) {
      const local = p.site.safety.globalMovement;
      const flow = Array.from(local, (g) => p.departures[g] / span);
      p.departures.fill(0);
      const job: PlanJob = { id: `${p.site.safety.id}@${Math.round(now)}`, cls: 'plan', intersection: p.site.safety.id, flow, sensorTime };
      if (!this.runner) {
        const t0 = performance.now();
        const r = computePlanJob(p.site, flow);
        await this.publishGreens(p, { node: 'centre', greens: r.greens, cycle: r.cycle, computeMs: performance.now() - t0 }, span, sensorTime);
      } else {
        // Jobs run on their nodes concurrently; the field's clock does not wait for them.
        round.push(this.runner(job).then((r) => (r ? this.publishGreens(p, r, span, sensorTime) : undefined)));
      }
    }
    if (round.length) void Promise.allSettled(round);
  }

  private async publishGreens(p: PlannedSite, r: PlanResult, span: number, sensorTime: number): Promise<void> {
    const greens = r.greens;
    if (greens.length !== p.template.phaseIds.length) return;
    if (p.lastGreens && greens.every((g, k) => Math.abs(g - p.lastGreens![k]) <= this.options.minChange * p.lastGreens![k])) return;
    const plan = makePlan(p.template, { control: 'fixed-time', green: greens, minGreen: 7, maxGreen: 90 });
    const res = await this.plans.publish(
      { ...plan, basis: { sensorTime, computedBy: r.node } },
      'system:central-planner',
      `Webster from the twin's measured demand over ${Math.round(span)} s (cycle ${Math.round(r.cycle)} s), computed on ${r.node}`,
    );
    if (res.ok) {
      p.lastGreens = greens;
      this.published++;
      this.onPublished(p.site.safety.id, res.current.version, r.node);
    }
  }
}
