/**
 * The headless host's network face: the built renderer over HTTP and the lab API over one
 * WebSocket (`/api?token=…`), on 127.0.0.1 unless told otherwise. Static files need no token (they
 * hold nothing private); the socket and every other route do.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  DOWNLOAD_PATH,
  LabRequestError,
  type DownloadFile,
  type LabError,
  type LabEvent,
  type WsClientFrame,
  type WsServerFrame,
} from '../../shared/lab-api.js';
import { toLabError } from '../errors.js';
import {
  contentSecurityPolicy,
  hostHeaderAllowed,
  isLoopback,
  newToken,
  originAllowed,
  presentedToken,
  tokenCookie,
  tokenMatches,
} from './security.js';
import { frameProblem } from './frame-guard.js';
import { staticFile } from './static-files.js';
import { logger } from '../log.js';

const log = logger('host');

/** What the host needs from the lab service. */
export interface HostService {
  request(name: string, args: unknown): Promise<unknown>;
  onEvent(listener: (e: LabEvent) => void): () => void;
  /** a file of lab-api.ts `downloadSchemas`, for GET /api/download/<name> */
  download?(name: string, args: unknown): Promise<DownloadFile>;
}

/** The HTTP status of a failed download, by the error's code. */
const DOWNLOAD_STATUS: Record<LabError['code'], number> = {
  invalid: 400,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  internal: 500,
  unavailable: 503,
};

/** GET /api/download/<name>?<args>: the file as an attachment, or { error } with a status by its code. */
async function serveDownload(res: ServerResponse, service: HostService, url: URL): Promise<void> {
  const name = decodeURIComponent(url.pathname.slice(DOWNLOAD_PATH.length));
  try {
    if (!service.download)
      throw new LabRequestError({ code: 'not-found', message: 'this host makes no downloads' });
    const file = await service.download(name, Object.fromEntries(url.searchParams));
    res.statusCode = 200;
    res.setHeader('Content-Type', file.contentType);
    res.setHeader('Content-Length', file.bytes.byteLength);
    res.setHeader('Cache-Control', 'no-store');
    // RFC 6266: a plain ASCII fallback and the exact name percent-encoded
    const ascii = file.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
    res.setHeader(
      'Content-Disposition',
      `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.fileName)}`,
    );
    res.end(file.bytes);
  } catch (e) {
    const error = toLabError(e);
    res.statusCode = DOWNLOAD_STATUS[error.code] ?? 500;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(JSON.stringify({ error }));
  }
}

export interface HostOptions {
  service: HostService;
  /** the built renderer (out/renderer) */
  rendererDir: string;
  host?: string;
  /** 0 = any free port */
  port?: number;
  allowRemote?: boolean;
  /** fixed token (tests); a random one by default */
  token?: string;
}

export interface RunningHost {
  host: string;
  port: number;
  token: string;
  /** the address to open, token included */
  url: string;
  close(): Promise<void>;
}

export class HostError extends Error {}

/** Base64 bundles up to 400 MiB travel as one frame. */
const MAX_FRAME = 450 * 1024 * 1024;
export const API_PATH = '/api';
export const SESSION_PATH = '/api/session';

function securityHeaders(res: ServerResponse, csp: string): void {
  res.setHeader('Content-Security-Policy', csp);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  // The token is in the page's URL: never send it along as a referrer.
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(text + '\n');
}

function requestUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://host.invalid');
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

