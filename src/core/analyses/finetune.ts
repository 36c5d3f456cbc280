import type { Dataset } from '../data/dataset.js';
import type { Model } from '../models/model.js';
import type { Params } from '../params.js';
import type { TrainSpec, FinetuneSpec, ScratchResult } from '../../shared/domain/index.js';
import { trainModel, type StepRule, type TrainOutcome } from '../train.js';
import { adamRule } from './adam.js';
import { evaluateParams, type PrepareParams } from './evaluate-params.js';

export interface TrainCurveOptions {
  /** seed of the data order */
  seed: number;
  evalLimit?: number;
  prepare?: PrepareParams;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, detail: string) => void;
  /** validation accuracy/loss after each epoch (epoch 0 = before training) */
  onEpoch?: (epoch: number, valAccuracy: number, valLoss: number) => void;
}

/** A training run seen as the curves the analyses record: epoch 0 (the start) then every epoch. */
export interface TrainCurve extends ScratchResult {
  final: Params;
}

function stepRuleFor(spec: FinetuneSpec): StepRule | undefined {
  if (spec.optimizer === 'sgd') return undefined;
  return adamRule({ weightDecay: spec.weightDecay, decoupled: spec.optimizer === 'adamw' });
}

/** The TrainSpec the trainer runs for subsequent training: constant lr, the chosen optimiser. */
export function finetuneTrainSpec(spec: FinetuneSpec, batchSize: number, seed: number): TrainSpec {
  return {
    epochs: spec.epochs,
    batchSize: spec.batchSize ?? batchSize,
    lr: spec.lr,
    momentum: spec.optimizer === 'sgd' ? spec.momentum : 0,
    weightDecay: spec.weightDecay,
    lrSchedule: 'constant',
    dataSeed: seed,
  };
}

/**
 * Trains `start` (the caller's) with `train` and the optional step rule, recording validation
 * accuracy/loss before training and after every epoch, and test accuracy at the end. The
 * returned `final` is the caller's.
 */
export async function trainCurve(
  model: Model,
  start: Params,
  data: Dataset,
  train: TrainSpec,
  opts: TrainCurveOptions & { stepRule?: StepRule },
): Promise<TrainCurve> {
  const t0 = performance.now();
  const first = await evaluateParams(model, start, data, data.validation, {
    limit: opts.evalLimit,
    prepare: opts.prepare,
  });
  const valAccuracy = [first.accuracy];
  const valLoss = [first.loss];
  opts.onEpoch?.(0, first.accuracy, first.loss);
  const out: TrainOutcome = await trainModel(model, start, data, train, {
    seed: opts.seed,
    evalLimit: opts.evalLimit,
    signal: opts.signal,
    stepRule: opts.stepRule,
    checkpoints: false,
    onProgress: (done, total, info) =>
      opts.onProgress?.(done, total, `epoch ${info.epoch + 1}/${train.epochs}, loss ${info.loss.toFixed(4)}`),
    onEpoch: (epoch, _p, ev) => {
      valAccuracy.push(ev.accuracy);
      valLoss.push(ev.loss);
      opts.onEpoch?.(epoch + 1, ev.accuracy, ev.loss);
    },
  });
  const testAccuracy = (await evaluateParams(model, out.final, data, data.test, { prepare: opts.prepare }))
    .accuracy;
  return {
    valAccuracy,
    valLoss,
    testAccuracy,
    seconds: (performance.now() - t0) / 1000,
    gradientEvaluations: train.epochs * Math.ceil(data.train.n / train.batchSize),
    final: out.final,
  };
}

/** Subsequent training (Sec. 4.2) of transferred parameters with the spec's optimiser. */
export function finetuneCurve(
  model: Model,
  start: Params,
  data: Dataset,
  spec: FinetuneSpec,
  sourceBatchSize: number,
  opts: TrainCurveOptions,
): Promise<TrainCurve> {
  return trainCurve(model, start, data, finetuneTrainSpec(spec, sourceBatchSize, opts.seed), {
    ...opts,
    stepRule: stepRuleFor(spec),
  });
}

/**
 * The first epoch at which fine-tuning's validation accuracy reaches `target` (the scratch run's
 * final accuracy), and how many of the run's epochs that saves; nulls when never reached.
 */
export function epochsSaved(
  valAccuracy: readonly number[],
  target: number,
): { reachesScratchAt: number | null; epochsSaved: number | null } {
  const epochs = valAccuracy.length - 1;
  const at = valAccuracy.findIndex((a) => a >= target);
  if (at < 0 || !Number.isFinite(target)) return { reachesScratchAt: null, epochsSaved: null };
  return { reachesScratchAt: at, epochsSaved: epochs - at };
}
