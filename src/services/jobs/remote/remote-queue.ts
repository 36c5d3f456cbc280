/**
 * The host's side of `--queue redis://…`: the BullMQ runner for the job queue and the gateway its
 * workers call back on, wired together.
 */
import { newToken } from '../../host/security.js';
import { startGateway, type Gateway } from './gateway.js';
import { redisRunner, type RedisRunner } from './redis-runner.js';

export interface RemoteQueueOptions {
  url: string;
  /** the store's weights folder: uploads land there */
  weightsDir: string;
  /** the workers' token (default: a new random one, printed by the caller) */
  token?: string;
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
  close(): Promise<void>;
}

export async function startRemoteQueue(o: RemoteQueueOptions): Promise<RemoteQueue> {
  const token = o.token ?? newToken();
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
    runner = await redisRunner({ url: o.url, gatewayUrl: o.advertise ?? gateway.url });
  } catch (e) {
    await gateway.close();
    throw e;
  }
  const r = runner;
  return {
    runner: r,
    gateway,
    token,
    async close() {
      await r.close();
      await gateway.close();
    },
  };
}
