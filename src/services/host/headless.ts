/**
 * The lab without Electron (`npm run serve`): the same service, workers as child processes (or
 * BullMQ workers anywhere, with `--queue redis://…`), the built renderer and the API on one
 * loopback HTTP port.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeWorkerLauncher } from '../jobs/node-worker.js';
import type { WorkerLauncher } from '../jobs/worker-process.js';
import { startRemoteQueue, type RemoteQueue, type RemoteQueueOptions } from '../jobs/remote/remote-queue.js';
import { redactUrl } from '../jobs/remote/redis-connection.js';
import { openLab, type LabService } from '../lab-service.js';
import { HostError, startHost, type RunningHost } from './server.js';
import { isLoopback } from './security.js';
import { removeServerFile, writeServerFile } from './server-file.js';
import { logger } from '../log.js';

const log = logger('host');

const DEFAULT_RENDERER_DIR = fileURLToPath(new URL('../../../out/renderer', import.meta.url));

export interface HeadlessOptions {
  dataDir: string;
  host?: string;
  port?: number;
  allowRemote?: boolean;
  rendererDir?: string;
  concurrency?: number;
  token?: string;
  probeBackend?: boolean;
  launcher?: WorkerLauncher;
  appVersion?: string;
  /**
   * phase jobs go to BullMQ (`url`: redis://…) for `lab worker`s anywhere instead of this
   * machine's worker processes; the workers' token is kept in the data folder (`worker-token`)
   */
  queue?: Omit<RemoteQueueOptions, 'weightsDir' | 'tokenFile'>;
}

export interface Headless {
  service: LabService;
  server: RunningHost;
  /** the BullMQ queue and its worker gateway, with --queue */
  remote: RemoteQueue | null;
  /** true when the built renderer is there to serve */
  hasRenderer: boolean;
  close(): Promise<void>;
}

export async function startHeadless(o: HeadlessOptions): Promise<Headless> {
  const bind = o.host ?? '127.0.0.1';
  // Refuse before touching the data folder.
  if (!isLoopback(bind) && !o.allowRemote) {
    throw new HostError(
      `refusing to listen on ${bind}: it is not a loopback address, so anyone on the network could reach the lab (pass --allow-remote if that is really what you want)`,
    );
  }
  const rendererDir = o.rendererDir ?? DEFAULT_RENDERER_DIR;
  let remote: RemoteQueue | null = null;
  if (o.queue) {
    await mkdir(o.dataDir, { recursive: true });
    remote = await startRemoteQueue({
      ...o.queue,
      weightsDir: join(o.dataDir, 'weights'),
      tokenFile: join(o.dataDir, 'worker-token'),
    });
  }
  let service: LabService;
  try {
    service = openLab({
      dataDir: o.dataDir,
      launcher: o.launcher ?? nodeWorkerLauncher(),
      host: 'headless',
      appVersion: o.appVersion ?? '0.0.0',
      concurrency: o.concurrency,
      // With BullMQ the backend that matters is the workers': the first job reports it.
      probeBackend: o.probeBackend ?? !remote,
      ...(remote ? { runner: remote.runner, queueLabel: redactUrl(o.queue!.url) } : {}),
    });
  } catch (e) {
    await remote?.close();
    throw e;
  }
  let server: RunningHost;
  try {
    // The data folder is ours: workers (those of an earlier life of this host too) may call this gateway.
    await remote?.runner.announce();
    server = await startHost({
      service,
      rendererDir,
      host: bind,
      port: o.port,
      allowRemote: o.allowRemote,
      token: o.token,
    });
  } catch (e) {
    await service.close();
    await remote?.close();
    throw e;
  }
  try {
    await writeServerFile({
      url: server.url,
      host: server.host,
      port: server.port,
      pid: process.pid,
      dataDir: o.dataDir,
      startedAt: new Date().toISOString(),
    });
  } catch (e) {
    log.warn(
      { err: e, dataDir: o.dataDir },
      'could not write server.json in the data folder (serve -- list will not find this lab)',
    );
  }
  let closing: Promise<void> | null = null;
  return {
    service,
    server,
    remote,
    hasRenderer: existsSync(join(rendererDir, 'index.html')),
    close: () =>
      (closing ??= (async () => {
        await removeServerFile(o.dataDir).catch(() => undefined);
        await server.close();
        await service.close();
        await remote?.close();
      })()),
  };
}
