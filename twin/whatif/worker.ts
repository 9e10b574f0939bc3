/**
 * Worker-thread entry for what-if runs, so a run never blocks the thread serving requests.
 * Input (workerData.input, or the first message `{ type: 'run', input }`): the CityFlow roadnet
 * and flow JSON, the scenario, optionally a module exporting `createController` (a
 * ControllerFactory) and a SharedArrayBuffer flag the caller sets to cancel (checked every
 * step). Posts `{ type: 'progress' }` messages, then `{ type: 'result' }` (structured-cloneable)
 * or `{ type: 'error' }` / `{ type: 'cancelled' }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { importFlows, importRoadnet } from '../network/importCityFlow.ts';
import { runWhatIf, type ControllerFactory, type WhatIfProgress, type WhatIfResult } from './ScenarioRunner.ts';

export interface WhatIfWorkerInput {
  roadnet: unknown;
  flows: unknown;
  scenario: unknown;
  /** Module URL or specifier exporting `createController: ControllerFactory`. */
  controllerModule?: string;
  /** Int32 flag: set element 0 to 1 to cancel. */
  cancelFlag?: SharedArrayBuffer;
}

export interface WorkerError {
  name: string;
  message: string;
  path?: string;
}

export type WhatIfWorkerMessage =
  | { type: 'progress'; progress: WhatIfProgress }
  | { type: 'result'; result: WhatIfResult }
  | { type: 'cancelled' }
  | { type: 'error'; error: WorkerError };

async function run(input: WhatIfWorkerInput): Promise<WhatIfWorkerMessage> {
  try {
    let controllers: ControllerFactory | undefined;
    if (input.controllerModule) {
      const mod = (await import(input.controllerModule)) as { createController?: ControllerFactory };
      if (typeof mod.createController !== 'function') throw new Error(`${input.controllerModule} exports no createController`);
      controllers = mod.createController;
    }
    const net = importRoadnet(input.roadnet, 'roadnet');
    const flows = importFlows(input.flows, net, 'flows');
    const flag = input.cancelFlag ? new Int32Array(input.cancelFlag) : null;
    const result = runWhatIf({ net, flows, controllers }, input.scenario as Parameters<typeof runWhatIf>[1], {
      onProgress: (progress) => parentPort?.postMessage({ type: 'progress', progress } satisfies WhatIfWorkerMessage),
      isCancelled: flag ? () => Atomics.load(flag, 0) === 1 : undefined,
    });
    return { type: 'result', result };
  } catch (e) {
    const err = e as Error & { path?: string };
    if (err.name === 'AbortError') return { type: 'cancelled' };
    return { type: 'error', error: { name: err.name, message: err.message, ...(typeof err.path === 'string' ? { path: err.path } : {}) } };
  }
}

const fromData = (workerData as { input?: WhatIfWorkerInput } | null)?.input;
if (parentPort) {
  const port = parentPort;
  if (fromData) {
    port.postMessage(await run(fromData));
  } else {
    port.once('message', async (m: { type: 'run'; input: WhatIfWorkerInput }) => {
      if (m?.type === 'run') port.postMessage(await run(m.input));
    });
  }
}
