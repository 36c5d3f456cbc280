/**
 * The transferred parameters of one method on one target at any step s, rebuilt on demand from
 * what a finished run stored: the source's trained points (from the trained cache; a training the
 * cache no longer holds is refused, never run again), θ2^0, and the run's π_s. They are built
 * exactly as runMethod built the θ2^s it evaluated — θ2^0 + π_s(θ1^s − θ1^0) on the spec's linear
 * or actual trajectory, a BatchNorm network's running statistics re-estimated as for evaluation —
 * so the file at s = T holds the run's final transferred parameters bit for bit.
 */
import { initBackend } from './backend.js';
import { loadDataset } from './data/load.js';
import {
  initialParams,
  sourcePoints,
  sourceTrajectory,
  trainedOrCached,
  type ExperimentHooks,
} from './experiment.js';
import { transferredForEval, type TransferContext } from './methods/context.js';
import { buildModel } from './models/index.js';
import { cloneParams, disposeParams, type Params } from './params.js';
import { encodeParams } from './params-io.js';
import type { Permutation } from './permutation.js';
import { pretrainedStarts, type PretrainOutcome } from './pretrain.js';
import { methodInfo, type ExperimentSpec, type MethodName } from '../shared/domain/index.js';

export interface ParamsAtStepQuery {
  target: number;
  method: MethodName;
  /** 0 … T; 0 is θ2^0 itself */
  step: number;
  /** the run's π_1..π_T (decodePermSteps) */
  perms: readonly Permutation[];
}

/** The safetensors bytes of θ2^s, with what they are in the metadata. */
export async function paramsAtStep(
  spec: ExperimentSpec,
  q: ParamsAtStepQuery,
  hooks: Pick<ExperimentHooks, 'cache' | 'resolveParamSet' | 'signal'> = {},
): Promise<{ bytes: Buffer; metadata: Record<string, string> }> {
  const T = spec.transfer.T;
  if (!spec.targets[q.target]) throw new Error(`the experiment has no target ${q.target + 1}`);
  if (!Number.isInteger(q.step) || q.step < 0 || q.step > T)
    throw new Error(`step ${q.step} is not one of 0 … ${T}`);
  if (q.perms.length !== T)
    throw new Error(`the run stored ${q.perms.length} permutations for T = ${T}; it did not finish`);
  await initBackend(spec.backend);
  const data = await loadDataset(spec.dataset, spec.datasetOptions);
  const h: ExperimentHooks = { ...hooks, cachedOnly: true };
  const owned: Params[] = [];
  let pre: PretrainOutcome | null = null;
  try {
    const model = buildModel(spec.model, data.inputShape, data.classes);
    if (spec.pretrain)
      pre = await pretrainedStarts(
        spec,
        data,
        model,
        (m, d, init, tr, phase) => trainedOrCached(m, d, spec, init, tr, 'target', phase, h),
        () => {},
      );
    const src = await sourcePoints(model, data, spec, h, pre?.source);
    owned.push(...src.points);
    // θ2^0 as runExperiment takes it: the pre-trained start in that scenario, else the init
    const start = pre?.targets[q.target];
    const theta20 = start
      ? cloneParams(start.params)
      : (await initialParams(model, spec.targets[q.target]!.init, h)).params;
    owned.push(theta20);
    let theta: Params;
    if (q.step === 0) theta = cloneParams(theta20);
    else {
      const ctx: TransferContext = {
        model,
        data,
        trajectory: sourceTrajectory(spec, src.points),
        theta20,
        options: {
          batchSize: spec.transfer.batchSize,
          gradBatches: spec.transfer.gradBatches,
          // the seed transferOne gives this target's methods (it seeds the BN re-estimation)
          seed: spec.transfer.seed + 1000 * q.target,
          matchTolerance: spec.transfer.matchTolerance,
          matchMaxIter: spec.transfer.matchMaxIter,
          evalLimit: spec.evalLimit,
          bnBatches: spec.transfer.bnBatches,
        },
        signal: hooks.signal,
        time: (_phase, fn) => fn(),
        countGradients: () => {},
        progress: () => {},
      };
      theta = transferredForEval(ctx, q.step, q.perms[q.step - 1]!);
    }
    owned.push(theta);
    const metadata: Record<string, string> = {
      arch: JSON.stringify(spec.model),
      origin: 'transferred',
      method: q.method,
      methodLabel: methodInfo(q.method)?.label ?? q.method,
      target: String(q.target),
      step: String(q.step),
      T: String(T),
      trajectory: spec.transfer.trajectory,
      definition: 'θ2^s = θ2^0 + π_s(θ1^s − θ1^0)',
    };
    return { bytes: await encodeParams(theta, metadata), metadata };
  } finally {
    for (const p of owned) disposeParams(p);
    pre?.dispose();
    data.dispose();
  }
}
