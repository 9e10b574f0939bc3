/**
 * Main-thread side of a what-if run in a worker thread: starts `worker.ts` (through tsx when the
 * sources are TypeScript), forwards progress, cancels on an AbortSignal through a shared flag the
 * worker checks every step (terminating it if it does not stop within a grace period), and
 * resolves with the worker's result.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WhatIfProgress, WhatIfResult } from './ScenarioRunner.ts';
import type { WhatIfWorkerInput, WhatIfWorkerMessage } from './worker.ts';

export interface WorkerRunOptions {
  onProgress?: (p: WhatIfProgress) => void;
  signal?: AbortSignal;
  /** How long a cancelled worker may take to stop before it is terminated (ms). */
  cancelGraceMs?: number;
}

export class WhatIfWorkerError extends Error {
  constructor(
    name: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = name;
  }
}

/**
 * A worker running a TypeScript entry. Node 20 does not apply `--import tsx` given in a worker's
 * execArgv to the worker's own loader, so a tiny bootstrap registers tsx's loader inside the
 * worker first, then imports the entry.
 */
function tsWorker(entry: URL, workerData: unknown): Worker {
  // tsx's ESM API entry (the CommonJS one registers a loader path that does not resolve).
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const api = pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api']?.import?.default ?? './dist/esm/api/index.mjs')).href;
  const code = `(async () => { const { register } = await import(${JSON.stringify(api)}); register(); await import(${JSON.stringify(entry.href)}); })().catch((e) => { throw e; });`;
  return new Worker(code, { eval: true, workerData, execArgv: [] });
}

function abortError(): Error {
  const e = new Error('what-if run cancelled');
  e.name = 'AbortError';
  return e;
}

export function runWhatIfInWorker(input: Omit<WhatIfWorkerInput, 'cancelFlag'>, opts: WorkerRunOptions = {}): Promise<WhatIfResult> {
  if (opts.signal?.aborted) return Promise.reject(abortError());
  const ts = import.meta.url.endsWith('.ts');
  const url = new URL(ts ? './worker.ts' : './worker.js', import.meta.url);
  const cancelFlag = new SharedArrayBuffer(4);
  const workerData = { input: { ...input, cancelFlag } };
  const worker = ts ? tsWorker(url, workerData) : new Worker(url, { workerData });
  return new Promise<WhatIfResult>((resolve, reject) => {
    let settled = false;
    let grace: ReturnType<typeof setTimeout> | null = null;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (grace) clearTimeout(grace);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = () => {
      Atomics.store(new Int32Array(cancelFlag), 0, 1);
      grace = setTimeout(() => finish(() => reject(abortError())), opts.cancelGraceMs ?? 2000);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: WhatIfWorkerMessage) => {
      if (m.type === 'progress') opts.onProgress?.(m.progress);
      else if (m.type === 'result') finish(() => resolve(m.result));
      else if (m.type === 'cancelled') finish(() => reject(abortError()));
      else finish(() => reject(new WhatIfWorkerError(m.error.name, m.error.message, m.error.path)));
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) => finish(() => reject(new Error(`what-if worker exited (code ${code}) without a result`))));
  });
}
