/**
 * An experiment as a small DAG of phase jobs — train the source, train each Oracle target, run
 * each method on each target — so independent phases can run in different processes (the
 * embedded queue's worker pool, BullMQ workers on other machines) and still give exactly the
 * numbers of runExperiment: every phase's randomness comes from the spec (init seeds, data seeds,
 * `transfer.seed + 1000·i`), never from what ran before it, and trained parameters travel between
 * phases through the TrainedCache as float32, bit for bit.
 */
import { initBackend } from './backend.js';
import { evaluate } from './evaluate.js';
import {
  describeRun,
  endpointsFromFiles,
  initialParams,
  sourceTrainSpec,
  sourceTrajectory,
  targetTrainSpec,
  trainedOrCached,
  transferOne,
  type ExperimentHooks,
} from './experiment.js';
import { loadDataset } from './data/load.js';
import { METHODS } from './methods/index.js';
import { buildModel } from './models/index.js';
import { disposeParams, type Params } from './params.js';
import {
  formatPhase,
  initLabel,
  phaseId,
  type EvalResult,
  type ExperimentResult,
  type ExperimentSpec,
  type MethodName,
  type MethodResult,
  type PhaseJob,
  type PhaseOutput,
  type TargetResult,
  type TrainedSummary,
} from '../shared/domain/index.js';

/**
 * Loads trained parameters another phase job produced. Its events are not this phase's (the
 * phase it loads is recorded already), so they are dropped; a cache miss trains again silently,
 * which gives the same parameters.
 */
function quietly(hooks: ExperimentHooks): ExperimentHooks {
  return { ...hooks, onEvent: undefined };
}

export async function runPhase(
  spec: ExperimentSpec,
  job: PhaseJob,
  hooks: ExperimentHooks = {},
): Promise<PhaseOutput> {
  const t0 = performance.now();
  const phase = formatPhase(job);
  const backend = await initBackend(spec.backend);
  hooks.onEvent?.({ type: 'backend', backend });
  const data = await loadDataset(spec.dataset, spec.datasetOptions);
  const owned: Params[] = [];
  try {
    const model = buildModel(spec.model, data.inputShape, data.classes);
    const out: PhaseOutput = { phase, backend, seconds: 0 };
    // The source's and a target's training — trained here, loaded from the cache, or read from the
    // files the spec names (`trained`) — as in runExperiment; the caller owns the points.
    const source = async (h: ExperimentHooks) => {
      const files = spec.source.trained;
      const r = files
        ? await endpointsFromFiles(model, data, spec, spec.source.init, files, undefined, h)
        : await trainedOrCached(
            model,
            data,
            spec,
            spec.source.init,
            sourceTrainSpec(spec),
            'source',
            phaseId.source,
            h,
          );
      owned.push(...r.points);
      return r;
    };
    const target = async (i: number, h: ExperimentHooks) => {
      const { init, trained: files } = spec.targets[i]!;
      const r = files
        ? await endpointsFromFiles(
            model,
            data,
            spec,
            init,
            { ...files, checkpoints: undefined },
            undefined,
            h,
          )
        : await trainedOrCached(
            model,
            data,
            spec,
            init,
            targetTrainSpec(spec, init),
            'target',
            phaseId.target(i),
            h,
          );
      owned.push(...r.points);
      return r;
    };
    if (job.kind === 'source') {
      const src = await source(hooks);
      const initial: EvalResult[] = [];
      for (const t of spec.targets) {
        const { params } = await initialParams(model, t.init, hooks);
        initial.push(await evaluate(model, params, data.validation, { limit: spec.evalLimit }));
        disposeParams(params);
      }
      out.run = { ...describeRun(data, model), source: src.summary, initial };
    } else if (job.kind === 'target') {
      const tr = await target(job.target, hooks);
      out.trained = { target: job.target, summary: tr.summary };
    } else {
      const i = job.target;
      const { init } = spec.targets[i]!;
      const src = await source(quietly(hooks));
      const trajectory = sourceTrajectory(spec, src.points);
      let trained: Params | undefined;
      let trainedSummary: TrainedSummary | undefined;
      if (METHODS[job.method].needsTrainedTarget) {
        const tr = await target(i, quietly(hooks));
        trained = tr.points[tr.points.length - 1];
        trainedSummary = tr.summary;
      }
      const { params: theta20 } = await initialParams(model, init, hooks);
      try {
        const result = await transferOne(
          model,
          data,
          spec,
          trajectory,
          theta20,
          trained,
          i,
          job.method,
          trainedSummary,
          hooks,
        );
        out.method = { target: i, result };
      } finally {
        disposeParams(theta20);
      }
    }
    out.seconds = (performance.now() - t0) / 1000;
    return out;
  } finally {
    for (const p of owned) disposeParams(p);
    data.dispose();
  }
}

/**
 * The experiment's result from its phases' outputs (and the method results of an earlier attempt,
 * on resume): the same document runExperiment returns.
 */
export function assembleResult(
  spec: ExperimentSpec,
  outputs: readonly PhaseOutput[],
  o: {
    finished?: (target: number, method: MethodName) => MethodResult | undefined;
    startedAt: Date;
    finishedAt?: Date;
  },
): ExperimentResult {
  const src = outputs.find((x) => x.run);
  if (!src?.run) throw new Error('the source phase has not reported');
  const run = src.run;
  const targets: TargetResult[] = spec.targets.map((t, i) => {
    const target: TargetResult = {
      label: initLabel(t.init),
      init: t.init,
      initial: run.initial[i]!,
      methods: {},
    };
    const trained = outputs.find((x) => x.trained?.target === i)?.trained;
    if (trained) target.trained = trained.summary;
    for (const m of spec.transfer.methods) {
      const r =
        outputs.find((x) => x.method?.target === i && x.method.result.method === m)?.method?.result ??
        o.finished?.(i, m);
      if (!r) throw new Error(`${phaseId.transfer(i, m)} has not reported`);
      target.methods[m] = r;
    }
    return target;
  });
  const finishedAt = o.finishedAt ?? new Date();
  return {
    formatVersion: 1,
    spec,
    backend: src.backend,
    dataset: run.dataset,
    model: run.model,
    source: run.source,
    targets,
    seconds: (finishedAt.getTime() - o.startedAt.getTime()) / 1000,
    startedAt: o.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
  };
}
