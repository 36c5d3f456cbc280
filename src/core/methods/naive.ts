import { identityPermutation } from '../permutation.js';
import type { MethodImpl } from './context.js';

/** Naive: π = identity, θ2^t = θ2^0 + (θ1^t − θ1^0). */
export const naive: MethodImpl = {
  name: 'naive',
  async *permutations(ctx) {
    const id = identityPermutation(ctx.model.permSpec);
    for (let s = 1; s <= ctx.trajectory.T; s++) yield id;
  },
};
