/**
 * Bearer tokens with roles. Tokens are random 32-byte strings shown once; only their SHA-256 is
 * stored. Lookups are cached in memory (tokens are revoked through this service, which clears
 * the cache), so authentication costs a hash and a map lookup per request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/Database.ts';
import { users, type Role } from '../db/schema.ts';

export interface AuthUser {
  id: number;
  name: string;
  role: Role;
  /** Intersections a controller is bound to (empty for other roles). */
  intersections: string[];
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export class AuthService {
  private readonly cache = new Map<string, AuthUser | null>();
  /**
   * Tokens seen recently → their user, so a poll costs one map lookup (no hash, no promise).
   * Bounded, and cleared with `cache` on every change to users.
   */
  private readonly recent = new Map<string, AuthUser>();

  constructor(private readonly db: Db) {}

  /** The user of a token seen recently, without touching the database; undefined if not known. */
  cached(token: string): AuthUser | undefined {
    return this.recent.get(token);
  }

  async authenticate(token: string): Promise<AuthUser | null> {
    const known = this.recent.get(token);
    if (known) return known;
    const user = await this.lookup(token);
    if (user) {
      if (this.recent.size >= 10_000) this.recent.clear();
      this.recent.set(token, user);
    }
    return user;
  }

  private async lookup(token: string): Promise<AuthUser | null> {
    const h = hashToken(token);
    const hit = this.cache.get(h);
    if (hit !== undefined) return hit;
    const [row] = await this.db.select().from(users).where(eq(users.tokenHash, h)).limit(1);
    const user = row && !row.revoked ? { id: row.id, name: row.name, role: row.role, intersections: row.intersections } : null;
    // Unknown tokens are not cached, so a flood of random tokens cannot grow memory.
    if (user) this.cache.set(h, user);
    return user;
  }

  /** Creates a user and returns its token (the only time it is visible). */
  async createUser(name: string, role: Role, intersections: string[] = [], token = newToken()): Promise<{ user: AuthUser; token: string }> {
    const [row] = await this.db
      .insert(users)
      .values({ name, role, intersections, tokenHash: hashToken(token) })
      .returning();
    return { user: { id: row.id, name: row.name, role: row.role, intersections: row.intersections }, token };
  }

  /**
   * A fresh token for a named user, creating the user if needed (in-process agents get a new
   * token every start; the old one stops working).
   */
  async issueToken(name: string, role: Role, intersections: string[] = []): Promise<string> {
    const token = newToken();
    const [existing] = await this.db.select().from(users).where(eq(users.name, name)).limit(1);
    if (!existing) return (await this.createUser(name, role, intersections, token)).token;
    await this.db.update(users).set({ role, intersections, tokenHash: hashToken(token), revoked: false }).where(eq(users.id, existing.id));
    this.cache.clear();
    this.recent.clear();
    return token;
  }

  async revoke(name: string): Promise<boolean> {
    const rows = await this.db.update(users).set({ revoked: true }).where(eq(users.name, name)).returning();
    this.cache.clear();
    this.recent.clear();
    return rows.length > 0;
  }

  async list(): Promise<(AuthUser & { revoked: boolean; createdAt: Date })[]> {
    const rows = await this.db.select().from(users).orderBy(users.id);
    return rows.map((r) => ({ id: r.id, name: r.name, role: r.role, intersections: r.intersections, revoked: r.revoked, createdAt: r.createdAt }));
  }

  /**
   * Makes sure an admin exists. With `token` given (ADMIN_TOKEN) that token is the admin's;
   * otherwise a token is generated on first start and returned so it can be printed once.
   */
  async ensureAdmin(token?: string): Promise<string | null> {
    const [existing] = await this.db.select().from(users).where(eq(users.name, 'admin')).limit(1);
    if (existing) {
      if (token && existing.tokenHash !== hashToken(token)) {
        await this.db.update(users).set({ tokenHash: hashToken(token), revoked: false }).where(eq(users.id, existing.id));
        this.cache.clear();
        this.recent.clear();
      }
      return null;
    }
    const created = await this.createUser('admin', 'admin', [], token ?? newToken());
    return token ? null : created.token;
  }
}
