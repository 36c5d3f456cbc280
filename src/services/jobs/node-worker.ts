/** Workers as Node child processes: the headless host, the CLI and the tests. */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withWorkerLogEnv, workerPlumbing } from './worker-handle.js';
import type { WorkerHandle, WorkerLauncher } from './worker-process.js';

/** The worker entry in this source tree; run through tsx. */
const WORKER_SOURCE_ENTRY = fileURLToPath(new URL('../../worker/index.ts', import.meta.url));

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
      env: withWorkerLogEnv(env),
      execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const plumbing = workerPlumbing(
      {
        get pid() {
          return child.pid;
        },
        stdout: child.stdout,
        stderr: child.stderr,
        send: (msg) => {
          if (child.connected) child.send(msg as object);
        },
        onMessage: (l) => child.on('message', l),
        kill: (signal) => child.kill(signal),
      },
      { echo },
    );
    // 'on', not 'once': a send racing the child's death reports EPIPE here too, and an
    // unhandled 'error' would take the whole lab down.
    child.on('error', (e) => {
      plumbing.note(`\n${e.message}\n`);
      // A process that never started emits no 'exit'.
      if (child.pid === undefined) plumbing.exited({ code: null, signal: null });
    });
    // 'close' (not 'exit') so stderr is fully read before the run's error is written.
    child.once('close', (code, signal) => plumbing.exited({ code, signal }));
    return plumbing.handle;
  };
}
