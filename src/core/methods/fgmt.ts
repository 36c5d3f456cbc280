import { disposeParams } from '../params.js';
import { identityPermutation, type Permutation } from '../permutation.js';
import { WeightMatcher } from '../weight-matching.js';
import { GradientSampler, throwIfAborted, transferredAt, type TransferMethod } from './context.js';

/**
 * FGMT (Algorithm 2). One matcher for the whole run: step s adds only the pair at t = s−1
 * (g2 computed with π_{s−1}) and keeps the earlier ones cached, trusting Lemma 3.1 that they
 * barely change. O(T) gradients — the cost of 2T SGD steps.
 */
export const fgmt: TransferMethod = {
  name: 'fgmt',
  label: 'FGMT',
  needsTrainedTarget: false,
  async *permutations(ctx) {
    const T = ctx.trajectory.T;
    const sampler = new GradientSampler(ctx, 'fgmt');
    const matcher = new WeightMatcher(ctx.model.permSpec);
    let perm: Permutation = identityPermutation(ctx.model.permSpec);
    try {
      for (let s = 1; s <= T; s++) {
        throwIfAborted(ctx.signal);
        const theta1 = ctx.trajectory.at(s - 1);
        const theta2 = transferredAt(ctx, s - 1, perm);
        const { g1, g2 } = sampler.pair(theta1, theta2);
        disposeParams(theta1);
        disposeParams(theta2);
        ctx.time('matching', () => matcher.addPair(g2, g1));
        disposeParams(g1);
        disposeParams(g2);
        perm = ctx.time('matching', () =>
          matcher.solve({ tolerance: ctx.options.matchTolerance, maxIter: ctx.options.matchMaxIter, seed: ctx.options.seed + s }).perm,
        );
        ctx.progress(s, T, `step ${s}/${T}`);
        yield perm;
      }
    } finally {
      matcher.dispose();
    }
  },
  gradientEvaluations: (T, gradBatches) => 2 * T * gradBatches,
};
