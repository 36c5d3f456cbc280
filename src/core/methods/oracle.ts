import { disposeParams, subParams, type Params } from '../params.js';
import type { Permutation, PermutationSpec } from '../permutation.js';
import { weightMatching, type MatchOptions } from '../weight-matching.js';
import type { MethodImpl } from './context.js';

/**
 * Oracle's π = argmin ‖(θ2^T − θ2^0) − π(θ1^T − θ1^0)‖ by weight matching the two displacements.
 * Also what the analyses use as "Oracle's π" when Oracle itself did not run.
 */
export async function oraclePermutation(
  spec: PermutationSpec,
  source: { start: Params; end: Params },
  target: { start: Params; end: Params },
  opts: MatchOptions,
): Promise<Permutation> {
  const t = subParams(target.end, target.start);
  const s = subParams(source.end, source.start);
  try {
    return (await weightMatching(spec, [{ target: t, source: s }], opts)).perm;
  } finally {
    disposeParams(t);
    disposeParams(s);
  }
}

/**
 * Oracle: θ2 is actually trained with the source's optimiser, and one π matches the two
 * displacements. An upper reference, not a method one would deploy: it needs the very training
 * that learning transfer avoids.
 */
export const oracle: MethodImpl = {
  name: 'oracle',
  async *permutations(ctx) {
    if (!ctx.trained) throw new Error('Oracle needs the target trained with the source settings');
    const trained = ctx.trained;
    const perm = await ctx.time('matching', () =>
      oraclePermutation(
        ctx.model.permSpec,
        ctx.trajectory,
        { start: ctx.theta20, end: trained },
        { tolerance: ctx.options.matchTolerance, maxIter: ctx.options.matchMaxIter, seed: ctx.options.seed },
      ),
    );
    for (let s = 1; s <= ctx.trajectory.T; s++) yield perm;
  },
};
