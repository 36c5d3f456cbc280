/**
 * Import this first, then load Electron-side modules with a dynamic `import()`: from here on
 * `'electron'` resolves to test/mocks/electron.ts (static imports are linked before this runs).
 */
import { register } from 'node:module';

register('./electron-loader.mjs', import.meta.url);
