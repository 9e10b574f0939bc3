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
import { SATURATION_FLOW, criticalRatios, planPhases, websterTiming } from '../signal-controllers/policies/webster.ts';
import type { PlanTemplate } from '../signal-controllers/plans.ts';
import type { PlanStore } from './PlanStore.ts';

interface PlannedSite {
  site: Site;
  template: PlanTemplate;
  lost: number[];
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
  ) {
    this.sites = controlSites(net).sites.map((site) => {
      const template = planPhases(site, false);
      return { site, template, lost: template.yellow.map((y, k) => y + template.allRed[k]), departures: new Float64Array(net.movements.length), lastGreens: null };
    });
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
    for (const p of this.sites) {
      const local = p.site.safety.globalMovement;
      const flow = Float64Array.from(local, (g) => p.departures[g] / span);
      p.departures.fill(0);
      const w = websterTiming(criticalRatios(p.template, p.site, flow, SATURATION_FLOW), p.lost);
      const greens = w.greens.map((g) => Math.round(Math.max(7, g)));
      if (p.lastGreens && greens.every((g, k) => Math.abs(g - p.lastGreens![k]) <= this.options.minChange * p.lastGreens![k])) continue;
      const plan = makePlan(p.template, { control: 'fixed-time', green: greens, minGreen: 7, maxGreen: 90 });
      const r = await this.plans.publish(
        { ...plan, basis: { sensorTime } },
        'system:central-planner',
        `Webster from the twin's measured demand over ${Math.round(span)} s (Y = ${w.Y.toFixed(2)}, cycle ${Math.round(w.cycle)} s)`,
      );
      if (r.ok) {
        p.lastGreens = greens;
        this.published++;
      }
    }
  }
}
