/**
 * The Hono application: every route, its zod schemas (which also generate the OpenAPI document at
 * /api/openapi.json), authentication and role checks. Pure wiring over the services it is given.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Hono, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { compress } from 'hono/compress';
import { HTTPException } from 'hono/http-exception';
import type { AuthService } from '../auth/AuthService.ts';
import type { AuditLog } from '../AuditLog.ts';
import type { Database } from '../db/Database.ts';
import { ROLES } from '../db/schema.ts';
import type { Metrics } from '../Metrics.ts';
import { authenticate, errorBody, guard, UNDOCUMENTED_ROUTES, validationHook, type AppEnv } from './http.ts';
import { ErrorSchema, errorResponses } from './schemas.ts';
import { serveStaticJson } from './StaticJson.ts';

export { errorResponses };

export interface ServiceStatus {
  /** Simulation time of the twin (s). */
  simTime: number;
  /** How far the tick loop is behind schedule (s). */
  tickLagSeconds: number;
  /** TensorFlow.js backend in use by the forecaster, once initialised. */
  forecastBackend: string | null;
  /** Intersection-steps the field showed an unsafe signal state (must be 0). */
  unsafeSignalStates: number;
}

export interface Services {
  database: Database;
  auth: AuthService;
  audit: AuditLog;
  metrics: Metrics;
  status(): ServiceStatus;
  /** The network as the viewer draws it (see NetworkView). */
  networkView(): unknown;
}

/** Route modules add themselves to the app with the services they need. */
export type RouteModule = (app: OpenAPIHono<AppEnv>, services: Services) => void;

const RoleSchema = z.enum(ROLES);

const CreateUserSchema = z
  .object({
    name: z.string().min(1).max(64).regex(/^[\w.-]+$/, 'letters, digits, _ . - only'),
    role: RoleSchema,
    intersections: z.array(z.string().min(1)).default([]),
  })
  .refine((u) => u.role !== 'controller' || u.intersections.length > 0, {
    message: 'a controller must be bound to at least one intersection',
    path: ['intersections'],
  })
  .openapi('CreateUser');

/** What edge controllers poll, often and with small answers (plans, pre-emptions, RTAS jobs, the field clock). */
const EDGE_POLLING_PATHS = /^\/api\/(plans\/[^/]+|emergency\/preemptions\/[^/]+|rtas\/jobs|field\/clock)$/;

/** Request body limits in bytes: `default` for every route, `byPath` for routes that take more. */
export interface BodyLimits {
  default: number;
  byPath: Record<string, number>;
}

const MiB = 1 << 20;

/** A 413 naming the limit, before any of the body is parsed. */
function limitBody(bytes: number): MiddlewareHandler<AppEnv> {
  const size = bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
  return bodyLimit({
    maxSize: bytes,
    onError: (c) => {
      // The rest of the body is not read, so this connection cannot carry another request: say so,
      // or a client's pool may send its next request on a socket the server is closing.
      c.header('Connection', 'close');
      return c.json(errorBody(`request body over ${size}; split it or raise the limit`), 413);
    },
  });
}

