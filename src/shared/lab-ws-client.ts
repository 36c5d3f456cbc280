/**
 * `window.lab` for a plain browser: the same LabApi as the Electron preload, over the headless
 * host's WebSocket. Browser-safe (no Node imports); Node tests pass the `ws` package's WebSocket.
 *
 *   import { connectLab } from '../../shared/lab-ws-client';
 *   const lab = window.lab ?? connectLab(location);
 *
 * The access token comes from the page URL (`?token=…`, printed by `npm run serve`). Requests made
 * while the socket is (re)connecting wait for it; requests in flight when it closes are rejected
 * with a LabRequestError (code 'internal'); the client reconnects by itself with a growing delay.
 */
import type {
  LabApi,
  LabEvent,
  Reply,
  RequestArgs,
  RequestName,
  WsClientFrame,
  WsServerFrame,
} from './lab-api.js';
import { LabRequestError } from './lab-errors.js';

/** The part of the WebSocket API used here; the browser's and the `ws` package's both fit. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: 'open' | 'close' | 'error' | 'message',
    listener: (e: { data?: unknown; code?: number; reason?: string }) => void,
  ): void;
}

export type SocketFactory = (url: string) => SocketLike;

export interface ConnectOptions {
  /** defaults to the `token` query parameter of the location; none: the cookie set with the page carries it */
  token?: string;
  /**
   * Asked after a connection attempt fails: the HTTP status of GET /api/session (401: the token is
   * wrong, so retrying is pointless). Defaults to fetch() where there is one.
   */
  sessionStatus?: (url: string, token: string) => Promise<number>;
  /** defaults to the global WebSocket */
  socket?: SocketFactory;
  /** reconnect after a close (default true) */
  reconnect?: boolean;
  /** first reconnect delay; doubles up to maxRetryMs */
  retryMs?: number;
  maxRetryMs?: number;
}

/** 'unauthorized': the host refused the token; the client stops retrying (a new address is needed). */
export type ConnectionState = 'connecting' | 'open' | 'closed' | 'unauthorized';

export interface LabWsClient extends LabApi {
  readonly state: ConnectionState;
  /** called on every state change; after a reconnect the renderer should refetch what it shows */
  onState(listener: (s: ConnectionState) => void): () => void;
  /** closes for good: no reconnect, waiting requests are rejected */
  close(): void;
}

interface LocationLike {
  protocol: string;
  host: string;
  search?: string;
}

const OPEN = 1;

