import { METHODS } from './methods/index.js';
import type { ExperimentSpec } from './spec.js';

export interface CostEstimate {
  /** SGD steps to train the source (0 when a trained source is reused) */
  sourceSteps: number;
  /** per target: SGD steps of Oracle's actual training (0 without Oracle) */
  oracleSteps: number;
  /** per target and method: minibatch gradient evaluations */
  gradients: Partial<Record<string, number>>;
  /** per target: training it directly would cost this many gradient evaluations */
  directTrainingGradients: number;
  /**
   * per target, the share of direct training's gradients that transferring saves with the
   * cheapest non-oracle method asked for (GMT/FGMT/Naive)
   */
  savedFraction: number;
}

/**
 * The cost of an experiment in gradient evaluations, the unit in which the paper compares
 * methods (an SGD step is one; a GMT/FGMT matching pair is two). Matching itself is cheap next to
 * them for the paper's settings and is left out.
 */
export function estimateCost(
  spec: ExperimentSpec,
  trainCount: number,
  opts: { sourceReused?: boolean } = {},
): CostEstimate {
  const { epochs, batchSize } = spec.source.train;
  const stepsPerEpoch = Math.ceil(trainCount / batchSize);
  const direct = epochs * stepsPerEpoch;
  const { T, gradBatches, methods } = spec.transfer;
  const gradients: CostEstimate['gradients'] = {};
  for (const m of methods) gradients[m] = METHODS[m].gradientEvaluations(T, gradBatches);
  const cheap = methods.filter((m) => !METHODS[m].needsTrainedTarget).map((m) => gradients[m] ?? 0);
  const cheapest = cheap.length ? Math.min(...cheap) : direct;
  return {
    sourceSteps: opts.sourceReused ? 0 : direct,
    oracleSteps: methods.some((m) => METHODS[m].needsTrainedTarget) ? direct : 0,
    gradients,
    directTrainingGradients: direct,
    savedFraction: direct > 0 ? Math.max(0, 1 - cheapest / direct) : 0,
  };
}
