import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { traceRoadnet, vehicleAt } from '../fixtures/networks.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', join(root, 'twin/sim/cli.ts'), ...args], { cwd: root });

describe('sim CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-cli-'));
  const roadnet = join(dir, 'roadnet.json');
  const flow = join(dir, 'flow.json');
  writeFileSync(roadnet, JSON.stringify(traceRoadnet()));
  writeFileSync(flow, JSON.stringify([vehicleAt(['west_in', 'east_out'], 0), vehicleAt(['west_in', 'north_out'], 2)]));

  it('prints exactly one JSON object with the run figures', async () => {
    const { stdout } = await cli(['--roadnet', roadnet, '--flow', flow, '--duration', '300', '--json']);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]);
    expect(out.finished).toBe(2);
    expect(out.averageTravelTime).toBeGreaterThan(100);
    expect(out.vehicleUpdates).toBeGreaterThan(200);
    expect(out.wallSeconds).toBeGreaterThan(0);
  });

  it('runs the demo city without a roadnet', async () => {
    const { stdout } = await cli(['--duration', '120', '--json']);
    const out = JSON.parse(stdout);
    expect(out.network).toBe('Riverside');
    expect(out.created).toBeGreaterThan(0);
  });

  it('refuses a malformed file naming the file and the JSON path, without a stack trace', async () => {
    const bad = join(dir, 'bad-flow.json');
    writeFileSync(bad, JSON.stringify([{ ...vehicleAt(['west_in', 'east_out'], 0), startTime: 1.5 }]));
    const err = await cli(['--roadnet', roadnet, '--flow', bad, '--json']).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain(bad);
    expect(err?.stderr).toContain('[0].startTime');
    expect(err?.stderr).not.toMatch(/\n\s+at /);
  });
});
