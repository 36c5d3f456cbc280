import { hasBatchNorm, reestimateBatchNorm } from '../batchnorm.js';
import type { Dataset, Split } from '../data/dataset.js';
import { evaluate } from '../evaluate.js';
import type { Model } from '../models/model.js';
import { cloneParams, type Params } from '../params.js';
import type { EvalResult } from '../../shared/domain/index.js';

/**
 * Makes parameters that no training produced (an interpolation, a point on a plane, a permuted
 * source) ready to be evaluated. A model with batch normalisation must re-estimate its running
 * statistics on training batches first — interpolated BN statistics evaluate as garbage (Jordan et
 * al., REPAIR) — and that is the one thing this hook exists for. Models without BN use the
 * parameters as they are. The returned params are the caller's when `owned` is true.
 */
export type PrepareParams = (
  model: Model,
  params: Params,
  data: Dataset,
) => { params: Params; owned: boolean };

/**
 * The BN hook for a model with batch normalisation: a copy of the parameters with running
 * statistics re-estimated on `batches` training minibatches (scenarios' reestimateBatchNorm);
 * undefined (parameters as they are) for a model without BN or with `batches` 0.
 */
export function batchNormPrepare(
  model: Model,
  opts: { batches: number; batchSize: number; seed: number },
): PrepareParams | undefined {
  if (opts.batches <= 0 || !hasBatchNorm(model)) return undefined;
  return (m, params, data) => {
    const copy = cloneParams(params);
    reestimateBatchNorm(m, copy, data.train, opts);
    return { params: copy, owned: true };
  };
}

const asIs: PrepareParams = (_model, params) => ({ params, owned: false });

/**
 * Every evaluation an analysis does goes through here: validation/test accuracy and loss of
 * parameters on a split, after `prepare` (the BN re-estimation hook; identity by default).
 */
export async function evaluateParams(
  model: Model,
  params: Params,
  data: Dataset,
  split: Split,
  opts: { limit?: number; prepare?: PrepareParams } = {},
): Promise<EvalResult> {
  const ready = (opts.prepare ?? asIs)(model, params, data);
  try {
    return await evaluate(model, ready.params, split, { limit: opts.limit });
  } finally {
    if (ready.owned) for (const t of Object.values(ready.params)) t.dispose();
  }
}
