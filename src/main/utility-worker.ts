/** Workers as Electron utility processes (the desktop): the same WorkerHandle as child_process. */
import { utilityProcess } from 'electron';
import { isFromWorker } from '../shared/worker-protocol.js';
import {
  TailBuffer,
  type WorkerExit,
  type WorkerHandle,
  type WorkerLauncher,
} from '../services/jobs/worker-process.js';

export function utilityWorkerLauncher(entry: string): WorkerLauncher {
  return (env): WorkerHandle => {
    const child = utilityProcess.fork(entry, [], {
      env,
      stdio: 'pipe',
      serviceName: 'Trajectory Lab worker',
    });
    const tail = new TailBuffer();
    let stderrEnded = false;
    child.stderr?.on('data', (c: Buffer) => tail.push(c));
    child.stderr?.on('end', () => (stderrEnded = true));
    child.stdout?.on('data', () => {});
    const exitListeners: ((e: WorkerExit) => void)[] = [];
    let exited: WorkerExit | null = null;
    let killedWith: string | null = null;
    const exit = (code: number | null): void => {
      if (exited) return;
      exited = { code, signal: killedWith };
      for (const l of exitListeners) l(exited);
    };
    child.once('exit', (code) => {
      // Let the last of stderr arrive: it is the failed run's explanation.
      if (stderrEnded || !child.stderr) exit(code);
      else {
        const t = setTimeout(() => exit(code), 200);
        child.stderr.once('end', () => {
          clearTimeout(t);
          exit(code);
        });
      }
    });
    child.on('error', (type, location) => tail.push(`\nutility process error: ${type} at ${location}\n`));
    return {
      get pid() {
        return child.pid ?? null;
      },
      send(msg) {
        if (exited) return;
        try {
          child.postMessage(msg);
        } catch {
          // It died between our check and the send; its exit is on its way.
        }
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
    };
  };
}
