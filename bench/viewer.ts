/**
 * Frame times of the 3D viewer in headless Chromium against the real service.
 *
 *   npm run build:viewer && npm run bench:viewer [-- --seconds 10 --speed 100 --warmup 2400 --width 1280 --height 800 --labels --json]
 *   npm run bench:viewer -- --network demo,grid:30x30 --vehicles 5000 --baseline HEAD
 *
 * For each --network (comma-separated: demo, grid:ROWSxCOLS) it starts the service (temporary
 * database, SPEED simulated s per wall s), signs in, waits until the simulation reaches --warmup
 * seconds (demo; its morning peak is near 2,700 s) or until --vehicles are drawn (a grid, filled
 * first as fast as the engine goes), then measures frame intervals and the viewer's JS time per
 * frame with requestAnimationFrame inside the page (window.__viewerStats.measureFrames; the
 * viewer draws every frame while measuring, though it otherwise renders on demand).
 *
 * --baseline REF also builds the viewer as it was at git commit REF (git archive, read-only;
 * built into a temporary directory) and measures it against the same service in the same run,
 * the page's files served from that build by request interception: a before/after table.
 *
 * It does not build the current viewer: it checks viewer/dist and stops if it is missing or
 * older than viewer/src. Headless Chromium here renders WebGL in software (SwiftShader): the
 * figures are a floor, bound by triangle setup and fill; a real GPU does far better. Other
 * processes on the machine move them a lot: the load average is printed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { z } from 'zod';
import { ADMIN_TOKEN, chromiumAvailable, CHROMIUM, launchChromium, ROOT, signIn, startBrowserService, viewerBuildProblem, type BrowserService } from '../test/browser/harness.ts';

const { values: raw } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    speed: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '2400' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '800' },
    /** Page query string, e.g. quality=high (MSAA even on a software rasteriser). */
    query: { type: 'string', default: '' },
    labels: { type: 'boolean', default: false },
    /** The service's NETWORK, one or more, comma-separated: demo or grid:ROWSxCOLS. */
    network: { type: 'string', default: 'demo' },
    /** With a network other than the demo: wait until this many vehicles are drawn instead of --warmup. */
    vehicles: { type: 'string', default: '5000' },
    /** A git commit whose viewer is measured too, as "before" (e.g. HEAD). */
    baseline: { type: 'string' },
    /** Save a screenshot of each measured scene under test/artifacts/. */
    screenshots: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const args = z
  .object({
    seconds: z.coerce.number().positive(),
    speed: z.coerce.number().positive(),
    warmup: z.coerce.number().nonnegative(),
    width: z.coerce.number().int().min(200),
    height: z.coerce.number().int().min(200),
    query: z.string(),
    labels: z.boolean(),
    network: z
      .string()
      .transform((v) => v.split(',').map((x) => x.trim()))
      .pipe(z.array(z.string().regex(/^(demo|grid:\d+x\d+)$/, 'expected demo or grid:ROWSxCOLS')).min(1)),
    vehicles: z.coerce.number().int().positive(),
    baseline: z
      .string()
      .regex(/^[\w./~^-]+$/, 'a git ref')
      .optional(),
    screenshots: z.boolean(),
    json: z.boolean(),
  })
  .parse(raw);

const log = (s: string) => process.stderr.write(s + '\n');

if (!chromiumAvailable()) {
  log(`bench:viewer: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH); nothing measured.`);
  process.exit(0);
}
const problem = viewerBuildProblem();
if (problem) {
  log(`bench:viewer: ${problem}. Run \`npm run build:viewer\` first (this benchmark does not build).`);
  process.exit(1);
}
log('bench:viewer: using the existing viewer/dist (checked newer than viewer/src).');

