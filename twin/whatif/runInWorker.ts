/**
 * Main-thread side of a what-if run in a worker thread: starts `worker.ts` (through tsx when the
 * sources are TypeScript), forwards progress, cancels on an AbortSignal through a shared flag the
 * worker checks every step (terminating it if it does not stop within a grace period), and
 * resolves with the worker's result.
 */
import { startWorker } from '../workerThread.ts';
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


function abortError(): Error {
  const e = new Error('what-if run cancelled');
  e.name = 'AbortError';
  return e;
}

export function runWhatIfInWorker(input: Omit<WhatIfWorkerInput, 'cancelFlag'>, opts: WorkerRunOptions = {}): Promise<WhatIfResult> {
  if (opts.signal?.aborted) return Promise.reject(abortError());
  const cancelFlag = new SharedArrayBuffer(4);
  const worker = startWorker(import.meta.url, 'worker', { input: { ...input, cancelFlag } });
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
