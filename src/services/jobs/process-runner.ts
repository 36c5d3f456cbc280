/**
 * Phase jobs in worker processes of this machine (the embedded queue, and the processes a remote
 * `lab worker` runs): a pool of worker processes started through the host's launcher
 * (utilityProcess in Electron, child_process headless). A worker that finished a phase job cleanly
 * takes the next one (starting a process and its backend costs seconds); one that failed, was
 * cancelled or sat idle too long is ended.
 */
import { WORKER_PROTOCOL_VERSION, type FromWorker } from '../../shared/worker-protocol.js';
import type { PhaseTask, RunningTask, TaskEnd, TaskIO, TaskRunner } from './task-runner.js';
import { workerEnv, type WorkerHandle, type WorkerLauncher } from './worker-process.js';
import { logger } from '../log.js';

const log = logger('jobs');

export interface ProcessRunnerOptions {
  launcher: WorkerLauncher;
  /** where workers write trained weights (the store's weights folder) */
  weightsDir: string;
  /** how long a cancelled worker gets to stop by itself before it is killed */
  cancelGraceMs?: number;
  /** how long a finished worker waits for another phase job before it is ended (default 10 s) */
  idleMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The last lines of a worker's stderr, for a failed run's error text. */
function withTail(message: string, tail: string): string {
  const t = tail.trim();
  return t ? `${message}\n--- worker stderr (tail) ---\n${t}` : message;
}

interface Current {
  task: PhaseTask;
  io: TaskIO;
  reported: TaskEnd | null;
  cancelling: boolean;
  resolve: (e: TaskEnd) => void;
}

interface PooledWorker {
  handle: WorkerHandle;
  ready: boolean;
  current: Current | null;
  idleTimer: ReturnType<typeof setTimeout> | null;
  exited: boolean;
}

export function processRunner(o: ProcessRunnerOptions): TaskRunner & { close(): Promise<void> } {
  const pool = new Set<PooledWorker>();
  const idleMs = o.idleMs ?? 10_000;

  const begin = (w: PooledWorker, c: Current, pid: number): void => {
    c.io.started(w.handle.pid ?? pid);
    w.handle.send({
      type: 'start',
      protocol: WORKER_PROTOCOL_VERSION,
      jobId: c.task.taskKey,
      experimentId: c.task.experimentId,
      spec: c.task.spec,
      weightsDir: o.weightsDir,
      finished: c.task.finished,
      ...(c.task.job ? { job: c.task.job } : {}),
      ...(c.task.paramSets ? { paramSets: c.task.paramSets } : {}),
      reuse: true,
    });
  };

  const onMessage = (w: PooledWorker, msg: FromWorker): void => {
    const c = w.current;
    if (msg.type === 'ready') {
      w.ready = true;
      if (c && !c.reported) {
        // Cancelled while it was starting: the grace timer ends it; do not start work.
        if (!c.cancelling) begin(w, c, msg.pid);
        return;
      }
      // Back from a finished phase job: free for the next one.
      if (c?.reported) {
        w.current = null;
        c.resolve(c.reported);
      }
      w.idleTimer = setTimeout(() => {
        pool.delete(w);
        w.handle.kill('SIGTERM');
      }, idleMs);
      return;
    }
    if (!c || c.reported) return;
    switch (msg.type) {
      case 'phase-output':
        // Settled when the worker says ready again (or exits), so it is never handed two jobs.
        c.reported = { kind: 'done', output: msg.output };
        return;
      case 'done':
        c.reported = {
          kind: 'error',
          message: 'the worker ran the whole experiment, not the phase',
          cancelled: false,
        };
        return;
      case 'error':
        c.reported = {
          kind: 'error',
          message: msg.stack && process.env.TRAJECTORY_LAB_DEBUG ? msg.stack : msg.message,
          cancelled: msg.cancelled,
        };
        return;
      default:
        try {
          c.io.message(msg, (m) => w.handle.send(m));
        } catch (e) {
          log.error(
            { err: e, experimentId: c.task.experimentId, phase: c.task.phase, message: msg.type },
            'handling a worker message failed',
          );
        }
    }
  };

  const launch = (): PooledWorker => {
    const handle = o.launcher(workerEnv(o.env));
    const w: PooledWorker = { handle, ready: false, current: null, idleTimer: null, exited: false };
    pool.add(w);
    handle.onMessage((msg) => onMessage(w, msg));
    handle.onExit((exit) => {
      w.exited = true;
      pool.delete(w);
      if (w.idleTimer) clearTimeout(w.idleTimer);
      const c = w.current;
      if (!c) return;
      w.current = null;
      if (c.reported) return c.resolve(c.reported);
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      c.resolve({
        kind: 'lost',
        message: withTail(`the worker process ${how} before the experiment finished`, handle.stderrTail()),
      });
    });
    return w;
  };

  return {
    capacity: null,
    start(task, io): RunningTask {
      let resolveEnded!: (e: TaskEnd) => void;
      const ended = new Promise<TaskEnd>((res) => (resolveEnded = res));
      const c: Current = { task, io, reported: null, cancelling: false, resolve: resolveEnded };
      let w = [...pool].find((p) => p.ready && !p.current && !p.exited) ?? null;
      try {
        w ??= launch();
      } catch (e) {
        resolveEnded({ kind: 'lost', message: `could not start a worker: ${(e as Error).message}` });
        return { pid: null, cancel() {}, abandon() {}, ended };
      }
      const worker = w;
      if (worker.idleTimer) clearTimeout(worker.idleTimer);
      worker.idleTimer = null;
      worker.current = c;
      if (worker.ready) begin(worker, c, worker.handle.pid ?? 0);
      // A worker that ends its task other than cleanly is not reused.
      void ended.then((end) => {
        if (end.kind !== 'done' && !worker.exited) {
          pool.delete(worker);
          worker.handle.kill('SIGKILL');
        }
      });
      return {
        get pid() {
          return worker.handle.pid;
        },
        cancel(reason) {
          if (c.cancelling || c.reported) return;
          c.cancelling = true;
          worker.handle.send({ type: 'cancel', reason });
          const timer = setTimeout(() => worker.handle.kill('SIGKILL'), o.cancelGraceMs ?? 1500);
          void ended.then(() => clearTimeout(timer));
        },
        abandon() {
          c.cancelling = true;
          worker.handle.kill('SIGKILL');
        },
        ended,
      };
    },
    async close() {
      const all = [...pool];
      pool.clear();
      await Promise.all(
        all.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.idleTimer) clearTimeout(w.idleTimer);
              if (w.exited) return resolve();
              w.handle.onExit(() => resolve());
              w.handle.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}
