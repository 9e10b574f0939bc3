/**
 * The viewer's network panels in headless Chromium against the real service: controllers
 * (fleet counts, loop-latency target), alerts (a click flies the camera to the place), forecast
 * horizons (the legend follows), a what-if run built by clicking a road on the map and run to
 * completion with its KPIs side by side and a replay, and an emergency route picked on the map
 * and followed to arrival. No console errors throughout. Screenshots go to test/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, CHROMIUM, chromiumAvailable, ensureViewerBuilt, launchChromium, ROOT, signIn, startBrowserService, type BrowserService } from './harness.ts';

const HAVE_CHROMIUM = chromiumAvailable();
if (!HAVE_CHROMIUM) console.warn(`test/browser/panels.test.ts skipped: no Chromium at ${CHROMIUM} (install chromium or set CHROMIUM_PATH).`);

const ARTIFACTS = join(ROOT, 'test', 'artifacts');

interface NetworkSummary {
  intersections: { id: string; x: number; y: number; virtual: boolean; phases: number[][] }[];
  roads: { id: string; from: string; to: string }[];
}

describe.skipIf(!HAVE_CHROMIUM)('viewer panels in headless Chromium', () => {
  let svc: BrowserService;
  let browser: Browser;
  let page: Page;
  let network: NetworkSummary;
  const errors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `panels-${name}.png`) });
  const openPanel = async (id: string) => {
    await page.locator(`.rail [data-action=${id}]`).click();
    await page.locator(`.drawer[data-panel=${id}]`).waitFor();
  };
  const closePanel = async (id: string) => {
    await page.locator(`.rail [data-action=${id}]`).click();
    await page.locator('.drawer').waitFor({ state: 'hidden' });
  };
  type Box = { left: number; right: number; top: number; bottom: number };
  /** A visible client point of a world place, clear of the drawer (left) and the legend (beside an open drawer). */
  const clearOfPanels = (p: { x: number; y: number } | null, legend: Box) =>
    p !== null && p.x > 520 && p.x < 1240 && p.y > 70 && p.y < 740 && !(p.x >= legend.left - 8 && p.x <= legend.right + 8 && p.y >= legend.top - 8 && p.y <= legend.bottom + 8);

  /** The screen point of the middle of the first of `roads` that is visible clear of the panels. */
  const legendBox = () =>
    page.locator('.legend').evaluate((e): Box => {
      const r = e.getBoundingClientRect();
      return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
    });
  const visibleRoadPoint = async (roads: readonly { id: string }[]): Promise<{ x: number; y: number } | null> => {
    const legend = await legendBox();
    for (const r of roads) {
      const p = await page.evaluate((id) => window.__viewerTest!.screenPointOfRoad(id), r.id);
      if (clearOfPanels(p, legend)) return p;
    }
    return null;
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureViewerBuilt();
    svc = await startBrowserService({ SPEED: '30' });
    network = (await (await fetch(`${svc.url}/api/network`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as NetworkSummary;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    await signIn(page, `${svc.url}/`, ADMIN_TOKEN);
    await page.waitForFunction(() => (window.__viewerStats?.simTime ?? 0) > 90, null, { timeout: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.shutdown();
  });

  it('controllers: fleet counts, heartbeats and the loop-latency target', async () => {
    await openPanel('controllers');
    const signalised = network.intersections.filter((i) => !i.virtual && i.phases.length > 0).length;
    await page.waitForFunction((n) => Number(document.querySelector('[data-stat=controllers] strong')?.textContent) === n, signalised, { timeout: 20_000 });
    expect(await page.locator('.drawer [data-sla]').getAttribute('data-sla')).toBe('1000');
    expect(await page.locator('.drawer tr[data-controller]').count()).toBe(signalised);
    // RTAS: the placements where the service publishes them, else it says they are not available.
    expect(await page.locator('.drawer [data-section=rtas]').textContent()).toMatch(/tasks on|Not available/);
    await shot('controllers');
    await closePanel('controllers');
  });

  it('alerts: listed with their place, a click flies the camera there', async () => {
    await openPanel('alerts');
    const state = (await (await fetch(`${svc.url}/api/alerts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { alerts: { id: string; place: { x: number; y: number } }[] };
    if (state.alerts.length === 0) {
      await page.locator('.drawer', { hasText: 'No active alerts' }).waitFor();
    } else {
      await page.locator('.drawer li.alert').first().waitFor({ timeout: 10_000 });
      // Alerts come and go while controllers start (fallback until their first central plan), so
      // the list can change under the pointer: click one the server still reports, retrying when it
      // moved or left between finding and clicking.
      let alert: { id: string; place: { x: number; y: number } } | undefined;
      for (let attempt = 0; attempt < 8 && !alert; attempt++) {
        const now = (await (await fetch(`${svc.url}/api/alerts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as typeof state;
        const shown = await page.locator('.drawer li.alert').evaluateAll((els) => els.map((e) => e.getAttribute('data-alert')));
        const pick = now.alerts.find((a) => shown.includes(a.id));
        if (!pick) {
          await page.waitForTimeout(500);
          continue;
        }
        const clicked = await page
          .locator(`.drawer li.alert[data-alert="${pick.id}"]`)
          .click({ timeout: 3000 })
          .then(() => true, () => false);
        if (clicked) alert = pick;
      }
      // Every alert may have cleared meanwhile (all controllers on central plans): then the panel says so.
      if (!alert) await page.locator('.drawer', { hasText: 'No active alerts' }).waitFor({ timeout: 5000 });
      else
        await page.waitForFunction((p) => {
          const t = window.__viewerTest!.cameraTarget();
          return Math.hypot(t.x - p.x, t.y - p.y) < 1;
        }, alert.place, { timeout: 5000 });
    }
    await shot('alerts');
    await closePanel('alerts');
    await page.evaluate(() => window.__viewerTest!.fit());
  });

  it('forecast: horizons from the forecasts topic recolour the lanes, with the legend saying so', async () => {
    await openPanel('forecast');
    const horizon = page.locator('.drawer [data-horizon]:not([data-horizon=now])').first();
    const published = await horizon.waitFor({ timeout: 15_000 }).then(() => true, () => false);
    if (published) {
      const minutes = await horizon.getAttribute('data-horizon');
      await horizon.click();
      expect(await page.locator('.legend-horizon').textContent()).toBe(`forecast +${minutes} min`);
      await shot('forecast');
      await page.locator('.drawer [data-horizon=now]').click();
      expect(await page.locator('.legend-horizon').textContent()).toBe('now');
      // Running accuracy: a row per horizon; the first scores once its due minute has passed
      // (persistence at least: the model may not be trained yet).
      const horizons = await page.locator('.drawer [data-horizon]:not([data-horizon=now])').count();
      const first = page.locator(`.drawer table.forecast-accuracy tr[data-minutes="${minutes}"] td[data-method=persistence]`);
      await first.filter({ hasText: /^\d+\.\d\d$/ }).waitFor({ timeout: 30_000 });
      expect(await page.locator('.drawer table.forecast-accuracy tbody tr').count()).toBe(horizons);
      expect(await page.locator('.drawer table.forecast-accuracy thead th').allTextContents()).toEqual(['Ahead', 'Model', 'Persistence', 'Hist. avg', 'Served']);
      // What each horizon's forecast is made of.
      expect(await page.locator('.drawer .forecast-note').textContent()).toMatch(/^Forecasts for \d+ roads, each horizon a blend .* \+\d+ min: (model|persistence|hist\. avg) \d+ %/);
      expect(await page.locator('.drawer .forecast-accuracy p').textContent()).toMatch(/same .* road forecasts|baselines over [\d,]+ road forecasts/);
      await shot('forecast-accuracy');

      // One road picked on the map: its speed with the forecasts made for it, scored there.
      const point = await visibleRoadPoint(network.roads);
      expect(point).not.toBeNull();
      await page.locator('[data-action=forecast-road-pick]').click();
      await page.mouse.click(point!.x, point!.y);
      const name = page.locator('.drawer .road-check .road-name');
      await name.waitFor({ timeout: 10_000 });
      // The nearest road to that point (the road of the other direction may be as near).
      expect(network.roads.map((r) => r.id)).toContain(await name.getAttribute('data-road'));
      // A stored row every 5 simulated minutes: the panel fetches again as they come.
      await page.locator('.drawer .road-check path[data-series=speed][d*=L]').waitFor({ timeout: 90_000 });
      expect(await page.locator('.drawer .road-check path[data-series="forecast +15 min"]').count()).toBe(1);
      expect(await page.locator('.drawer table.road-accuracy tbody tr').count()).toBe(horizons);
      expect(await page.locator('.drawer .road-check .chart-key .key').allTextContents()).toEqual(['speed', 'forecast +15 min', 'forecast +60 min']);
      await shot('forecast-road');
    } else {
      expect(await page.locator('.drawer .forecast-note').textContent()).toMatch(/not publish forecasts|Waiting/);
    }
    await closePanel('forecast');
  });

  it('what-if: a road closed by clicking it, run to completion, KPIs side by side, replayed', async () => {
    await openPanel('whatif');
    // A road between two signalised intersections, its middle visible beside the drawer.
    const signalised = new Set(network.intersections.filter((i) => !i.virtual).map((i) => i.id));
    const point = await visibleRoadPoint(network.roads.filter((x) => signalised.has(x.from) && signalised.has(x.to)));
    expect(point).not.toBeNull();
    await page.locator('[data-action=whatif-pick]').click();
    await page.mouse.click(point!.x, point!.y);
    await page.locator('.drawer li.chip').first().waitFor({ timeout: 5000 });
    await page.locator('[data-action=whatif-pick]').click();
    await page.locator('.drawer select').selectOption('300');
    await page.locator('[data-action=whatif-run]').click();
    await page.locator('.whatif-status[data-state=queued], .whatif-status[data-state=running], .whatif-status[data-state=done]').first().waitFor({ timeout: 10_000 });
    await page.locator('.whatif-status[data-state=done]').waitFor({ timeout: 240_000 });
    const rows = page.locator('.drawer table.kpis tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(4);
    const att = await page.locator('.drawer tr[data-kpi=att] td').allTextContents();
    expect(Number(att[1])).toBeGreaterThan(0);
    expect(Number(att[2])).toBeGreaterThan(0);
    await shot('whatif-result');
    await page.locator('[data-action=whatif-replay]').click();
    await page.waitForFunction(() => Number(document.querySelector('.whatif-panel')?.getAttribute('data-replay-frame') ?? -1) >= 2, null, { timeout: 20_000 });
    await shot('whatif-replay');
    await page.locator('[data-action=whatif-replay-stop]').click();
    await closePanel('whatif');
  }, 300_000);

  it('emergency: origin and destination picked on the map, routed with pre-emption, followed to arrival', async () => {
    await openPanel('emergency');
    const ids = await page.evaluate(() => window.__viewerTest!.signalisedIds());
    // Two signalised intersections far apart, both visible beside the drawer.
    const visible: { id: string; p: { x: number; y: number } }[] = [];
    const legend = await legendBox();
    for (const id of ids) {
      const p = await page.evaluate((i) => window.__viewerTest!.screenPointOf(i), id);
      if (clearOfPanels(p, legend)) visible.push({ id, p: p! });
    }
    expect(visible.length).toBeGreaterThanOrEqual(2);
    let best: [number, number] = [0, 1];
    for (let a = 0; a < visible.length; a++) for (let b = a + 1; b < visible.length; b++) {
      const d = Math.hypot(visible[a].p.x - visible[b].p.x, visible[a].p.y - visible[b].p.y);
      if (d > Math.hypot(visible[best[0]].p.x - visible[best[1]].p.x, visible[best[0]].p.y - visible[best[1]].p.y)) best = [a, b];
    }
    await page.locator('[data-action=emergency-origin]').click();
    await page.mouse.click(visible[best[0]].p.x, visible[best[0]].p.y);
    // After the origin the next click sets the destination.
    await page.mouse.click(visible[best[1]].p.x, visible[best[1]].p.y);
    expect(await page.locator('.emergency-panel p.mono').textContent()).toBe(`From ${visible[best[0]].id} to ${visible[best[1]].id}`);
    await page.locator('[data-action=emergency-route]').click();
    await page.locator('.emergency-status[data-state=active]').waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-field=eta]').textContent()).toMatch(/^\d+ s/);
    expect(await page.locator('.drawer tr[data-preempt]').count()).toBeGreaterThan(0);
    await shot('emergency-active');
    await page.locator('.emergency-status[data-state=completed]').waitFor({ timeout: 180_000 });
    expect(await page.locator('[data-field=eta]').textContent()).toMatch(/arrived/);
    await shot('emergency-arrived');
    await closePanel('emergency');
  }, 240_000);

  it('raised no errors in the console', () => {
    expect(errors).toEqual([]);
  });
});
