/**
 * The desktop build (electron-vite):
 *   out/main/index.js    Electron main (ES module; package.json has "type": "module")
 *   out/main/worker.js   the job worker, started with utilityProcess.fork
 *   out/preload/index.cjs  CommonJS with its imports bundled in: a sandboxed preload cannot
 *                          load ES modules or require packages
 *   out/renderer/        the Vue app, built with the renderer's own settings (vite.renderer.config.ts)
 * Packages stay external for main and the worker (better-sqlite3, tfjs load from node_modules).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';
import { rendererConfig } from './vite.renderer.config';

const here = dirname(fileURLToPath(import.meta.url));
const root = (p: string): string => resolve(here, p);

export default defineConfig({
  main: {
    build: {
      outDir: root('out/main'),
      target: 'node22',
      rollupOptions: {
        input: { index: root('src/main/index.ts'), worker: root('src/worker/index.ts') },
        output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: root('out/preload'),
      externalizeDeps: false,
      rollupOptions: {
        input: { index: root('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    ...rendererConfig,
    build: { ...rendererConfig.build, outDir: root('out/renderer') },
  },
});
