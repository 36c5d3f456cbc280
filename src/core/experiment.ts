import { createHash } from 'node:crypto';
import { AnalysesRunner, analysesNeeds, type TargetState } from './analyses/runner.js';
import { initBackend } from './backend.js';
import type { Dataset } from './data/dataset.js';
import { loadDataset } from './data/load.js';
import { evaluate } from './evaluate.js';
import { METHODS, runMethod } from './methods/index.js';
import type { MethodRun } from './methods/run-method.js';
import { buildModel, type Model } from './models/index.js';
import { disposeParams, type Params } from './params.js';
import { checkParamsFit, loadParams } from './params-io.js';
import {
  type EngineEvent,
  type ExperimentResult,
  type ExperimentSpec,
  initLabel,
  type InitSpec,
  type MethodName,
  type MethodResult,
  phaseId,
  type TargetResult,
  type TrainedSummary,
  type TrainSpec,
} from '../shared/domain/index.js';
import { trainModel } from './train.js';
import { actualTrajectory, linearTrajectory, type Trajectory } from './trajectory.js';

/**
 * Trained parameters kept between runs, so one trained source serves many transfers and an
 * interrupted experiment resumes without retraining. The CLI runs without one (or with the lab's
 * store); the lab's store implements it with weight files addressed by hash.
 */
export interface TrainedCache {
  /**
   * [θ^0, θ^1, …, θ^T] as saved (θ^0 and θ^T only unless checkpoints were asked for). `phase` names
   * the training ('source', 'target:0') when several run at once and a cache must tell them apart.
   */
  load(key: string, phase?: string): Promise<{ points: Params[]; summary: TrainedSummary } | null>;
  save(
    key: string,
    role: 'source' | 'target',
    points: Params[],
    summary: TrainedSummary,
    phase?: string,
  ): Promise<void>;
}

export interface ExperimentHooks {
  onEvent?: (e: EngineEvent) => void;
  signal?: AbortSignal;
  cache?: TrainedCache;
  /** a method's result from an earlier attempt of the same experiment, to skip it on resume */
  finished?: (target: number, method: MethodName) => MethodResult | undefined;
}

/** Which trained parameters two runs can share: same data, split, architecture, init and training. */
export function trainingKey(
  datasetHash: string,
  spec: ExperimentSpec,
  init: InitSpec,
  initHash: string,
  train: TrainSpec,
): string {
  const doc = JSON.stringify({
    v: 1,
    data: datasetHash,
    options: spec.datasetOptions,
    model: spec.model,
    init: init.seed !== undefined ? { seed: init.seed } : { file: initHash },
    train: { ...train, checkpoints: !!train.checkpoints },
  });
  return createHash('sha256').update(doc).digest('hex');
}

export async function initialParams(model: Model, init: InitSpec): Promise<{ params: Params; hash: string }> {
  if (init.seed !== undefined) return { params: model.init(init.seed), hash: `seed:${init.seed}` };
  const file = await loadParams(init.file!);
  const misfit = checkParamsFit(model, file.params);
  if (misfit) {
    disposeParams(file.params);
    throw new Error(`parameter file ${init.file} ${misfit}`);
  }
  // Keep the model's parameter order whatever order the file used.
  const ordered: Params = {};
  for (const p of model.params) ordered[p.name] = file.params[p.name];
  return { params: ordered, hash: file.sha256 };
}

