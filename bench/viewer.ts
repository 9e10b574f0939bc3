/**
 * Frame times of the 3D viewer in headless Chromium against the real service.
 *
 *   npm run build:viewer && npm run bench:viewer [-- --seconds 10 --speed 100 --warmup 2400 --width 1280 --height 800 --labels --json]
 *   npm run bench:viewer -- --network grid:30x30 --vehicles 5000 --speed 20   (the large city)
 *
 * Starts the service (demo city, temporary database, SPEED simulated s per wall s), signs in,
 * waits until the simulation reaches --warmup seconds (the demo's morning peak is near 2,700 s),
 * then measures frame intervals and the viewer's CPU time per frame with requestAnimationFrame
 * inside the page (window.__viewerStats.measureFrames). It does not build the viewer: it checks
 * viewer/dist and stops if it is missing or older than viewer/src.
 *
 * Headless Chromium here renders WebGL in software (SwiftShader): the figures are a floor, and
 * fill-rate bound; a real GPU does far better.
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ADMIN_TOKEN, chromiumAvailable, CHROMIUM, launchChromium, signIn, startBrowserService, viewerBuildProblem } from '../test/browser/harness.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    speed: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '2400' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '800' },
    /** Page query string, e.g. quality=high (MSAA even on a software rasteriser). */
    query: { type: 'string', default: '' },
    labels: { type: 'boolean', default: false },
    /** The service's NETWORK: demo or grid:ROWSxCOLS. */
    network: { type: 'string', default: 'demo' },
    /** With a network other than the demo: wait until this many vehicles are drawn instead of --warmup. */
    vehicles: { type: 'string', default: '5000' },
    json: { type: 'boolean', default: false },
  },
});

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

const seconds = Number(args.seconds);
const warmup = Number(args.warmup);
const width = Number(args.width);
const height = Number(args.height);

const loadAtStart = loadavg()[0];
const large = args.network !== 'demo';
// The large city: only the field and its stream are wanted; the twin's sensors, planner and
// forecasts would compete with the browser for the same cores and say nothing about drawing.
const svc = await startBrowserService(
  large ? { SPEED: args.speed, NETWORK: args.network, MAX_STREAMED_VEHICLES: String(Math.max(5000, Number(args.vehicles))), SENSORS: '0', PLANNER: '0', EDGES: '0', FORECAST: '0', FIELD: '0' } : { SPEED: args.speed },
);
if (large) {
  // Fill the city first, as fast as the engine goes (every tick hook runs: edge controllers,
  // twin, streams), then let the clock run in real time at SPEED.
  const want = Number(args.vehicles);
  const t0 = performance.now();
  while (svc.runtime.engine.runningCount < want && svc.runtime.engine.time < 7200) await svc.runtime.tick();
  log(`bench:viewer: ${args.network}: ${svc.runtime.engine.runningCount} vehicles running at simulation time ${Math.round(svc.runtime.engine.time)} s (filled in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  svc.runtime.start();
}
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await signIn(page, `${svc.url}/${args.query ? `?${args.query}` : ''}`, ADMIN_TOKEN);
  await page.waitForFunction(() => (window.__viewerStats?.vehiclesDrawn ?? 0) > 0, null, { timeout: 60_000 });
  if (large) {
    const want = Number(args.vehicles);
    log(`bench:viewer: signed in to ${args.network}; waiting for ${want} vehicles drawn (SPEED ${args.speed})…`);
    await page.waitForFunction((n) => (window.__viewerStats?.vehiclesDrawn ?? 0) >= n, want, { timeout: 120_000, polling: 1000 });
  } else {
    log(`bench:viewer: signed in; waiting for simulation time ${warmup} s (SPEED ${args.speed})…`);
    await page.waitForFunction((t) => (window.__viewerStats?.simTime ?? 0) >= t, warmup, { timeout: Math.max(60_000, (warmup / Number(args.speed)) * 2000 + 30_000), polling: 500 });
  }
  if (args.labels) await page.keyboard.press('l');
  await page.waitForTimeout(1000);
  const before = await page.evaluate(() => window.__viewerStats!.snapshot());
  const m = await page.evaluate((ms) => window.__viewerStats!.measureFrames(ms), seconds * 1000);
  const after = await page.evaluate(() => window.__viewerStats!.snapshot());
  const version = browser.version();
  const updates = (after.messages.vehicles ?? 0) - (before.messages.vehicles ?? 0);
  const result = {
    network: { intersections: after.intersections, signalised: after.signalised, lanes: after.lanes, laneLinks: after.laneLinks },
    vehicles: { drawn: after.vehiclesDrawn, inNetwork: after.vehiclesInNetwork, updatesPerSecond: updates / m.seconds },
    viewport: { width, height, labels: args.labels, query: args.query },
    browser: `Chromium ${version} headless`,
    gpu: after.gpu,
    frames: m.frames,
    seconds: Math.round(m.seconds * 100) / 100,
    fps: Math.round(m.fps * 10) / 10,
    frameMs: { median: Math.round(m.medianFrameMs * 10) / 10, p95: Math.round(m.p95FrameMs * 10) / 10 },
    cpuMs: { median: Math.round(m.medianCpuMs * 100) / 100, p95: Math.round(m.p95CpuMs * 100) / 100 },
    drawCalls: after.drawCalls,
    triangles: after.triangles,
    simTime: Math.round(after.simTime),
    machine: { cores: cpus().length, loadAverageAtStart: Math.round(loadAtStart * 10) / 10, loadAverageAtEnd: Math.round(loadavg()[0] * 10) / 10 },
    pageErrors: errors,
  };
  if (args.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    const out = (s: string) => process.stdout.write(s + '\n');
    out(`viewer frame times — ${result.browser}, ${width}×${height}, WebGL: ${result.gpu}`);
    out(`  network      ${result.network.intersections} intersections (${result.network.signalised} signalised), ${result.network.lanes} lanes, ${result.network.laneLinks} lane links`);
    out(`  vehicles     ${result.vehicles.drawn} drawn (${result.vehicles.inNetwork} in network at sim ${result.simTime} s), ${result.vehicles.updatesPerSecond.toFixed(1)} stream updates/s`);
    out(`  frames       ${result.frames} in ${result.seconds} s → ${result.fps} FPS`);
    out(`  frame time   median ${result.frameMs.median} ms, p95 ${result.frameMs.p95} ms`);
    out(`  viewer CPU   median ${result.cpuMs.median} ms, p95 ${result.cpuMs.p95} ms per frame (updates + WebGL calls)`);
    out(`  draw calls   ${result.drawCalls}, ${result.triangles} triangles`);
    out(`  machine      ${result.machine.cores} cores, 1-min load average ${result.machine.loadAverageAtStart} → ${result.machine.loadAverageAtEnd} (service, simulation and browser share them)`);
    if (errors.length) out(`  page errors  ${errors.join(' | ')}`);
  }
} finally {
  await browser.close();
  await svc.shutdown();
}
