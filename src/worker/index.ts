/**
 * The worker: one process per job (one experiment). It runs the engine and reports everything to
 * its parent over the protocol in src/shared/worker-protocol.ts. It never touches the database;
 * trained weights are files it writes itself and main records.
 */
import { paramSetResolver } from '../services/param-set-refs.js';
import { initBackend } from '../core/backend.js';
import { previewDataset } from '../core/data/load.js';
import { runExperiment, type TrainedCache } from '../core/experiment.js';
import { writeFile } from 'node:fs/promises';
import { paramsAtStep } from '../core/params-at-step.js';
import { decodePermSteps } from '../core/perm-steps.js';
import { runPhase } from '../core/phase-jobs.js';
import {
  isTrainingPhase,
  phaseId,
  phaseTarget,
  type EngineEvent,
  type ExperimentSpec,
  type MethodName,
} from '../shared/domain/index.js';
import {
  WORKER_PROTOCOL_VERSION,
  type FinishedMethod,
  type FromWorker,
  type ParamsAtMessage,
  type StartMessage,
} from '../shared/worker-protocol.js';
import { ipcTrainedCache, ParentRequests, type DatasetFacts } from './ipc-cache.js';
import { parentLine } from './port.js';
import { logger } from '../services/log.js';

/** Progress of a training loop arrives per batch; the parent needs a few updates a second at most. */
const PROGRESS_INTERVAL_MS = 200;

const log = logger('worker');
const line = parentLine();
const requests = new ParentRequests((m) => line.send(m));
let controller = new AbortController();
let started = false;

function errorText(e: unknown): { message: string; stack?: string } {
  if (e instanceof Error) return { message: e.message, stack: e.stack };
  return { message: String(e) };
}

async function finish(msg: FromWorker, code: number): Promise<never> {
  await line.send(msg).catch(() => {});
  process.exit(code);
}

function forwarder(): (e: EngineEvent) => void {
  const lastProgress = new Map<string, number>();
  return (e) => {
    switch (e.type) {
      case 'progress': {
        const now = Date.now();
        const last = lastProgress.get(e.phase) ?? 0;
        if (e.done < e.total && now - last < PROGRESS_INTERVAL_MS) return;
        lastProgress.set(e.phase, now);
        void line.send({
          type: 'progress',
          phase: e.phase,
          done: e.done,
          total: e.total,
          ...(e.detail ? { detail: e.detail } : {}),
        });
        return;
      }
      case 'metric':
        void line.send({
          type: 'metric',
          phase: e.phase,
          key: e.key,
          step: e.step,
          value: e.value,
          wallTime: e.wallTime ?? Date.now(),
        });
        return;
      case 'phase':
        void line.send({
          type: 'phase',
          phase: e.phase,
          state: e.state,
          ...(e.seconds !== undefined ? { seconds: e.seconds } : {}),
        });
        return;
      case 'log':
        void line.send({ type: 'log', level: e.level, message: e.message });
        return;
      case 'backend':
        void line.send({ type: 'backend', backend: e.backend });
        return;
      case 'method-done':
        void line.send({
          type: 'method-done',
          target: e.target,
          result: e.result,
          ...(e.perms ? { perms: e.perms } : {}),
        });
        return;
    }
  };
}

/** The trained cache over main's store (lookups and saves are round trips to main). */
function cacheFor(spec: ExperimentSpec, weightsDir: string, currentPhase: () => string): TrainedCache {
  let facts: Promise<DatasetFacts> | null = null;
  return ipcTrainedCache({
    weightsDir,
    requests,
    currentPhase,
    seedOf: (phase) => {
      if (phase === phaseId.source || phase === phaseId.pretrain('source'))
        return spec.source.init.seed ?? null;
      const i = phaseTarget(phase);
      return i === null ? null : (spec.targets[i]?.init.seed ?? null);
    },
    datasetFacts: () =>
      (facts ??= previewDataset(spec.dataset, 0).then((p) => ({
        inputShape: [...p.inputShape],
        classes: p.classes,
        contentHash: p.contentHash,
      }))),
    log: (level, message) => void line.send({ type: 'log', level, message }),
  });
}

/** Rebuilds θ2^s from the stored trainings and permutations, writes it, answers and exits. */
async function paramsAt(msg: ParamsAtMessage): Promise<never> {
  try {
    const { bytes, metadata } = await paramsAtStep(
      msg.spec,
      {
        target: msg.target,
        method: msg.method,
        step: msg.step,
        perms: decodePermSteps(Buffer.from(msg.perms, 'base64')),
      },
      {
        cache: cacheFor(msg.spec, msg.weightsDir, () => phaseId.source),
        resolveParamSet: paramSetResolver(msg.paramSets),
        signal: controller.signal,
      },
    );
    await writeFile(msg.outPath, bytes);
    const answer: FromWorker = { type: 'params-file', path: msg.outPath, bytes: bytes.length, metadata };
    if (!msg.reuse) return await finish(answer, 0);
    // Stays for the next step the user picks: the backend is loaded once.
    await line.send(answer);
    controller = new AbortController();
    started = false;
    await line.send({ type: 'ready', protocol: WORKER_PROTOCOL_VERSION, pid: process.pid });
    return await new Promise<never>(() => {});
  } catch (e) {
    return finish({ type: 'error', ...errorText(e), cancelled: controller.signal.aborted }, 1);
  }
}

