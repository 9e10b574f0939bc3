/**
 * An edge controller as its own process (`npm run edge`) against the service as its own process:
 * it registers, runs the central plan and drives its intersection's heads over the field wire;
 * when the service is killed it holds the plan, then falls back to its local plan; when the
 * service comes back it returns to the central plan; the field never shows an unsafe state and
 * the edge never commands one. Bad arguments are refused with the option named.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN, api, freePort, startServiceProcess, twoPhasePlan } from './helpers.ts';

// No in-process edge links and no planner: the only controller talking to the centre is the edge process.
const EDGE_ONLY = { SPEED: '10', EDGES: '0', PLANNER: '0', SENSORS: '0' };

const root = resolve(import.meta.dirname, '../..');
const children: ChildProcess[] = [];
const TARGET = 'intersection_1_1';



async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
}

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('edge process', () => {
  it('refuses bad arguments naming the option', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'signal-controllers/edge/cli.ts'), '--server', 'not-a-url', '--token', 'x'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--server/);
    const u = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'signal-controllers/edge/cli.ts'), '--server', 'http://127.0.0.1:1', '--token', 'x', '--bogus'], { cwd: root, encoding: 'utf8' });
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/bogus/);
  });

  it('runs central plans, survives the centre being killed (hold, fallback) and returns to central', { timeout: 600_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'twin-edge-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let service = await startServiceProcess(children, dataDir, port, EDGE_ONLY);

    const user = await api(base, '/api/users', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'edge-box-1', role: 'controller', intersections: [TARGET] }) });
    expect(user.status).toBe(201);
    const net = (await api(base, '/api/network', ADMIN)).body;
    const pub = await api(base, '/api/plans', ADMIN, { method: 'POST', body: JSON.stringify({ plan: twoPhasePlan(net, TARGET, 20), reason: 'edge process test' }) });
    expect(pub.status).toBe(201);

    // Hold the last plan for 2 field seconds once the centre is lost, then the local plan.
    const edge = spawn(process.execPath, ['--import', 'tsx', join(root, 'signal-controllers/edge/cli.ts'), '--server', base, '--token', user.body.token, '--hold-for', '2'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(edge);
    let edgeLog = '';
    edge.stderr!.on('data', (d) => (edgeLog += d));

    const central = () =>
      waitFor('the edge running the central plan', async () => {
        const r = await api(base, '/api/controllers', ADMIN);
        const c = r.body.controllers?.find((x: { id: string }) => x.id === `edge-${TARGET}`);
        const s = c?.state;
        return c?.online && s?.mode === 'central' && s.intersections[0].planVersion === 1 ? s : null;
      });
    const spat = await central();
    // SPaT: the phase shown, per-movement letters and the time to the next change.
    expect(spat.intersections[0].intersection).toBe(TARGET);
    expect(spat.intersections[0].movements).toMatch(/^[GYR]+$/);
    expect(spat.intersections[0].timeToChange).toBeGreaterThanOrEqual(0);
    const driven = await waitFor('the field following the edge process', async () => {
      const s = (await api(base, '/api/field/status', ADMIN)).body;
      return s.intersections.find((i: { intersection: string }) => i.intersection === TARGET)?.driver === `edge-${TARGET}` ? s : null;
    });
    // Every other intersection runs on its cabinet's standby controller.
    expect(driven.intersections.filter((i: { driver: string }) => i.driver === 'standby')).toHaveLength(driven.intersections.length - 1);

    // The centre (and with it the simulated field) dies; the edge keeps its lights running.
    service.kill('SIGKILL');
    await new Promise((r) => service.once('exit', r));
    await waitFor('hold then fallback at the edge', async () => /central → holding[\s\S]*holding → fallback/.test(edgeLog));
    expect(edge.exitCode).toBeNull();

    service = await startServiceProcess(children, dataDir, port, EDGE_ONLY);
    await waitFor('the edge back on central plans', async () => /fallback → central/.test(edgeLog));
    await central();
    const after = await waitFor('the field following the edge again', async () => {
      const s = (await api(base, '/api/field/status', ADMIN)).body;
      return s.intersections.find((i: { intersection: string }) => i.intersection === TARGET)?.driver === `edge-${TARGET}` ? s : null;
    });
    // Let the field run on the edge's heads for a while, then check nothing unsafe was shown or commanded.
    await waitFor('field time to pass', async () => (await api(base, '/api/field/status', ADMIN)).body.time > after.time + 120);
    const status = (await api(base, '/api/field/status', ADMIN)).body;
    expect(status.commandedUnsafe).toBe(0);
    expect(status.darkSeconds).toBe(0);
    const health = (await api(base, '/health', null)).body;
    expect(health.unsafeSignalStates).toBe(0);
    expect(edge.exitCode).toBeNull();
  });
});