export function createApp(services: Services, modules: RouteModule[] = [], limits: BodyLimits = { default: MiB, byPath: {} }): Hono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openAPIRegistry.registerComponent('securitySchemes', 'Bearer', { type: 'http', scheme: 'bearer' });

  app.onError((err, c) => {
    // The client's fault, found by Hono before the handler (a body that is not JSON, a wrong
    // content type): its status and message, not a logged 500.
    if (err instanceof HTTPException && err.status < 500) {
      const message = err.status === 415 ? `unsupported content-type ${c.req.header('content-type') ?? '(none)'}: send application/json` : err.message;
      return c.json(errorBody(message), err.status);
    }
    console.error(`${c.req.method} ${c.req.path}:`, err);
    return c.json(errorBody('internal error'), 500);
  });
  app.notFound((c) => c.json(errorBody(`no route ${c.req.method} ${c.req.path}`), 404));

  // GET answers are gzipped for clients that take it (browsers, scrapers): on grid:30x30 the
  // controller list is 285 KB of JSON, 9.6 KB gzipped. Not on the edge controllers' polling paths:
  // their answers are small, and the plan poll's headers are built once per plan (plans.ts),
  // which the middleware's Vary header would undo on every poll.
  const gzip = compress();
  app.use('*', (c, next) => (c.req.method === 'GET' && !EDGE_POLLING_PATHS.test(c.req.path) ? gzip(c, next) : next()));

  // Bodies are read whole before validation: without a limit one request could fill the memory.
  const defaultLimit = limitBody(limits.default);
  const pathLimits = new Map(Object.entries(limits.byPath).map(([path, bytes]) => [path, limitBody(bytes)]));
  app.use('/api/*', (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : (pathLimits.get(c.req.path) ?? defaultLimit)(c, next)));

  // ---- unauthenticated operations endpoints
  UNDOCUMENTED_ROUTES.set('GET /health', 'public');
  UNDOCUMENTED_ROUTES.set('GET /metrics', 'public');
  UNDOCUMENTED_ROUTES.set('GET /api/openapi.json', 'public');
  app.get('/health', async (c) => {
    let dbOk = false;
    try {
      dbOk = await services.database.ping();
    } catch {
      dbOk = false;
    }
    const s = services.status();
    const body = {
      status: dbOk ? 'ok' : 'degraded',
      database: { kind: services.database.kind, ok: dbOk },
      forecastBackend: s.forecastBackend,
      simTime: s.simTime,
      tickLagSeconds: s.tickLagSeconds,
      unsafeSignalStates: s.unsafeSignalStates,
    };
    return c.json(body, dbOk ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    c.header('content-type', services.metrics.registry.contentType);
    return c.body(await services.metrics.registry.metrics());
  });

  // ---- everything under /api needs a token
  const authenticated = authenticate(services.auth);
  app.use('/api/*', async (c, next) => {
    if (c.req.path === '/api/openapi.json') return next();
    return authenticated(c, next);
  });

  serveStaticJson(
    app,
    guard('any', {
      method: 'get',
      path: '/api/network',
      summary: 'The network: intersections, roads, lanes and movements with their geometry (gzip when accepted; ETag)',
      responses: { 200: { description: 'The network', content: { 'application/json': { schema: z.object({}).passthrough() } } }, 304: { description: 'Unchanged since the ETag given' }, ...errorResponses },
    }),
    () => services.networkView(),
  );

  app.openapi(
    createRoute(guard('any', {
      method: 'get',
      path: '/api/me',
      summary: 'Who the token belongs to (a cheap token check)',
      responses: {
        200: { description: 'The caller', content: { 'application/json': { schema: z.object({ name: z.string(), role: RoleSchema, intersections: z.array(z.string()) }) } } },
        ...errorResponses,
      },
    })),
    (c) => {
      const u = c.get('user');
      return c.json({ name: u.name, role: u.role, intersections: u.intersections }, 200);
    },
  );

  const UserSchema = z.object({ id: z.number(), name: z.string(), role: RoleSchema, intersections: z.array(z.string()) }).openapi('User');
  app.openapi(
    createRoute(guard([], {
      method: 'post',
      path: '/api/users',
      summary: 'Create a user with a role; returns its bearer token once (admin)',
      request: { body: { required: true, content: { 'application/json': { schema: CreateUserSchema } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: z.object({ user: UserSchema, token: z.string() }) } } },
        409: { description: 'Name taken', content: { 'application/json': { schema: ErrorSchema } } },
        ...errorResponses,
      },
    })),
    async (c) => {
      const body = c.req.valid('json');
      const existing = (await services.auth.list()).find((u) => u.name === body.name);
      if (existing) return c.json(errorBody(`user ${body.name} exists`), 409);
      const created = await services.auth.createUser(body.name, body.role, body.intersections);
      await services.audit.record({ actor: c.get('user').name, action: 'user.create', target: `user:${body.name}`, detail: { role: body.role, intersections: body.intersections } });
      return c.json(created, 201);
    },
  );
  app.openapi(
    createRoute(guard([], {
      method: 'get',
      path: '/api/users',
      summary: 'List users (admin)',
      responses: { 200: { description: 'Users', content: { 'application/json': { schema: z.object({ users: z.array(UserSchema.extend({ revoked: z.boolean() })) }) } } }, ...errorResponses },
    })),
    async (c) => {
      const list = await services.auth.list();
      return c.json({ users: list.map(({ createdAt: _c, ...u }) => u) }, 200);
    },
  );
  app.openapi(
    createRoute(guard([], {
      method: 'delete',
      path: '/api/users/{name}',
      summary: "Revoke a user's token (admin)",
      request: { params: z.object({ name: z.string().min(1) }) },
      responses: {
        200: { description: 'Revoked', content: { 'application/json': { schema: z.object({ revoked: z.string() }) } } },
        404: { description: 'No such user', content: { 'application/json': { schema: ErrorSchema } } },
        ...errorResponses,
      },
    })),
    async (c) => {
      const { name } = c.req.valid('param');
      if (!(await services.auth.revoke(name))) return c.json(errorBody(`no user ${name}`), 404);
      await services.audit.record({ actor: c.get('user').name, action: 'user.revoke', target: `user:${name}` });
      return c.json({ revoked: name }, 200);
    },
  );

  app.openapi(
    createRoute(guard(['engineer'], {
      method: 'get',
      path: '/api/audit',
      summary: 'Recent audit entries (admin, engineer)',
      request: { query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100), target: z.string().optional() }) },
      responses: { 200: { description: 'Entries, newest first', content: { 'application/json': { schema: z.object({ entries: z.array(z.object({}).passthrough()) }) } } }, ...errorResponses },
    })),
    async (c) => {
      const { limit, target } = c.req.valid('query');
      return c.json({ entries: await services.audit.recent(limit, target) }, 200);
    },
  );

  for (const m of modules) m(app, services);

  app.doc31('/api/openapi.json', { openapi: '3.1.0', info: { title: 'City traffic digital twin', version: '0.1.0' } });
  return app;
}
