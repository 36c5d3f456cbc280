import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data/dataset.js';
import { evaluate, softmaxCrossEntropy } from './evaluate.js';
import { augmentBatch, blackLevel } from './data/augment.js';
import { blendRunningStats } from './batchnorm.js';
import { trainableNames, type Model } from './models/model.js';
import { cloneParams, disposeParams, type Params } from './params.js';
import { deriveSeed, rng } from './random.js';
import type { EvalResult, TrainSpec } from '../shared/domain/index.js';
import { readScalars } from './readback.js';

export interface TrainOptions {
  /** seed of the data order when spec.dataSeed is absent (the caller passes the init seed) */
  seed?: number;
  /**
   * Called every `progressEvery` steps and at the end of each epoch. `epoch` is 0-based; `loss`
   * is the mean training loss of the current epoch so far.
   */
  onProgress?: (done: number, total: number, info: { epoch: number; loss: number }) => void;
  /**
   * After epoch `epoch` (0-based, so `params` is θ^(epoch+1)) with its validation result. The
   * tensors belong to the trainer and live only until the callback returns: clone to keep.
   */
  onEpoch?: (epoch: number, params: Params, evalVal: EvalResult) => void | Promise<void>;
  /** keep θ^1..θ^E (defaults to spec.checkpoints) */
  checkpoints?: boolean;
  /** validation examples per epoch-end evaluation (0 or absent = all) */
  evalLimit?: number;
  signal?: AbortSignal;
  /** steps between host reads of the loss (each read waits for the backend); default 25 */
  progressEvery?: number;
  /** the update rule; SGD with the spec's momentum and weight decay when absent */
  stepRule?: StepRule;
  /**
   * Every SGD step's minibatch loss and accuracy (NaN where the rule does not count hits), handed
   * over in batches at the progress reads: the values stay on the backend until then, so asking
   * for them costs no extra device round trip. `at` is the host's clock (unix ms) after the step.
   */
  onSteps?: (steps: TrainStep[]) => void;
}

export interface TrainStep {
  /** 1-based over the whole training (epoch e's steps are e·stepsPerEpoch + 1 …) */
  step: number;
  loss: number;
  accuracy: number;
  at: number;
}

/**
 * An optimiser's update: one step on (xb, yb) at learning rate `lr`, returning new tensors (it is
 * called inside tf.tidy). `state` is the optimiser's own tensors (momentum buffers, Adam moments),
 * null before the first step.
 */
export interface StepRule {
  step(
    model: Model,
    names: string[],
    theta: tf.Tensor[],
    state: tf.Tensor[] | null,
    xb: tf.Tensor4D,
    yb: tf.Tensor1D,
    lr: number,
    /** BatchNorm running statistics (a BN network); a rule that updates them returns them */
    running?: Params,
    /** also return the minibatch's correct predictions as `hits` (the caller disposes it) */
    countHits?: boolean,
  ): { theta: tf.Tensor[]; state: tf.Tensor[] | null; loss: tf.Scalar; running?: Params; hits?: tf.Scalar };
}

export function sgdRule(hp: { momentum: number; weightDecay: number }): StepRule {
  return {
    step: (model, names, theta, state, xb, yb, lr, running, countHits) => {
      const r = sgdStep(model, names, theta, state, xb, yb, { lr, ...hp }, running, countHits);
      return { theta: r.theta, state: r.bufs, loss: r.loss, running: r.running, hits: r.hits };
    },
  };
}

export interface TrainHistoryEntry {
  /** 0-based epoch index; the row describes θ^(epoch+1) */
  epoch: number;
  trainLoss: number;
  valAccuracy: number;
  valLoss: number;
}

export interface TrainOutcome {
  final: Params;
  /** θ^1..θ^E when asked (θ^0 is the init, which stays the caller's) */
  checkpoints: Params[];
  /** wall-clock seconds of the whole call, per-epoch validation included */
  seconds: number;
  history: TrainHistoryEntry[];
}

/** PyTorch CosineAnnealingLR (eta_min 0, T_max = epochs) stepped once per epoch. */
export function cosineLr(lr: number, epoch: number, epochs: number): number {
  return (lr * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
}

export function epochLr(spec: Pick<TrainSpec, 'lr' | 'lrSchedule' | 'epochs'>, epoch: number): number {
  return spec.lrSchedule === 'cosine' ? cosineLr(spec.lr, epoch, spec.epochs) : spec.lr;
}

/** The data order of every epoch: one PRNG, a fresh permutation per epoch. */
export function dataOrder(n: number, seed: number): () => Int32Array {
  const r = rng(deriveSeed(seed, 'data-order'));
  return () => r.permutation(n);
}

function toParams(names: string[], list: tf.Tensor[]): Params {
  const p: Params = {};
  names.forEach((n, i) => (p[n] = list[i]));
  return p;
}

/**
 * The minibatch's cross-entropy, counting its correct predictions on the way from the same
 * logits (no second forward pass). The count is kept out of the gradient's scope, which would
 * free it, so it belongs to the caller: the step rules hand it on as `hits`.
 */
function lossCountingHits(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  sink: { hits?: tf.Scalar } | null,
): tf.Scalar {
  if (!sink) return softmaxCrossEntropy(logits, labels);
  sink.hits = tf.keep(
    tf.tidy(() =>
      tf.sum(
        tf.cast(
          tf.equal(tf.argMax(logits, 1), labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32')),
          'float32',
        ),
      ),
    ) as tf.Scalar,
  );
  return softmaxCrossEntropy(logits, labels);
}

/** The minibatch's mean cross-entropy, its correct predictions and the gradient for every parameter (call inside tf.tidy). */
export function lossAndGrads(
  model: Model,
  names: string[],
  theta: tf.Tensor[],
  xb: tf.Tensor4D,
  yb: tf.Tensor1D,
  countHits = false,
): { value: tf.Scalar; grads: tf.Tensor[]; hits?: tf.Scalar } {
  const sink: { hits?: tf.Scalar } | null = countHits ? {} : null;
  const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) =>
    lossCountingHits(model.apply(toParams(names, ps), xb), yb, sink),
  )(theta);
  return { value: value as tf.Scalar, grads, ...(sink?.hits ? { hits: sink.hits } : {}) };
}

