/**
 * The lab service: every request of src/shared/lab-api.ts, answered on top of the store, the job
 * queue and the engine. Electron's IPC handler and the headless host's WebSocket both call
 * `request(name, args)`; it validates the arguments before anything else and turns every failure
 * into a LabError. Events go to whoever subscribed with `onEvent`.
 */
import {
  describeFree,
  DiskReserve,
  diskFullMessage,
  isDiskFull,
  RESERVE_BYTES,
  START_RESERVE_FILE,
} from './store/disk-space.js';
import { resolveParamSets } from './param-set-refs.js';
import { dirname } from 'node:path';
import { notFound, unavailable, type BackendInfo } from '../shared/domain/index.js';
import {
  API_VERSION,
  LabRequestError,
  validateRequest,
  type DownloadFile,
  type LabEvent,
  type RequestName,
} from '../shared/lab-api.js';
import type { FinishedMethod } from '../shared/worker-protocol.js';
import { acquireDataLock, type DataLock } from './data-lock.js';
import { toLabError } from './errors.js';
import { removeStagingLeftovers } from './bundles/unpack.js';
import { bundleHandlers } from './handlers/bundles.js';
import type { HandlerTable, ServiceContext } from './handlers/context.js';
import { datasetHandlers } from './handlers/datasets.js';
import { experimentHandlers } from './handlers/experiments.js';
import { downloadHandlers, downloadMaker, type SaveFile } from './handlers/downloads.js';
import { paramHandlers } from './handlers/params.js';
import { RebuildWorkers } from './params-at.js';
import { JobQueue } from './jobs/queue.js';
import { jobRecorder } from './jobs/recorder.js';
import type { TaskRunner } from './jobs/task-runner.js';
import { workerEnv, type WorkerHandle, type WorkerLauncher } from './jobs/worker-process.js';
import { LabStore } from './store/index.js';
import { attachLogFile, logger } from './log.js';

const log = logger('lab');

export interface LabServiceOptions {
  store: LabStore;
  launcher: WorkerLauncher;
  /** where phase jobs run instead of this machine's worker processes (BullMQ: remote/remote-queue.ts) */
  runner?: TaskRunner;
  /** how app.info names that runner (the Redis URL without its password); default 'embedded' */
  queueLabel?: string;
  host: 'electron' | 'headless';
  appVersion: string;
  /** phase jobs running at once, each in a worker process (default: the cores) */
  concurrency?: number;
  /** ask a worker which backend it will use, in the background at start */
  probeBackend?: boolean;
  /** close the store with the service (default true) */
  ownsStore?: boolean;
  cancelGraceMs?: number;
  metricFlushMs?: number;
  metricFlushPoints?: number;
  env?: NodeJS.ProcessEnv;
  /** the data folder's lock (openLab's), released once the store is closed */
  lock?: DataLock;
  /** the desktop app's save dialog, for `downloads.save` */
  saveFile?: SaveFile;
}

export interface LabService {
  request(name: string, args: unknown): Promise<unknown>;
  /** a file of lab-api.ts `downloadSchemas` (serve's GET /api/download/…); failures are LabRequestErrors */
  download(name: string, args: unknown): Promise<DownloadFile>;
  onEvent(listener: (e: LabEvent) => void): () => void;
  readonly store: LabStore;
  readonly queue: JobQueue;
  /** kills the workers (their runs become interrupted) and closes the store */
  close(): Promise<void>;
}

/**
 * After a crash or quit nothing is running, and nothing is queued either (the queue lived in
 * memory, and the data-folder lock says no other process is using the store): every queued or
 * running run becomes interrupted, in one pass. Bundle imports the crash cut short go, rows and
 * unpacked files: they were never visible.
 */
function recoverAfterRestart(store: LabStore): string[] {
  removeStagingLeftovers(store.dataDir);
  const discarded = store.discardUnfinishedImports();
  if (discarded.length)
    log.info({ experiments: discarded }, `removed ${discarded.length} unfinished bundle import(s)`);
  return store.transaction(() => {
    const touched = store.interruptOpenRuns();
    for (const id of touched)
      store.appendLog(id, 'warn', 'interrupted: the lab stopped while this was running; resume it to finish');
    return touched;
  });
}

