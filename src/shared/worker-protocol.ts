/**
 * The messages between the job queue (in main or the headless host) and a worker process. The
 * same messages travel over Electron's utilityProcess port and over child_process IPC, so they are
 * plain JSON: no classes, no typed arrays, no undefined-as-meaning.
 *
 * One job = one worker: a whole experiment, or one phase job of it (`start.job`: train the source,
 * train an Oracle target, run one method on one target; see src/core/phase-jobs.ts). The conversation:
 *   worker → main   ready                       (listeners attached; main may send `start`)
 *   main → worker   start                       (the spec, the weights folder, finished methods)
 *   worker → main   progress | metric | phase | log | backend | method-done   (while it works)
 *   worker → main   cache-load  → main → worker cache-reply     (main owns the database)
 *   worker → main   artifact    → main → worker artifact-saved  (weights file written, record it)
 *   worker → main   done | phase-output | error (then the worker exits, or — a pooled worker after
 *                   a phase job — says `ready` again and waits for the next `start`)
 *   main → worker   cancel                      (abort; main kills the process if it lingers)
 * `probe` asks a fresh worker which backend it would use; it answers `backend` and exits.
 * `params-at` asks a worker to rebuild one method's transferred parameters at a step from what is
 * stored (cache-load round trips as above); it writes the file and answers `params-file`, then
 * says `ready` again when asked to stay (`reuse`), or answers `error` and exits.
 */
import type {
  BackendInfo,
  ExperimentResult,
  ExperimentSpec,
  MethodName,
  MethodResult,
  PhaseJob,
  PhaseOutput,
  TrainedSummary,
} from './domain/index.js';

export const WORKER_PROTOCOL_VERSION = 2;

/** A method result from an earlier attempt, handed back to the engine on resume. */
export interface FinishedMethod {
  target: number;
  method: MethodName;
  result: MethodResult;
}

// ─────────────────────────── main → worker ───────────────────────────

export interface StartMessage {
  type: 'start';
  protocol: number;
  jobId: string;
  experimentId: string;
  spec: ExperimentSpec;
  /** the store's weights folder; trained weights go to `<weightsDir>/<sha256>.safetensors` */
  weightsDir: string;
  finished: FinishedMethod[];
  /** run only this phase job of the experiment (its output comes back as `phase-output`) */
  job?: PhaseJob;
  /** after the phase job, stay and say `ready` again for the next one (a pool's worker) */
  reuse?: boolean;
  /** weights files of the stored parameter sets the spec names (`init.paramSet`), by id */
  paramSets?: Record<string, string>;
}

export interface CancelMessage {
  type: 'cancel';
  reason: string;
}

export interface ProbeMessage {
  type: 'probe';
  backend: ExperimentSpec['backend'];
}

export interface ParamsAtMessage {
  type: 'params-at';
  protocol: number;
  spec: ExperimentSpec;
  weightsDir: string;
  paramSets?: Record<string, string>;
  target: number;
  method: MethodName;
  step: number;
  /** the run's π_1..π_T as stored (src/core/perm-steps.ts, base64) */
  perms: string;
  /** where to write the safetensors file */
  outPath: string;
  /** after answering, say `ready` again and wait for the next one instead of exiting */
  reuse?: boolean;
}

export interface CacheReplyMessage {
  type: 'cache-reply';
  requestId: number;
  /** the weights file (absolute path, written by a worker earlier) and its summary, or null on a miss */
  hit: { path: string; sha256: string; summary: TrainedSummary } | null;
}

export interface ArtifactSavedMessage {
  type: 'artifact-saved';
  requestId: number;
  paramSetId: string | null;
  /** set when main could not record it; the worker goes on (the cache is an optimisation) */
  error: string | null;
}

export type ToWorker =
  StartMessage | CancelMessage | ProbeMessage | ParamsAtMessage | CacheReplyMessage | ArtifactSavedMessage;

// ─────────────────────────── worker → main ───────────────────────────

export interface ReadyMessage {
  type: 'ready';
  protocol: number;
  pid: number;
}

export interface ProgressMessage {
  type: 'progress';
  phase: string;
  done: number;
  total: number;
  detail?: string;
}

export interface MetricMessage {
  type: 'metric';
  phase: string;
  key: string;
  step: number;
  value: number;
  /** unix ms when the worker measured it */
  wallTime: number;
}

export interface PhaseMessage {
  type: 'phase';
  phase: string;
  state: 'start' | 'done' | 'reused';
  seconds?: number;
}

export interface LogMessage {
  type: 'log';
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface BackendMessage {
  type: 'backend';
  backend: BackendInfo;
}

export interface MethodDoneMessage {
  type: 'method-done';
  target: number;
  result: MethodResult;
  /** π_1..π_T, encoded (src/core/perm-steps.ts, base64), for rebuilding θ2^s on demand */
  perms?: string;
}

export interface CacheLoadMessage {
  type: 'cache-load';
  requestId: number;
  /** the engine's training key (sha256 hex) */
  key: string;
  /** the training it is for ('source', 'target:0'), when the engine said */
  phase?: string;
}

/**
 * Trained parameters the worker has just written (atomically) to `<weightsDir>/<sha256>.safetensors`:
 * θ^0 … θ^T of one training, for main to record as a parameter set under `key`.
 */
export interface ArtifactMessage {
  type: 'artifact';
  requestId: number;
  key: string;
  role: 'source' | 'target';
  /** the engine phase that trained it: 'source' or 'target:<i>' */
  phase: string;
  path: string;
  sha256: string;
  bytes: number;
  points: number;
  summary: TrainedSummary;
  /** what a parameter-set record needs and the worker knows */
  inputShape: number[];
  classes: number;
  seed: number | null;
  datasetHash: string;
}

export interface DoneMessage {
  type: 'done';
  result: ExperimentResult;
}

export interface PhaseOutputMessage {
  type: 'phase-output';
  output: PhaseOutput;
}

/** The answer to `params-at`: the file is written. */
export interface ParamsFileMessage {
  type: 'params-file';
  path: string;
  bytes: number;
  metadata: Record<string, string>;
}

export interface ErrorMessage {
  type: 'error';
  message: string;
  stack?: string;
  /** true when the run stopped because it was asked to (cancel), not because it broke */
  cancelled: boolean;
}

export type FromWorker =
  | ReadyMessage
  | ProgressMessage
  | MetricMessage
  | PhaseMessage
  | LogMessage
  | BackendMessage
  | MethodDoneMessage
  | CacheLoadMessage
  | ArtifactMessage
  | DoneMessage
  | PhaseOutputMessage
  | ParamsFileMessage
  | ErrorMessage;

const TO_WORKER = new Set<ToWorker['type']>([
  'start',
  'cancel',
  'probe',
  'params-at',
  'cache-reply',
  'artifact-saved',
]);
const FROM_WORKER = new Set<FromWorker['type']>([
  'ready',
  'progress',
  'metric',
  'phase',
  'log',
  'backend',
  'method-done',
  'cache-load',
  'artifact',
  'done',
  'phase-output',
  'params-file',
  'error',
]);

function typed(v: unknown): v is { type: string } {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}

/** A cheap shape check at the process boundary: the other side is our own code, but a stray message must not crash the queue. */
export function isFromWorker(v: unknown): v is FromWorker {
  return typed(v) && FROM_WORKER.has(v.type as FromWorker['type']);
}

export function isToWorker(v: unknown): v is ToWorker {
  return typed(v) && TO_WORKER.has(v.type as ToWorker['type']);
}
