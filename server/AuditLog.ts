/** The audit trail: who did what to which thing, and why. Entries are only ever appended. */
import { desc, eq } from 'drizzle-orm';
import type { Db } from './db/Database.ts';
import { auditLog } from './db/schema.ts';

export interface AuditEntry {
  actor: string;
  action: string;
  target: string;
  detail?: Record<string, unknown>;
}

export class AuditLog {
  constructor(private readonly db: Db) {}

  async record(e: AuditEntry): Promise<void> {
    await this.db.insert(auditLog).values({ actor: e.actor, action: e.action, target: e.target, detail: e.detail ?? {} });
  }

  async recent(limit = 100, target?: string) {
    const q = this.db.select().from(auditLog);
    const rows = await (target ? q.where(eq(auditLog.target, target)) : q).orderBy(desc(auditLog.id)).limit(limit);
    return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
  }
}
