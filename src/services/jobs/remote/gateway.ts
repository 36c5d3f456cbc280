/**
 * The host's door for remote workers (BullMQ brings them jobs; this brings them what only the host
 * has): "is this training in the store?" before a worker trains a source or an Oracle target,
 * trained weights up and down, content-addressed (sha256, verified on arrival) and resumable
 * (`HEAD` says how much of an upload arrived; `PUT ?offset=` continues from there), the record
 * of an uploaded training, and the host files a job names (`GET /v1/files/<sha256>`, only those
 * the host offered for its jobs: job-files.ts). Every request carries the token (`Authorization: Bearer …`); the door
 * listens on loopback unless asked otherwise. The host stays the only writer of its SQLite store.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type {
  ArtifactMessage,
  CacheReplyMessage,
  FromWorker,
  ToWorker,
} from '../../../shared/worker-protocol.js';
import { isLoopback, tokenMatches } from '../../host/security.js';
import { SHA256_PATTERN, WeightsDir } from '../../store/weights.js';
import { logger } from '../../log.js';

const log = logger('gateway');

/** A running task's line to its observer, found by task key. */
export type TaskRoute = (taskKey: string) => ((msg: FromWorker, reply: (m: ToWorker) => void) => void) | null;

export interface GatewayOptions {
  token: string;
  weightsDir: string;
  route: TaskRoute;
  host?: string;
  port?: number;
  /** listen beyond loopback (a cluster's workers on other machines) */
  allowRemote?: boolean;
}

export interface Gateway {
  /** the URL workers use (`http://host:port`) */
  readonly url: string;
  /**
   * Offers a host file (a parameter file, a trained endpoint, a validation split) to workers by
   * the sha256 of its bytes; only files offered this way are served.
   */
  publish(path: string): Promise<string>;
  close(): Promise<void>;
}

const JSON_LIMIT = 1 << 20;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > JSON_LIMIT) throw new HttpError(413, 'request body too large');
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof v !== 'object' || v === null) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new HttpError(400, `bad JSON: ${(e as Error).message}`);
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

