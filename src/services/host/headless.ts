/**
 * The lab without Electron (`npm run serve`): the same service, workers as child processes, the
 * built renderer and the API on one loopback HTTP port.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeWorkerLauncher } from '../jobs/node-worker.js';
import type { WorkerLauncher } from '../jobs/worker-process.js';
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
}

export interface Headless {
  service: LabService;
  server: RunningHost;
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
  const service = openLab({
    dataDir: o.dataDir,
    launcher: o.launcher ?? nodeWorkerLauncher(),
    host: 'headless',
    appVersion: o.appVersion ?? '0.0.0',
    concurrency: o.concurrency,
    probeBackend: o.probeBackend ?? true,
  });
  let server: RunningHost;
  try {
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
    hasRenderer: existsSync(join(rendererDir, 'index.html')),
    close: () =>
      (closing ??= (async () => {
        await removeServerFile(o.dataDir).catch(() => undefined);
        await server.close();
        await service.close();
      })()),
  };
}
