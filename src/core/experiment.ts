import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { batchNormPrepare } from './analyses/evaluate-params.js';
import { AnalysesRunner, analysesNeeds, type TargetState } from './analyses/runner.js';
import { initBackend } from './backend.js';
import type { Dataset } from './data/dataset.js';
import { loadDataset } from './data/load.js';
import { evaluate } from './evaluate.js';
import { METHODS, runMethod } from './methods/index.js';
import type { MethodRun } from './methods/run-method.js';
import { buildModel, type Model } from './models/index.js';
import { cloneParams, disposeParams, type Params } from './params.js';
import { checkParamsFit } from './params-io.js';
import { encodePermSteps } from './perm-steps.js';
import { pretrainedStarts, type PretrainOutcome, type StartPoint, type TrainFn } from './pretrain.js';
import { loadParamsFor } from './torch-import.js';
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
  type TrainedFileSpec,
  type TrainSpec,
} from '../shared/domain/index.js';
import { StepThinner } from './step-metrics.js';
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
  /** the file of a stored parameter set (`init.paramSet`); the lab's service provides it */
  resolveParamSet?: (id: string) => Promise<string>;
  /**
   * Rebuilding from what is stored (parameters at a step): a training the cache does not hold is
   * an error, never run again behind the user's back.
   */
  cachedOnly?: boolean;
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

/**
 * θ^0 of an initialisation: seeded, or read from a file (engine or PyTorch layout, see
 * torch-import.ts), or a stored parameter set the host resolves to its file.
 */
export async function initialParams(
  model: Model,
  init: InitSpec,
  hooks: Pick<ExperimentHooks, 'resolveParamSet'> = {},
): Promise<{ params: Params; hash: string }> {
  if (init.seed !== undefined) return { params: model.init(init.seed), hash: `seed:${init.seed}` };
  let file = init.file;
  if (file === undefined && init.paramSet !== undefined) {
    if (!hooks.resolveParamSet)
      throw new Error(
        `init.paramSet "${init.paramSet}" names a parameter set stored in the lab; run it in the lab (or with --db), or give "file" instead`,
      );
    file = await hooks.resolveParamSet(init.paramSet);
  }
  const got = await loadParamsFor(model, file!, init.layout);
  return { params: got.params, hash: got.sha256 };
}

/** θ^T (and the checkpoints) trained elsewhere, with θ^0 in front: the points a trajectory is built from. */
async function trainedFromFiles(model: Model, start: Params, files: TrainedFileSpec): Promise<Params[]> {
  const points: Params[] = [start];
  try {
    for (const f of files.checkpoints ?? [files.file])
      points.push((await loadParamsFor(model, f, files.layout)).params);
    if (files.checkpoints) {
      // θ^T is the last checkpoint; the file named as θ^T must be it.
      const end = await loadParamsFor(model, files.file, files.layout);
      const last = points[points.length - 1]!;
      const same = model.params.every((p) => {
        const d = tf.tidy(() => tf.max(tf.abs(tf.sub(end.params[p.name]!, last[p.name]!))).dataSync()[0]!);
        return d === 0;
      });
      disposeParams(end.params);
      if (!same)
        throw new Error(
          `${files.file} differs from the last checkpoint ${files.checkpoints.at(-1)}; θ^T must be the last checkpoint`,
        );
    }
    return points;
  } catch (e) {
    for (const p of points.slice(1)) disposeParams(p);
    throw e;
  }
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
  let pre: PretrainOutcome | null = null;
  try {
    const model = buildModel(spec.model, data.inputShape, data.classes);
    const methods = spec.transfer.methods;
    const needs = analysesNeeds(spec);
    const train: TrainFn = (m, d, init, tr, phase) =>
      trainedOrCached(m, d, spec, init, tr, 'target', phase, hooks);

    if (spec.pretrain) {
      pre = await pretrainedStarts(spec, data, model, train, (message) =>
        emit({ type: 'log', level: 'info', message }),
      );
    }

    const src = await sourcePoints(model, data, spec, hooks, pre?.source);
    owned.push(...src.points);
    trajectory = sourceTrajectory(spec, src.points);

    if (spec.analyses) {
      runner = new AnalysesRunner({
        spec,
        model,
        data,
        trajectory,
        sourcePoints: src.points,
        prepare: batchNormPrepare(model, {
          batches: spec.transfer.bnBatches ?? 0,
          batchSize: spec.transfer.batchSize,
          seed: spec.transfer.seed,
        }),
        emit,
        signal: hooks.signal,
      });
    }

    const targets: TargetResult[] = [];
    for (let i = 0; i < spec.targets.length; i++) {
      const { init } = spec.targets[i];
      const label = initLabel(init);
      const start = pre?.targets[i];
      const theta20 = start ? cloneParams(start.params) : (await initialParams(model, init, hooks)).params;
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
          const tr = await targetPoints(model, data, spec, i, hooks, start);
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
      ...(pre ? { pretrain: pre.summary } : {}),
      targets,
      ...analyses,
      seconds: (performance.now() - t0) / 1000,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
    };
  } finally {
    runner?.dispose();
    for (const p of owned) disposeParams(p);
    pre?.dispose();
    data.dispose();
  }
}

/**
 * θ^0 and the trained points of an initialisation whose training happened elsewhere
 * (`source.trained`, `targets[].trained`): θ^0 from the spec's init (or the pre-trained start),
 * the rest from files, evaluated here so the result reports them like trained ones.
 */
