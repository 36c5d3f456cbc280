/**
 * The cost of an experiment in gradient evaluations (one minibatch gradient of one network), the
 * unit in which the paper compares methods: an SGD step is one, each method states its own count
 * in the method registry (GMT T(T+1)·gradBatches, FGMT 2T·gradBatches). Matching itself is cheap
 * next to them for the paper's settings and is left out. The wizard shows it; any host may.
 *
 * The pre-trained scenario first trains every initialisation (the source's and each target's) on
 * the pre-training task. That is a fixed cost of the experiment, counted in its total, but not in
 * what a transfer saves: training a target directly would start from its pre-trained model too.
 */
import { gradientEvaluations, methodInfo } from './methods.js';
import type { ExperimentSpec } from './spec/types.js';

export interface CostInput {
  /** training examples after the validation split and any limit; null when not known yet */
  trainExamples: number | null;
  epochs: number;
  batchSize: number;
  T: number;
  gradBatches: number;
  methods: readonly string[];
  targets: number;
  /** the source was trained before (same data, split, model, init, training): no source training */
  sourceReused?: boolean;
  /** the pre-trained scenario's first stage, applied to every initialisation; absent without one */
  pretrain?: PretrainCostInput;
}

export interface PretrainCostInput {
  /** training examples of the pre-training split (its own classes); null when not known yet */
  trainExamples: number | null;
  epochs: number;
  batchSize: number;
}

export interface CostReport {
  stepsPerEpoch: number;
  /** SGD steps to train one network with the source's settings */
  directPerNetwork: number;
  sourceSteps: number;
  /** SGD steps to pre-train one initialisation (0 without a pre-training stage) */
  pretrainPerNetwork: number;
  /** pre-training every initialisation: each target's, and the source's unless it is reused */
  pretrainSteps: number;
  /** per target, per method */
  gradientsPerTarget: Record<string, number>;
  /** per target: methods that need the trained target (Oracle) train it fully (0 without one) */
  oracleStepsPerTarget: number;
  /** everything: pre-training + source + all targets × (transfer methods + Oracle's training) */
  total: number;
  /** training every target directly instead */
  trainEveryTarget: number;
  /** per target, share of direct training saved by the cheapest transfer that does not train the target */
  savedFraction: number;
  cheapestMethod: string | null;
  /** per method that does not train the target: share of direct training's gradients saved */
  savedByMethod: Record<string, number>;
}

/** How the engine splits: round(n·valFraction) for validation (at least 1, leaving 1), then the limit. */
export function trainingExamples(officialTrain: number, valFraction: number, trainLimit: number): number {
  if (!Number.isFinite(officialTrain) || officialTrain < 2) return 0;
  const nVal = Math.min(officialTrain - 1, Math.max(1, Math.round(officialTrain * valFraction)));
  const n = officialTrain - nVal;
  return trainLimit > 0 ? Math.min(n, trainLimit) : n;
}

/** SGD steps of `epochs` over `examples` in minibatches of `batchSize` (the last one partial). */
function trainingSteps(examples: number | null, epochs: number, batchSize: number): number {
  return batchSize > 0 ? epochs * Math.ceil((examples ?? 0) / batchSize) : 0;
}

export function estimateCost(c: CostInput): CostReport {
  const stepsPerEpoch = trainingSteps(c.trainExamples, 1, c.batchSize);
  const direct = c.epochs * stepsPerEpoch;
  const pretrainPerNetwork = c.pretrain
    ? trainingSteps(c.pretrain.trainExamples, c.pretrain.epochs, c.pretrain.batchSize)
    : 0;
  const pretrainSteps = pretrainPerNetwork * ((c.sourceReused ? 0 : 1) + c.targets);
  const gradientsPerTarget: Record<string, number> = {};
  for (const m of c.methods) gradientsPerTarget[m] = gradientEvaluations(m, c.T, c.gradBatches);
  const trains = c.methods.some((m) => methodInfo(m)?.needsTrainedTarget);
  const oracle = trains ? direct : 0;
  const cheap = c.methods.filter((m) => !methodInfo(m)?.needsTrainedTarget);
  let cheapestMethod: string | null = null;
  for (const m of cheap)
    if (cheapestMethod === null || gradientsPerTarget[m] < gradientsPerTarget[cheapestMethod])
      cheapestMethod = m;
  const cheapest = cheapestMethod === null ? direct : gradientsPerTarget[cheapestMethod];
  const perTarget = Object.values(gradientsPerTarget).reduce((a, b) => a + b, 0) + oracle;
  const sourceSteps = c.sourceReused ? 0 : direct;
  const savedByMethod: Record<string, number> = {};
  for (const m of cheap) savedByMethod[m] = direct > 0 ? Math.max(0, 1 - gradientsPerTarget[m] / direct) : 0;
  return {
    stepsPerEpoch,
    directPerNetwork: direct,
    sourceSteps,
    pretrainPerNetwork,
    pretrainSteps,
    gradientsPerTarget,
    oracleStepsPerTarget: oracle,
    total: pretrainSteps + sourceSteps + c.targets * perTarget,
    trainEveryTarget: c.targets * direct,
    savedFraction: direct > 0 ? Math.max(0, 1 - cheapest / direct) : 0,
    cheapestMethod,
    savedByMethod,
  };
}

/**
 * The cost of a parsed spec, given how many training examples its dataset split leaves (and its
 * pre-training's, when that reads other classes or files; by default the same count).
 */
export function estimateSpecCost(
  spec: ExperimentSpec,
  trainExamples: number,
  opts: { sourceReused?: boolean; pretrainExamples?: number } = {},
): CostReport {
  return estimateCost({
    trainExamples,
    epochs: spec.source.train.epochs,
    batchSize: spec.source.train.batchSize,
    T: spec.transfer.T,
    gradBatches: spec.transfer.gradBatches,
    methods: spec.transfer.methods,
    targets: spec.targets.length,
    sourceReused: opts.sourceReused,
    ...(spec.pretrain
      ? {
          pretrain: {
            trainExamples: opts.pretrainExamples ?? trainExamples,
            epochs: spec.pretrain.train.epochs,
            batchSize: spec.pretrain.train.batchSize,
          },
        }
      : {}),
  });
}