/**
 * One SGD step on the minibatch (xb, yb) in the model's trainable-parameter order; returns new
 * tensors (call inside tf.tidy). `bufs` is null before the first step and stays null without
 * momentum. A BatchNorm network passes its running statistics as `running` and gets them back
 * updated with this minibatch's statistics (the forward pass is in training mode).
 */
export function sgdStep(
  model: Model,
  names: string[],
  theta: tf.Tensor[],
  bufs: tf.Tensor[] | null,
  xb: tf.Tensor4D,
  yb: tf.Tensor1D,
  hp: { lr: number; momentum: number; weightDecay: number },
  running?: Params,
  countHits = false,
): { theta: tf.Tensor[]; bufs: tf.Tensor[] | null; loss: tf.Scalar; running?: Params; hits?: tf.Scalar } {
  const { lr, momentum: mu, weightDecay: wd } = hp;
  const batchStats: Params = {};
  const sink: { hits?: tf.Scalar } | null = countHits ? {} : null;
  const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) =>
    lossCountingHits(
      model.apply({ ...running, ...toParams(names, ps) }, xb, { training: true, batchStats }),
      yb,
      sink,
    ),
  )(theta);
  const nextRunning =
    running && Object.keys(running).length ? blendRunningStats(running, batchStats) : undefined;
  tf.dispose(Object.values(batchStats));
  const nextTheta: tf.Tensor[] = [];
  const nextBufs: tf.Tensor[] = [];
  theta.forEach((p, i) => {
    const d = wd !== 0 ? tf.add(grads[i], tf.mul(p, wd)) : grads[i];
    const buf = bufs && mu !== 0 ? tf.add(tf.mul(bufs[i], mu), d) : d;
    nextTheta.push(tf.sub(p, tf.mul(buf, lr)));
    if (mu !== 0) nextBufs.push(buf);
  });
  return {
    theta: nextTheta,
    bufs: mu !== 0 ? nextBufs : null,
    loss: value as tf.Scalar,
    ...(nextRunning ? { running: nextRunning } : {}),
    ...(sink?.hits ? { hits: sink.hits } : {}),
  };
}

const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );

/**
 * Minibatch SGD with PyTorch's torch.optim.SGD semantics (dampening 0, no Nesterov):
 *   d = g + wd·θ;  buf = d on the first step, else μ·buf + d;  θ ← θ − lr·buf
 * with the mean softmax cross-entropy of each minibatch. Each epoch visits every training
 * example once in a seeded order; the last batch may be smaller (PyTorch's DataLoader default,
 * drop_last = False). The init params are never disposed; everything returned belongs to the
 * caller.
 */
