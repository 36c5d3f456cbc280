/**
 * `lab worker --queue redis://…`: takes phase jobs from BullMQ, `concurrency` at a time, each in a
 * pooled worker process of this machine (the same worker the desktop uses). It reports the
 * worker's events back through the queue, asks the host's gateway before training a source or an
 * Oracle target, downloads what the host has and uploads what it trained (content-addressed,
 * resumable, checked by sha256). A job from another version of the lab (worker protocol or spec
 * hash differ) is refused with a message saying so. Killed mid-job, its jobs' locks lapse and
 * BullMQ gives them to another worker, which resumes from the last phase the host recorded.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import {
  WORKER_PROTOCOL_VERSION,
  type ArtifactMessage,
  type CacheLoadMessage,
  type FromWorker,
  type ToWorker,
} from '../../../shared/worker-protocol.js';
import { WeightsDir } from '../../store/weights.js';
import { processRunner } from '../process-runner.js';
import type { WorkerLauncher } from '../worker-process.js';
import { connectRedis, otherErrors, QUEUE_NAME, redactUrl } from './redis-connection.js';
import { hostPaths, localTask } from './job-files.js';
import {
  cancelKey,
  GATEWAY_KEY,
  specHash,
  type RemoteEvent,
  type RemoteJobData,
  type RemoteJobResult,
} from './redis-runner.js';
import { parseSpec } from '../../../shared/domain/index.js';
import { logger } from '../../log.js';

const redisLog = logger('worker-agent');

export interface WorkerAgentOptions {
  url: string;
  concurrency: number;
  /** the gateway token (the host prints it) */
  token: string;
  /** where this machine keeps weights it trained or downloaded */
  weightsDir: string;
  launcher: WorkerLauncher;
  /** use this gateway URL instead of the one the job names (a host behind a tunnel) */
  gateway?: string;
  /** BullMQ's job lock: a worker silent this long is taken for dead (default 30 s) */
  lockMs?: number;
  /** how often stalled jobs are looked for (default lockMs / 2) */
  stalledMs?: number;
  log?: (line: string) => void;
}

const UPLOAD_CHUNK = 4 << 20;
/** How long gateway calls are retried (the host restarting, a network blip) before a job gives up on them. */
const GATEWAY_PATIENCE_MS = 120_000;

class GatewayClient {
  constructor(
    /** the host's gateway now: asked again before every attempt, as a restarted host may have moved */
    private readonly base: () => Promise<string>,
    private readonly token: string,
  ) {}

  /** fetch with the token, retried while the host is unreachable or not following the task yet */
  async call(path: string, init: RequestInit = {}, okStatuses: number[] = [200]): Promise<Response> {
    const end = Date.now() + GATEWAY_PATIENCE_MS;
    let wait = 250;
    for (;;) {
      let res: Response | null = null;
      let why = '';
      try {
        res = await fetch((await this.base()) + path, {
          ...init,
          headers: { ...(init.headers ?? {}), authorization: `Bearer ${this.token}` },
        });
        if (okStatuses.includes(res.status)) return res;
        why = `${res.status} ${(await res.text()).slice(0, 200)}`;
        if (res.status !== 503 && res.status < 500) throw new Error(`gateway ${path}: ${why}`);
      } catch (e) {
        if (res) throw e;
        why = (e as Error).message;
      }
      if (Date.now() > end) throw new Error(`gateway ${path}: ${why}`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 5000);
    }
  }

  async json<T>(path: string, body: unknown): Promise<T> {
    const res = await this.call(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await res.json()) as T;
  }

