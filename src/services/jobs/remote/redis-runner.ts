/**
 * Phase jobs through BullMQ on Redis (`--queue redis://…`): the host puts each phase job whose
 * dependencies are done on the queue; `lab worker` processes anywhere take them. Progress, metrics
 * and phase events come back as BullMQ progress events (live) and again in the job's return value
 * (so a host that was away records them when it returns: the store keeps one point per run, key
 * and step, and the events replayed are only those the host did not see). A job's id is its task
 * key, so a restarted host that puts the same job again finds it — queued, running or finished —
 * instead of adding a second one.
 */
import { createHash } from 'node:crypto';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { WORKER_PROTOCOL_VERSION, type FromWorker } from '../../../shared/worker-protocol.js';
import type { PhaseTask, RunningTask, TaskEnd, TaskIO, TaskRunner } from '../task-runner.js';
import type { TaskRoute } from './gateway.js';
import { taskFiles } from './job-files.js';
import { connectRedis, otherErrors, QUEUE_NAME } from './redis-connection.js';
import type { ExperimentSpec, PhaseOutput } from '../../../shared/domain/index.js';
import { logger } from '../../log.js';

const log = logger('redis-runner');

/** What a job carries: the task, and what a worker checks before it takes it on. */
export interface RemoteJobData {
  protocol: number;
  /** sha256 of the spec as the host's version of the lab reads it; a worker reading it differently refuses */
  specHash: string;
  /** where the worker asks for trained parameters and uploads its own (the host's current one is in Redis) */
  gateway: string;
  task: PhaseTask;
  /** host path → sha256 of each file the task names (job-files.ts), for the worker to download */
  files?: Record<string, string>;
}

/** One worker message, numbered within its job so a replay skips what was already seen. */
export interface RemoteEvent {
  seq: number;
  msg: FromWorker;
}

export interface RemoteJobResult {
  output: PhaseOutput;
  /** every event the job reported, for a host that missed some */
  events: RemoteEvent[];
}

/** The spec exactly as this version of the lab reads it. */
export function specHash(spec: ExperimentSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex');
}

export const cancelKey = (taskKey: string): string => `${QUEUE_NAME}:cancel:${taskKey}`;
/** The gateway URL of the host now serving the queue: a host that restarts on another port says so here. */
export const GATEWAY_KEY = `${QUEUE_NAME}:gateway`;

export interface RedisRunnerOptions {
  url: string;
  /** the gateway's URL as workers reach it */
  gatewayUrl: string;
  /** how often running jobs' states are checked (default 500 ms) */
  pollMs?: number;
  /** offers a host file to workers, returning its sha256 (the gateway's publish) */
  publish?: (path: string) => Promise<string>;
}

interface Tracked {
  task: PhaseTask;
  io: TaskIO;
  seen: number;
  active: boolean;
  cancelled: string | null;
  resolve: (e: TaskEnd) => void;
  done: boolean;
}

export interface RedisRunner extends TaskRunner {
  /** for the gateway: the running task with this key */
  readonly route: TaskRoute;
  /** tells workers (running jobs of an earlier life of this host too) where the gateway now is */
  announce(): Promise<void>;
  close(): Promise<void>;
}

