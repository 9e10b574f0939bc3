/**
 * The viewer end to end in headless Chromium against the real service: sign-in (refused and
 * accepted), the network drawn, the live stream connected, signal states changing, the
 * intersection panel opened by clicking the junction in the 3D view, and reconnection after the
 * service restarts. Screenshots go to test/artifacts/. Skipped when Chromium is absent.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, CHROMIUM, chromiumAvailable, ensureViewerBuilt, launchChromium, ROOT, startBrowserService, type BrowserService } from './harness.ts';

const HAVE_CHROMIUM = chromiumAvailable();
if (!HAVE_CHROMIUM) console.warn(`test/browser/viewer.test.ts skipped: no Chromium at ${CHROMIUM} (install chromium or set CHROMIUM_PATH).`);

const ARTIFACTS = join(ROOT, 'test', 'artifacts');

interface NetworkSummary {
  lanes: unknown[];
  intersections: { id: string; virtual: boolean; movements: number[]; phases: number[][] }[];
}

describe.skipIf(!HAVE_CHROMIUM)('viewer in headless Chromium', () => {
  let svc: BrowserService;
  let browser: Browser;
  let page: Page;
  let network: NetworkSummary;
  /** Console errors and page errors; a step that provokes errors on purpose allows them. */
  const errors: string[] = [];
  let allowErrors: RegExp | null = null;

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `viewer-${name}.png`) });
  const stats = () => page.evaluate(() => window.__viewerStats!.snapshot());

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const build = ensureViewerBuilt();
    if (build.built) console.info(`built the viewer first (${build.reason})`);
    svc = await startBrowserService({ SPEED: '30' });
    network = (await (await fetch(`${svc.url}/api/network`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as NetworkSummary;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !(allowErrors && allowErrors.test(m.text()))) errors.push(`console: ${m.text()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.shutdown();
  });

  it('refuses a wrong token with a clear message', async () => {
    await page.goto(svc.url + '/');
    await expect(page.locator('#token').isVisible()).resolves.toBe(true);
    allowErrors = /401|Unauthorized/;
    await page.locator('#token').fill('not-a-valid-token-at-all');
    await page.locator('form.login-card button[type=submit]').click();
    const message = page.locator('.login-message');
    await message.waitFor({ state: 'visible' });
    expect(await message.textContent()).toMatch(/refused this token/);
    await shot('login-refused');
    allowErrors = null;
  });

  it('signs in, draws the network and goes live', async () => {
    await page.locator('#token').fill(ADMIN_TOKEN);
    await page.locator('form.login-card button[type=submit]').click();
    await page.locator('.status[data-status="connected"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('.status').textContent()).toContain('Live');
    await page.waitForFunction(() => (window.__viewerStats?.vehiclesDrawn ?? 0) > 0 && (window.__viewerStats?.messages.lanes ?? 0) > 1, null, { timeout: 20_000 });
    const s = await stats();
    expect(s.lanes).toBe(network.lanes.length);
    expect(s.signalised).toBe(network.intersections.filter((i) => !i.virtual && i.phases.length > 0).length);
    expect(s.invalidMessages).toBe(0);
    expect(s.frames).toBeGreaterThan(1);
    expect(await page.evaluate(() => sessionStorage.getItem('traffic-twin.token'))).toBe(ADMIN_TOKEN);
    await shot('live');
  });

  it('shows signal states changing over time, in the image too', async () => {
    const before = (await stats()).signalChanges;
    // The rendered frame itself has green and red stop bars and coloured lanes.
    const first = await page.evaluate(() => window.__viewerTest!.samplePixels());
    expect(first.signalGreen).toBeGreaterThan(20);
    expect(first.signalRed).toBeGreaterThan(20);
    expect(first.laneFree).toBeGreaterThan(1000);
    await page.waitForFunction((n) => (window.__viewerStats?.signalChanges ?? 0) > n, before, { timeout: 20_000 });
    expect((await stats()).signalChanges).toBeGreaterThan(before);
  });

  it('opens the intersection panel when a junction is clicked', async () => {
    const ids = await page.evaluate(() => window.__viewerTest!.signalisedIds());
    const id = ids[Math.floor(ids.length / 2)];
    const target = network.intersections.find((i) => i.id === id)!;
    const point = await page.evaluate((i) => window.__viewerTest!.screenPointOf(i), id);
    expect(point).not.toBeNull();
    await page.mouse.click(point!.x, point!.y);
    const panel = page.locator('.intersection-panel');
    await panel.waitFor({ state: 'visible' });
    expect(await panel.locator('h2').textContent()).toBe(id);
    expect(await panel.locator('.phase-card').count()).toBe(target.phases.length);
    expect(await panel.locator('table.movements tr').count()).toBe(target.movements.length);
    // Live states, and the running phase marked.
    await page.waitForFunction(() => document.querySelectorAll('.intersection-panel .sig-dot[data-state="green"]').length > 0, null, { timeout: 10_000 });
    await panel.locator('.phase-card.current').waitFor({ timeout: 10_000 });
    expect(await panel.locator('.phase-now').textContent()).toMatch(/^phase \d+$/);
    // The plan the service holds for it, as the read API gives it: version, phases in order, cycle.
    await panel.locator('[data-section=plan] [data-plan-version]').waitFor({ timeout: 20_000 });
    const detail = (await (await fetch(`${svc.url}/api/intersections/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { plan: { version: number; cycle: number; sequence: number[] } };
    await page.waitForFunction((v) => Number(document.querySelector('.intersection-panel [data-plan-version]')?.getAttribute('data-plan-version')) >= v, detail.plan.version, { timeout: 10_000 });
    expect(await panel.locator('table.plan-phases tbody tr').count()).toBeGreaterThanOrEqual(2);
    expect(await panel.locator('[data-section=plan] svg.phase-ring').count()).toBe(1);
    expect(await panel.locator('[data-section=plan]').textContent()).toMatch(/cycle \d+(\.\d)? s/);
    // Detector readings of its approaches, and the controller's report.
    expect(await panel.locator('[data-section=detectors] tr[data-detector]').count()).toBeGreaterThan(0);
    expect(await panel.locator('[data-section=controller]').textContent()).toMatch(/Heartbeat/);
    await panel.locator('[data-section=kpis] [data-chart=Queue]').waitFor({ timeout: 10_000 });
    expect((await stats()).selectedIntersection).toBe(id);
    await shot('intersection-panel');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });
  });

  it('toggles street labels and the frame-time readout', async () => {
    await page.locator('button[data-action="labels"]').click();
    await page.waitForFunction(() => document.querySelectorAll('.street-label').length > 0);
    await page.locator('button[data-action="perf"]').click();
    await page.waitForFunction(() => /fps/.test(document.querySelector('.frame-stats')?.textContent ?? ''), null, { timeout: 5000 });
    await shot('labels');
    await page.locator('button[data-action="labels"]').click();
    await page.locator('button[data-action="perf"]').click();
  });

  it('reports the lost server and reconnects and resubscribes when it is back', async () => {
    const port = svc.port;
    const dataDir = svc.dataDir;
    allowErrors = /WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/;
    await svc.stop();
    await page.locator('.status[data-status="server-gone"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('.status').textContent()).toMatch(/Server unreachable/);
    await shot('server-gone');
    const before = (await stats()).messages.lanes ?? 0;
    svc = await startBrowserService({ SPEED: '30', PORT: String(port) }, dataDir);
    await page.locator('.status[data-status="connected"]').waitFor({ timeout: 30_000 });
    await page.waitForFunction((n) => (window.__viewerStats?.messages.lanes ?? 0) > n + 1, before, { timeout: 15_000 });
    allowErrors = null;
  });

  it('keeps the session on reload, without errors in the console', async () => {
    await page.reload();
    await page.locator('.status[data-status="connected"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('#token').count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
