/**
 * Shared by the browser tests and bench/viewer.ts: the real service on a free port with a
 * temporary database, headless Chromium through playwright-core, and signing in to the viewer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ConfigSchema, type Config } from '../../server/config.ts';
import { startService, type RunningService } from '../../server/Service.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VIEWER_DIR = join(ROOT, 'viewer');
export const VIEWER_DIST = join(VIEWER_DIR, 'dist');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ADMIN_TOKEN = 'browser-test-admin-token-0123456789';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Why viewer/dist cannot be used as it is, or null when it is built and newer than its sources. */
export function viewerBuildProblem(): string | null {
  const index = join(VIEWER_DIST, 'index.html');
  if (!existsSync(index)) return 'viewer/dist is missing';
  const sources = Math.max(newestMtime(join(VIEWER_DIR, 'src')), statSync(join(VIEWER_DIR, 'index.html')).mtimeMs, statSync(join(VIEWER_DIR, 'vite.config.ts')).mtimeMs);
  if (sources > statSync(index).mtimeMs) return 'viewer/dist is older than viewer/src';
  return null;
}

/**
 * Builds the viewer when dist is missing or stale. Runs vite's own CLI with this Node (not npx,
 * which may prompt or pick another vite), from the repository root.
 */
export function ensureViewerBuilt(): { built: boolean; reason: string | null } {
  const reason = viewerBuildProblem();
  if (!reason) return { built: false, reason: null };
  const viteBin = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  const r = spawnSync(process.execPath, [viteBin, 'build', 'viewer', '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 || !existsSync(join(VIEWER_DIST, 'index.html'))) {
    throw new Error(`vite build viewer failed (${reason}): ${r.error?.message ?? ''}\n${r.stdout}\n${r.stderr}`);
  }
  return { built: true, reason };
}

export interface BrowserService extends RunningService {
  dataDir: string;
  config: Config;
  /** Stops the service and removes its temporary database. */
  shutdown(): Promise<void>;
}

export async function startBrowserService(overrides: Record<string, string> = {}, dataDir = mkdtempSync(join(tmpdir(), 'twin-viewer-'))): Promise<BrowserService> {
  const config = ConfigSchema.parse({ PORT: '0', DATA_DIR: dataDir, ADMIN_TOKEN, SPEED: '20', ...overrides });
  const svc = await startService(config);
  let stopped = false;
  return Object.assign(svc, {
    dataDir,
    config,
    shutdown: async () => {
      if (!stopped) {
        stopped = true;
        await svc.stop();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** Opens the viewer at `pageUrl`, signs in with `token` and waits until the stream is connected. */
export async function signIn(page: Page, pageUrl: string, token: string, timeoutMs = 20_000): Promise<void> {
  await page.goto(pageUrl, { waitUntil: 'domcontentloaded' });
  await page.locator('#token').fill(token);
  await page.locator('form.login-card button[type=submit]').click();
  await page.locator('.status[data-status="connected"]').waitFor({ timeout: timeoutMs });
}