/** Unreferenced weights (deleted experiments, failed imports) go once per start, in the background. */
function collectWeights(store: LabStore, isClosed: () => boolean): void {
  // Temporary files are a crashed or out-of-space write's leftovers; no job runs yet to own one.
  store
    .removeTempWeights()
    .then((n) => {
      if (n) log.info({ files: n }, `removed ${n} partial weights file${n === 1 ? '' : 's'}`);
    })
    .catch(() => undefined);
  store.gcWeights().then(
    ({ removed, bytes }) => {
      if (removed.length)
        log.info(
          { files: removed.length, bytes },
          `removed ${removed.length} unused weights file${removed.length === 1 ? '' : 's'} (${(bytes / 1048576).toFixed(1)} MiB)`,
        );
    },
    (e: unknown) => {
      if (!isClosed()) log.warn({ err: e }, 'cleaning up unused weights failed');
    },
  );
}

export function createLabService(o: LabServiceOptions): LabService {
  const { store } = o;
  const listeners = new Set<(e: LabEvent) => void>();
  const emit = (e: LabEvent): void => {
    for (const l of listeners) {
      try {
        l(e);
      } catch (err) {
        log.error({ err }, 'lab event listener failed');
      }
    }
  };
  let backend: BackendInfo | null = null;
  let closed = false;

  // On a full disk the lab still starts (issue 8, item 3): recovery gives up the disk reserve if it
  // must, and if even that is not enough the lab says why instead of dying.
  let storageWarning: string | undefined;
  try {
    store.withDiskReserve(() => recoverAfterRestart(store));
  } catch (e) {
    if (!isDiskFull(e)) throw e;
    storageWarning = diskFullMessage(store.dataDir, e);
    log.warn({ dataDir: store.dataDir }, storageWarning);
  }
  if (!store.ensureDiskReserve()) {
    storageWarning ??= `the disk holding ${store.dataDir} is nearly full (${describeFree(store.dataDir)}): jobs may fail for lack of space`;
    log.warn({ dataDir: store.dataDir }, storageWarning);
  }
  collectWeights(store, () => closed);

  const queue = new JobQueue({
    runner: o.runner,
    launcher: o.launcher,
    // Workers write weights where the store reads them.
    weightsDir: dirname(store.weightsPath('0'.repeat(64))),
    concurrency: o.concurrency,
    cancelGraceMs: o.cancelGraceMs,
    env: o.env,
    observe: (job) =>
      jobRecorder({
        store,
        emit,
        experimentId: job.experimentId,
        onBackend: (b) => (backend = b),
        flushMs: o.metricFlushMs,
        flushPoints: o.metricFlushPoints,
      }),
    onChange: (jobs) => emit({ type: 'jobs', jobs }),
  });

  const ctx: ServiceContext = {
    store,
    queue,
    emit,
    host: o.host,
    appVersion: o.appVersion,
    backend: () => backend,
    enqueue(experimentId: string, finished: FinishedMethod[] = []) {
      const e = store.getExperiment(experimentId);
      if (!e) throw notFound(`experiment ${experimentId}`);
      queue.enqueue({ experimentId, spec: e.spec, finished, paramSets: resolveParamSets(store, e.spec) });
    },
  };

  const rebuilders = new RebuildWorkers({
    launcher: o.launcher,
    env: o.env,
    lookup: (key) => store.trainedLookup(key),
  });
  const makeDownload = downloadMaker(ctx, rebuilders);
  const handlers: HandlerTable<RequestName> = {
    'app.info': () => ({
      apiVersion: API_VERSION,
      appVersion: o.appVersion,
      host: o.host,
      dataDir: store.dataDir,
      backend,
      concurrency: queue.concurrency,
      queue: o.queueLabel ?? 'embedded',
      schemaVersion: store.schemaVersion,
      ...(storageWarning ? { storageWarning } : {}),
    }),
    ...datasetHandlers(ctx),
    ...paramHandlers(ctx),
    ...experimentHandlers(ctx),
    ...bundleHandlers(ctx),
    ...downloadHandlers(makeDownload, o.saveFile),
  };

  const probe = o.probeBackend ? probeBackend(o.launcher, o.env, (b) => (backend ??= b)) : null;

  return {
    store,
    queue,
    async request(name: string, args: unknown): Promise<unknown> {
      if (closed) throw new LabRequestError(toLabError(unavailable('the lab is shutting down')));
      const v = validateRequest(name, args);
      const handler = handlers[v.name] as (a: unknown) => unknown;
      return answered(`request ${name}`, () => handler(v.args));
    },
    async download(name: string, args: unknown): Promise<DownloadFile> {
      if (closed) throw new LabRequestError(toLabError(unavailable('the lab is shutting down')));
      return answered(`download ${name}`, () => makeDownload(name, args));
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      probe?.kill('SIGKILL');
      rebuilders.close();
      await queue.shutdown();
      listeners.clear();
      try {
        if (o.ownsStore ?? true) store.close();
      } finally {
        o.lock?.release();
      }
    },
  };
}

