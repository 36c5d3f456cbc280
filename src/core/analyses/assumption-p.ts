import * as tf from '@tensorflow/tfjs';
import { disposeParams, subParams, type Params } from '../params.js';
import { applyPermutation, type Permutation, type PermutationSpec } from '../permutation.js';
import type { AssumptionPCurve } from '../../shared/domain/index.js';

/** cos(a, b) over every parameter flattened into one vector. */
export function cosineSimilarity(a: Params, b: Params): number {
  const [ab, aa, bb] = tf.tidy(() => {
    let sab: tf.Tensor = tf.scalar(0);
    let saa: tf.Tensor = tf.scalar(0);
    let sbb: tf.Tensor = tf.scalar(0);
    for (const k of Object.keys(a)) {
      sab = tf.add(sab, tf.sum(tf.mul(a[k], b[k])));
      saa = tf.add(saa, tf.sum(tf.square(a[k])));
      sbb = tf.add(sbb, tf.sum(tf.square(b[k])));
    }
    return Array.from(tf.stack([sab, saa, sbb]).dataSync());
  });
  const d = Math.sqrt(aa) * Math.sqrt(bb);
  return d > 0 ? ab / d : 0;
}

/**
 * Assumption (P) (Sec. 3.2, Fig. 3) along actual trajectories: for each named π, the cosine
 * between π(θ1^{t+1} − θ1^t) and θ2^{t+1} − θ2^t for t = 0..E−1. `source` and `target` are the
 * checkpoints θ^0..θ^E of the two trainings (the caller's).
 */
export function assumptionPCurves(
  spec: PermutationSpec,
  source: readonly Params[],
  target: readonly Params[],
  perms: readonly { name: string; perm: Permutation }[],
): AssumptionPCurve[] {
  if (source.length !== target.length || source.length < 2) {
    throw new Error(
      `Assumption (P) needs two trajectories of the same length ≥ 2, got ${source.length} and ${target.length}`,
    );
  }
  const curves: AssumptionPCurve[] = perms.map((p) => ({ permutation: p.name, cosine: [] }));
  for (let t = 0; t + 1 < source.length; t++) {
    const d1 = subParams(source[t + 1], source[t]);
    const d2 = subParams(target[t + 1], target[t]);
    try {
      perms.forEach((p, i) => {
        const moved = applyPermutation(spec, p.perm, d1);
        try {
          curves[i].cosine.push(cosineSimilarity(moved, d2));
        } finally {
          disposeParams(moved);
        }
      });
    } finally {
      disposeParams(d1);
      disposeParams(d2);
    }
  }
  return curves;
}
