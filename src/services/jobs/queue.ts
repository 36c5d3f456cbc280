/**
 * The job queue: experiments wait here and run as small DAGs of phase jobs (src/core/phase-jobs.ts)
 * — the source's training and each Oracle target's are independent, and so is every method once
 * the source exists — up to `concurrency` tasks at a time. Where a task runs is the runner's
 * business: a worker process here (the embedded queue, the default) or BullMQ workers anywhere.
 * Trainings that several queued experiments share (same data, model, init and training) run once:
 * the later experiments wait for the first and then find it in the trained cache.
 *
 * The queue owns scheduling and outcomes; what a job's messages mean for the database and the UI
 * is the observer's business (see recorder.ts), so the same queue serves Electron, the headless
 * host, the CLI's sweeps and the tests.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { sourceTrainSpec, targetTrainSpec } from '../../core/experiment.js';
import { assembleResult } from '../../core/phase-jobs.js';
import {
  planPhases,
  runsWhole,
  type ExperimentResult,
  type ExperimentSpec,
  type PhaseJob,
  type PhaseOutput,
} from '../../shared/domain/index.js';
import type { JobInfo } from '../../shared/lab-api.js';
import type { FinishedMethod, FromWorker, ToWorker } from '../../shared/worker-protocol.js';
import { processRunner } from './process-runner.js';
import type { RunningTask, TaskEnd, TaskRunner } from './task-runner.js';
import type { WorkerLauncher } from './worker-process.js';
import { logger } from '../log.js';

const log = logger('queue');

export interface JobRequest {
  experimentId: string;
  spec: ExperimentSpec;
  /** methods finished by an earlier attempt (resume) */
  finished: FinishedMethod[];
  /** names the experiment's tasks on a shared queue across host restarts (default: the experiment id) */
  runKey?: string;
  /** weights files of the stored parameter sets the spec names (`init.paramSet`), by id */
  paramSets?: Record<string, string>;
}

export type JobOutcome =
  | { kind: 'done'; result: ExperimentResult }
  /** `phase`: the phase that failed, when one did */
  | { kind: 'failed'; error: string; phase?: string }
  | { kind: 'cancelled'; reason: string }
  /** the lab shut down under it: resumable later */
  | { kind: 'interrupted'; reason: string };

/** Hears one job's life. `message` may answer the worker through `reply`. */
export interface JobObserver {
  started(pid: number | null): void;
  message(msg: FromWorker, reply: (m: ToWorker) => void): void;
  /** a phase job finished; its output is what the result will be assembled from */
  phaseDone?(output: PhaseOutput): void;
  ended(outcome: JobOutcome): void;
}

export interface JobQueueOptions {
  /** where phase jobs run; default: worker processes from `launcher` */
  runner?: TaskRunner;
  launcher?: WorkerLauncher;
  /** where workers write trained weights (the store's weights folder) */
  weightsDir?: string;
  /** phase jobs running at once (default: this machine's cores) */
  concurrency?: number;
  observe: (job: JobRequest & { jobId: string }) => JobObserver;
  /** the job list changed (queued, started, ended) */
  onChange?: (jobs: JobInfo[]) => void;
  /** how long a cancelled worker gets to stop by itself before it is killed */
  cancelGraceMs?: number;
  env?: NodeJS.ProcessEnv;
}

interface Task {
  exp: Experiment;
  phase: string;
  /** null: the whole experiment as one task (see `runsWhole`) */
  job: PhaseJob | null;
  after: Task[];
  /** dropped: will not run (its experiment stopped) */
  state: 'waiting' | 'running' | 'done' | 'dropped';
  running: RunningTask | null;
  /** trainings another experiment may share */
  shareKey: string | null;
}

interface Experiment {
  request: JobRequest & { jobId: string };
  observer: JobObserver | null;
  tasks: Task[];
  outputs: PhaseOutput[];
  startedAt: Date | null;
  backendSeen: boolean;
  /** why it is stopping, when it is */
  stop:
    | { kind: 'cancelled' | 'interrupted'; reason: string }
    | { kind: 'failed'; error: string; phase: string }
    | null;
  settled: boolean;
}

