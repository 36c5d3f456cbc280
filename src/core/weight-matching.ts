import * as tf from '@tensorflow/tfjs';
import { linearSumAssignment } from './assignment.js';
import type { Params } from './params.js';
import {
  getPermutedParam,
  identityPermutation,
  matchedEntries,
  type Permutation,
  type PermutationSpec,
} from './permutation.js';
import { rng } from './random.js';
import { readValues } from './readback.js';

export interface MatchOptions {
  /** stop after a sweep whose total improvement is at most tolerance·|objective| */
  tolerance?: number;
  maxIter?: number;
  /** seed of the order in which each sweep visits the permutations */
  seed?: number;
  /** start from this permutation instead of the identity */
  init?: Permutation;
}

export interface MatchResult {
  perm: Permutation;
  sweeps: number;
  /** Σ_p ⟨A_p, P_p⟩ in the last sweep: the quantity each coordinate step maximises */
  score: number;
  /** seconds spent building the similarity matrices and in the assignment solver */
  seconds: { similarity: number; assignment: number };
}

/**
 * Git Re-Basin weight matching over any number of (target, source) pairs:
 * max_π Σ_pairs ⟨target, π·source⟩ (= min Σ‖target − π·source‖², since π preserves norms), by
 * coordinate descent over the permutations, each step an exact linear assignment.
 *
 * The matcher is incremental because FGMT adds one gradient pair per step for the whole run. A
 * (parameter, axis) block whose parameter has no other permuted axis contributes the same n×n
 * matrix whatever the other permutations are, so it is summed once when its pair is added and
 * the pair need not be kept for it; only blocks that depend on other permutations are recomputed
 * in every sweep. For an MLP every block is of the first kind.
 */
export class WeightMatcher {
  private readonly fixed = new Map<string, tf.Tensor2D>();
  private readonly pairs: { target: Params; source: Params }[] = [];
  private readonly dependent: Record<string, { param: string; axis: number }[]> = {};
  private readonly constant: Record<string, { param: string; axis: number }[]> = {};
  private readonly dependentParams = new Set<string>();
  pairCount = 0;

  constructor(private readonly spec: PermutationSpec) {
    for (const p of Object.keys(spec.perms)) {
      this.dependent[p] = [];
      this.constant[p] = [];
      for (const entry of matchedEntries(spec, p)) {
        const others = spec.axes[entry.param].filter((q, ax) => q !== null && ax !== entry.axis);
        if (others.length === 0) this.constant[p].push(entry);
        else {
          this.dependent[p].push(entry);
          this.dependentParams.add(entry.param);
        }
      }
    }
  }

  /** Adds one pair; the matcher keeps its own copies of what it needs (the caller still owns its tensors). */
  addPair(target: Params, source: Params): void {
    for (const [p, entries] of Object.entries(this.constant)) {
      if (entries.length === 0) continue;
      const add = tf.tidy(() => {
        let acc: tf.Tensor2D | null = null;
        for (const { param, axis } of entries) {
          const blk = block(target[param], source[param], axis);
          acc = acc ? (tf.add(acc, blk) as tf.Tensor2D) : blk;
        }
        return acc!;
      });
      const prev = this.fixed.get(p);
      if (prev) {
        this.fixed.set(p, tf.add(prev, add));
        prev.dispose();
        add.dispose();
      } else this.fixed.set(p, add);
    }
    if (this.dependentParams.size > 0) {
      const keep = (p: Params): Params =>
        Object.fromEntries([...this.dependentParams].map((k) => [k, p[k].clone()]));
      this.pairs.push({ target: keep(target), source: keep(source) });
    }
    this.pairCount++;
  }

  /** The similarity matrix A_p for permutation p given the current values of all others. */
  private async similarity(p: string, perm: Permutation): Promise<Float32Array> {
    const fixed = this.fixed.get(p);
    // Read back outside tf.tidy: tidy walks its return value looking for tensors, which for an
    // n² typed array costs far more than the matrix itself.
    const acc = tf.tidy(() => {
      let sum: tf.Tensor2D | undefined = fixed;
      for (const { target, source } of this.pairs) {
        for (const { param, axis } of this.dependent[p]) {
          const s = getPermutedParam(this.spec, perm, param, source, axis);
          const blk = block(target[param], s, axis);
          sum = sum ? (tf.add(sum, blk) as tf.Tensor2D) : blk;
        }
      }
      return sum;
    });
    if (!acc) {
      const n = this.spec.sizes[p];
      return new Float32Array(n * n);
    }
    try {
      return (await readValues(acc)) as Float32Array;
    } finally {
      if (acc !== fixed) acc.dispose();
    }
  }

