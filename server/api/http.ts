/**
 * Shared HTTP pieces: the app's context type, JSON errors, bearer authentication, role checks
 * and per-token rate limits.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { AuthService, AuthUser } from '../auth/AuthService.ts';
import { ROLES, type Role } from '../db/schema.ts';

export type AppEnv = { Variables: { user: AuthUser } };

export interface ErrorBody {
  error: { message: string; fields?: { path: string; message: string }[] };
}

export function errorBody(message: string, fields?: { path: string; message: string }[]): ErrorBody {
  return fields ? { error: { message, fields } } : { error: { message } };
}

export function zodFields(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

/** Validation failures from route schemas answer 400 with the failing fields. */
export function validationHook(result: { success: boolean; error?: z.ZodError; target?: string }, c: Context) {
  if (!result.success && result.error) {
    return c.json(errorBody(`invalid ${result.target ?? 'request'}`, zodFields(result.error)), 400);
  }
  return undefined;
}

export function authenticate(auth: AuthService): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    // Browsers cannot set headers on WebSocket upgrades; the viewer passes the token as a query parameter.
    const token = m?.[1] ?? c.req.query('token');
    if (!token) return c.json(errorBody('missing bearer token'), 401);
    const user = auth.cached(token) ?? (await auth.authenticate(token));
    if (!user) return c.json(errorBody('invalid or revoked token'), 401);
    c.set('user', user);
    await next();
  };
}

export function requireRole(...roles: Role[]): MiddlewareHandler<AppEnv> {
  const allowed = new Set<Role>(['admin', ...roles]);
  return async (c, next) => {
    const user = c.get('user');
    if (!allowed.has(user.role)) {
      return c.json(errorBody(`role ${user.role} may not do this (needs ${[...allowed].join(' or ')})`), 403);
    }
    await next();
  };
}

/**
 * Who may call a route, declared once where the route is defined: `'public'` (no token),
 * `'any'` (any valid token) or the roles allowed (admin always is). `guard` puts the declaration
 * into the OpenAPI document as `x-roles` and enforces it with the same list, so the two cannot
 * drift; test/server/roles.test.ts fails for any route without a declaration.
 */
export type Access = 'public' | 'any' | readonly Role[];

/** The roles an access declaration admits (admin is always among them). */
export function allowedRoles(access: Access): Role[] {
  if (access === 'public' || access === 'any') return [...ROLES];
  return ROLES.filter((r) => r === 'admin' || access.includes(r));
}

/** Adds the role declaration (`x-roles`), the bearer security requirement and its enforcement to a route. */
export function guard<R extends object>(access: Exclude<Access, 'public'>, route: R): R & { 'x-roles': Role[]; security: { Bearer: string[] }[]; middleware: MiddlewareHandler<AppEnv>[] } {
  const roles = allowedRoles(access);
  const middleware: MiddlewareHandler<AppEnv>[] = access === 'any' ? [] : [requireRole(...roles)];
  return { ...route, 'x-roles': roles, security: [{ Bearer: [] }], middleware };
}

/**
 * Routes outside the OpenAPI document (operations endpoints, WebSocket upgrades, the viewer),
 * with their access, so the role test covers them too. Key: `METHOD path` as Hono registers it.
 */
export const UNDOCUMENTED_ROUTES = new Map<string, Access>();

/** A controller may act only on its own intersections; other roles pass. */
export function mayActOn(user: AuthUser, intersectionId: string): boolean {
  return user.role !== 'controller' || user.intersections.includes(intersectionId);
}

/**
 * Token-bucket rate limit per authenticated user: `perSecond` sustained, `burst` at once.
 * Chosen over fixed windows so a client cannot double its rate across a window edge.
 */
export class TokenBuckets {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `id`: 0 if granted, else the seconds until one is available. */
  take(id: number): number {
    const t = this.now();
    let b = this.buckets.get(id);
    if (!b) this.buckets.set(id, (b = { tokens: this.burst, at: t }));
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    if (b.tokens < 1) return (1 - b.tokens) / this.perSecond;
    b.tokens -= 1;
    return 0;
  }
}

export function rateLimit(name: string, perSecond: number, burst: number, now: () => number = () => performance.now()): MiddlewareHandler<AppEnv> {
  const buckets = new TokenBuckets(perSecond, burst, now);
  return async (c, next) => {
    const wait = buckets.take(c.get('user').id);
    if (wait > 0) {
      c.header('retry-after', String(Math.ceil(wait)));
      return c.json(errorBody(`rate limit on ${name}: ${perSecond}/s`), 429);
    }
    await next();
  };
}
