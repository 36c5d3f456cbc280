/**
 * The job queue: experiments wait here and run, `concurrency` at a time, each in its own worker
 * process. The queue owns processes and outcomes; what a job's messages mean for the database and
 * the UI is the observer's business (see recorder.ts), so the same queue serves Electron, the
 * headless host and the tests.
 */
import { randomUUID } from 'node:crypto';
import type { ExperimentResult, ExperimentSpec } from '../../shared/domain/index.js';
import type { JobInfo } from '../../shared/lab-api.js';
import {
  WORKER_PROTOCOL_VERSION,
  type FinishedMethod,
  type FromWorker,
  type ToWorker,
} from '../../shared/worker-protocol.js';
import { workerEnv, type WorkerHandle, type WorkerLauncher } from './worker-process.js';

export interface JobRequest {
  experimentId: string;
  spec: ExperimentSpec;
  /** methods finished by an earlier attempt (resume) */
  finished: FinishedMethod[];
  /** weights files of the stored parameter sets the spec names (`init.paramSet`), by id */
  paramSets?: Record<string, string>;
}

export type JobOutcome =
  | { kind: 'done'; result: ExperimentResult }
  | { kind: 'failed'; error: string }
  | { kind: 'cancelled'; reason: string }
  /** the lab shut down under it: resumable later */
  | { kind: 'interrupted'; reason: string };

/** Hears one job's life. `message` may answer the worker through `reply`. */
export interface JobObserver {
  started(pid: number | null): void;
  message(msg: FromWorker, reply: (m: ToWorker) => void): void;
  ended(outcome: JobOutcome): void;
}

export interface JobQueueOptions {
  launcher: WorkerLauncher;
  /** where workers write trained weights (the store's weights folder) */
  weightsDir: string;
  concurrency?: number;
  observe: (job: JobRequest & { jobId: string }) => JobObserver;
  /** the job list changed (queued, started, ended) */
  onChange?: (jobs: JobInfo[]) => void;
  /** how long a cancelled worker gets to stop by itself before it is killed */
  cancelGraceMs?: number;
  env?: NodeJS.ProcessEnv;
}

interface Running {
  jobId: string;
  request: JobRequest;
  worker: WorkerHandle;
  observer: JobObserver;
  cancelReason: string | null;
  /** set by shutdown(): the job ends interrupted rather than cancelled */
  interrupted: boolean;
  settled: boolean;
  exited: Promise<void>;
}

/** The last lines of a worker's stderr, for a failed run's error text. */
function withTail(message: string, tail: string): string {
  const t = tail.trim();
  return t ? `${message}\n--- worker stderr (tail) ---\n${t}` : message;
}

