/**
 * Shared HTTP pieces: the app's context type, JSON errors, bearer authentication, role checks
 * and per-token rate limits.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { AuthService, AuthUser } from '../auth/AuthService.ts';
import type { Role } from '../db/schema.ts';

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
    const user = await auth.authenticate(token);
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

/** A controller may act only on its own intersections; other roles pass. */
export function mayActOn(user: AuthUser, intersectionId: string): boolean {
  return user.role !== 'controller' || user.intersections.includes(intersectionId);
}

/**
 * Token-bucket rate limit per authenticated user: `perSecond` sustained, `burst` at once.
 * Chosen over fixed windows so a client cannot double its rate across a window edge.
 */
export function rateLimit(name: string, perSecond: number, burst: number, now: () => number = () => performance.now()): MiddlewareHandler<AppEnv> {
  const buckets = new Map<number, { tokens: number; at: number }>();
  return async (c, next) => {
    const id = c.get('user').id;
    const t = now();
    let b = buckets.get(id);
    if (!b) buckets.set(id, (b = { tokens: burst, at: t }));
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
    b.at = t;
    if (b.tokens < 1) {
      c.header('retry-after', String(Math.ceil((1 - b.tokens) / perSecond)));
      return c.json(errorBody(`rate limit on ${name}: ${perSecond}/s`), 429);
    }
    b.tokens -= 1;
    await next();
  };
}
