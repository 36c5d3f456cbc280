/**
 * The cost of an experiment in gradient evaluations (one minibatch gradient of one network), the
 * unit the paper compares methods in. This mirrors src/core/cost.ts and the methods'
 * `gradientEvaluations` (GMT T(T+1)·gradBatches, FGMT 2T·gradBatches, Naive and Oracle none,
 * Oracle trains the target instead); the renderer may not import engine code, so the few lines are
 * repeated here — keep them in step.
 */

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
}

export interface CostReport {
  stepsPerEpoch: number;
  /** SGD steps to train one network with the source's settings */
  directPerNetwork: number;
  sourceSteps: number;
  /** per target, per method */
  gradientsPerTarget: Record<string, number>;
  /** per target: Oracle trains the target fully (0 without Oracle) */
  oracleStepsPerTarget: number;
  /** everything: source + all targets × (transfer methods + Oracle's training) */
  total: number;
  /** training every target directly instead */
  trainEveryTarget: number;
  /** per target, share of direct training saved by the cheapest transfer that does not train the target */
  savedFraction: number;
  cheapestMethod: string | null;
  /** per method that does not train the target: share of direct training's gradients saved */
  savedByMethod: Record<string, number>;
}

export function methodGradients(method: string, T: number, gradBatches: number): number {
  switch (method) {
    case 'gmt':
      return T * (T + 1) * gradBatches;
    case 'fgmt':
      return 2 * T * gradBatches;
    default:
      return 0;
  }
}

/** How the engine splits: round(n·valFraction) for validation (at least 1, leaving 1), then the limit. */
export function trainingExamples(officialTrain: number, valFraction: number, trainLimit: number): number {
  if (!Number.isFinite(officialTrain) || officialTrain < 2) return 0;
  const nVal = Math.min(officialTrain - 1, Math.max(1, Math.round(officialTrain * valFraction)));
  const n = officialTrain - nVal;
  return trainLimit > 0 ? Math.min(n, trainLimit) : n;
}

export function estimateCost(c: CostInput): CostReport {
  const n = c.trainExamples ?? 0;
  const stepsPerEpoch = c.batchSize > 0 ? Math.ceil(n / c.batchSize) : 0;
  const direct = c.epochs * stepsPerEpoch;
  const gradientsPerTarget: Record<string, number> = {};
  for (const m of c.methods) gradientsPerTarget[m] = methodGradients(m, c.T, c.gradBatches);
  const oracle = c.methods.includes('oracle') ? direct : 0;
  const cheap = c.methods.filter((m) => m !== 'oracle');
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
    gradientsPerTarget,
    oracleStepsPerTarget: oracle,
    total: sourceSteps + c.targets * perTarget,
    trainEveryTarget: c.targets * direct,
    savedFraction: direct > 0 ? Math.max(0, 1 - cheapest / direct) : 0,
    cheapestMethod,
    savedByMethod,
  };
}
