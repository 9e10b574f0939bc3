/**
 * Every route × every role, over real HTTP and WebSocket against a started service. The route
 * list is taken from the app itself (every route Hono has registered, plus the WebSocket
 * upgrades), so a route added anywhere is covered without editing this file; each must declare
 * who may call it (`x-roles` in the OpenAPI document via `guard`, or UNDOCUMENTED_ROUTES), and
 * the test fails for any route that does not. Without a token: 401; a role not allowed: 403; an
 * allowed role: neither (the empty bodies sent then fail validation, which is fine).
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedRoles, UNDOCUMENTED_ROUTES, type Access } from '../../server/api/http.ts';
import { ROLES, type Role } from '../../server/db/schema.ts';
import type { RunningService } from '../../server/Service.ts';
import { ADMIN, api, startTestService } from './helpers.ts';

let svc: RunningService;
const tokens = new Map<Role, string>();
let mine: string;
let foreign: string;

beforeAll(async () => {
  svc = await startTestService({ FIELD: '0', SENSORS: '0', PLANNER: '0', EDGES: '0', POLL_RATE: '10000', INGEST_RATE: '10000' });
  const net = (await api(svc.url, '/api/network', ADMIN)).body as { intersections: { id: string; virtual: boolean }[] };
  [mine, foreign] = net.intersections.filter((i) => !i.virtual).map((i) => i.id);
  tokens.set('admin', ADMIN);
  for (const role of ROLES) {
    if (role === 'admin') continue;
    const r = await api(svc.url, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: `r-${role}`, role, intersections: role === 'controller' ? [mine] : [] }) });
    expect(r.status).toBe(201);
    tokens.set(role, r.body.token);
  }
}, 300_000);
afterAll(async () => {
  await svc?.stop();
});

interface RouteCase {
  method: string;
  /** Hono's form, `/api/plans/:intersection`. */
  path: string;
  access: Access | undefined;
}

/** The `x-roles` of every documented route, from the app's OpenAPI registry (what /api/openapi.json is generated from). */
function documentedAccess(): Map<string, Role[] | undefined> {
  const registry = (svc.app as unknown as { openAPIRegistry: { definitions: { type: string; route?: { method: string; path: string; 'x-roles'?: Role[] } }[] } }).openAPIRegistry;
  const out = new Map<string, Role[] | undefined>();
  for (const d of registry.definitions) if (d.type === 'route' && d.route) out.set(`${d.route.method.toUpperCase()} ${d.route.path}`, d.route['x-roles']);
  return out;
}

async function routeCases(): Promise<RouteCase[]> {
  const documented = documentedAccess();
  const seen = new Set<string>();
  const cases: RouteCase[] = [];
  for (const r of svc.app.routes) {
    if (r.method === 'ALL') continue; // middleware (app.use), not a route
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const docKey = `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`;
    cases.push({ method: r.method, path: r.path, access: documented.get(docKey) ?? UNDOCUMENTED_ROUTES.get(key) });
  }
  for (const [key, access] of UNDOCUMENTED_ROUTES) {
    if (seen.has(key)) continue;
    const [method, path] = key.split(' ');
    cases.push({ method, path, access });
  }
  return cases;
}

/** Status of a WebSocket upgrade: 101 if it opened. */
function upgrade(path: string, token: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(svc.url.replace('http', 'ws') + path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', reject);
  });
}

async function call(c: RouteCase, token: string | null): Promise<number> {
  // Every parameter gets the controller's own intersection, so a bound controller is judged by its role alone.
  const path = c.path.replace(/:(\w+)(\{[^}]*\})?/g, mine);
  if (path.startsWith('/ws')) return upgrade(path, token);
  const hasBody = c.method === 'POST' || c.method === 'PUT' || c.method === 'PATCH';
  return (await api(svc.url, path, token, { method: c.method, body: hasBody ? '{}' : undefined })).status;
}

describe('roles × routes', () => {
  it('every route declares its roles, and enforces them', { timeout: 300_000 }, async () => {
    const cases = await routeCases();
    expect(cases.length).toBeGreaterThan(10);
    const undeclared = cases.filter((c) => c.access === undefined).map((c) => `${c.method} ${c.path}`);
    expect.soft(undeclared, 'routes without a role declaration (use guard() or UNDOCUMENTED_ROUTES)').toEqual([]);

    const wrong: string[] = [];
    for (const c of cases) {
      const access = c.access;
      if (access === undefined) continue; // reported above
      const open = access === 'public';
      const anon = await call(c, null);
      if (open ? anon === 401 || anon === 403 : anon !== 401) wrong.push(`${c.method} ${c.path} without a token: ${anon}`);
      const allowed = new Set(allowedRoles(access));
      for (const role of ROLES) {
        const status = await call(c, tokens.get(role)!);
        const ok = allowed.has(role) ? status !== 401 && status !== 403 : status === 403;
        if (!ok) wrong.push(`${c.method} ${c.path} as ${role} (${allowed.has(role) ? 'allowed' : 'not allowed'}): ${status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('documents every route with its roles in /api/openapi.json', async () => {
    const doc = await api(svc.url, '/api/openapi.json', null);
    expect(doc.status, JSON.stringify(doc.body).slice(0, 300)).toBe(200);
    for (const [path, ops] of Object.entries(doc.body.paths as Record<string, Record<string, { 'x-roles'?: Role[] }>>)) {
      for (const [method, op] of Object.entries(ops)) expect(op['x-roles'], `${method} ${path}`).toBeDefined();
    }
  });

  it('binds controller tokens to their intersections', async () => {
    const ctl = tokens.get('controller')!;
    const eng = tokens.get('engineer')!;
    expect((await api(svc.url, `/api/plans/${foreign}`, ctl)).status).toBe(403);
    // Its own intersection: no plan yet, but not forbidden.
    expect((await api(svc.url, `/api/plans/${mine}`, ctl)).status).toBe(404);
    expect((await api(svc.url, `/api/plans/${foreign}`, eng)).status).toBe(404);
    const reg = await api(svc.url, '/api/controllers', ctl, { method: 'POST', body: JSON.stringify({ id: 'edge-x', intersections: [mine, foreign] }) });
    expect(reg.status).toBe(403);
    expect(reg.body.error.message).toContain(foreign);
    expect((await api(svc.url, '/api/controllers', ctl, { method: 'POST', body: JSON.stringify({ id: 'edge-x', intersections: [mine] }) })).status).toBe(200);
  });
});
