/** Workers as Electron utility processes (the desktop): the same WorkerHandle as child_process. */
import { utilityProcess } from 'electron';
import { withWorkerLogEnv, workerPlumbing } from '../services/jobs/worker-handle.js';
import type { WorkerHandle, WorkerLauncher } from '../services/jobs/worker-process.js';

export function utilityWorkerLauncher(entry: string): WorkerLauncher {
  return (env): WorkerHandle => {
    const child = utilityProcess.fork(entry, [], {
      env: withWorkerLogEnv(env),
      stdio: 'pipe',
      serviceName: 'Trajectory Lab worker',
    });
    // utilityProcess.kill() takes no signal; the signal we asked for is what its exit reports.
    let killedWith: string | null = null;
    const plumbing = workerPlumbing({
      get pid() {
        return child.pid;
      },
      stdout: child.stdout,
      stderr: child.stderr,
      send: (msg) => child.postMessage(msg),
      onMessage: (l) => child.on('message', l),
      kill: (signal) => {
        killedWith = signal;
        if (signal === 'SIGKILL' && child.pid) {
          try {
            process.kill(child.pid, 'SIGKILL');
            return;
          } catch {
            // already gone: fall through to Electron's own kill
          }
        }
        child.kill();
      },
    });
    child.once('exit', (code) => plumbing.exited({ code, signal: killedWith }));
    child.on('error', (type, location) => plumbing.note(`\nutility process error: ${type} at ${location}\n`));
    return plumbing.handle;
  };
}
