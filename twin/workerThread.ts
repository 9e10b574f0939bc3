/**
 * Starts a worker thread on a sibling module of the caller, whether the project runs from its
 * TypeScript sources (tsx) or from compiled JavaScript. Node 20 does not apply `--import tsx`
 * given in a worker's execArgv to the worker's own loader, so under tsx a tiny bootstrap
 * registers tsx's loader inside the worker first, then imports the entry.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** `callerUrl` is the caller's import.meta.url; `name` the entry's base name beside it ("worker"). */
export function startWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  const ts = callerUrl.endsWith('.ts');
  const entry = new URL(`./${name}${ts ? '.ts' : '.js'}`, callerUrl);
  if (!ts) return new Worker(entry, { workerData });
  // tsx's ESM API entry (the CommonJS one registers a loader path that does not resolve).
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const api = pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api']?.import?.default ?? './dist/esm/api/index.mjs')).href;
  const code = `(async () => { const { register } = await import(${JSON.stringify(api)}); register(); await import(${JSON.stringify(entry.href)}); })().catch((e) => { throw e; });`;
  return new Worker(code, { eval: true, workerData, execArgv: [] });
}
