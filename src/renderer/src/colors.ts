import { ref } from 'vue';
import { methodInfo } from '../../shared/domain/index.js';

/** Bumped when the system switches between light and dark, so charts re-read their colours. */
export const themeVersion = ref(0);
const media = window.matchMedia?.('(prefers-color-scheme: dark)');
/** Computed-style reads force a style recalculation: cache them until the theme changes. */
const cache = new Map<string, string>();
media?.addEventListener('change', () => {
  cache.clear();
  themeVersion.value++;
});

export function cssVar(name: string, fallback = ''): string {
  let v = cache.get(name);
  if (v === undefined) {
    v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    cache.set(name, v);
  }
  return v || fallback;
}

export function isDark(): boolean {
  return media?.matches ?? false;
}

/** Colours of the groups that are not methods; a method's own comes from the domain registry. */
const FALLBACK: Record<string, string> = {
  source: '#15803d',
  target: '#0f8f86',
};
const EXTRA = ['#c2185b', '#00838f', '#6d4c41', '#558b2f', '#283593', '#ef6c00'];

export function methodColor(method: string): string {
  const own = methodInfo(method)?.colour ?? FALLBACK[method];
  if (own) return cssVar(`--m-${method}`, own);
  let h = 0;
  for (const c of method) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return EXTRA[h % EXTRA.length];
}

export interface ChartTheme {
  fg: string;
  muted: string;
  grid: string;
  panel: string;
}

export function chartTheme(): ChartTheme {
  return {
    fg: cssVar('--fg', '#1b1f24'),
    muted: cssVar('--muted', '#5b6470'),
    grid: cssVar('--grid', '#e3e6ea'),
    panel: cssVar('--panel', '#ffffff'),
  };
}