export async function runExperiment(
  spec: ExperimentSpec,
  hooks: ExperimentHooks = {},
): Promise<ExperimentResult> {
  const emit = (e: EngineEvent): void => hooks.onEvent?.(e);
  const startedAt = new Date();
  const t0 = performance.now();
  // The backend event carries the notes initBackend would log, so one report of it is enough.
  const backend = await initBackend(spec.backend);
  emit({ type: 'backend', backend });

  emit({ type: 'phase', phase: phaseId.data, state: 'start' });
  const data = await loadDataset(spec.dataset, spec.datasetOptions);
  emit({ type: 'phase', phase: phaseId.data, state: 'done' });
  emit({
    type: 'log',
    level: 'info',
    message: `data: ${data.name}, ${data.train.n} train / ${data.validation.n} validation / ${data.test.n} test, ${data.classes} classes`,
  });
  const owned: Params[] = [];
  let trajectory: Trajectory | null = null;
  let runner: AnalysesRunner | null = null;
  try {
    const model = buildModel(spec.model, data.inputShape, data.classes);
    const methods = spec.transfer.methods;
    const needs = analysesNeeds(spec);
    const sourceTrain = sourceTrainSpec(spec);
    const src = await trainedOrCached(
      model,
      data,
      spec,
      spec.source.init,
      sourceTrain,
      'source',
      phaseId.source,
      hooks,
    );
    owned.push(...src.points);
    trajectory = sourceTrajectory(spec, src.points);

    if (spec.analyses) {
      runner = new AnalysesRunner({
        spec,
        model,
        data,
        trajectory,
        sourcePoints: src.points,
        emit,
        signal: hooks.signal,
      });
    }

    const targets: TargetResult[] = [];
    for (let i = 0; i < spec.targets.length; i++) {
      const { init } = spec.targets[i];
      const label = initLabel(init);
      const { params: theta20 } = await initialParams(model, init);
      const target: TargetResult = {
        label,
        init,
        initial: await evaluate(model, theta20, data.validation, { limit: spec.evalLimit }),
        methods: {},
      };
      let trained: Params | undefined;
      let trainedPoints: Params[] | undefined;
      try {
        const needsTrained =
          needs.trainedTarget ||
          methods.some((m) => METHODS[m].needsTrainedTarget && !hooks.finished?.(i, m));
        if (needsTrained) {
          const targetTrain = targetTrainSpec(spec, init);
          const tr = await trainedOrCached(
            model,
            data,
            spec,
            init,
            targetTrain,
            'target',
            phaseId.target(i),
            hooks,
          );
          target.trained = tr.summary;
          trained = tr.points[tr.points.length - 1];
          if (needs.targetCheckpoints) trainedPoints = tr.points;
          else for (const p of tr.points.slice(0, -1)) disposeParams(p);
        }
        const state: TargetState = {
          index: i,
          result: target,
          theta20,
          trained,
          trainedPoints,
          match: {
            tolerance: spec.transfer.matchTolerance,
            maxIter: spec.transfer.matchMaxIter,
            seed: spec.transfer.seed + 1000 * i,
          },
        };
        await runner?.beginTarget(state);
        for (const m of methods) {
          const phase = phaseId.transfer(i, m);
          const previous = hooks.finished?.(i, m);
          if (previous) {
            target.methods[m] = previous;
            emit({ type: 'phase', phase, state: 'reused' });
            continue;
          }
          target.methods[m] = await transferOne(
            model,
            data,
            spec,
            trajectory,
            theta20,
            trained,
            i,
            m,
            target.trained,
            hooks,
            (run, result) => runner?.afterMethod(state, m, run, result),
          );
        }
        await runner?.endTarget(state);
      } finally {
        disposeParams(theta20);
        if (trainedPoints) for (const p of trainedPoints) disposeParams(p);
        else disposeParams(trained);
      }
      targets.push(target);
    }
    const analyses = (await runner?.finish()) ?? {};
    const finishedAt = new Date();
    return {
      formatVersion: 1,
      spec,
      backend,
      ...describeRun(data, model),
      source: src.summary,
      targets,
      ...analyses,
      seconds: (performance.now() - t0) / 1000,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
    };
  } finally {
    runner?.dispose();
    for (const p of owned) disposeParams(p);
    data.dispose();
  }
}

/**
 * The cache's points for `key` when they fit: as many as this training keeps (θ^0 and θ^T, or
 * every checkpoint) and each shaped for `model`. A cache that fails or holds something else (a
 * damaged or foreign file under the key) is a miss, with a warning: training again is always safe.
 */
