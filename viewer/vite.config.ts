/**
 * Vite build of the viewer: `vite build viewer` (npm run build:viewer) writes viewer/dist, which
 * the service serves at `/`. `vite viewer` runs a dev server that proxies the API and the
 * WebSocket to a service on 127.0.0.1:8080 (or VIEWER_API).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Root pinned to this folder so the config works whichever directory vite is started from.
const root = fileURLToPath(new URL('.', import.meta.url));
const api = process.env.VIEWER_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root,
  base: './',
  // The viewer has no public/ assets; an explicit false keeps vite from copying the repo's.
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    // three.js alone is ~700 kB minified; one chunk is what we want for a single page.
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      // zod's sources carry comments Rollup cannot place; the warning is noise, not a problem.
      onwarn(warning, warn) {
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('node_modules')) return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: {
      '/api': api,
      '/health': api,
      '/ws': { target: api.replace(/^http/, 'ws'), ws: true },
    },
  },
});