/** The default: as many tasks as cores, each a worker process. */
export function defaultConcurrency(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Trainings with the same data, model, init and settings are one training (the engine's cache key
 * follows). Parameters read from a file (`trained: { file }`) are no training to share.
 */
function shareKey(spec: ExperimentSpec, job: PhaseJob | null): string | null {
  if (!job) return null;
  if (job.kind === 'source' && spec.source.trained) return null;
  if (job.kind === 'target' && spec.targets[job.target]?.trained) return null;
  const common = {
    dataset: spec.dataset,
    options: spec.datasetOptions,
    model: spec.model,
    backend: spec.backend,
  };
  if (job.kind === 'source')
    return JSON.stringify({ ...common, init: spec.source.init, train: sourceTrainSpec(spec) });
  if (job.kind === 'target') {
    const init = spec.targets[job.target]!.init;
    return JSON.stringify({ ...common, init, train: targetTrainSpec(spec, init) });
  }
  return null;
}

export class JobQueue {
  private readonly experiments = new Map<string, Experiment>();
  private readonly runner: TaskRunner;
  private concurrencyValue: number;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: JobQueueOptions) {
    this.concurrencyValue = Math.max(1, Math.floor(o.concurrency ?? defaultConcurrency()));
    if (o.runner) this.runner = o.runner;
    else {
      if (!o.launcher || !o.weightsDir)
        throw new Error('JobQueue: give a runner, or a launcher and a weightsDir');
      this.runner = processRunner({
        launcher: o.launcher,
        weightsDir: o.weightsDir,
        cancelGraceMs: o.cancelGraceMs,
        env: o.env,
      });
    }
  }

  get concurrency(): number {
    return this.concurrencyValue;
  }

  setConcurrency(n: number): void {
    this.concurrencyValue = Math.max(1, Math.floor(n));
    this.pump();
  }

  has(experimentId: string): boolean {
    const e = this.experiments.get(experimentId);
    return !!e && !e.settled;
  }

  enqueue(request: JobRequest): string {
    if (this.closed) throw new Error('the job queue is shut down');
    if (this.has(request.experimentId))
      throw new Error(`experiment ${request.experimentId} is already queued or running`);
    const jobId = randomUUID();
    const exp: Experiment = {
      request: { ...request, jobId },
      observer: null,
      tasks: [],
      outputs: [],
      startedAt: null,
      backendSeen: false,
      stop: null,
      settled: false,
    };
    const done = new Set(request.finished.map((f) => `${f.target}:${f.method}`));
    // Analyses and the pretrain stage run only inside runExperiment: such a spec is one task.
    const plan: { phase: string; job: PhaseJob | null; after: string[] }[] = runsWhole(request.spec)
      ? [{ phase: 'experiment', job: null, after: [] }]
      : planPhases(request.spec, (i, m) => done.has(`${i}:${m}`));
    const byPhase = new Map<string, Task>();
    for (const p of plan) {
      const task: Task = {
        exp,
        phase: p.phase,
        job: p.job,
        after: p.after.map((a) => byPhase.get(a)!).filter(Boolean),
        state: 'waiting',
        running: null,
        shareKey: shareKey(request.spec, p.job),
      };
      // A training another queued experiment will do first: wait for it, then reuse it.
      const leader = task.shareKey ? this.unfinishedTraining(task.shareKey) : null;
      if (leader) task.after.push(leader);
      byPhase.set(p.phase, task);
      exp.tasks.push(task);
    }
    this.experiments.set(request.experimentId, exp);
    this.changed();
    this.pump();
    return jobId;
  }

  private unfinishedTraining(key: string): Task | null {
    for (const e of this.experiments.values())
      for (const t of e.tasks)
        if (t.shareKey === key && (t.state === 'waiting' || t.state === 'running')) return t;
    return null;
  }

  list(): JobInfo[] {
    const all = [...this.experiments.values()].filter((e) => !e.settled);
    const running = all.filter((e) => e.observer);
    const queued = all.filter((e) => !e.observer);
    return [
      ...running.map((e, i) => ({
        experimentId: e.request.experimentId,
        state: 'running' as const,
        position: i,
        pid: e.tasks.find((t) => t.running?.pid)?.running?.pid ?? null,
      })),
      ...queued.map((e, i) => ({
        experimentId: e.request.experimentId,
        state: 'queued' as const,
        position: running.length + i,
        pid: null,
      })),
    ];
  }

  /**
   * Stops a job: a queued one leaves the queue (its observer is told it was cancelled without
   * ever starting); a running one's phase jobs are asked to stop (killed if they do not within the
   * grace time) and the ones still waiting are dropped.
   */
  cancel(experimentId: string, reason = 'cancelled by the user'): boolean {
    const exp = this.experiments.get(experimentId);
    if (!exp || exp.settled || exp.stop) return false;
    this.stopExperiment(exp, { kind: 'cancelled', reason });
    return true;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (![...this.experiments.values()].some((e) => !e.settled)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops every worker and drops the queue; running and waiting jobs end as interrupted (resumable). */
  async shutdown(reason = 'the lab was closed while this ran'): Promise<void> {
    this.closed = true;
    const ends: Promise<TaskEnd>[] = [];
    for (const exp of this.experiments.values()) {
      if (exp.settled) continue;
      exp.stop = { kind: 'interrupted', reason };
      for (const t of exp.tasks) {
        if (t.state === 'waiting') t.state = 'dropped';
        if (t.running) {
          t.running.abandon();
          ends.push(t.running.ended);
        }
      }
      this.maybeSettle(exp);
    }
    await Promise.all(ends);
    await this.runner.close?.();
    this.changed();
  }

  private observer(exp: Experiment): JobObserver {
    return (exp.observer ??= this.o.observe(exp.request));
  }

  private stopExperiment(exp: Experiment, stop: NonNullable<Experiment['stop']>): void {
    exp.stop = stop;
    for (const t of exp.tasks) {
      if (t.state === 'waiting') t.state = 'dropped';
      else if (t.running) t.running.cancel(stop.kind === 'failed' ? `${stop.phase} failed` : stop.reason);
    }
    this.maybeSettle(exp);
    this.pump();
  }

  /** Ends the experiment once nothing of it runs any more. */
  private maybeSettle(exp: Experiment): void {
    if (exp.settled || exp.tasks.some((t) => t.state === 'running')) return;
    let outcome: JobOutcome;
    if (exp.stop?.kind === 'failed')
      outcome = { kind: 'failed', error: exp.stop.error, phase: exp.stop.phase };
    else if (exp.stop) outcome = exp.stop;
    else if (exp.tasks.every((t) => t.state === 'done')) {
      const byKey = new Map(exp.request.finished.map((f) => [`${f.target}:${f.method}`, f.result]));
      try {
        const whole = exp.outputs.find((o) => o.result)?.result;
        outcome = {
          kind: 'done',
          result:
            whole ??
            assembleResult(exp.request.spec, exp.outputs, {
              startedAt: exp.startedAt ?? new Date(),
              finished: (i, m) => byKey.get(`${i}:${m}`),
            }),
        };
      } catch (e) {
        outcome = { kind: 'failed', error: (e as Error).message };
      }
    } else return;
    exp.settled = true;
    this.experiments.delete(exp.request.experimentId);
    try {
      this.observer(exp).ended(outcome);
    } catch (e) {
      log.error({ err: e, experimentId: exp.request.experimentId }, 'recording the end of a job failed');
    }
    this.changed();
  }

  private changed(): void {
    this.o.onChange?.(this.list());
    if (![...this.experiments.values()].some((e) => !e.settled)) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private inFlight(): number {
    let n = 0;
    for (const e of this.experiments.values()) for (const t of e.tasks) if (t.state === 'running') n++;
    return n;
  }

  private pump(): void {
    if (this.closed) return;
    const capacity = this.runner.capacity ?? this.concurrencyValue;
    let free = capacity - this.inFlight();
    // Experiments in the order they were queued; within one, the DAG's order (source first).
    for (const exp of this.experiments.values()) {
      if (exp.settled || exp.stop) continue;
      for (const t of exp.tasks) {
        if (free <= 0) return;
        if (t.state !== 'waiting') continue;
        if (!t.after.every((d) => d.state === 'done' || d.state === 'dropped')) continue;
        this.launch(t);
        free--;
      }
    }
  }

  private launch(task: Task): void {
    const exp = task.exp;
    const observer = this.observer(exp);
    task.state = 'running';
    exp.startedAt ??= new Date();
    const r = exp.request;
    task.running = this.runner.start(
      {
        experimentId: r.experimentId,
        taskKey: `${r.runKey ?? r.experimentId}.${task.phase.replaceAll(':', '.')}`,
        phase: task.phase,
        job: task.job,
        spec: r.spec,
        finished: r.finished,
        ...(r.paramSets ? { paramSets: r.paramSets } : {}),
      },
      {
        started: (pid) => {
          if (exp.settled) return;
          if (!exp.tasks.some((t) => t !== task && t.state !== 'waiting' && t.state !== 'dropped'))
            observer.started(pid);
          this.changed();
        },
        message: (msg, reply) => {
          if (exp.settled) return;
          // Every phase job reports the backend; the experiment's log needs it once.
          if (msg.type === 'backend') {
            if (exp.backendSeen) return;
            exp.backendSeen = true;
          }
          observer.message(msg, reply);
        },
      },
    );
    this.changed();
    void task.running.ended.then((end) => this.taskEnded(task, end));
  }

  private taskEnded(task: Task, end: TaskEnd): void {
    const exp = task.exp;
    task.running = null;
    if (end.kind === 'done') {
      task.state = 'done';
      exp.outputs.push(end.output);
      if (!exp.settled) {
        try {
          this.observer(exp).phaseDone?.(end.output);
        } catch (e) {
          log.error(
            { err: e, experimentId: exp.request.experimentId, phase: task.phase },
            'recording a phase failed',
          );
        }
      }
    } else {
      task.state = 'dropped';
      if (!exp.stop) {
        if (end.kind === 'error' && end.cancelled) exp.stop = { kind: 'cancelled', reason: end.message };
        else this.stopExperiment(exp, { kind: 'failed', error: end.message, phase: task.phase });
      }
    }
    this.maybeSettle(exp);
    this.changed();
    this.pump();
  }
}
