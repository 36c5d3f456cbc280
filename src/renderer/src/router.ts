import { ref } from 'vue';
import { formatHash, parseHash, type Route, type RouteName } from './lib/route.js';

export const route = ref<Route>(parseHash(window.location.hash));

window.addEventListener('hashchange', () => {
  route.value = parseHash(window.location.hash);
});

export function go(
  name: Exclude<RouteName, 'not-found'>,
  id: string | null = null,
  query: Record<string, string | undefined> = {},
): void {
  window.location.hash = formatHash(name, id, query);
}

/** Updates the query of the current screen without adding a history entry (filters, toggles). */
export function replaceQuery(query: Record<string, string | undefined>): void {
  const r = route.value;
  if (r.name === 'not-found') return;
  const hash = formatHash(r.name, r.id, query);
  history.replaceState(history.state, '', hash);
  route.value = parseHash(hash);
}

export { formatHash as href };
