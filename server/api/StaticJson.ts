/**
 * Large JSON answers that do not change while the service runs (the network the viewer draws, the
 * roadnet edge processes start from): serialised and gzipped once per source object, answered with
 * an ETag (304 when the client has it) and gzip to clients that take it.
 *
 * Why not stringify per request and let the compress middleware do the rest: on `grid:30x30` the
 * network view is 12.2 MB of JSON, and `c.json` spent about 0.35 s of the event loop on every
 * request (seen as the whole request's time) — a stall for every plan poll behind it — and gzip
 * would redo 12 MB of work per viewer load. Gzipped it is 1.9 MB.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { parseAccept } from 'hono/utils/accept';
import type { AppEnv } from './http.ts';

const gzipAsync = promisify(gzip);

interface Built {
  json: Uint8Array<ArrayBuffer>;
  gzipped: Uint8Array<ArrayBuffer>;
  etag: string;
}

/** Whether an Accept-Encoding header admits gzip (named, or `*`, with a weight above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  const accepts = parseAccept(header);
  const q = (accepts.find((a) => a.type.toLowerCase() === 'gzip') ?? accepts.find((a) => a.type === '*'))?.q ?? 0;
  return q > 0;
}

export class StaticJson {
  private cached: { source: unknown; built: Promise<Built> } | null = null;

  /** `source` is called per request; a different object than last time is serialised anew. */
  constructor(private readonly source: () => unknown) {}

  private build(): Promise<Built> {
    const source = this.source();
    if (!this.cached || this.cached.source !== source) this.cached = { source, built: StaticJson.serialise(source) };
    return this.cached.built;
  }

  private static async serialise(source: unknown): Promise<Built> {
    const json = new TextEncoder().encode(JSON.stringify(source));
    // zlib's asynchronous gzip runs on the thread pool, off the event loop.
    const gzipped = new Uint8Array(await gzipAsync(json));
    return { json, gzipped, etag: `"${createHash('sha1').update(json).digest('base64url')}"` };
  }

  async respond(c: Context): Promise<Response> {
    const b = await this.build();
    const headers: Record<string, string> = { etag: b.etag, vary: 'Accept-Encoding', 'cache-control': 'no-cache' };
    if (c.req.header('if-none-match') === b.etag) return c.body(null, 304, headers);
    const gz = acceptsGzip(c.req.header('accept-encoding'));
    if (gz) headers['content-encoding'] = 'gzip';
    headers['content-type'] = 'application/json';
    return c.body(gz ? b.gzipped : b.json, 200, headers);
  }
}

/**
 * Serves a documented GET route (no path parameters) from a `StaticJson`: documented in the
 * OpenAPI registry and role-checked like every route, answered outside `app.openapi`'s typed
 * JSON responses because the body is bytes already serialised.
 */
export function serveStaticJson(app: OpenAPIHono<AppEnv>, route: RouteConfig & { middleware: MiddlewareHandler<AppEnv>[] }, source: () => unknown): void {
  app.openAPIRegistry.registerPath(route);
  for (const roleCheck of route.middleware) app.on('GET', route.path, roleCheck);
  const body = new StaticJson(source);
  app.get(route.path, (c) => body.respond(c));
}
