/**
 * A throwaway redis-server on a free loopback port, in a temp dir, for the BullMQ tests (tests
 * skip with the reason when Debian's redis-server is not installed), and `lab worker` processes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { Job, Queue } from 'bullmq';
import type { PhaseTask } from '../../src/services/jobs/task-runner.js';
import { startWorkerAgent } from '../../src/services/jobs/remote/worker-agent.js';
import type { ExperimentSpec } from '../../src/shared/domain/index.js';
import { tempDir } from './lab.js';

export const REDIS_SERVER = process.env.LAB_REDIS_SERVER ?? '/usr/bin/redis-server';

export function redisMissing(): string | false {
  const r = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? false : `no redis-server at ${REDIS_SERVER} (apt-get install redis-server)`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  port: number;
  /**
   * stops it: SIGTERM (a clean shutdown writes the append-only file out) or SIGKILL (a crash:
   * with appendonly on and fsync every second, what was written up to a second before comes back)
   */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** starts it again on the same port and data folder */
  restart(): Promise<void>;
  readonly pid: number | undefined;
  close(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = await tempDir('tlab-redis-');
  let proc: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    const p = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir.dir, '--save', '', '--appendonly', 'yes'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc = p;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 15_000);
      p.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      p.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  };
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: start,
    get pid() {
      return (proc as ChildProcess | null)?.pid;
    },
    async close() {
      await stop();
      await dir.cleanup();
    },
  };
}

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** A child process running the lab's CLI, with its output kept line by line. */
export interface LabProcess {
  proc: ChildProcess;
  log: string[];
  /** resolves with the exit code (null when killed by a signal) */
  exited: Promise<number | null>;
}

export function startLabCli(args: string[], env: NodeJS.ProcessEnv = {}): LabProcess {
  const proc = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const take = (c: Buffer): void => void log.push(...c.toString().split('\n').filter(Boolean));
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, log, exited };
}

/** `lab worker` taking one job at a time, with a short BullMQ lock so a dead one's job comes back fast. */
export function startLabWorker(url: string, token: string, dataDir: string): LabProcess {
  return startLabCli(
    ['worker', '--queue', url, '--concurrency', '1', '--lock-ms', '3000', '--data', dataDir],
    { TRAJECTORY_LAB_WORKER_TOKEN: token },
  );
}

/** Stops them (SIGTERM) and waits until they are gone. */
export async function stopAll(procs: readonly LabProcess[]): Promise<void> {
  for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
}

/** A worker agent whose worker processes must never start: for jobs it should refuse before any work. */
export async function refusingAgent(
  url: string,
  token: string,
  weightsDir: string,
): Promise<{ agent: { close(): Promise<void> }; launched: () => number }> {
  let launched = 0;
  const agent = await startWorkerAgent({
    url,
    concurrency: 1,
    token,
    weightsDir,
    launcher: () => {
      launched++;
      throw new Error('no worker should start');
    },
    log: () => {},
  });
  return { agent, launched: () => launched };
}

/** The phase task that trains `spec`'s source, as the host would queue it for experiment e1. */
export function sourceTask(spec: ExperimentSpec): PhaseTask {
  return {
    experimentId: 'e1',
    taskKey: 'e1.source',
    phase: 'source',
    job: { kind: 'source' },
    spec,
    finished: [],
  };
}

/** The job once it has failed (within 30 s), read again so its reason and attempts are there. */
export async function failedJob(queue: Queue, id: string): Promise<Job> {
  const end = Date.now() + 30_000;
  let state = '';
  while (Date.now() < end && (state = await queue.getJobState(id)) !== 'failed')
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(state, 'failed', `job ${id} failed`);
  return (await queue.getJob(id))!;
}