export async function startHost(o: HostOptions): Promise<RunningHost> {
  const bindHost = o.host ?? '127.0.0.1';
  const loopbackOnly = isLoopback(bindHost);
  if (!loopbackOnly && !o.allowRemote) {
    throw new HostError(
      `refusing to listen on ${bindHost}: it is not a loopback address, so anyone on the network could reach the lab (pass --allow-remote if that is really what you want)`,
    );
  }
  const token = o.token ?? newToken();
  let port = 0;
  let csp = contentSecurityPolicy();

  const server = createServer((req, res) => {
    void (async () => {
      securityHeaders(res, csp);
      if (!hostHeaderAllowed(req.headers.host, port, loopbackOnly))
        return plain(res, 421, 'misdirected request');
      const url = requestUrl(req);
      const authorized = tokenMatches(presentedToken(req.headers, url, port), token);
      if (url.pathname === API_PATH || url.pathname.startsWith(API_PATH + '/')) {
        if (!authorized)
          return plain(
            res,
            401,
            'missing or wrong token: open the address `npm run serve` printed (`npm run serve -- list` shows it again)',
          );
        // The page asks this when its socket cannot connect, to tell a bad token from a lab that is down.
        if (url.pathname === SESSION_PATH) return plain(res, 200, 'ok');
        if (url.pathname.startsWith(DOWNLOAD_PATH) && req.method === 'GET')
          return await serveDownload(res, o.service, url);
        return plain(res, 426, 'the API speaks WebSocket');
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return plain(res, 405, 'method not allowed');
      }
      const file = await staticFile(o.rendererDir, url.pathname);
      if (!file) return plain(res, 404, 'not found');
      res.statusCode = 200;
      // The token arrives in the URL once; from then on the cookie carries it, and the page drops it from the address bar.
      if (file.isIndex && authorized && tokenMatches(url.searchParams.get('token'), token))
        res.setHeader('Set-Cookie', tokenCookie(port, token));
      res.setHeader('Content-Type', file.type);
      res.setHeader('Content-Length', file.body.length);
      res.setHeader('Cache-Control', file.isIndex ? 'no-store' : 'no-cache');
      res.end(req.method === 'HEAD' ? undefined : file.body);
    })().catch((e: unknown) => {
      if (!res.headersSent) plain(res, 500, 'internal error');
      else res.destroy();
      log.error({ err: e, url: req.url }, 'serving a request failed');
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  server.on('upgrade', (req, socket, head) => {
    const url = requestUrl(req);
    if (url.pathname !== API_PATH) return rejectUpgrade(socket, 404, 'Not Found');
    if (!hostHeaderAllowed(req.headers.host, port, loopbackOnly))
      return rejectUpgrade(socket, 421, 'Misdirected Request');
    if (!tokenMatches(presentedToken(req.headers, url, port), token))
      return rejectUpgrade(socket, 401, 'Unauthorized');
    if (!originAllowed(req.headers.origin, req.headers.host)) return rejectUpgrade(socket, 403, 'Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, o.service));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  csp = contentSecurityPolicy({ connect: [`ws://${urlHost}:${port}`] });

  return {
    host: bindHost,
    port,
    token,
    url: `http://${urlHost}:${port}/?token=${token}`,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function isRequestFrame(v: unknown): v is WsClientFrame {
  const f = v as Partial<WsClientFrame> | null;
  return (
    !!f &&
    f.kind === 'request' &&
    typeof f.id === 'number' &&
    Number.isSafeInteger(f.id) &&
    typeof f.name === 'string'
  );
}

function serveSocket(ws: WebSocket, service: HostService): void {
  const send = (frame: WsServerFrame): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  };
  const unsubscribe = service.onEvent((event) => send({ kind: 'event', event }));
  ws.on('close', unsubscribe);
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003, 'text frames only');
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    const problem = frameProblem(buf);
    if (problem) return ws.close(problem.startsWith('frame of') ? 1009 : 1008, problem.slice(0, 120));
    let frame: unknown;
    try {
      frame = JSON.parse(buf.toString());
    } catch {
      return ws.close(1007, 'not JSON');
    }
    if (!isRequestFrame(frame)) return ws.close(1008, 'not a request frame');
    const { id, name, args } = frame;
    service.request(name, args).then(
      (value) => send({ kind: 'reply', id, ok: true, value: value ?? null }),
      (e: unknown) => send({ kind: 'reply', id, ok: false, error: toLabError(e) }),
    );
  });
}
