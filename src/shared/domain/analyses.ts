/** The analyses of transferred parameters (the paper's Sec. 3.2, 4.2, 4.3, App. E.2): result types. */
import type { MethodName } from './methods.js';

/** Subsequent training (Sec. 4.2) of one method's transferred parameters. */
export interface FinetuneResult {
  /** the trajectory step it started from (best by validation, or T) */
  fromStep: number;
  /** per epoch, epoch 0 = before training */
  valAccuracy: number[];
  valLoss: number[];
  /** at the end */
  testAccuracy: number;
  /**
   * epochs − (the first epoch at which validation accuracy reaches the scratch run's final
   * accuracy); 0 when reached only at the last epoch, null when never reached or no scratch run
   */
  epochsSaved: number | null;
  /** that first epoch itself (null when never reached or no scratch run) */
  reachesScratchAt: number | null;
  seconds: number;
  gradientEvaluations: number;
}

/** The target trained from θ2^0 with the source's optimiser and schedule, as long as the fine-tuning. */
export interface ScratchResult {
  valAccuracy: number[];
  valLoss: number[];
  testAccuracy: number;
  seconds: number;
  gradientEvaluations: number;
}

/** Loss and accuracy along (1 − α)·a + α·b. */
export interface PathResult {
  alpha: number[];
  valLoss: number[];
  valAccuracy: number[];
  /** max loss on the path − mean of the two ends' losses (Frankle et al. 2020) */
  barrier: number;
}

export interface PathsResult {
  /** θ2,π^T → πθ1^T ("Source*") */
  toSource: PathResult;
  /** θ2,π^T → θ2^T (trained from θ2^0; present when the target was trained) */
  toTrained?: PathResult;
  /** the same two paths from the fine-tuned parameters (when finetune ran) */
  finetuned?: { toSource: PathResult; toTrained?: PathResult };
}

/** GMT/FGMT's π_s, step by step (index s − 1 for s = 1..T). */
export interface PermutationDiagnostics {
  /** fraction of all permuted units not at their identity position */
  changedFraction: number[];
  /** fraction of units where π_s agrees with Oracle's π (when Oracle ran) */
  agreementWithOracle?: number[];
  /** fraction of units where π_s agrees with π_{s−1} (π_0 = identity) */
  agreementWithPrevious: number[];
  /** the matching objective Σ⟨g2, π g1⟩ that π_s maximised */
  objective: number[];
}

export type PlanePointName = 'transferred' | 'trained' | 'source';

export interface PlaneResult {
  method: MethodName;
  /** which of the method's points spans the plane */
  from: 'transferred' | 'finetuned';
  /** grid coordinates along u and v (Euclidean, in parameter units) */
  u: number[];
  v: number[];
  /** valLoss[j][i] at (u[i], v[j]) */
  valLoss: number[][];
  valAccuracy: number[][];
  /** where the three points fall, in (u, v) */
  points: Record<PlanePointName, [number, number]>;
}

export interface AssumptionPCurve {
  /** 'identity', 'oracle' or a method's name (its π_T) */
  permutation: string;
  /** cos(π(θ1^{t+1} − θ1^t), θ2^{t+1} − θ2^t) for t = 0..E−1 */
  cosine: number[];
}

export interface AssumptionPResult {
  /** the epochs t + 1 the cosines are at */
  steps: number[];
  /** per target */
  targets: { label: string; curves: AssumptionPCurve[] }[];
  /** the sweep over hidden widths (first target's seed) */
  widths?: { width: number; curves: AssumptionPCurve[] }[];
}

export interface EnsembleEntry {
  /** 'trained' or a method name, with ' + finetune' for fine-tuned members */
  kind: string;
  method?: MethodName;
  finetuned: boolean;
  members: number;
  valAccuracy: number;
  testAccuracy: number;
  /** mean test accuracy of its members alone */
  memberTestAccuracy: number;
  gradientEvaluations: number;
  seconds: number;
}

export interface EnsemblesResult {
  from: 'best' | 'final';
  entries: EnsembleEntry[];
}

/**
 * The analyses of one experiment that are not per method (per-method ones ride on each method's
 * result): per target the scratch baseline and the plane, and the experiment-wide Assumption (P)
 * and ensembles. What the lab stores, shows and carries in bundles next to the runs.
 */
export interface ExperimentAnalyses {
  targets: { label: string; scratch?: ScratchResult; plane?: PlaneResult }[];
  assumptionP?: AssumptionPResult;
  ensembles?: EnsemblesResult;
}

/** The experiment-level analyses of a result, or null when it has none. */
export function experimentAnalyses(result: {
  targets: { label: string; scratch?: ScratchResult; plane?: PlaneResult }[];
  assumptionP?: AssumptionPResult;
  ensembles?: EnsemblesResult;
}): ExperimentAnalyses | null {
  const targets = result.targets.map((t) => ({
    label: t.label,
    ...(t.scratch ? { scratch: t.scratch } : {}),
    ...(t.plane ? { plane: t.plane } : {}),
  }));
  const any = targets.some((t) => t.scratch || t.plane) || result.assumptionP || result.ensembles;
  if (!any) return null;
  return {
    targets,
    ...(result.assumptionP ? { assumptionP: result.assumptionP } : {}),
    ...(result.ensembles ? { ensembles: result.ensembles } : {}),
  };
}

/** The artifact kind under which the lab's store keeps an experiment's ExperimentAnalyses. */
export const ANALYSES_ARTIFACT = 'analyses';