/** Builds the viewer as it was at `ref` into a temporary directory; returns its dist folder. */
function buildBaseline(ref: string): { dist: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'viewer-baseline-'));
  const archive = spawnSync('sh', ['-c', `git -C "$1" archive "$2" viewer | tar -x -C "$3"`, 'sh', ROOT, ref, dir], { encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`git archive ${ref} failed: ${archive.stderr}`);
  // The old sources resolve three, zod and vite from this checkout's node_modules.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const viteBin = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  const build = spawnSync(process.execPath, [viteBin, 'build', join(dir, 'viewer'), '--logLevel', 'warn'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  const dist = join(dir, 'viewer', 'dist');
  if (build.status !== 0 || !existsSync(join(dist, 'index.html'))) throw new Error(`building the ${ref} viewer failed:\n${build.stdout}\n${build.stderr}`);
  return { dist, dir };
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.svg': 'image/svg+xml' };

interface Row {
  scenario: string;
  build: string;
  fps: number;
  medianMs: number;
  p95Ms: number;
  jsMedianMs: number;
  jsP95Ms: number;
  drawCalls: number;
  triangles: number;
  lines: number | null;
  points: number | null;
  vehicles: number;
  vehiclesInNetwork: number;
  updatesPerSecond: number;
  detail: string | null;
  frames: number;
  seconds: number;
  gpu: string;
  loadAverage: [number, number];
  pageErrors: string[];
}

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

async function measure(browser: Browser, svc: BrowserService, network: string, build: string, dist: string | null): Promise<Row> {
  const large = network !== 'demo';
  const load0 = loadavg()[0];
  const page = await browser.newPage({ viewport: { width: args.width, height: args.height } });
  try {
    if (dist) {
      // The baseline's script and stylesheet in place of the current build's. Only these are
      // intercepted: a document answered by interception counts as public, and Chromium then
      // refuses its WebSocket to the loopback service.
      const index = readFileSync(join(dist, 'index.html'), 'utf8');
      const assets = [...index.matchAll(/(?:src|href)="\.?\/?(assets\/[^"]+)"/g)].map((m) => m[1]);
      const asset = (ext: string) => assets.find((f) => f.endsWith(ext));
      const files: Record<string, string | undefined> = { '.js': asset('.js'), '.css': asset('.css') };
      await page.route(`${svc.url}/assets/**`, async (route) => {
        const file = files[extname(new URL(route.request().url()).pathname)];
        if (!file) return route.fulfill({ status: 404, body: 'not in the baseline build' });
        return route.fulfill({ status: 200, body: readFileSync(join(dist, file)), contentType: TYPES[extname(file)] });
      });
    }
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await signIn(page, `${svc.url}/${args.query ? `?${args.query}` : ''}`, ADMIN_TOKEN);
    await page.waitForFunction(() => (window.__viewerStats?.vehiclesDrawn ?? 0) > 0, null, { timeout: 60_000 });
    if (large) {
      log(`bench:viewer: ${network} (${build}): waiting for ${args.vehicles} vehicles drawn…`);
      await page.waitForFunction((n) => (window.__viewerStats?.vehiclesDrawn ?? 0) >= n, args.vehicles, { timeout: 180_000, polling: 1000 });
    } else {
      log(`bench:viewer: ${network} (${build}): waiting for simulation time ${args.warmup} s (SPEED ${args.speed})…`);
      await page.waitForFunction((t) => (window.__viewerStats?.simTime ?? 0) >= t, args.warmup, { timeout: Math.max(60_000, (args.warmup / args.speed) * 2000 + 30_000), polling: 500 });
    }
    if (args.labels) await page.keyboard.press('l');
    await page.waitForTimeout(1500);
    const before = await page.evaluate(() => window.__viewerStats!.snapshot());
    const m = await page.evaluate((ms) => window.__viewerStats!.measureFrames(ms), args.seconds * 1000);
    const after = await page.evaluate(() => window.__viewerStats!.snapshot());
    if (args.screenshots) {
      const dir = join(ROOT, 'test', 'artifacts');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, `bench-viewer-${network.replace(':', '-')}-${build.split(' ')[0]}.png`) });
    }
    // Older builds lack some fields; they show as null.
    const extra = after as Partial<{ lines: number; points: number; detail: string }>;
    return {
      scenario: network === 'demo' ? `demo (${after.intersections} intersections)` : `${network.slice(5)} + ${after.vehiclesDrawn} veh`,
      build,
      fps: round(m.fps),
      medianMs: round(m.medianFrameMs),
      p95Ms: round(m.p95FrameMs),
      jsMedianMs: round(m.medianCpuMs, 2),
      jsP95Ms: round(m.p95CpuMs, 2),
      drawCalls: after.drawCalls,
      triangles: after.triangles,
      lines: extra.lines ?? null,
      points: extra.points ?? null,
      vehicles: after.vehiclesDrawn,
      vehiclesInNetwork: after.vehiclesInNetwork,
      updatesPerSecond: round(((after.messages.vehicles ?? 0) - (before.messages.vehicles ?? 0)) / m.seconds),
      detail: extra.detail ?? null,
      frames: m.frames,
      seconds: round(m.seconds, 2),
      gpu: after.gpu,
      loadAverage: [round(load0), round(loadavg()[0])],
      pageErrors: errors,
    };
  } finally {
    await page.close();
  }
}

