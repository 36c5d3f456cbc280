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
 * FGMT (Algorithm 2). One matcher for the whole run: step s adds only the pair at t = s−1
 * (g2 computed with π_{s−1}) and keeps the earlier ones cached, trusting Lemma 3.1 that they
 * barely change. O(T) gradients — the cost of 2T SGD steps.
 */
export const fgmt: MethodImpl = {
  name: 'fgmt',
  async *permutations(ctx) {
    const T = ctx.trajectory.T;
    const sampler = new GradientSampler(ctx, 'fgmt');
    const matcher = new WeightMatcher(ctx.model.permSpec);
    let perm: Permutation = identityPermutation(ctx.model.permSpec);
    try {
      for (let s = 1; s <= T; s++) {
        throwIfAborted(ctx.signal);
        addGradientPair(ctx, sampler, matcher, s - 1, perm);
        perm = solveMatching(ctx, matcher, s);
        ctx.progress(s, T, `step ${s}/${T}`);
        yield perm;
      }
    } finally {
      matcher.dispose();
    }
  },
};