async function run(msg: StartMessage): Promise<never> {
  const { spec } = msg;
  const finished = new Map<string, FinishedMethod['result']>(
    msg.finished.map((f) => [`${f.target}:${f.method}`, f.result]),
  );
  // Which training phase the engine is in, so a saved artifact can say whose parameters it holds.
  let trainingPhase: string = phaseId.source;
  const forward = forwarder();
  const onEvent = (e: EngineEvent): void => {
    if (e.type === 'phase') {
      if (isTrainingPhase(e.phase)) trainingPhase = e.phase;
      // These reach lab.log through the parent, and the tail of them is what a failed run shows.
      log.info({ experimentId: msg.experimentId }, `phase ${e.phase} ${e.state}`);
    }
    forward(e);
  };
  log.info(
    { experimentId: msg.experimentId, reused: msg.finished.length },
    `experiment started (${msg.finished.length} method results reused)`,
  );
  const cache = cacheFor(spec, msg.weightsDir, () => trainingPhase);
  try {
    const hooks = {
      onEvent,
      signal: controller.signal,
      cache,
      finished: (target: number, method: MethodName) => finished.get(`${target}:${method}`),
      resolveParamSet: paramSetResolver(msg.paramSets),
    };
    if (msg.job) {
      const output = await runPhase(spec, msg.job, hooks);
      if (!msg.reuse) return finish({ type: 'phase-output', output }, 0);
      // A pooled worker: report, then wait for the next phase job (the backend stays loaded).
      await line.send({ type: 'phase-output', output });
      controller = new AbortController();
      started = false;
      await line.send({ type: 'ready', protocol: WORKER_PROTOCOL_VERSION, pid: process.pid });
      return new Promise<never>(() => {});
    }
    const result = await runExperiment(spec, hooks);
    if (!msg.reuse) return finish({ type: 'done', result }, 0);
    // A pooled worker given the whole experiment (the queue's whole-experiment task): the result
    // comes back as that task's output.
    await line.send({
      type: 'phase-output',
      output: { phase: 'experiment', backend: result.backend, seconds: result.seconds, result },
    });
    controller = new AbortController();
    started = false;
    await line.send({ type: 'ready', protocol: WORKER_PROTOCOL_VERSION, pid: process.pid });
    return new Promise<never>(() => {});
  } catch (e) {
    return finish(
      { type: 'error', ...errorText(e), cancelled: controller.signal.aborted },
      controller.signal.aborted ? 0 : 1,
    );
  }
}

/** Work from a main of another version is refused (and the worker ends), never half understood. */
function speaksOurProtocol(protocol: number): boolean {
  if (protocol === WORKER_PROTOCOL_VERSION) return true;
  void finish(
    {
      type: 'error',
      message: `worker speaks protocol ${WORKER_PROTOCOL_VERSION}, main sent ${protocol}`,
      cancelled: false,
    },
    1,
  );
  return false;
}

line.onMessage((msg) => {
  switch (msg.type) {
    case 'start':
      if (started) return;
      started = true;
      if (speaksOurProtocol(msg.protocol)) void run(msg);
      return;
    case 'probe':
      if (started) return;
      started = true;
      initBackend(msg.backend).then(
        (backend) => finish({ type: 'backend', backend }, 0),
        (e: unknown) => finish({ type: 'error', ...errorText(e), cancelled: false }, 1),
      );
      return;
    case 'params-at':
      if (started) return;
      started = true;
      if (speaksOurProtocol(msg.protocol)) void paramsAt(msg);
      return;
    case 'cancel':
      controller.abort(new Error(msg.reason || 'cancelled'));
      return;
    case 'cache-reply':
    case 'artifact-saved':
      requests.settle(msg);
      return;
  }
});

// An orphaned worker would keep computing for nobody.
line.onParentGone(() => process.exit(1));

process.on('uncaughtException', (e) => void finish({ type: 'error', ...errorText(e), cancelled: false }, 1));
process.on('unhandledRejection', (e) => void finish({ type: 'error', ...errorText(e), cancelled: false }, 1));

void line.send({ type: 'ready', protocol: WORKER_PROTOCOL_VERSION, pid: process.pid });