const baseline = args.baseline ? buildBaseline(args.baseline) : null;
if (baseline) log(`bench:viewer: built the ${args.baseline} viewer for comparison.`);
const rows: Row[] = [];
const browser = await launchChromium();
const version = browser.version();
try {
  for (const network of args.network) {
    const large = network !== 'demo';
    // The large city: only the field and its stream are wanted; the twin's sensors, planner and
    // forecasts would compete with the browser for the same cores and say nothing about drawing.
    const svc = await startBrowserService(
      large
        ? { SPEED: String(args.speed), NETWORK: network, MAX_STREAMED_VEHICLES: String(Math.max(5000, args.vehicles)), SENSORS: '0', PLANNER: '0', EDGES: '0', FORECAST: '0', FIELD: '0' }
        : { SPEED: String(args.speed) },
    );
    try {
      if (large) {
        // Fill the city first, as fast as the engine goes (every tick hook runs: edge
        // controllers, twin, streams), then let the clock run in real time at SPEED.
        const t0 = performance.now();
        while (svc.runtime.engine.runningCount < args.vehicles && svc.runtime.engine.time < 7200) await svc.runtime.tick();
        log(`bench:viewer: ${network}: ${svc.runtime.engine.runningCount} vehicles running at simulation time ${Math.round(svc.runtime.engine.time)} s (filled in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
        svc.runtime.start();
      }
      if (baseline) rows.push(await measure(browser, svc, network, `before (${args.baseline})`, baseline.dist));
      rows.push(await measure(browser, svc, network, baseline ? 'after (viewer/dist)' : 'viewer/dist', null));
    } finally {
      await svc.shutdown();
    }
  }
} finally {
  await browser.close();
  if (baseline) rmSync(baseline.dir, { recursive: true, force: true });
}

if (args.json) {
  process.stdout.write(JSON.stringify({ browser: `Chromium ${version} headless`, viewport: { width: args.width, height: args.height, labels: args.labels, query: args.query }, cores: cpus().length, rows }) + '\n');
} else {
  const out = (line: string) => process.stdout.write(line + '\n');
  const head = ['scenario', 'build', 'fps', 'median ms', 'p95 ms', 'JS ms/frame', 'draw calls', 'triangles', 'lines', 'points', 'detail', 'load'];
  const cells = rows.map((r) => [r.scenario, r.build, r.fps.toFixed(1), r.medianMs.toFixed(1), r.p95Ms.toFixed(1), `${r.jsMedianMs.toFixed(2)} (p95 ${r.jsP95Ms.toFixed(2)})`, String(r.drawCalls), r.triangles.toLocaleString('en'), r.lines === null ? '–' : r.lines.toLocaleString('en'), r.points === null ? '–' : r.points.toLocaleString('en'), r.detail ?? '–', `${r.loadAverage[0]}→${r.loadAverage[1]}`]);
  const widths = head.map((h, k) => Math.max(h.length, ...cells.map((c) => c[k].length)));
  const line = (c: string[]) => c.map((v, k) => (k < 2 || k === 10 ? v.padEnd(widths[k]) : v.padStart(widths[k]))).join('  ');
  out(`viewer frame times — ${rows[0]?.gpu ?? ''}`);
  out(`headless Chromium ${version}, ${args.width}×${args.height}${args.query ? `, ?${args.query}` : ''}${args.labels ? ', labels on' : ''}; ${cpus().length} cores shared by service, simulation and browser (1-min load average shown)`);
  out('');
  out(line(head));
  out(line(widths.map((w) => '-'.repeat(w))));
  for (const c of cells) out(line(c));
  out('');
  out('fps and frame ms: intervals between drawn frames (requestAnimationFrame), GPU (software rasteriser) included;');
  out('JS ms/frame: the viewer\'s own time per frame (updates and WebGL calls), which the rasteriser runs after.');
  for (const r of rows) {
    out(`  ${r.scenario}, ${r.build}: ${r.vehicles} vehicles drawn of ${r.vehiclesInNetwork} in the network, ${r.updatesPerSecond} vehicle updates/s, ${r.frames} frames in ${r.seconds} s`);
    if (r.pageErrors.length) out(`    page errors: ${r.pageErrors.join(' | ')}`);
  }
}
