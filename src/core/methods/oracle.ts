import { disposeParams, subParams } from '../params.js';
import { weightMatching } from '../weight-matching.js';
import type { MethodImpl } from './context.js';

/**
 * Oracle: θ2 is actually trained with the source's optimiser, and one π matches the two
 * displacements, π = argmin ‖(θ2^T − θ2^0) − π(θ1^T − θ1^0)‖. An upper reference, not a method one
 * would deploy: it needs the very training that learning transfer avoids.
 */
export const oracle: MethodImpl = {
  name: 'oracle',
  async *permutations(ctx) {
    if (!ctx.trained) throw new Error('Oracle needs the target trained with the source settings');
    const target = subParams(ctx.trained, ctx.theta20);
    const source = subParams(ctx.trajectory.end, ctx.trajectory.start);
    let perm;
    try {
      perm = ctx.time(
        'matching',
        () =>
          weightMatching(ctx.model.permSpec, [{ target, source }], {
            tolerance: ctx.options.matchTolerance,
            maxIter: ctx.options.matchMaxIter,
            seed: ctx.options.seed,
          }).perm,
      );
    } finally {
      disposeParams(target);
      disposeParams(source);
    }
    for (let s = 1; s <= ctx.trajectory.T; s++) yield perm;
  },
};
