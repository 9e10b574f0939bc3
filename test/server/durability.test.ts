/**
 * A SIGKILL loses nothing acknowledged: the service runs as its own process (npm start's entry),
 * accepts a user and a plan, is killed with SIGKILL, and after a restart on the same data
 * directory the user's token, the plan and the audit entries are all there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN, api, twoPhasePlan } from './helpers.ts';

const root = resolve(import.meta.dirname, '../..');
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function startProcess(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'server/main.ts')], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, PORT: String(port), ADMIN_TOKEN: ADMIN, SPEED: '20' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`service exited: ${log}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) return child;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`service did not start: ${log}`);
}

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('durability', () => {
  it('keeps acknowledged users, plans and audit entries across a SIGKILL', { timeout: 400_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'twin-kill-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const first = await startProcess(dataDir, port);

    const eng = await api(base, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'kim', role: 'engineer' }) });
    expect(eng.status).toBe(201);
    const net = (await api(base, '/api/network', ADMIN)).body;
    const plan = twoPhasePlan(net, 'intersection_1_1');
    const pub = await api(base, '/api/plans', eng.body.token, { method: 'POST', body: JSON.stringify({ plan, reason: 'before the crash' }) });
    expect(pub.status).toBe(201);

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    await startProcess(dataDir, port);
    const again = await api(base, '/api/plans/intersection_1_1', eng.body.token);
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(1);
    expect(again.body.phases[0].green).toBe(30);
    const audit = await api(base, '/api/audit?target=intersection:intersection_1_1', ADMIN);
    expect(audit.body.entries.map((e: { action: string }) => e.action)).toContain('plan.publish');
  });
});
