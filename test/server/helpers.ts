/** Starts the real service on a free port with a temporary PGlite directory, for integration tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { ConfigSchema, type Config } from '../../server/config.ts';
import { startService, type RunningService } from '../../server/Service.ts';

export const ADMIN = 'test-admin-token-0123456789';

export async function startTestService(overrides: Partial<Record<keyof Config, string>> = {}): Promise<RunningService & { dataDir: string }> {
  const dataDir = overrides.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'twin-svc-'));
  const config = ConfigSchema.parse({ PORT: '0', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, SPEED: '50', ...overrides });
  const svc = await startService(config);
  return Object.assign(svc, { dataDir });
}

export async function api(base: string, path: string, token: string | null, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const res = await fetch(base + path, { ...init, headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}

/** Opens a WebSocket and collects its messages. */
export function openSocket(url: string): Promise<{ ws: WebSocket; messages: any[]; next: (pred: (m: any) => boolean, timeoutMs?: number) => Promise<any> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: any[] = [];
    const waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      messages.push(m);
      for (const w of [...waiters]) if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    });
    ws.on('error', reject);
    ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    const next = (pred: (m: any) => boolean, timeoutMs = 10_000) =>
      new Promise<any>((res, rej) => {
        const found = messages.find(pred);
        if (found) return res(found);
        const timer = setTimeout(() => rej(new Error('timed out waiting for a message')), timeoutMs);
        waiters.push({ pred, resolve: (m) => { clearTimeout(timer); res(m); } });
      });
    ws.on('open', () => resolve({ ws, messages, next }));
  });
}

/**
 * A fixed-time plan over two of the roadnet's phases of an intersection (by default 1 and 2: the
 * two straights, right turns with both), as an engineer would publish it.
 */
export function twoPhasePlan(net: { intersections: { id: string; phases: number[][] }[] }, intersection: string, green = 30, phaseIds: [number, number] = [1, 2]) {
  const it = net.intersections.find((i) => i.id === intersection);
  if (!it) throw new Error(`no intersection ${intersection}`);
  return {
    intersection,
    version: 0,
    validFrom: 0,
    validUntil: null,
    control: 'fixed-time',
    phases: phaseIds.map((p, k) => ({ id: k + 1, movements: it.phases[p], minGreen: 7, maxGreen: 60, green, yellow: 4, allRed: 2 })),
    sequence: [0, 1],
    cycle: 2 * (green + 6),
    offset: 0,
  };
}

/** A port free at the moment of asking (for a service started in a child process). */
export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/**
 * Starts `server/main.ts` as a child process on `dataDir` and `port` (PGlite, the admin token
 * ADMIN, `env` on top) and resolves once /health answers; the child is added to `children` so the
 * test can kill it. Fails with the child's stderr if it exits or is not up within 150 s.
 */
export async function startServiceProcess(children: ChildProcess[], dataDir: string, port: number, env: Record<string, string> = {}): Promise<ChildProcess> {
  const root = resolve(import.meta.dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'server/main.ts')], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, PORT: String(port), ADMIN_TOKEN: ADMIN, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`service exited: ${log}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return child;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`service did not start: ${log}`);
}

/** Polls `fn` every 250 ms until it returns something truthy (returned), or fails after `timeoutMs`. */
export async function until<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}
