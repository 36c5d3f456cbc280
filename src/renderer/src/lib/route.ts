/**
 * Hash routes ("#/run/abc?metric=valLoss"): the page's query string keeps the access token, and
 * a hash survives reloads in Electron and the browser alike.
 */
export type RouteName =
  'home' | 'new' | 'run' | 'history' | 'compare' | 'bundles' | 'library' | 'settings' | 'not-found';

export interface Route {
  name: RouteName;
  /** the path's id (run/<id>) */
  id: string | null;
  query: Record<string, string>;
}

const NAMES: Record<string, RouteName> = {
  '': 'home',
  new: 'new',
  run: 'run',
  history: 'history',
  compare: 'compare',
  bundles: 'bundles',
  library: 'library',
  settings: 'settings',
};

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, '');
  const q = h.indexOf('?');
  const path = (q < 0 ? h : h.slice(0, q)).replace(/^\/+|\/+$/g, '');
  const query: Record<string, string> = {};
  if (q >= 0) for (const [k, v] of new URLSearchParams(h.slice(q + 1))) query[k] = v;
  const [head = '', id = null, ...rest] = path.split('/');
  const name = NAMES[head];
  if (!name || rest.length || (name === 'run') !== (id !== null))
    return { name: 'not-found', id: null, query };
  return { name, id: id ? decodeURIComponent(id) : null, query };
}

export function formatHash(
  name: Exclude<RouteName, 'not-found'>,
  id: string | null = null,
  query: Record<string, string | undefined> = {},
): string {
  const head = name === 'home' ? '' : name;
  let s = `#/${head}${id !== null ? `/${encodeURIComponent(id)}` : ''}`;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
  const qs = q.toString();
  if (qs) s += `?${qs}`;
  return s;
}
