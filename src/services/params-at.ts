/**
 * The run page's "parameters at step s" download: one method run's transferred parameters θ2^s,
 * rebuilt on demand in a fresh worker process (it loads the data and the stored trainings, which
 * must not hold the lab's event loop) from the run's stored π_1..π_T. The worker writes the
 * safetensors file under the data folder's tmp/; the bytes come back here and the file goes.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  invalid,
  notFound,
  unavailable,
  type ExperimentSpec,
  type MethodName,
} from '../shared/domain/index.js';
import { WORKER_PROTOCOL_VERSION, type ParamsFileMessage } from '../shared/worker-protocol.js';
import { workerEnv, type WorkerHandle, type WorkerLauncher } from './jobs/worker-process.js';
import { resolveParamSets } from './param-set-refs.js';
import type { LabStore } from './store/index.js';
import { logger } from './log.js';

const log = logger('params-at');

/** A rebuild loads the data and the trainings once; past this the worker is stopped. */
const REBUILD_TIMEOUT_MS = 10 * 60_000;
/** How long a worker that answered waits for the next step the user picks. */
const REBUILD_IDLE_MS = 60_000;

export interface ParamsAtFile {
  fileName: string;
  bytes: Buffer;
  metadata: Record<string, string>;
}

/** "my-experiment.gmt.target1.step7.safetensors": what the file holds, readable in a folder. */
export function paramsAtFileName(
  experimentName: string,
  method: string,
  target: number,
  step: number,
): string {
  const base = experimentName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'experiment';
  return `${base.slice(0, 80)}.${method}.target${target + 1}.step${step}.safetensors`;
}

export interface RebuildJob {
  spec: ExperimentSpec;
  weightsDir: string;
  paramSets: Record<string, string>;
  target: number;
  method: MethodName;
  step: number;
  perms: string;
  outPath: string;
}

/**
 * The worker processes that rebuild parameters. One that answered stays a while for the next
 * request (a user stepping through s pays the process start and the backend once); a request
 * while every worker is busy starts another; one that failed or timed out is ended.
 */
export class RebuildWorkers {
  private readonly pool = new Set<Warm>();
  private closed = false;

  constructor(
    private readonly o: {
      launcher: WorkerLauncher;
      env?: NodeJS.ProcessEnv;
      /** the store's lookup of a training by key, answered to the worker's cache-load */
      lookup: LabStore['trainedLookup'];
      idleMs?: number;
      timeoutMs?: number;
    },
  ) {}

  run(job: RebuildJob): Promise<ParamsFileMessage> {
    if (this.closed) return Promise.reject(unavailable('the lab is shutting down'));
    return new Promise((resolve, reject) => {
      let w = [...this.pool].find((x) => x.ready && !x.job && !x.exited) ?? null;
      try {
        w ??= this.launch();
      } catch (e) {
        return reject(unavailable(`could not start a worker: ${(e as Error).message}`));
      }
      const worker = w;
      if (worker.idle) clearTimeout(worker.idle);
      worker.idle = null;
      const timeoutMs = this.o.timeoutMs ?? REBUILD_TIMEOUT_MS;
      const timer = setTimeout(() => {
        settle(unavailable(`rebuilding the parameters took over ${Math.round(timeoutMs / 1000)} s`));
        worker.handle.kill('SIGKILL');
      }, timeoutMs);
      const settle = (e: Error | null, m?: ParamsFileMessage): void => {
        if (worker.job !== current) return;
        clearTimeout(timer);
        worker.job = null;
        if (e) reject(e);
        else resolve(m!);
      };
      const current: Warm['job'] = { job, settle };
      worker.job = current;
      if (worker.ready) this.send(worker);
    });
  }

  /** Ends every worker (the lab is closing). */
  close(): void {
    this.closed = true;
    for (const w of this.pool) w.handle.kill('SIGKILL');
    this.pool.clear();
  }

