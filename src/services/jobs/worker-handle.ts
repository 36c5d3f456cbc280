/**
 * The handle plumbing both worker launchers share (child_process.fork in node-worker.ts, Electron's
 * utilityProcess.fork in main/utility-worker.ts): stderr relayed line by line into the lab's log and
 * kept as the failed run's tail, stdout drained, messages filtered to the protocol, one exit
 * reported exactly once after the last of stderr, sends and kills after the exit ignored.
 */
import { isFromWorker } from '../../shared/worker-protocol.js';
import { LOG_JSON_ENV, logger, relayWorkerLine, type Logger } from '../log.js';
import { TailBuffer, type WorkerExit, type WorkerHandle } from './worker-process.js';

/** The part of a Node or Electron stdio stream the plumbing uses. */
export interface OutputStream {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  once(event: 'end', listener: () => void): unknown;
}

/** What a launcher knows how to do with its kind of process. */
export interface WorkerProcess {
  readonly pid: number | null | undefined;
  readonly stdout: OutputStream | null | undefined;
  readonly stderr: OutputStream | null | undefined;
  /** may throw when the process is gone: the exit is then on its way and the send is dropped */
  send(msg: unknown): void;
  onMessage(listener: (m: unknown) => void): void;
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

export interface WorkerPlumbing {
  handle: WorkerHandle;
  /** the process ended; reported to the handle's listeners once stderr has been read (≤ 200 ms) */
  exited(e: WorkerExit): void;
  /** add a line of the launcher's own to the stderr tail (a spawn error) */
  note(text: string): void;
}

/** The environment for a worker: its log records come to us as JSON lines on its stderr. */
export function withWorkerLogEnv(env: Record<string, string>): Record<string, string> {
  return { ...env, [LOG_JSON_ENV]: '1' };
}

export function workerPlumbing(
  child: WorkerProcess,
  o: { echo?: boolean; log?: Logger; stderrGraceMs?: number } = {},
): WorkerPlumbing {
  const tail = new TailBuffer();
  const log = (o.log ?? logger('worker')).child({ workerPid: child.pid ?? undefined });
  let partial = '';
  let stderrEnded = !child.stderr;
  const relay = (text: string): void => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) tail.push(relayWorkerLine(line, log));
  };
  const flushPartial = (): void => {
    if (partial) tail.push(relayWorkerLine(partial, log));
    partial = '';
  };
  child.stderr?.on('data', (c: Buffer) => {
    relay(c.toString());
    // eslint-disable-next-line no-restricted-properties -- debugging echo of the worker's own stderr
    if (o.echo) process.stderr.write(c);
  });
  const stderrEnd = new Promise<void>((resolve) => {
    if (!child.stderr) return resolve();
    child.stderr.once('end', () => {
      stderrEnded = true;
      flushPartial();
      resolve();
    });
  });
  child.stdout?.on('data', (c: Buffer) => {
    // eslint-disable-next-line no-restricted-properties -- debugging echo of the worker's own stdout
    if (o.echo) process.stdout.write(c);
  });

  const exitListeners: ((e: WorkerExit) => void)[] = [];
  let exited: WorkerExit | null = null;
  let exiting = false;
  const report = (e: WorkerExit): void => {
    if (exited) return;
    exited = e;
    if (e.code !== 0) log.debug({ code: e.code, signal: e.signal }, 'worker exited');
    for (const l of exitListeners) l(e);
  };

  const handle: WorkerHandle = {
    get pid() {
      return child.pid ?? null;
    },
    send(msg) {
      if (exited || exiting) return;
      try {
        child.send(msg);
      } catch {
        // It died between our check and the send; its exit is on its way.
      }
    },
    onMessage(listener) {
      child.onMessage((m) => {
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

  return {
    handle,
    exited(e) {
      if (exiting || exited) return;
      exiting = true;
      // Let the last of stderr arrive: it is the failed run's explanation.
      if (stderrEnded) return report(e);
      const t = setTimeout(() => {
        flushPartial();
        report(e);
      }, o.stderrGraceMs ?? 200);
      void stderrEnd.then(() => {
        clearTimeout(t);
        report(e);
      });
    },
    note(text) {
      tail.push(text);
    },
  };
}