function apiUrl(loc: LocationLike | string, token: string): string {
  const l: LocationLike = typeof loc === 'string' ? new URL(loc) : loc;
  const scheme = l.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${l.host}/api${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

function sessionUrl(loc: LocationLike | string): string {
  const l: LocationLike = typeof loc === 'string' ? new URL(loc) : loc;
  return `${l.protocol}//${l.host}/api/session`;
}

const defaultSessionStatus = async (url: string, token: string): Promise<number> => {
  const f = (globalThis as { fetch?: typeof fetch }).fetch;
  if (!f) return 0;
  try {
    const r = await f(url, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: token ? { Authorization: `token ${token}` } : {},
    });
    return r.status;
  } catch {
    return 0;
  }
};

/** What the page says when the host refuses its token. */
export const UNAUTHORIZED_MESSAGE =
  'this page has no valid token for the lab: open the address `npm run serve` printed (`npm run serve -- list` shows it again)';

function tokenFrom(loc: LocationLike | string): string {
  const search = typeof loc === 'string' ? new URL(loc).search : (loc.search ?? '');
  return new URLSearchParams(search).get('token') ?? '';
}

function lost(message: string): LabRequestError {
  return new LabRequestError({ code: 'internal', message });
}

export function connectLab(loc: LocationLike | string, options: ConnectOptions = {}): LabWsClient {
  const token = options.token ?? tokenFrom(loc);
  const url = apiUrl(loc, token);
  const makeSocket: SocketFactory =
    options.socket ??
    ((u) => {
      const WS = (globalThis as unknown as { WebSocket?: new (u: string) => SocketLike }).WebSocket;
      if (!WS) throw new Error('no WebSocket in this environment; pass options.socket');
      return new WS(u);
    });
  const reconnect = options.reconnect ?? true;
  const sessionStatus = options.sessionStatus ?? defaultSessionStatus;
  const firstRetry = options.retryMs ?? 500;
  const maxRetry = options.maxRetryMs ?? 5000;

  const listeners = new Set<(e: LabEvent) => void>();
  const stateListeners = new Set<(s: ConnectionState) => void>();
  /** sent, waiting for a reply */
  const inFlight = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  /** asked for while not connected; sent on open, rejected if this connection attempt fails */
  let waiting: { frame: WsClientFrame; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  let nextId = 1;
  let socket: SocketLike | null = null;
  let state: ConnectionState = 'connecting';
  let closedForGood = false;
  let retry = firstRetry;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const setState = (s: ConnectionState): void => {
    if (s === state) return;
    state = s;
    for (const l of stateListeners) l(s);
  };

  const failAll = (why: string): void => {
    for (const p of inFlight.values()) p.reject(lost(why));
    inFlight.clear();
    const w = waiting;
    waiting = [];
    for (const p of w) p.reject(lost(why));
  };

  const onFrame = (data: unknown): void => {
    let frame: WsServerFrame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data)) as WsServerFrame;
    } catch {
      return;
    }
    if (frame.kind === 'event') {
      for (const l of listeners) {
        try {
          l(frame.event);
        } catch (e) {
          console.error('lab event listener failed', e);
        }
      }
      return;
    }
    if (frame.kind === 'reply') {
      const p = inFlight.get(frame.id);
      if (!p) return;
      inFlight.delete(frame.id);
      if (frame.ok) p.resolve(frame.value);
      else p.reject(new LabRequestError(frame.error));
    }
  };

  const open = (): void => {
    timer = null;
    if (closedForGood) return;
    setState('connecting');
    let s: SocketLike;
    try {
      s = makeSocket(url);
    } catch (e) {
      failAll(`cannot connect to the lab: ${(e as Error).message}`);
      setState('closed');
      return;
    }
    socket = s;
    let opened = false;
    s.addEventListener('open', () => {
      opened = true;
      retry = firstRetry;
      setState('open');
      const w = waiting;
      waiting = [];
      for (const p of w) {
        inFlight.set(p.frame.id, p);
        s.send(JSON.stringify(p.frame));
      }
    });
    s.addEventListener('message', (e) => onFrame(e.data));
    s.addEventListener('close', () => {
      if (socket !== s) return;
      socket = null;
      const retryLater = (): void => {
        if (reconnect && !closedForGood) {
          timer = setTimeout(open, retry);
          retry = Math.min(maxRetry, retry * 2);
        }
      };
      if (opened) {
        failAll('the connection to the lab was lost');
        setState('closed');
        return retryLater();
      }
      // Never opened: a wrong token, or no lab there. Only the first is worth saying plainly and giving up on.
      void sessionStatus(sessionUrl(loc), token).then((status) => {
        if (closedForGood) return;
        if (status === 401) {
          closedForGood = true;
          failAll(UNAUTHORIZED_MESSAGE);
          setState('unauthorized');
          return;
        }
        failAll('cannot connect to the lab (is it running?)');
        setState('closed');
        retryLater();
      });
    });
    // 'error' is always followed by 'close', which does the work.
    s.addEventListener('error', () => {});
  };

  const client: LabWsClient = {
    transport: 'browser',
    get state() {
      return state;
    },
    request<N extends RequestName>(name: N, args: RequestArgs<N>): Promise<Reply<N>> {
      if (closedForGood) return Promise.reject(lost('the lab connection is closed'));
      const frame: WsClientFrame = { kind: 'request', id: nextId++, name, args };
      return new Promise<Reply<N>>((resolve, reject) => {
        const entry = { frame, resolve: resolve as (v: unknown) => void, reject };
        if (socket && socket.readyState === OPEN) {
          inFlight.set(frame.id, entry);
          socket.send(JSON.stringify(frame));
        } else {
          waiting.push(entry);
          if (!socket && !timer) open();
        }
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    close() {
      closedForGood = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const s = socket;
      socket = null;
      failAll('the lab connection is closed');
      s?.close(1000, 'client closed');
      setState('closed');
    },
  };
  open();
  return client;
}
