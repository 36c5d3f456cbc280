/**
 * What the job queue needs from a worker process, whatever started it: Electron's
 * utilityProcess.fork in the desktop, child_process.fork in the headless host and the tests.
 */
import type { FromWorker, ToWorker } from '../../shared/worker-protocol.js';

export interface WorkerExit {
  code: number | null;
  signal: string | null;
}

export interface WorkerHandle {
  /** null until the OS gave it one (utilityProcess reports it on spawn) */
  readonly pid: number | null;
  send(msg: ToWorker): void;
  onMessage(listener: (msg: FromWorker) => void): void;
  /** called exactly once, also when the process could not be started */
  onExit(listener: (exit: WorkerExit) => void): void;
  /** the last few kilobytes the worker wrote to stderr, for the failed run's error */
  stderrTail(): string;
  kill(signal?: 'SIGTERM' | 'SIGKILL'): void;
}

export type WorkerLauncher = (env: Record<string, string>) => WorkerHandle;

/** Keeps the last `limit` characters of a stream. */
export class TailBuffer {
  private text = '';

  constructor(private readonly limit = 4000) {}

  push(chunk: string | Buffer): void {
    this.text += chunk.toString();
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }

  toString(): string {
    return this.text.length > this.limit ? this.text.slice(-this.limit) : this.text;
  }
}

/**
 * The environment every worker gets: the parent's, plus TensorFlow's grow-as-needed GPU memory so
 * two workers can share a GPU. TRAJECTORY_LAB_BACKEND passes through; the spec's backend wins
 * over it inside the engine.
 */
export function workerEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  env.TF_FORCE_GPU_ALLOW_GROWTH = 'true';
  return env;
}