  async solve(opts: MatchOptions = {}): Promise<MatchResult> {
    const tolerance = opts.tolerance ?? 1e-7;
    const maxIter = opts.maxIter ?? 100;
    const order = Object.keys(this.spec.perms);
    const random = rng(opts.seed ?? 0);
    const perm: Permutation = opts.init
      ? Object.fromEntries(Object.entries(opts.init).map(([k, v]) => [k, Int32Array.from(v)]))
      : identityPermutation(this.spec);
    const seconds = { similarity: 0, assignment: 0 };
    let sweeps = 0;
    let score = 0;
    // With constant blocks only, every A_p is independent of the other permutations: one sweep
    // is exact and a second could not improve anything.
    const single = this.pairs.length === 0;
    for (let iter = 0; iter < maxIter; iter++) {
      sweeps++;
      let improvement = 0;
      let scale = 0;
      score = 0;
      random.shuffle(order);
      for (const p of order) {
        const n = this.spec.sizes[p];
        let t0 = performance.now();
        const A = await this.similarity(p, perm);
        seconds.similarity += (performance.now() - t0) / 1000;
        t0 = performance.now();
        const col = linearSumAssignment(A, n, n, { maximize: true });
        seconds.assignment += (performance.now() - t0) / 1000;
        let oldL = 0;
        let newL = 0;
        const cur = perm[p];
        for (let i = 0; i < n; i++) {
          oldL += A[i * n + cur[i]];
          newL += A[i * n + col[i]];
        }
        if (newL > oldL) {
          improvement += newL - oldL;
          perm[p] = col;
        }
        score += Math.max(newL, oldL);
        scale = Math.max(scale, Math.abs(newL), Math.abs(oldL));
      }
      if (single || improvement <= tolerance * Math.max(scale, Number.MIN_VALUE)) break;
    }
    return { perm, sweeps, score, seconds };
  }

  dispose(): void {
    for (const t of this.fixed.values()) t.dispose();
    this.fixed.clear();
    for (const { target, source } of this.pairs) {
      for (const t of [...Object.values(target), ...Object.values(source)]) t.dispose();
    }
    this.pairs.length = 0;
  }
}

/** T(axis→0).reshape(n, −1) · S(axis→0).reshape(n, −1)ᵀ, an n×n float32 product on the backend */
function block(target: tf.Tensor, source: tf.Tensor, axis: number): tf.Tensor2D {
  return tf.tidy(() => {
    // A matrix's column axis (a dense kernel's output units): Tᵀ·S as it stands, so at most one
    // operand is transposed (by the backend's matMul), not both moved and one moved back.
    if (target.rank === 2 && axis === 1)
      return tf.matMul(target as tf.Tensor2D, source as tf.Tensor2D, true, false);
    const n = target.shape[axis];
    const t2 = tf.reshape(moveToFront(target, axis), [n, -1]) as tf.Tensor2D;
    const s2 = tf.reshape(moveToFront(source, axis), [n, -1]) as tf.Tensor2D;
    return tf.matMul(t2, s2, false, true);
  });
}

function moveToFront(x: tf.Tensor, axis: number): tf.Tensor {
  if (axis === 0) return x;
  const order = [axis, ...x.shape.map((_, i) => i).filter((i) => i !== axis)];
  return tf.transpose(x, order);
}

/** One-shot weight matching of the given pairs. */
export async function weightMatching(
  spec: PermutationSpec,
  pairs: { target: Params; source: Params }[],
  opts: MatchOptions = {},
): Promise<MatchResult> {
  const m = new WeightMatcher(spec);
  try {
    for (const { target, source } of pairs) m.addPair(target, source);
    return await m.solve(opts);
  } finally {
    m.dispose();
  }
}
