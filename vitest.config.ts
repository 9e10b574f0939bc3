import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Two cores on the CI machine: keep workers to what it has.
    maxWorkers: 2,
  },
});