async function loadCached(
  model: Model,
  key: string,
  train: TrainSpec,
  what: string,
  phase: string,
  hooks: ExperimentHooks,
): Promise<{ points: Params[]; summary: TrainedSummary } | null> {
  if (!hooks.cache) return null;
  const warn = (why: string): null => {
    hooks.onEvent?.({
      type: 'log',
      level: 'warn',
      message: `${what}: the cached trained parameters ${why}; training again`,
    });
    return null;
  };
  let got: { points: Params[]; summary: TrainedSummary } | null;
  try {
    got = await hooks.cache.load(key, phase);
  } catch (e) {
    return warn(`could not be read (${(e as Error).message ?? String(e)})`);
  }
  if (!got) return null;
  const expected = train.checkpoints ? train.epochs + 1 : 2;
  const problem =
    got.points.length !== expected
      ? `hold ${got.points.length} points where this training keeps ${expected}`
      : got.points
          .map((p, i) => {
            const misfit = checkParamsFit(model, p);
            return misfit ? `(point ${i}) ${misfit}` : null;
          })
          .find((m) => m !== null);
  if (problem) {
    for (const p of got.points) disposeParams(p);
    return warn(problem);
  }
  // The model's parameter order, whatever order the file used.
  const points = got.points.map((p) => {
    const ordered: Params = {};
    for (const spec of model.params) ordered[spec.name] = p[spec.name];
    return ordered;
  });
  return { points, summary: got.summary };
}

/**
 * θ^0 and the trained points for one initialisation, from the cache when the same training was
 * done before, else trained now (and saved to the cache).
 */
export async function trainedOrCached(
  model: Model,
  data: Dataset,
  spec: ExperimentSpec,
  init: InitSpec,
  train: TrainSpec,
  role: 'source' | 'target',
  phase: string,
  hooks: ExperimentHooks,
): Promise<{ points: Params[]; summary: TrainedSummary }> {
  const emit = (e: EngineEvent): void => hooks.onEvent?.(e);
  const label = initLabel(init);
  const { params: theta0, hash } = await initialParams(model, init);
  const key = trainingKey(data.contentHash, spec, init, hash, train);
  const cached = await loadCached(model, key, train, `${role} ${label}`, phase, hooks);
  if (cached) {
    disposeParams(theta0);
    emit({ type: 'phase', phase, state: 'reused' });
    emit({
      type: 'log',
      level: 'info',
      message: `${role} ${label}: reusing trained parameters from an earlier run`,
    });
    return { points: cached.points, summary: { ...cached.summary, reused: true } };
  }
  emit({ type: 'phase', phase, state: 'start' });
  let spe = 0;
  const res = await trainModel(model, theta0, data, train, {
    seed: train.dataSeed ?? init.seed ?? 0,
    checkpoints: !!train.checkpoints,
    evalLimit: spec.evalLimit,
    signal: hooks.signal,
    onProgress: (done, total, info) => {
      emit({
        type: 'progress',
        phase,
        done,
        total,
        detail: `epoch ${info.epoch + 1}/${train.epochs}, loss ${info.loss.toFixed(4)}`,
      });
      // Training loss per SGD step (the epoch's running mean at each progress report); the
      // steps per epoch let a chart put these points on the epoch axis next to validation.
      if (!spe) {
        spe = total / train.epochs;
        emit({ type: 'metric', phase, key: 'stepsPerEpoch', step: 0, value: spe });
      }
      emit({ type: 'metric', phase, key: 'trainLoss', step: done, value: info.loss });
    },
    onEpoch: (epoch, _params, ev) => {
      emit({ type: 'metric', phase, key: 'valAccuracy', step: epoch + 1, value: ev.accuracy });
      emit({ type: 'metric', phase, key: 'valLoss', step: epoch + 1, value: ev.loss });
    },
  });
  const points = train.checkpoints ? [theta0, ...res.checkpoints] : [theta0, res.final];
  if (train.checkpoints) disposeParams(res.final);
  const final = points[points.length - 1];
  const val = await evaluate(model, final, data.validation);
  const summary: TrainedSummary = {
    label,
    valAccuracy: val.accuracy,
    valLoss: val.loss,
    testAccuracy: (await evaluate(model, final, data.test)).accuracy,
    seconds: res.seconds,
  };
  emit({ type: 'phase', phase, state: 'done', seconds: res.seconds });
  await hooks.cache?.save(key, role, points, summary, phase);
  return { points, summary };
}

