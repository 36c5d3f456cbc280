/**
 * The host's side of `--queue redis://…`: the BullMQ runner for the job queue and the gateway its
 * workers call back on, wired together.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { newToken } from '../../host/security.js';
import { startGateway, type Gateway } from './gateway.js';
import { redisRunner, type RedisRunner } from './redis-runner.js';

export interface RemoteQueueOptions {
  url: string;
  /** the store's weights folder: uploads land there */
  weightsDir: string;
  /** the workers' token (default: the one in `tokenFile`, else a new random one, printed by the caller) */
  token?: string;
  /**
   * where the token is kept between runs (created, readable only by you), so workers started
   * against an earlier run of this host keep working when it returns
   */
  tokenFile?: string;
  /** the gateway's bind address and port (default 127.0.0.1, any free port) */
  gatewayHost?: string;
  gatewayPort?: number;
  /** bind the gateway beyond loopback */
  allowRemote?: boolean;
  /** the gateway URL workers should use, when they reach it under another name */
  advertise?: string;
}

export interface RemoteQueue {
  runner: RedisRunner;
  gateway: Gateway;
  token: string;
  /** the gateway URL workers are told */
  gatewayUrl: string;
  close(): Promise<void>;
}

/** The token in `file`, or a new one written there (mode 600). */
export async function keptToken(file: string): Promise<string> {
  try {
    const t = (await readFile(file, 'utf8')).trim();
    if (t) return t;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const t = newToken();
  await writeFile(file, `${t}\n`, { mode: 0o600 });
  return t;
}

export async function startRemoteQueue(o: RemoteQueueOptions): Promise<RemoteQueue> {
  const token = o.token ?? (o.tokenFile ? await keptToken(o.tokenFile) : newToken());
  let runner: RedisRunner | null = null;
  const gateway = await startGateway({
    token,
    weightsDir: o.weightsDir,
    host: o.gatewayHost,
    port: o.gatewayPort,
    allowRemote: o.allowRemote,
    route: (key) => runner?.route(key) ?? null,
  });
  try {
    runner = await redisRunner({
      url: o.url,
      gatewayUrl: o.advertise ?? gateway.url,
      publish: (path) => gateway.publish(path),
    });
  } catch (e) {
    await gateway.close();
    throw e;
  }
  const r = runner;
  return {
    runner: r,
    gateway,
    token,
    gatewayUrl: o.advertise ?? gateway.url,
    async close() {
      await r.close();
      await gateway.close();
    },
  };
}
