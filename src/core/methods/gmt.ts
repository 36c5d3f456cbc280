import { identityPermutation, type Permutation } from '../permutation.js';
import { WeightMatcher } from '../weight-matching.js';
import {
  addGradientPair,
  GradientSampler,
  solveMatching,
  throwIfAborted,
  type MethodImpl,
} from './context.js';

/**
 * GMT (Algorithm 1). At step s every gradient pair t = 0..s−1 is recomputed on fresh minibatches:
 * g1 at θ1^t and g2 at θ2^0 + π_{s−1}(θ1^t − θ1^0), then π_s matches all s pairs. O(T²) gradients.
 */
export const gmt: MethodImpl = {
  name: 'gmt',
  async *permutations(ctx) {
    const T = ctx.trajectory.T;
    const sampler = new GradientSampler(ctx, 'gmt');
    let perm: Permutation = identityPermutation(ctx.model.permSpec);
    const total = (T * (T + 1)) / 2;
    let done = 0;
    for (let s = 1; s <= T; s++) {
      const matcher = new WeightMatcher(ctx.model.permSpec);
      try {
        for (let t = 0; t < s; t++) {
          throwIfAborted(ctx.signal);
          addGradientPair(ctx, sampler, matcher, t, perm);
          ctx.progress(++done, total, `step ${s}/${T}, gradient pair ${t + 1}/${s}`);
          // let the host's event loop breathe (progress, cancel) between gradient pairs
          await Promise.resolve();
        }
        perm = solveMatching(ctx, matcher, s);
      } finally {
        matcher.dispose();
      }
      yield perm;
    }
  },
};
