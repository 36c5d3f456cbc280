/**
 * A throwaway redis-server on a free loopback port, in a temp dir, for the BullMQ tests; tests
 * skip with the reason when Debian's redis-server is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
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
  /** stops it (SIGTERM: with appendonly on, what it held comes back on restart) */
  stop(): Promise<void>;
  restart(): Promise<void>;
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
  const stop = async (): Promise<void> => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: start,
    async close() {
      await stop();
      await dir.cleanup();
    },
  };
}
