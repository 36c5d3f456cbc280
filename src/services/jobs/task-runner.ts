/**
 * Where one phase job runs. The job queue decides what may run (an experiment's DAG of phase jobs,
 * shared trainings, the concurrency); a runner runs it — in a worker process of this machine
 * (process-runner.ts) or through BullMQ on any machine (remote/redis-runner.ts) — and reports the
 * worker's messages and how it ended.
 */
import type { FinishedMethod, FromWorker, ToWorker } from '../../shared/worker-protocol.js';
import type { ExperimentSpec, PhaseJob, PhaseOutput } from '../../shared/domain/index.js';

export interface PhaseTask {
  experimentId: string;
  /**
   * Names the task wherever it is queued: the same experiment's phase has the same key across
   * restarts of the host, so a shared queue never holds it twice.
   */
  taskKey: string;
  phase: string;
  /** null: the whole experiment in one worker (runExperiment; see `runsWhole`) */
  job: PhaseJob | null;
  spec: ExperimentSpec;
  finished: FinishedMethod[];
  /** files of the parameter sets the spec names by id (`init.paramSet`), resolved by the host */
  paramSets?: Record<string, string>;
}

export interface TaskIO {
  /** the task's worker is about to work (pid where there is one here) */
  started(pid: number | null): void;
  /** a worker message; `reply` answers requests (cache-load, artifact) */
  message(msg: FromWorker, reply: (m: ToWorker) => void): void;
}

export type TaskEnd =
  | { kind: 'done'; output: PhaseOutput }
  /** the worker reported an error (cancelled: it stopped because it was asked to) */
  | { kind: 'error'; message: string; cancelled: boolean }
  /** the worker went away without a word (killed, crashed) */
  | { kind: 'lost'; message: string };

export interface RunningTask {
  readonly pid: number | null;
  /** asks the worker to stop; a runner that can kill it does so after a grace time */
  cancel(reason: string): void;
  /** the lab is closing: stop now (a remote runner just stops listening; the task stays queued) */
  abandon(): void;
  /** settles once, when the worker has finished with the task */
  readonly ended: Promise<TaskEnd>;
}

export interface TaskRunner {
  /** tasks in flight at once: null = the queue's concurrency; Infinity = the runner paces itself */
  readonly capacity: number | null;
  start(task: PhaseTask, io: TaskIO): RunningTask;
  close?(): Promise<void>;
}