  private send(w: Warm): void {
    w.ready = false;
    w.handle.send({
      type: 'params-at',
      protocol: WORKER_PROTOCOL_VERSION,
      ...w.job!.job,
      reuse: true,
    });
  }

  private launch(): Warm {
    const handle = this.o.launcher(workerEnv(this.o.env));
    const w: Warm = { handle, ready: false, job: null, idle: null, exited: false };
    this.pool.add(w);
    handle.onMessage((m) => {
      switch (m.type) {
        case 'ready':
          w.ready = true;
          if (w.job) return this.send(w);
          if (this.closed) return handle.kill('SIGKILL');
          w.idle = setTimeout(() => {
            this.pool.delete(w);
            handle.kill('SIGTERM');
          }, this.o.idleMs ?? REBUILD_IDLE_MS);
          return;
        case 'cache-load': {
          // Read-only: a rebuild records no use of what it reads.
          let hit = null;
          try {
            const found = this.o.lookup(m.key);
            if (found) hit = { path: found.path, sha256: found.paramSet.sha256, summary: found.summary };
          } catch (e) {
            log.warn({ err: e }, 'looking up trained parameters for a rebuild failed');
          }
          handle.send({ type: 'cache-reply', requestId: m.requestId, hit });
          return;
        }
        case 'log':
          log.info(m.message);
          return;
        case 'params-file':
          w.job?.settle(null, m);
          return;
        case 'error':
          w.job?.settle(unavailable(`could not rebuild the parameters: ${m.message}`));
          return;
      }
    });
    handle.onExit((exit) => {
      w.exited = true;
      this.pool.delete(w);
      if (w.idle) clearTimeout(w.idle);
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      w.job?.settle(
        unavailable(`the worker rebuilding the parameters ${how}\n${handle.stderrTail().trim()}`.trim()),
      );
    });
    return w;
  }
}

interface Warm {
  handle: WorkerHandle;
  ready: boolean;
  job: { job: RebuildJob; settle: (e: Error | null, m?: ParamsFileMessage) => void } | null;
  idle: ReturnType<typeof setTimeout> | null;
  exited: boolean;
}

export async function transferredParamsAt(o: {
  store: LabStore;
  workers: RebuildWorkers;
  runId: string;
  step: number;
}): Promise<ParamsAtFile> {
  const { store } = o;
  const run = store.getRun(o.runId);
  if (!run) throw notFound(`run ${o.runId}`);
  if (run.kind !== 'transfer' || !run.method || run.targetIndex === null)
    throw invalid(`run ${o.runId} is a ${run.kind} training, not a method's transfer`, 'runId');
  const experiment = store.getExperiment(run.experimentId);
  if (!experiment) throw notFound(`experiment ${run.experimentId}`);
  const T = experiment.spec.transfer.T;
  if (o.step > T) throw invalid(`step ${o.step} is past T = ${T}`, 'step');
  const perms = store.runPermutations(run.id);
  if (!perms)
    throw unavailable(
      run.status === 'done'
        ? `${run.phase} stored no permutations (it ran before the lab kept them, or came from a bundle); run the experiment again to download its parameters`
        : `${run.phase} is ${run.status}: its parameters can be rebuilt once it is done`,
    );
  const paramSets = resolveParamSets(store, experiment.spec);
  const tmp = join(store.dataDir, 'tmp');
  await mkdir(tmp, { recursive: true });
  const outPath = join(tmp, `params-at-${randomUUID()}.safetensors`);
  try {
    const done = await o.workers.run({
      spec: experiment.spec,
      weightsDir: dirname(store.weightsPath('0'.repeat(64))),
      paramSets,
      target: run.targetIndex,
      method: run.method as MethodName,
      step: o.step,
      perms,
      outPath,
    });
    return {
      fileName: paramsAtFileName(experiment.name, run.method, run.targetIndex, o.step),
      bytes: await readFile(done.path),
      metadata: { ...done.metadata, experiment: experiment.id, run: run.id },
    };
  } finally {
    await rm(outPath, { force: true });
  }
}
