/**
 * The renderer's build: a plain Vue app in src/renderer, emitted to out/renderer with relative
 * asset paths so the same files load from the headless host (http) and from Electron.
 * electron.vite.config.ts reuses `rendererConfig` for its renderer section.
 */
import vue from '@vitejs/plugin-vue';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin, type UserConfig } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

/**
 * The dev server injects component styles as <style> elements, which the production CSP
 * (style-src 'self') forbids; only while serving, the meta tag allows inline styles.
 */
function devInlineStyles(): Plugin {
  return {
    name: 'lab-dev-inline-styles',
    apply: 'serve',
    transformIndexHtml: (html) => html.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
  };
}

export const rendererConfig: UserConfig = {
  root: here('./src/renderer'),
  base: './',
  plugins: [vue(), devInlineStyles()],
  build: {
    outDir: here('./out/renderer'),
    emptyOutDir: true,
    // No preload links: the CSP allows scripts from 'self' only (no inline polyfill), and a screen's
    // chunk is served locally, so the browser fetches its imports as it reads it; adding the links
    // when a screen first shows cost the startup task more than it saved.
    modulePreload: false,
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
    rolldownOptions: {
      output: {
        // The chart component and its library in a chunk of their own: a screen that draws its
        // chart later (Compare) loads them after its first paint instead of with its own code.
        codeSplitting: {
          groups: [
            {
              name: 'chart',
              // only these modules: what they import stays where the other screens share it
              includeDependenciesRecursively: false,
              test: /node_modules[\\/](chart\.js|chartjs-plugin-zoom|hammerjs|@kurkle)[\\/]|LineChart\.vue/,
            },
          ],
        },
      },
    },
  },
  define: {
    // Vue's compile-time flags, set explicitly so the production bundle drops devtools hooks.
    __VUE_OPTIONS_API__: 'false',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
  },
  server: { strictPort: false },
};

export default defineConfig(rendererConfig);