/** `fn`'s value, or its failure as a LabRequestError (logged when it is not a domain error). */
async function answered<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = toLabError(e);
    if (err.code === 'internal') log.error({ err: e }, `${what} failed`);
    throw new LabRequestError(err);
  }
}

/** Starts a worker only to learn which backend jobs will get; gives up quietly after a minute. */
function probeBackend(
  launcher: WorkerLauncher,
  env: NodeJS.ProcessEnv | undefined,
  done: (b: BackendInfo) => void,
): WorkerHandle | null {
  let w: WorkerHandle;
  try {
    w = launcher(workerEnv(env));
  } catch {
    return null;
  }
  const timer = setTimeout(() => w.kill('SIGKILL'), 60_000);
  w.onMessage((m) => {
    if (m.type === 'ready') w.send({ type: 'probe', backend: 'auto' });
    else if (m.type === 'backend') done(m.backend);
  });
  w.onExit(() => clearTimeout(timer));
  return w;
}

export interface OpenLabOptions extends Omit<LabServiceOptions, 'store' | 'ownsStore' | 'lock'> {
  dataDir: string;
  /** better-sqlite3's addon built for this runtime (Electron), when it is not the package's own build */
  nativeBinding?: string;
}

/**
 * Locks `dataDir` for this process (DataDirInUseError when another lab or CLI run has it), opens
 * the store there and the service over it; closing the service closes the store and unlocks.
 */
export function openLab(o: OpenLabOptions): LabService {
  // On a full disk even the lock file needs room: the start reserve is for exactly that.
  const startReserve = new DiskReserve(o.dataDir, RESERVE_BYTES, START_RESERVE_FILE);
  const lockIt = (): DataLock =>
    acquireDataLock(o.dataDir, { role: o.host === 'electron' ? 'the desktop app' : 'npm run serve' });
  let dataLock: DataLock;
  try {
    dataLock = lockIt();
  } catch (e) {
    if (!isDiskFull(e) || !startReserve.release()) throw e;
    log.warn({ dataDir: o.dataDir }, 'the disk holding the data folder is full; starting on its reserve');
    dataLock = lockIt();
  }
  // Whoever holds the folder writes its log (<dataDir>/logs/lab.log), until it lets go.
  const detachLog = attachLogFile(o.dataDir);
  const lock: DataLock = {
    dataDir: dataLock.dataDir,
    path: dataLock.path,
    release() {
      detachLog();
      dataLock.release();
    },
  };
  log.info({ dataDir: o.dataDir, host: o.host, version: o.appVersion }, 'lab opened');
  let store: LabStore | null = null;
  try {
    store = o.nativeBinding
      ? LabStore.open(o.dataDir, { nativeBinding: o.nativeBinding })
      : LabStore.open(o.dataDir);
    const service = createLabService({ ...o, store, ownsStore: true, lock });
    startReserve.ensure();
    return service;
  } catch (e) {
    store?.close();
    lock.release();
    throw e;
  }
}
