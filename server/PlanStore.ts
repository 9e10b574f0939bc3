/**
 * Timing plans as the service keeps them: every publish passes the shared safety validator,
 * gets the next version for its intersection and is stored (never overwritten) and audited
 * before it becomes current. Controllers poll the current plan with an ETag and may wait for the
 * next one (long-poll); the current plan of each intersection is held in memory, serialised
 * once, so a poll costs a map lookup.
 */
import { and, desc, eq } from 'drizzle-orm';
import type { RoadNetwork } from '../twin/network/RoadNetwork.ts';
import { intersectionSafety, validatePlan, type IntersectionSafety, type SafetyIssue } from '../signal-controllers/SafetyValidator.ts';
import type { TimingPlan } from '../signal-controllers/TimingPlan.ts';
import type { AuditLog } from './AuditLog.ts';
import type { Db } from './db/Database.ts';
import { timingPlans } from './db/schema.ts';

export interface CurrentPlan {
  plan: TimingPlan;
  version: number;
  etag: string;
  /** The plan as JSON, serialised once. */
  json: string;
  publishedAt: number;
  createdBy: string;
}

export type PublishResult = { ok: true; current: CurrentPlan } | { ok: false; status: 404 | 422; reasons: SafetyIssue[] };

export class PlanStore {
  private readonly current = new Map<string, CurrentPlan>();
  private readonly waiters = new Map<string, Set<(p: CurrentPlan) => void>>();
  private readonly safety = new Map<string, IntersectionSafety>();
  private readonly listeners: ((p: CurrentPlan) => void)[] = [];
  /** Publishes to one intersection run one at a time, so versions never race. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: Db,
    net: RoadNetwork,
    private readonly audit: AuditLog,
  ) {
    for (const it of net.intersections) if (!it.virtual) this.safety.set(it.id, intersectionSafety(net, it.index));
  }

  /** Loads the latest stored plan of every intersection (after a restart). */
  async load(): Promise<void> {
    const rows = await this.db.select().from(timingPlans).orderBy(desc(timingPlans.version));
    for (const r of rows) {
      if (this.current.has(r.intersectionId) || !this.safety.has(r.intersectionId)) continue;
      this.current.set(r.intersectionId, this.entry(r.plan as TimingPlan, r.version, r.createdAt.getTime(), r.createdBy));
    }
  }

  private entry(plan: TimingPlan, version: number, publishedAt: number, createdBy: string): CurrentPlan {
    return { plan, version, etag: `"${plan.intersection}:v${version}"`, json: JSON.stringify(plan), publishedAt, createdBy };
  }

  safetyOf(intersection: string): IntersectionSafety | undefined {
    return this.safety.get(intersection);
  }

  get(intersection: string): CurrentPlan | undefined {
    return this.current.get(intersection);
  }

  intersections(): string[] {
    return [...this.safety.keys()];
  }

  /** Called for every new current plan (streams, edge controllers in-process). */
  onPublish(fn: (p: CurrentPlan) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Validates and stores a plan as the intersection's next version. The version in the input
   * is replaced by the next free one.
   */
  publish(input: unknown, actor: string, reason: string): Promise<PublishResult> {
    const id = typeof input === 'object' && input !== null && 'intersection' in input ? String((input as { intersection: unknown }).intersection) : '';
    const prev = this.chains.get(id) ?? Promise.resolve();
    const run = prev.then(() => this.publishNow(id, input, actor, reason));
    this.chains.set(
      id,
      run.catch(() => undefined),
    );
    return run;
  }

  private async publishNow(id: string, input: unknown, actor: string, reason: string): Promise<PublishResult> {
    const safety = this.safety.get(id);
    if (!safety) return { ok: false, status: 404, reasons: [{ code: 'structure', message: `no signalised intersection "${id}"` }] };
    const version = (this.current.get(id)?.version ?? 0) + 1;
    const candidate = { ...(input as object), version };
    const verdict = validatePlan(candidate, safety);
    if (!verdict.ok) {
      await this.audit.record({ actor, action: 'plan.refuse', target: `intersection:${id}`, detail: { reason, reasons: verdict.reasons } });
      return { ok: false, status: 422, reasons: verdict.reasons };
    }
    const plan = candidate as TimingPlan;
    const [row] = await this.db.insert(timingPlans).values({ intersectionId: id, version, plan, createdBy: actor, reason }).returning();
    await this.audit.record({ actor, action: 'plan.publish', target: `intersection:${id}`, detail: { version, reason } });
    const cur = this.entry(plan, version, row.createdAt.getTime(), actor);
    this.current.set(id, cur);
    const ws = this.waiters.get(id);
    if (ws) {
      this.waiters.delete(id);
      for (const w of ws) w(cur);
    }
    for (const l of this.listeners) l(cur);
    return { ok: true, current: cur };
  }

  /** Resolves with the current plan once its ETag differs from `etag`, or null after `timeoutMs`. */
  waitForChange(intersection: string, etag: string | undefined, timeoutMs: number): Promise<CurrentPlan | null> {
    const cur = this.current.get(intersection);
    if (cur && cur.etag !== etag) return Promise.resolve(cur);
    if (timeoutMs <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      let set = this.waiters.get(intersection);
      if (!set) this.waiters.set(intersection, (set = new Set()));
      const done = (p: CurrentPlan | null) => {
        clearTimeout(timer);
        set!.delete(done as (p: CurrentPlan) => void);
        resolve(p);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      set.add(done as (p: CurrentPlan) => void);
    });
  }

  async history(intersection: string, limit = 50) {
    const rows = await this.db
      .select()
      .from(timingPlans)
      .where(and(eq(timingPlans.intersectionId, intersection)))
      .orderBy(desc(timingPlans.version))
      .limit(limit);
    return rows.map((r) => ({ version: r.version, createdBy: r.createdBy, reason: r.reason, createdAt: r.createdAt.toISOString(), plan: r.plan }));
  }
}