export async function trainModel(
  model: Model,
  init: Params,
  data: Dataset,
  spec: TrainSpec,
  opts: TrainOptions = {},
): Promise<TrainOutcome> {
  const t0 = performance.now();
  const names = trainableNames(model);
  const bufferNames = model.buffers ?? [];
  for (const n of [...names, ...bufferNames])
    if (!init[n]) throw new Error(`trainModel: init is missing parameter "${n}"`);
  const { x: trainX, y: trainY, n } = data.train;
  if (n === 0) throw new Error('trainModel: the training split is empty');
  const bs = spec.batchSize;
  const stepsPerEpoch = Math.ceil(n / bs);
  const total = stepsPerEpoch * spec.epochs;
  const progressEvery = Math.max(1, opts.progressEvery ?? 25);
  const wantCheckpoints = opts.checkpoints ?? !!spec.checkpoints;
  const dataSeed = spec.dataSeed ?? opts.seed ?? 0;
  const nextOrder = dataOrder(n, dataSeed);
  const augmentRng = spec.augment ? rng(deriveSeed(dataSeed, 'augment')) : null;
  const black = blackLevel(data);
  const rule = opts.stepRule ?? sgdRule({ momentum: spec.momentum, weightDecay: spec.weightDecay });

  let theta: tf.Tensor[] = names.map((k) => init[k]);
  let ownsTheta = false;
  /** BatchNorm running statistics, updated by every step (owned once the first step ran) */
  let running: Params = Object.fromEntries(bufferNames.map((k) => [k, init[k]]));
  let bufs: tf.Tensor[] | null = null;
  const checkpoints: Params[] = [];
  const history: TrainHistoryEntry[] = [];
  let epochLoss: tf.Tensor | null = null;
  let done = 0;
  /** steps whose loss and hit count are still on the backend (only when onSteps wants them) */
  let pending: { step: number; size: number; loss: tf.Scalar; hits: tf.Scalar | null; at: number }[] = [];
  const disposePending = (): void => {
    for (const p of pending) tf.dispose(p.hits ? [p.loss, p.hits] : [p.loss]);
    pending = [];
  };
  /** The epoch's loss sum, with the pending steps' values in the same device round trip. */
  const readPending = async (sum: tf.Tensor): Promise<number> => {
    if (!pending.length) return (await readScalars([sum]))[0];
    const batch = pending;
    pending = [];
    // a rule that counts no hits (Adam's does) gets NaN accuracies
    const nan = tf.scalar(Number.NaN);
    try {
      const values = await readScalars([sum, ...batch.flatMap((p) => [p.loss, p.hits ?? nan])]);
      opts.onSteps?.(
        batch.map((p, i) => ({
          step: p.step,
          loss: values[1 + 2 * i],
          accuracy: values[2 + 2 * i] / p.size,
          at: p.at,
        })),
      );
      return values[0];
    } finally {
      nan.dispose();
      pending = batch;
      disposePending();
    }
  };

  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    if (ownsTheta) tf.dispose(theta);
    if (ownsTheta) tf.dispose(Object.values(running));
    if (bufs) tf.dispose(bufs);
    epochLoss?.dispose();
    disposePending();
    checkpoints.forEach(disposeParams);
  };

  try {
    for (let epoch = 0; epoch < spec.epochs; epoch++) {
      const lr = epochLr(spec, epoch);
      const order = nextOrder();
      epochLoss = tf.scalar(0);
      let lastLoss = NaN;
      for (let step = 0; step < stepsPerEpoch; step++) {
        if (opts.signal?.aborted) {
          cleanup();
          opts.signal.throwIfAborted();
        }
        const start = step * bs;
        const size = Math.min(bs, n - start);
        const out = tf.tidy(() => {
          const idx = tf.tensor1d(order.subarray(start, start + size), 'int32');
          let xb = tf.gather(trainX, idx) as tf.Tensor4D;
          if (augmentRng) xb = augmentBatch(xb, spec.augment!, augmentRng, black);
          const yb = tf.gather(trainY, idx) as tf.Tensor1D;
          const r = rule.step(model, names, theta, bufs, xb, yb, lr, running, !!opts.onSteps);
          return {
            theta: r.theta,
            bufs: r.state ?? [],
            loss: tf.add(epochLoss!, tf.mul(r.loss, size)),
            // (arrays: a tidy's result holds no nulls)
            stepLoss: opts.onSteps ? [r.loss] : [],
            hits: r.hits ? [r.hits] : [],
            // a rule that does not update BN statistics keeps them (copied: the old ones are freed)
            running: r.running ?? Object.fromEntries(Object.entries(running).map(([k, t]) => [k, t.clone()])),
          };
        });
        const [stepLoss] = out.stepLoss;
        const [stepHits = null] = out.hits;
        if (stepLoss) pending.push({ step: done + 1, size, loss: stepLoss, hits: stepHits, at: Date.now() });
        else stepHits?.dispose();
        if (ownsTheta) tf.dispose(theta);
        if (ownsTheta) tf.dispose(Object.values(running));
        running = out.running;
        if (bufs) tf.dispose(bufs);
        epochLoss.dispose();
        theta = out.theta;
        ownsTheta = true;
        bufs = out.bufs.length ? out.bufs : null;
        epochLoss = out.loss;
        done++;
        const seen = start + size;
        if (step === stepsPerEpoch - 1 || (step + 1) % progressEvery === 0) {
          lastLoss = (await readPending(epochLoss)) / seen;
          opts.onProgress?.(done, total, { epoch, loss: lastLoss });
          // Lets an abort (or any message) from the host arrive between steps.
          await yieldToEventLoop();
        }
      }
      epochLoss.dispose();
      epochLoss = null;
      const current = { ...toParams(names, theta), ...running };
      const ev = await evaluate(model, current, data.validation, { limit: opts.evalLimit });
      history.push({ epoch, trainLoss: lastLoss, valAccuracy: ev.accuracy, valLoss: ev.loss });
      if (wantCheckpoints) checkpoints.push(cloneParams(current));
      await opts.onEpoch?.(epoch, current, ev);
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  const all = { ...toParams(names, theta), ...running };
  // The model's parameter order, running statistics in their places.
  const ordered: Params = Object.fromEntries(model.params.map((p) => [p.name, all[p.name]]));
  const final = ownsTheta ? ordered : cloneParams(ordered);
  if (bufs) tf.dispose(bufs);
  return { final, checkpoints, seconds: (performance.now() - t0) / 1000, history };
}