  /** Sends a file the host does not have yet, continuing an upload that was cut off. */
  async upload(sha256: string, path: string): Promise<void> {
    const total = (await stat(path)).size;
    const head = await this.call(`/v1/weights/${sha256}`, { method: 'HEAD' }, [200, 404]);
    if (head.status === 200) return;
    let offset = Number(head.headers.get('x-upload-offset') ?? 0);
    const fh = await open(path, 'r');
    try {
      while (offset < total) {
        const n = Math.min(UPLOAD_CHUNK, total - offset);
        const buf = Buffer.alloc(n);
        await fh.read(buf, 0, n, offset);
        const res = await this.call(
          `/v1/weights/${sha256}?offset=${offset}&total=${total}`,
          { method: 'PUT', body: buf, headers: { 'content-type': 'application/octet-stream' } },
          [200, 201, 202, 409],
        );
        if (res.status === 409) offset = Number(res.headers.get('x-upload-offset') ?? 0);
        else if (res.status === 202) offset += n;
        else return;
      }
    } finally {
      await fh.close();
    }
  }

  async download(sha256: string, weights: WeightsDir): Promise<void> {
    if (await weights.has(sha256)) return;
    await weights.put(await this.fetchVerified(`/v1/weights/${sha256}`, sha256));
  }

  /** A file the host offered (job-files.ts), kept here by its sha256; returns the local path. */
  async file(sha256: string, dir: string): Promise<string> {
    const path = join(dir, sha256);
    if (await exists(path)) return path;
    const bytes = await this.fetchVerified(`/v1/files/${sha256}`, sha256);
    const temp = `${path}.${process.pid}.${Date.now()}.part`;
    await writeFile(temp, bytes);
    await rename(temp, path);
    return path;
  }