export class JobQueue {
  private readonly waiting: (JobRequest & { jobId: string })[] = [];
  private readonly running = new Map<string, Running>();
  private concurrencyValue: number;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: JobQueueOptions) {
    this.concurrencyValue = Math.max(1, Math.floor(o.concurrency ?? 1));
  }

  get concurrency(): number {
    return this.concurrencyValue;
  }

  setConcurrency(n: number): void {
    this.concurrencyValue = Math.max(1, Math.floor(n));
    this.pump();
  }

  has(experimentId: string): boolean {
    return this.running.has(experimentId) || this.waiting.some((j) => j.experimentId === experimentId);
  }

  enqueue(request: JobRequest): string {
    if (this.closed) throw new Error('the job queue is shut down');
    if (this.has(request.experimentId))
      throw new Error(`experiment ${request.experimentId} is already queued or running`);
    const jobId = randomUUID();
    this.waiting.push({ ...request, jobId });
    this.changed();
    this.pump();
    return jobId;
  }

  list(): JobInfo[] {
    const out: JobInfo[] = [];
    let position = 0;
    for (const r of this.running.values())
      out.push({
        experimentId: r.request.experimentId,
        state: 'running',
        position: position++,
        pid: r.worker.pid,
      });
    for (const w of this.waiting)
      out.push({ experimentId: w.experimentId, state: 'queued', position: position++, pid: null });
    return out;
  }

  /**
   * Stops a job: a queued one leaves the queue (its observer is told it was cancelled without
   * ever starting); a running one is asked to stop and killed if it does not within the grace time.
   */
  cancel(experimentId: string, reason = 'cancelled by the user'): boolean {
    const i = this.waiting.findIndex((j) => j.experimentId === experimentId);
    if (i >= 0) {
      const [job] = this.waiting.splice(i, 1);
      this.o.observe(job!).ended({ kind: 'cancelled', reason });
      this.changed();
      return true;
    }
    const r = this.running.get(experimentId);
    if (!r || r.settled) return false;
    r.cancelReason = reason;
    r.worker.send({ type: 'cancel', reason });
    const grace = this.o.cancelGraceMs ?? 1500;
    const timer = setTimeout(() => r.worker.kill('SIGKILL'), grace);
    void r.exited.then(() => clearTimeout(timer));
    return true;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.waiting.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Kills every worker and drops the queue; running and waiting jobs end as interrupted (resumable). */
  async shutdown(reason = 'the lab was closed while this ran'): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) this.o.observe(job).ended({ kind: 'interrupted', reason });
    const all = [...this.running.values()];
    for (const r of all) {
      r.interrupted = true;
      r.cancelReason ??= reason;
      r.worker.kill('SIGKILL');
    }
    await Promise.all(all.map((r) => r.exited));
    this.changed();
  }

  private changed(): void {
    this.o.onChange?.(this.list());
    if (this.waiting.length === 0 && this.running.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrencyValue && this.waiting.length > 0) {
      this.launch(this.waiting.shift()!);
    }
  }

  private launch(job: JobRequest & { jobId: string }): void {
    const observer = this.o.observe(job);
    let worker: WorkerHandle;
    try {
      worker = this.o.launcher(workerEnv(this.o.env));
    } catch (e) {
      observer.ended({ kind: 'failed', error: `could not start a worker: ${(e as Error).message}` });
      this.changed();
      return;
    }
    let exitedResolve!: () => void;
    const r: Running = {
      jobId: job.jobId,
      request: job,
      worker,
      observer,
      cancelReason: null,
      interrupted: false,
      settled: false,
      exited: new Promise<void>((res) => (exitedResolve = res)),
    };
    this.running.set(job.experimentId, r);
    const settle = (outcome: JobOutcome): void => {
      if (r.settled) return;
      r.settled = true;
      try {
        observer.ended(outcome);
      } catch (e) {
        process.stderr.write(`job ${job.experimentId}: recording its end failed: ${(e as Error).stack}\n`);
      }
    };
    const reply = (m: ToWorker): void => worker.send(m);

    worker.onMessage((msg) => {
      if (r.settled) return;
      switch (msg.type) {
        case 'ready':
          // Cancelled while it was starting: the grace timer will end it; do not start work.
          if (r.cancelReason) return;
          observer.started(worker.pid ?? msg.pid);
          worker.send({
            type: 'start',
            protocol: WORKER_PROTOCOL_VERSION,
            jobId: job.jobId,
            experimentId: job.experimentId,
            spec: job.spec,
            weightsDir: this.o.weightsDir,
            finished: job.finished,
            ...(job.paramSets ? { paramSets: job.paramSets } : {}),
          });
          this.changed();
          return;
        case 'done':
          settle({ kind: 'done', result: msg.result });
          return;
        case 'error':
          if (r.interrupted) settle({ kind: 'interrupted', reason: r.cancelReason ?? msg.message });
          else if (msg.cancelled || r.cancelReason)
            settle({ kind: 'cancelled', reason: r.cancelReason ?? msg.message });
          else
            settle({
              kind: 'failed',
              error: msg.stack && process.env.TRAJECTORY_LAB_DEBUG ? msg.stack : msg.message,
            });
          return;
        default:
          try {
            observer.message(msg, reply);
          } catch (e) {
            process.stderr.write(
              `job ${job.experimentId}: handling "${msg.type}" failed: ${(e as Error).stack}\n`,
            );
          }
      }
    });

    worker.onExit((exit) => {
      if (r.interrupted) settle({ kind: 'interrupted', reason: r.cancelReason ?? 'the lab was closed' });
      else if (r.cancelReason) settle({ kind: 'cancelled', reason: r.cancelReason });
      else {
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        settle({
          kind: 'failed',
          error: withTail(`the worker process ${how} before the experiment finished`, worker.stderrTail()),
        });
      }
      this.running.delete(job.experimentId);
      exitedResolve();
      this.changed();
      this.pump();
    });
  }
}