/** Asks the task's observer through the worker protocol and waits for its reply. */
function ask<R extends ToWorker>(route: TaskRoute, taskKey: unknown, msg: FromWorker): Promise<R> {
  if (typeof taskKey !== 'string') throw new HttpError(400, 'taskKey missing');
  const to = route(taskKey);
  // The host is (re)starting and does not follow this task yet: the worker retries.
  if (!to) throw new HttpError(503, `the host does not follow task ${taskKey} (yet)`);
  return new Promise<R>((resolve) => to(msg, (m) => resolve(m as R)));
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const host = o.host ?? '127.0.0.1';
  if (!isLoopback(host) && !o.allowRemote)
    throw new Error(
      `the worker gateway would listen on ${host}, beyond loopback: ask for it (--allow-remote)`,
    );
  const weights = new WeightsDir(o.weightsDir);
  /** sha256 → host path of the files offered to workers */
  const published = new Map<string, string>();
  /** path → its hash at a size and time, so a file named by many jobs is read once */
  const hashed = new Map<string, { size: number; mtimeMs: number; sha256: string }>();
  const uploads = join(dirname(o.weightsDir), 'uploads');
  await mkdir(uploads, { recursive: true });
  await mkdir(o.weightsDir, { recursive: true });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const auth = req.headers.authorization ?? '';
    if (!tokenMatches(auth.startsWith('Bearer ') ? auth.slice(7) : null, o.token))
      throw new HttpError(401, 'a worker token is required (Authorization: Bearer …)');
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname;

    if (req.method === 'POST' && path === '/v1/cache-load') {
      const body = await readJson(req);
      if (typeof body.key !== 'string' || !SHA256_PATTERN.test(body.key)) throw new HttpError(400, 'bad key');
      const reply = await ask<CacheReplyMessage>(o.route, body.taskKey, {
        type: 'cache-load',
        requestId: 0,
        key: body.key,
        ...(typeof body.phase === 'string' ? { phase: body.phase } : {}),
      });
      const hit = reply.hit ? { sha256: reply.hit.sha256, summary: reply.hit.summary } : null;
      return send(res, 200, { hit });
    }

    if (req.method === 'POST' && path === '/v1/artifact') {
      const body = await readJson(req);
      const a = body.artifact as Omit<ArtifactMessage, 'requestId' | 'path'> | undefined;
      if (!a || typeof a.sha256 !== 'string' || !SHA256_PATTERN.test(a.sha256))
        throw new HttpError(400, 'bad artifact');
      if (!(await weights.has(a.sha256)))
        throw new HttpError(409, `weights ${a.sha256} have not been uploaded`);
      const reply = await ask<Extract<ToWorker, { type: 'artifact-saved' }>>(o.route, body.taskKey, {
        ...a,
        type: 'artifact',
        requestId: 0,
        path: weights.path(a.sha256),
      });
      return send(res, 200, { paramSetId: reply.paramSetId, error: reply.error });
    }

    const f = /^\/v1\/files\/([0-9a-f]{64})$/.exec(path);
    if (f && (req.method === 'GET' || req.method === 'HEAD')) {
      const file = published.get(f[1]!);
      const size = file ? await sizeOf(file) : null;
      if (!file || size === null) throw new HttpError(404, `no file ${f[1]} is offered to workers`);
      res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(file).pipe(res);
      return;
    }

    const m = /^\/v1\/weights\/([0-9a-f]{64})$/.exec(path);
    if (m) {
      const sha = m[1]!;
      const final = weights.path(sha);
      const partial = join(uploads, `${sha}.part`);
      if (req.method === 'HEAD' || req.method === 'GET') {
        const size = await sizeOf(final);
        if (size === null) {
          const offset = (await sizeOf(partial)) ?? 0;
          res.writeHead(404, { 'x-upload-offset': String(offset) });
          return void res.end();
        }
        res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
        if (req.method === 'HEAD') return void res.end();
        createReadStream(final).pipe(res);
        return;
      }
      if (req.method === 'PUT') {
        const offset = Number(url.searchParams.get('offset') ?? '0');
        const total = Number(url.searchParams.get('total'));
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(total) || total <= 0)
          throw new HttpError(400, 'offset and total are required');
        if ((await sizeOf(final)) !== null) {
          req.resume();
          return send(res, 200, { complete: true, sha256: sha });
        }
        const have = (await sizeOf(partial)) ?? 0;
        if (offset !== have) {
          req.resume();
          throw new HttpError(409, `upload continues at ${have}`, { 'x-upload-offset': String(have) });
        }
        const fh = await open(partial, 'a');
        let written = have;
        try {
          for await (const c of req) {
            written += (c as Buffer).length;
            if (written > total) throw new HttpError(400, 'more bytes than announced');
            await fh.write(c as Buffer);
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
        if (written < total) return send(res, 202, { complete: false, offset: written });
        const hash = createHash('sha256');
        for await (const c of createReadStream(partial)) hash.update(c as Buffer);
        if (hash.digest('hex') !== sha) {
          await rm(partial, { force: true });
          throw new HttpError(422, 'the upload does not match its sha256; start again');
        }
        await rename(partial, final);
        return send(res, 201, { complete: true, sha256: sha });
      }
    }
    throw new HttpError(404, `no such route: ${req.method} ${path}`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) log.error({ err: e }, 'worker gateway request failed');
      if (!res.headersSent)
        send(res, status, { error: (e as Error).message }, e instanceof HttpError ? e.headers : {});
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}`,
    async publish(file) {
      const st = await stat(file);
      const known = hashed.get(file);
      let sha256 = known?.size === st.size && known.mtimeMs === st.mtimeMs ? known.sha256 : null;
      if (!sha256) {
        const hash = createHash('sha256');
        for await (const c of createReadStream(file)) hash.update(c as Buffer);
        sha256 = hash.digest('hex');
        hashed.set(file, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
      }
      published.set(sha256, file);
      return sha256;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
