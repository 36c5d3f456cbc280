import { ref, shallowRef, type Ref } from 'vue';
import type { AppInfo, LabApi, LabEvent, Reply, RequestArgs, RequestName } from '../../shared/lab-api.js';
import { connectLab, type ConnectionState, type LabWsClient } from '../../shared/lab-ws-client.js';

/**
 * The renderer's one door to the lab: `window.lab` from the Electron preload, or the WebSocket
 * client in a browser (token from the page URL). Every screen goes through `lab`.
 */
function open(): { api: LabApi; ws: LabWsClient | null } {
  if (window.lab) return { api: window.lab, ws: null };
  const ws = connectLab(window.location);
  // The token came in the URL once; the host set a cookie with this page, so it leaves the address
  // bar (and history, bookmarks, screen shares).
  const url = new URL(window.location.href);
  if (url.searchParams.has('token')) {
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  }
  return { api: ws, ws };
}

const { api, ws } = open();

export const connection: Ref<ConnectionState> = ref(ws ? ws.state : 'open');
/** bumped after a reconnect, so screens refetch what they show */
export const reconnects = ref(0);
if (ws) {
  let wasOpen = ws.state === 'open';
  ws.onState((s) => {
    connection.value = s;
    if (s === 'open') {
      if (!wasOpen) reconnects.value++;
      wasOpen = true;
    }
  });
}

export function request<N extends RequestName>(name: N, args: RequestArgs<N>): Promise<Reply<N>> {
  return api.request(name, args);
}

export function onLabEvent(listener: (e: LabEvent) => void): () => void {
  return api.onEvent(listener);
}

export const transport = api.transport;

/** Settings → Lab host (the desktop's main process keeps it; absent in a browser, which is on its host already). */
export const remoteHost = api.remoteHost ?? null;

/** app.info, fetched once and shared (backend, data folder for parameter files). */
export const appInfo = shallowRef<AppInfo | null>(null);
let infoPromise: Promise<AppInfo> | null = null;
/** `refresh` asks again (the backend is only known once a worker has probed it). */
export function loadAppInfo(refresh = false): Promise<AppInfo> {
  if (refresh) infoPromise = null;
  infoPromise ??= request('app.info', {}).then(
    (i) => {
      appInfo.value = i;
      return i;
    },
    (e) => {
      infoPromise = null;
      throw e;
    },
  );
  return infoPromise;
}
