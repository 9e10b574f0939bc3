/**
 * The panels' HTTP calls: bearer token, JSON in and out, and every answer validated with a zod
 * schema, so a panel sees typed data or a message naming what went wrong (status, field).
 */
import type { z } from 'zod';

export type ApiResult<T> = { ok: true; status: number; data: T } | { ok: false; status: number; message: string };

export class ApiClient {
  constructor(private readonly token: string) {}

  async call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<ApiResult<z.infer<S>>> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (e) {
      return { ok: false, status: 0, message: `the server cannot be reached (${e instanceof Error ? e.message : String(e)})` };
    }
    let json: unknown = null;
    try {
      json = await res.json();
    } catch {
      /* an empty or non-JSON body */
    }
    if (!res.ok) return { ok: false, status: res.status, message: errorMessage(res.status, json) };
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      return { ok: false, status: res.status, message: `unexpected answer from ${method} ${path}: ${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid'}` };
    }
    return { ok: true, status: res.status, data: parsed.data };
  }

  get<S extends z.ZodType>(path: string, schema: S): Promise<ApiResult<z.infer<S>>> {
    return this.call('GET', path, schema);
  }

  private routes: Promise<Map<string, Set<string>>> | null = null;

  /**
   * The service's documented routes (path → methods, from /api/openapi.json, fetched once), so a
   * panel can tell "this service has no such feature" without provoking a 404.
   */
  documentedRoutes(): Promise<Map<string, Set<string>>> {
    this.routes ??= fetch('api/openapi.json', { cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : { paths: {} }))
      .then((doc: { paths?: Record<string, Record<string, unknown>> }) => new Map(Object.entries(doc.paths ?? {}).map(([p, ops]) => [p, new Set(Object.keys(ops).map((m) => m.toUpperCase()))])))
      .catch(() => new Map());
    return this.routes;
  }

  async hasRoute(method: string, path: string): Promise<boolean> {
    return (await this.documentedRoutes()).get(path)?.has(method.toUpperCase()) ?? false;
  }
}

/** The server's `{error:{message, fields}}` as one line. */
function errorMessage(status: number, json: unknown): string {
  const err = (json as { error?: { message?: unknown; fields?: { path?: unknown; message?: unknown }[] } } | null)?.error;
  if (err && typeof err.message === 'string') {
    const fields = Array.isArray(err.fields) ? err.fields.map((f) => `${String(f.path)}: ${String(f.message)}`).join('; ') : '';
    return `${status}: ${err.message}${fields ? ` (${fields})` : ''}`;
  }
  if (status === 404) return '404: not available on this server';
  return `the server answered ${status}`;
}