export async function redisRunner(o: RedisRunnerOptions): Promise<RedisRunner> {
  const connection = connectRedis(o.url);
  const queue = new Queue(QUEUE_NAME, { connection });
  const eventsConnection = connectRedis(o.url);
  const events = new QueueEvents(QUEUE_NAME, { connection: eventsConnection });
  const onError = otherErrors((m) => log.warn(`queue: ${m}`));
  queue.on('error', onError);
  events.on('error', onError);
  const tracked = new Map<string, Tracked>();
  let closed = false;
  let announced: Promise<unknown> | null = null;
  const announce = (): Promise<unknown> =>
    (announced ??= connection.set(GATEWAY_KEY, o.gatewayUrl).catch((e: unknown) => {
      announced = null;
      throw e;
    }));

  const deliver = (t: Tracked, e: RemoteEvent): void => {
    if (e.seq <= t.seen || t.done) return;
    t.seen = e.seq;
    try {
      t.io.message(e.msg, () => {});
    } catch (err) {
      log.error({ err, task: t.task.taskKey, message: e.msg.type }, 'recording a remote message failed');
    }
  };
  const finish = (t: Tracked, end: TaskEnd): void => {
    if (t.done) return;
    t.done = true;
    tracked.delete(t.task.taskKey);
    t.resolve(end);
  };

  events.on('progress', ({ jobId, data }) => {
    const t = tracked.get(jobId);
    if (t && typeof data === 'object' && data !== null && 'seq' in data) deliver(t, data as RemoteEvent);
  });
  events.on('active', ({ jobId }) => {
    const t = tracked.get(jobId);
    if (t && !t.active) {
      t.active = true;
      t.io.started(null);
    }
  });

  const check = async (t: Tracked): Promise<void> => {
    const job = (await queue.getJob(t.task.taskKey)) as Job<RemoteJobData, RemoteJobResult> | undefined;
    if (!job) {
      if (t.cancelled) return finish(t, { kind: 'error', message: t.cancelled, cancelled: true });
      // Removed behind our back (or Redis lost it): put it again.
      await put(t);
      return;
    }
    const state = await job.getState();
    if (state === 'active' && !t.active) {
      t.active = true;
      t.io.started(null);
    }
    if (state === 'completed') {
      // Fetched before it completed, the job object has no return value yet: read it again.
      const fresh = (await queue.getJob(t.task.taskKey)) as Job<RemoteJobData, RemoteJobResult> | undefined;
      const r = fresh?.returnvalue;
      for (const e of r?.events ?? []) deliver(t, e);
      if (!r?.output) return finish(t, { kind: 'lost', message: 'the job finished without an output' });
      return finish(t, { kind: 'done', output: r.output });
    }
    if (state === 'failed')
      return finish(t, {
        kind: 'error',
        message: t.cancelled ?? (await queue.getJob(t.task.taskKey))?.failedReason ?? 'the job failed',
        cancelled: !!t.cancelled,
      });
  };

  const put = async (t: Tracked): Promise<void> => {
    await announce();
    const paths = taskFiles(t.task);
    if (paths.length && !o.publish)
      throw new Error('the task names files, and nothing offers them to workers');
    const files: Record<string, string> = {};
    for (const p of paths) files[p] = await o.publish!(p);
    const data: RemoteJobData = {
      protocol: WORKER_PROTOCOL_VERSION,
      specHash: specHash(t.task.spec),
      gateway: o.gatewayUrl,
      task: t.task,
      ...(paths.length ? { files } : {}),
    };
    // Same id, same job: a job already queued, running or finished is left as it is.
    const job = await queue.add('phase', data, {
      jobId: t.task.taskKey,
      attempts: 1,
      removeOnComplete: { age: 7 * 86400 },
      removeOnFail: { age: 7 * 86400 },
    });
    // A failed attempt from an earlier life of the host: this is a retry.
    if ((await job.getState()) === 'failed') await job.retry('failed');
  };

  let polling = false;
  const timer = setInterval(() => {
    if (polling || closed) return;
    polling = true;
    void Promise.all([...tracked.values()].map((t) => check(t).catch(() => {}))).finally(
      () => (polling = false),
    );
  }, o.pollMs ?? 500);

  return {
    capacity: Number.POSITIVE_INFINITY,
    async announce() {
      await announce();
    },
    route: (taskKey) => {
      const t = tracked.get(taskKey);
      return t ? (msg, reply) => t.io.message(msg, reply) : null;
    },
    start(task, io): RunningTask {
      let resolve!: (e: TaskEnd) => void;
      const ended = new Promise<TaskEnd>((r) => (resolve = r));
      const t: Tracked = { task, io, seen: 0, active: false, cancelled: null, resolve, done: false };
      tracked.set(task.taskKey, t);
      put(t).catch((e: unknown) =>
        finish(t, { kind: 'lost', message: `could not queue ${task.phase}: ${(e as Error).message}` }),
      );
      return {
        pid: null,
        cancel(reason) {
          if (t.cancelled || t.done) return;
          t.cancelled = reason;
          void (async () => {
            // A worker that has it stops at its next check; one that has not yet never takes it.
            await connection.set(cancelKey(task.taskKey), reason, 'EX', 86400);
            const job = await queue.getJob(task.taskKey);
            const state = await job?.getState();
            if (job && state !== 'active') await job.remove().catch(() => {});
            if (!job || state !== 'active') finish(t, { kind: 'error', message: reason, cancelled: true });
          })().catch(() => {});
        },
        abandon() {
          finish(t, { kind: 'lost', message: 'the host stopped following this job' });
        },
        ended,
      };
    },
    async close() {
      closed = true;
      clearInterval(timer);
      for (const t of [...tracked.values()])
        finish(t, { kind: 'lost', message: 'the host stopped following this job' });
      await events.close();
      await queue.close();
      connection.disconnect();
      eventsConnection.disconnect();
    },
  };
}