/** The source's training: an actual trajectory needs every epoch's checkpoint. */
export function sourceTrainSpec(spec: ExperimentSpec): TrainSpec {
  const withCheckpoints = spec.transfer.trajectory === 'actual';
  return {
    ...spec.source.train,
    checkpoints: withCheckpoints || !!spec.source.train.checkpoints || analysesNeeds(spec).sourceCheckpoints,
  };
}

/** A target trained directly (Oracle) uses the source's settings and, unless set, its own seed for the data order. */
export function targetTrainSpec(spec: ExperimentSpec, init: InitSpec): TrainSpec {
  return {
    ...spec.source.train,
    // some analyses need the trained target's checkpoints
    checkpoints: analysesNeeds(spec).targetCheckpoints,
    dataSeed: spec.source.train.dataSeed ?? init.seed,
  };
}

/** The source's trajectory θ^0 … θ^T from its trained points; checks T against the spec. */
export function sourceTrajectory(spec: ExperimentSpec, points: Params[]): Trajectory {
  const trajectory =
    spec.transfer.trajectory === 'actual'
      ? actualTrajectory(points)
      : linearTrajectory(points[0], points[points.length - 1], spec.transfer.T, spec.transfer.schedule);
  if (trajectory.T !== spec.transfer.T) {
    throw new Error(
      `the saved source trajectory has ${trajectory.T} checkpoints but transfer.T is ${spec.transfer.T}`,
    );
  }
  return trajectory;
}

/** What a result says about the data and the model, the same whichever process ran which phase. */
export function describeRun(data: Dataset, model: Model): Pick<ExperimentResult, 'dataset' | 'model'> {
  return {
    dataset: {
      name: data.name,
      inputShape: data.inputShape,
      classes: data.classes,
      classNames: data.classNames,
      train: data.train.n,
      validation: data.validation.n,
      test: data.test.n,
      contentHash: data.contentHash,
    },
    model: {
      arch: model.describe,
      parameters: model.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0),
      permutations: { ...model.permSpec.sizes },
    },
  };
}

/**
 * One method on one target along the source's trajectory, with its phase events. Its numbers
 * depend only on the spec, the target index and the inputs, never on what ran before it, so a
 * phase run alone in another process gives the same result as the whole experiment in one.
 */
export async function transferOne(
  model: Model,
  data: Dataset,
  spec: ExperimentSpec,
  trajectory: Trajectory,
  theta20: Params,
  trained: Params | undefined,
  i: number,
  m: MethodName,
  targetTrained: TrainedSummary | undefined,
  hooks: ExperimentHooks,
  /** sees the method's run (π_s, final θ) before its parameters are disposed (the analyses) */
  afterRun?: (run: MethodRun, result: MethodResult) => Promise<void> | undefined,
): Promise<MethodResult> {
  const emit = (e: EngineEvent): void => hooks.onEvent?.(e);
  const phase = phaseId.transfer(i, m);
  emit({ type: 'phase', phase, state: 'start' });
  const run = await runMethod(METHODS[m], {
    model,
    data,
    trajectory,
    theta20,
    trained,
    options: {
      batchSize: spec.transfer.batchSize,
      gradBatches: spec.transfer.gradBatches,
      seed: spec.transfer.seed + 1000 * i,
      matchTolerance: spec.transfer.matchTolerance,
      matchMaxIter: spec.transfer.matchMaxIter,
      evalLimit: spec.evalLimit,
    },
    signal: hooks.signal,
    onProgress: (done, total, detail) => emit({ type: 'progress', phase, done, total, detail }),
    onMetric: (key, step, value) => emit({ type: 'metric', phase, key, step, value }),
  });
  const { result } = run;
  if (METHODS[m].needsTrainedTarget && targetTrained) {
    result.phases['target training'] = targetTrained.seconds;
  }
  try {
    await afterRun?.(run, result);
  } finally {
    disposeParams(run.final);
  }
  emit({ type: 'phase', phase, state: 'done', seconds: result.seconds });
  emit({ type: 'method-done', target: i, result });
  return result;
}