  private async fetchVerified(path: string, sha256: string): Promise<Buffer> {
    const bytes = Buffer.from(await (await this.call(path)).arrayBuffer());
    if (createHash('sha256').update(bytes).digest('hex') !== sha256)
      throw new Error(`downloaded ${path} does not match its sha256`);
    return bytes;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function startWorkerAgent(o: WorkerAgentOptions): Promise<{ close(): Promise<void> }> {
  const log = o.log ?? ((l: string) => redisLog.info(l));
  await mkdir(o.weightsDir, { recursive: true });
  const weights = new WeightsDir(o.weightsDir);
  const filesDir = join(dirname(o.weightsDir), 'files');
  await mkdir(filesDir, { recursive: true });
  const runner = processRunner({ launcher: o.launcher, weightsDir: o.weightsDir, idleMs: 60_000 });
  const redis = connectRedis(o.url, log);

  const processJob = async (job: Job<RemoteJobData, RemoteJobResult>): Promise<RemoteJobResult> => {
    const { task } = job.data;
    if (job.data.protocol !== WORKER_PROTOCOL_VERSION)
      throw new UnrecoverableError(
        `refused by a worker of another version: the job speaks worker protocol ${job.data.protocol}, this worker ${WORKER_PROTOCOL_VERSION}`,
      );
    let mine: string;
    try {
      mine = specHash(parseSpec(task.spec));
    } catch (e) {
      throw new UnrecoverableError(
        `refused: this worker cannot read the job's spec (${(e as Error).message})`,
      );
    }
    if (mine !== job.data.specHash)
      throw new UnrecoverableError(
        'refused by a worker of another version: it reads the spec differently (spec hash differs); run the same lab version on host and workers',
      );
    if (await redis.exists(cancelKey(task.taskKey))) throw new UnrecoverableError('cancelled on the host');

    const gateway = new GatewayClient(
      async () => o.gateway ?? (await redis.get(GATEWAY_KEY)) ?? job.data.gateway,
      o.token,
    );
    // The files the task names, here: host path → local copy (downloaded once per content).
    const local = new Map<string, string>();
    try {
      for (const [hostPath, sha] of Object.entries(job.data.files ?? {}))
        local.set(hostPath, await gateway.file(sha, filesDir));
    } catch (e) {
      throw new Error(`could not fetch the job's files from the host: ${(e as Error).message}`);
    }
    const events: RemoteEvent[] = [];
    let seq = 0;
    const report = (raw: FromWorker): void => {
      const msg = hostPaths(raw, local);
      const e = { seq: ++seq, msg };
      events.push(e);
      // Live view only; the return value carries them again.
      void job.updateProgress(e).catch(() => {});
    };
    const onCacheLoad = async (msg: CacheLoadMessage, reply: (m: ToWorker) => void): Promise<void> => {
      let hit: Extract<ToWorker, { type: 'cache-reply' }>['hit'] = null;
      try {
        const r = await gateway.json<{ hit: { sha256: string; summary: never } | null }>('/v1/cache-load', {
          taskKey: task.taskKey,
          key: msg.key,
          phase: msg.phase,
        });
        if (r.hit) {
          await gateway.download(r.hit.sha256, weights);
          hit = { path: weights.path(r.hit.sha256), sha256: r.hit.sha256, summary: r.hit.summary };
        }
      } catch (e) {
        report({
          type: 'log',
          level: 'warn',
          message: `asking the host for trained parameters failed (${(e as Error).message}); training here`,
        });
      }
      reply({ type: 'cache-reply', requestId: msg.requestId, hit });
    };
    const onArtifact = async (msg: ArtifactMessage, reply: (m: ToWorker) => void): Promise<void> => {
      try {
        await gateway.upload(msg.sha256, msg.path);
        const { requestId: _r, path: _p, ...artifact } = msg;
        const r = await gateway.json<{ paramSetId: string | null; error: string | null }>('/v1/artifact', {
          taskKey: task.taskKey,
          artifact,
        });
        reply({ type: 'artifact-saved', requestId: msg.requestId, paramSetId: r.paramSetId, error: r.error });
      } catch (e) {
        reply({
          type: 'artifact-saved',
          requestId: msg.requestId,
          paramSetId: null,
          error: (e as Error).message,
        });
      }
    };

    log(`worker: ${task.taskKey} (${task.phase}) started`);
    const running = runner.start(localTask(task, local), {
      started: () => {},
      message: (msg, reply) => {
        if (msg.type === 'cache-load') void onCacheLoad(msg, reply);
        else if (msg.type === 'artifact') void onArtifact(msg, reply);
        else report(msg);
      },
    });
    const watch = setInterval(() => {
      redis.exists(cancelKey(task.taskKey)).then(
        (n) => n && running.cancel('cancelled on the host'),
        () => {},
      );
    }, 1000);
    try {
      const end = await running.ended;
      if (end.kind === 'done') {
        log(`worker: ${task.taskKey} done`);
        return { output: hostPaths(end.output, local), events };
      }
      log(`worker: ${task.taskKey} ${end.kind}: ${end.message.split('\n')[0]}`);
      // The engine's errors are deterministic: another attempt would fail the same way.
      throw new UnrecoverableError(hostPaths(end.message, local));
    } finally {
      clearInterval(watch);
    }
  };

  const lockDuration = o.lockMs ?? 30_000;
  const workerConnection = connectRedis(o.url, log);
  const worker = new Worker<RemoteJobData, RemoteJobResult>(QUEUE_NAME, processJob, {
    connection: workerConnection,
    concurrency: o.concurrency,
    lockDuration,
    stalledInterval: o.stalledMs ?? Math.max(1000, Math.floor(lockDuration / 2)),
    maxStalledCount: 3,
  });
  worker.on(
    'error',
    otherErrors((m) => log(`worker: queue: ${m}`)),
  );
  await worker.waitUntilReady();
  log(`worker: taking phase jobs from ${redactUrl(o.url)} (${QUEUE_NAME}), ${o.concurrency} at a time`);
  return {
    async close() {
      await worker.close(true);
      await runner.close();
      redis.disconnect();
      workerConnection.disconnect();
    },
  };
}

/** Reads a token file, or returns the token given inline. */
export async function readToken(value: string): Promise<string> {
  if (value.startsWith('@')) return (await readFile(value.slice(1), 'utf8')).trim();
  return value;
}
