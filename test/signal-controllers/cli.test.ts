import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { generateDemand, generateGrid } from '../../twin/network/generator.ts';
import { controllerNames } from '../../signal-controllers/registry.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const sim = (args: string[]) => run('npx', ['tsx', 'twin/sim/cli.ts', ...args], { cwd: root, maxBuffer: 1 << 20 });

describe('sim CLI with controllers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-control-'));
  const roadnet = join(dir, 'roadnet.json');
  const flow = join(dir, 'flow.json');
  const grid = generateGrid({ rows: 1, cols: 2, blockLength: 250 });
  writeFileSync(roadnet, JSON.stringify(grid));
  writeFileSync(flow, JSON.stringify(generateDemand(grid, { duration: 300, seed: 1, peakVehPerHourPerLane: 200 })));

  it('lists the controllers one per line', async () => {
    const { stdout } = await sim(['--list-controllers']);
    expect(stdout.trim().split('\n')).toEqual(controllerNames());
  });

  it('runs max-pressure on phases 1–4 and reports no unsafe state', async () => {
    const { stdout } = await sim(['--roadnet', roadnet, '--flow', flow, '--duration', '400', '--controller', 'maxpressure', '--phases', '1,2,3,4', '--json']);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]);
    expect(out.controller).toBe('maxpressure');
    expect(out.phases).toEqual([1, 2, 3, 4]);
    expect(out.unsafeStates).toBe(0);
    expect(out.finished).toBeGreaterThan(0);
    expect(out.averageTravelTime).toBeGreaterThan(0);
  });

  it('warns on stderr when the raw CityFlow replay runs unsafe states', async () => {
    const { stdout, stderr } = await sim(['--roadnet', roadnet, '--flow', flow, '--duration', '300', '--controller', 'cityflow', '--json']);
    expect(JSON.parse(stdout).unsafeStates).toBeGreaterThan(0);
    expect(stderr).toMatch(/warning: controller cityflow .* unsafe signal states/);
  });

  it('refuses an unknown controller and an unknown phase', async () => {
    const fail = (args: string[]) => sim(args).then(() => null, (e: { code: number; stderr: string }) => e);
    const a = await fail(['--roadnet', roadnet, '--flow', flow, '--controller', 'nope', '--json']);
    expect(a?.code).toBe(2);
    expect(a?.stderr).toContain('unknown controller "nope"');
    const b = await fail(['--roadnet', roadnet, '--flow', flow, '--controller', 'maxpressure', '--phases', '1,42', '--json']);
    expect(b?.code).toBe(2);
    expect(b?.stderr).toContain('has no phase 42');
  });
});
