/**
 * TensorFlow.js backend selection for forecasting. Order of preference:
 *  1. `@tensorflow/tfjs-node` (native TensorFlow; an optional dependency because its installer
 *     downloads a native library, which fails on machines without internet),
 *  2. `@tensorflow/tfjs` + the WebAssembly backend (portable, SIMD, no native build),
 *  3. the plain JavaScript `cpu` backend (always there, slow).
 * The choice is made once per process; the returned name is what the service reports.
 * `FORECAST_BACKEND=tensorflow|wasm|cpu` forces one (falling back down the list if it fails).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { z } from 'zod';

export const BackendNameSchema = z.enum(['tensorflow', 'wasm', 'cpu']);
export type BackendName = z.infer<typeof BackendNameSchema>;

let chosen: Promise<BackendName> | null = null;

/** Initialises the best available backend once and returns the name of the backend in use. */
export function initForecastBackend(): Promise<BackendName> {
  chosen ??= chooseBackend();
  return chosen;
}

async function chooseBackend(): Promise<BackendName> {
  const forced = BackendNameSchema.safeParse(process.env.FORECAST_BACKEND);
  const order: BackendName[] = ['tensorflow', 'wasm', 'cpu'];
  const start = forced.success ? order.indexOf(forced.data) : 0;
  for (const name of order.slice(start)) {
    if (await tryBackend(name)) return name;
  }
  throw new Error('no TensorFlow.js backend could be initialised (not even cpu)');
}

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'tensorflow') {
      // A variable specifier keeps TypeScript and bundlers from requiring the optional package.
      const specifier = '@tensorflow/tfjs-node';
      await (import(specifier) as Promise<unknown>);
    } else if (name === 'wasm') {
      // In Node the Emscripten loader reads the .wasm binaries from disk: point it at the
      // package's dist/ folder (a directory path ending in a separator).
      const require = createRequire(import.meta.url);
      const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
      setWasmPaths(join(dirname(pkg), 'dist') + sep);
    }
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    if (name === 'wasm') materialiseMatMulTransposes();
    return tf.getBackend() === name && worksOn();
  } catch {
    return false;
  }
}

/**
 * The wasm BatchMatMul leaves its fast (XNNPACK) path when asked to transpose an operand and
 * runs about ten times slower; every matMul gradient asks exactly that. Wrapping the kernel so
 * that it transposes the operand explicitly first (a cheap copy) makes training ~5× faster.
 */
function materialiseMatMulTransposes(): void {
  const original = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (original === undefined || transpose === undefined) return;
  const swapLastTwo = (backend: {}, x: tf.TensorInfo): tf.TensorInfo => {
    const perm = x.shape.map((_, i) => i);
    perm.splice(-2, 2, perm.length - 1, perm.length - 2);
    return transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const transposeA = attrs?.transposeA === true;
      const transposeB = attrs?.transposeB === true;
      const { a: a0, b: b0 } = inputs;
      if ((!transposeA && !transposeB) || a0 === undefined || b0 === undefined) return original.kernelFunc({ inputs, backend, attrs });
      const a = transposeA ? swapLastTwo(backend, a0) : a0;
      const b = transposeB ? swapLastTwo(backend, b0) : b0;
      const out = original.kernelFunc({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      const kernels = backend as tf.KernelBackend;
      if (transposeA) kernels.disposeData(a.dataId);
      if (transposeB) kernels.disposeData(b.dataId);
      return out;
    },
  });
}

/**
 * A backend can register yet fail on first use (e.g. a missing .wasm): run a few tiny ops,
 * transposed products included.
 */
function worksOn(): boolean {
  const out = tf.tidy(() => {
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const b = tf.tensor2d([[5, 6], [7, 8]]);
    return tf.concat([tf.matMul(a, b), tf.matMul(a, b, true, false), tf.matMul(a, b, false, true)]);
  });
  const v = Array.from(out.dataSync());
  out.dispose();
  // a·b, aᵀ·b, a·bᵀ
  const expected = [19, 22, 43, 50, 26, 30, 38, 44, 17, 23, 39, 53];
  return v.length === expected.length && v.every((x, i) => x === expected[i]);
}