export async function endpointsFromFiles(
  model: Model,
  data: Dataset,
  spec: ExperimentSpec,
  init: InitSpec,
  files: TrainedFileSpec,
  start: StartPoint | undefined,
  hooks: ExperimentHooks,
  /** the training this stands for ('source', 'target:0'): its run starts and ends here */
  phase?: string,
): Promise<{ points: Params[]; summary: TrainedSummary }> {
  const t0 = performance.now();
  if (phase) hooks.onEvent?.({ type: 'phase', phase, state: 'start' });
  const theta0 = start ? cloneParams(start.params) : (await initialParams(model, init, hooks)).params;
  let points: Params[];
  try {
    points = await trainedFromFiles(model, theta0, files);
  } catch (e) {
    disposeParams(theta0);
    throw e;
  }
  const final = points[points.length - 1]!;
  // the whole validation split, as for a training done here
  const val = await evaluate(model, final, data.validation);
  const summary: TrainedSummary = {
    label: initLabel(init),
    valAccuracy: val.accuracy,
    valLoss: val.loss,
    testAccuracy: (await evaluate(model, final, data.test)).accuracy,
    seconds: 0,
    fromFile: files.file,
  };
  hooks.onEvent?.({
    type: 'log',
    level: 'info',
    message: `${summary.label}: trained parameters from ${files.file}`,
  });
  if (phase)
    hooks.onEvent?.({ type: 'phase', phase, state: 'done', seconds: (performance.now() - t0) / 1000 });
  return { points, summary };
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
  start?: StartPoint,
): Promise<{ points: Params[]; summary: TrainedSummary; key: string }> {
  const emit = (e: EngineEvent): void => hooks.onEvent?.(e);
  const label = initLabel(init);
  const { params: theta0, hash } = start
    ? { params: cloneParams(start.params), hash: start.hash }
    : await initialParams(model, init, hooks);
  const key = trainingKey(data.contentHash, spec, start ? { file: 'start' } : init, hash, train);
  const cached = await loadCached(model, key, train, `${role} ${label}`, phase, hooks);
  if (cached) {
    disposeParams(theta0);
    emit({ type: 'phase', phase, state: 'reused' });
    emit({
      type: 'log',
      level: 'info',
      message: `${role} ${label}: reusing trained parameters from an earlier run`,
    });
    return { points: cached.points, summary: { ...cached.summary, reused: true }, key };
  }
  if (hooks.cachedOnly)
    throw new Error(
      `${role} ${label}: its trained parameters are no longer in the lab (deleted, or imported without weights); run the experiment again`,
    );
  emit({ type: 'phase', phase, state: 'start' });
  // Training loss and accuracy per SGD step (thinned past MAX_STEP_POINTS, and then said so); the
  // steps per epoch let a chart put them on the epoch axis next to validation.
  const stepsPerEpoch = Math.ceil(data.train.n / train.batchSize);
  const thinner = new StepThinner(stepsPerEpoch * train.epochs);
  emit({ type: 'metric', phase, key: 'stepsPerEpoch', step: 0, value: stepsPerEpoch });
  if (thinner.stride > 1) emit({ type: 'metric', phase, key: 'trainStride', step: 0, value: thinner.stride });
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
    },
    onSteps: (steps) => {
      for (const p of thinner.push(steps)) {
        emit({ type: 'metric', phase, key: 'trainLoss', step: p.step, value: p.loss, wallTime: p.at });
        if (Number.isFinite(p.accuracy))
          emit({
            type: 'metric',
            phase,
            key: 'trainAccuracy',
            step: p.step,
            value: p.accuracy,
            wallTime: p.at,
          });
      }
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
  return { points, summary, key };
}

/**
 * The source's points θ^0 … θ^T: read from the spec's files when it was trained elsewhere
 * (`source.trained`), else trained here or taken from the cache. The caller owns the points.
 */
export function sourcePoints(
  model: Model,
  data: Dataset,
  spec: ExperimentSpec,
  hooks: ExperimentHooks,
  start?: StartPoint,
): Promise<{ points: Params[]; summary: TrainedSummary }> {
  const { init, trained } = spec.source;
  return trained
    ? endpointsFromFiles(model, data, spec, init, trained, start, hooks, phaseId.source)
    : trainedOrCached(model, data, spec, init, sourceTrainSpec(spec), 'source', phaseId.source, hooks, start);
}

/** Target i trained directly (Oracle, some analyses): from its file (`targets[i].trained`) or as `sourcePoints`. */
export function targetPoints(
  model: Model,
  data: Dataset,
  spec: ExperimentSpec,
  i: number,
  hooks: ExperimentHooks,
  start?: StartPoint,
): Promise<{ points: Params[]; summary: TrainedSummary }> {
  const { init, trained } = spec.targets[i]!;
  const phase = phaseId.target(i);
  return trained
    ? endpointsFromFiles(model, data, spec, init, { ...trained, checkpoints: undefined }, start, hooks, phase)
    : trainedOrCached(model, data, spec, init, targetTrainSpec(spec, init), 'target', phase, hooks, start);
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
      bnBatches: spec.transfer.bnBatches,
    },
    signal: hooks.signal,
    onProgress: (done, total, detail) => emit({ type: 'progress', phase, done, total, detail }),
    onMetric: (key, step, value) => emit({ type: 'metric', phase, key, step, value }),
  });
  const { result } = run;
  const perms = encodePermSteps(run.perms).toString('base64');
  if (METHODS[m].needsTrainedTarget && targetTrained) {
    result.phases['target training'] = targetTrained.seconds;
  }
  try {
    await afterRun?.(run, result);
  } finally {
    disposeParams(run.final);
  }
  emit({ type: 'phase', phase, state: 'done', seconds: result.seconds });
  emit({ type: 'method-done', target: i, result, perms });
  return result;
}
