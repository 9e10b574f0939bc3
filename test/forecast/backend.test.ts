import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BackendNameSchema, initForecastBackend } from '../../twin/forecast/backend.ts';

describe('forecast backend', () => {
  it('initialises once and reports a known backend that computes', async () => {
    const name = await initForecastBackend();
    expect(BackendNameSchema.options).toContain(name);
    expect(tf.getBackend()).toBe(name);
    expect(await initForecastBackend()).toBe(name);
    // On this project's machines tfjs-node is not installed, so WebAssembly is expected unless forced.
    if (process.env.FORECAST_BACKEND === undefined) expect(['tensorflow', 'wasm']).toContain(name);
    const sum = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0]);
    expect(sum).toBe(6);
  });
});
