/** Workers as Node child processes: the headless host, the CLI and the tests. */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isFromWorker } from '../../shared/worker-protocol.js';
import { TailBuffer, type WorkerExit, type WorkerHandle, type WorkerLauncher } from './worker-process.js';

/** The worker entry in this source tree; run through tsx. */
export const WORKER_SOURCE_ENTRY = fileURLToPath(new URL('../../worker/index.ts', import.meta.url));

export interface NodeWorkerOptions {
  /** the worker script; a .ts file is run with `--import tsx` */
  entry?: string;
  /** also copy the worker's stdout/stderr to ours (debugging) */
  echo?: boolean;
}

export function nodeWorkerLauncher(options: NodeWorkerOptions = {}): WorkerLauncher {
  const entry = options.entry ?? WORKER_SOURCE_ENTRY;
  const execArgv = entry.endsWith('.ts')
    ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
    : [];
  const echo = options.echo ?? !!process.env.TRAJECTORY_LAB_DEBUG;
  return (env): WorkerHandle => {
    const child = fork(entry, [], {
      env,
      execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const tail = new TailBuffer();
    child.stderr!.on('data', (c: Buffer) => {
      tail.push(c);
      if (echo) process.stderr.write(c);
    });
    child.stdout!.on('data', (c: Buffer) => {
      if (echo) process.stdout.write(c);
    });
    const exitListeners: ((e: WorkerExit) => void)[] = [];
    let exited: WorkerExit | null = null;
    const exit = (e: WorkerExit): void => {
      if (exited) return;
      exited = e;
      for (const l of exitListeners) l(e);
    };
    // 'on', not 'once': a send racing the child's death reports EPIPE here too, and an
    // unhandled 'error' would take the whole lab down.
    child.on('error', (e) => {
      tail.push(`\n${e.message}\n`);
      // A process that never started emits no 'exit'.
      if (child.pid === undefined) exit({ code: null, signal: null });
    });
    // 'close' (not 'exit') so stderr is fully read before the run's error is written.
    child.once('close', (code, signal) => exit({ code, signal }));
    return {
      get pid() {
        return child.pid ?? null;
      },
      send(msg) {
        if (child.connected) child.send(msg);
      },
      onMessage(listener) {
        child.on('message', (m: unknown) => {
          if (isFromWorker(m)) listener(m);
        });
      },
      onExit(listener) {
        if (exited) listener(exited);
        else exitListeners.push(listener);
      },
      stderrTail: () => tail.toString(),
      kill(signal = 'SIGTERM') {
        if (exited) return;
        child.kill(signal);
      },
    };
  };
}
