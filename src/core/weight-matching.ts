import * as tf from '@tensorflow/tfjs';
import { linearSumAssignment } from './assignment.js';
import {
  cloneGradient,
  densify,
  disposeGradients,
  isFactors,
  permuteGradient,
  type Gradient,
  type Gradients,
} from './gradient-factors.js';
import {
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
 * in every sweep. For an MLP with one hidden layer every block is of the first kind.
 *
 * Blocks are products over the axes a permutation does not act on. A dense kernel's gradient
 * that comes as factors xᵀ·d (gradient-factors.ts) is multiplied through them, in O(n²·m) rather
 * than O(n²·k) for m samples and k other entries, whenever that is the cheaper of the two; all
 * blocks of a permutation are then summed by one n×n product (`sumTerms`).
 */
export class WeightMatcher {
  private readonly fixed = new Map<string, tf.Tensor2D>();
  private readonly pairs: { target: Gradients; source: Gradients }[] = [];
  private readonly dependent: Record<string, { param: string; axis: number }[]> = {};
  private readonly constant: Record<string, { param: string; axis: number }[]> = {};
  private readonly dependentParams = new Set<string>();
  pairCount = 0;

  constructor(
    private readonly spec: PermutationSpec,
    private readonly opts: MatcherOptions = {},
  ) {
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
  addPair(target: Gradients, source: Gradients): void {
    const mode = this.opts.lowRank ?? 'auto';
    for (const [p, entries] of Object.entries(this.constant)) {
      if (entries.length === 0) continue;
      const prev = this.fixed.get(p);
      const next = tf.tidy(() =>
        sumTerms(
          entries.map(({ param, axis }) => term(target[param], source[param], axis, mode)),
          prev,
        ),
      );
      prev?.dispose();
      this.fixed.set(p, next);
    }
    if (this.dependentParams.size > 0) {
      const keep = (p: Gradients): Gradients =>
        Object.fromEntries([...this.dependentParams].map((k) => [k, cloneGradient(p[k])]));
      this.pairs.push({ target: keep(target), source: keep(source) });
    }
    this.pairCount++;
  }

  /** The similarity matrix A_p (row-major n×n) for permutation p given the current values of all others. */
  async similarity(p: string, perm: Permutation): Promise<Float32Array> {
    const fixed = this.fixed.get(p);
    const mode = this.opts.lowRank ?? 'auto';
    // Read back outside tf.tidy: tidy walks its return value looking for tensors, which for an
    // n² typed array costs far more than the matrix itself.
    const acc = tf.tidy(() => {
      const parts: Term[] = [];
      for (const { target, source } of this.pairs) {
        for (const { param, axis } of this.dependent[p]) {
          const s = permuteGradient(this.spec, perm, param, source[param], axis);
          parts.push(term(target[param], s, axis, mode));
        }
      }
      return parts.length ? sumTerms(parts, fixed) : fixed;
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
      disposeGradients(target);
      disposeGradients(source);
    }
    this.pairs.length = 0;
  }
}

/**
 * How a block is multiplied when both gradients come as factors: 'auto' takes the cheaper of the
 * factored and the dense product, 'never' densifies first (the reference), 'always' factors
 * wherever the block's axis allows it (tests).
 */
export type LowRankMode = 'auto' | 'always' | 'never';

export interface MatcherOptions {
  lowRank?: LowRankMode;
}

/** One block as lᵀ·r, with l and r of shape [rank, n]. */
interface Term {
  l: tf.Tensor2D;
  r: tf.Tensor2D;
}

/**
 * Σ lᵀ·r (+ base): every block of a permutation in one n×n product over the stacked ranks, so the
 * n² sum is formed once, not once per block.
 */
function sumTerms(terms: Term[], base?: tf.Tensor2D): tf.Tensor2D {
  const l = terms.length === 1 ? terms[0].l : tf.concat(terms.map((t) => t.l));
  const r = terms.length === 1 ? terms[0].r : tf.concat(terms.map((t) => t.r));
  const a = tf.matMul(l, r, true, false) as tf.Tensor2D;
  return base ? (tf.add(base, a) as tf.Tensor2D) : a;
}

/**
 * The block Σ_{other axes} target·source over `axis` as lᵀ·r. For factors g = xᵀ·d, over the
 * output axis: g_tᵀ·g_s = d_tᵀ·(x_t·x_sᵀ)·d_s; over the input axis of a 2-D kernel:
 * g_t·g_sᵀ = x_tᵀ·(d_t·d_sᵀ)·x_s. Otherwise (an input axis of a 4-D kernel, or a dense gradient)
 * the gradients are multiplied as tensors.
 */
function term(target: Gradient, source: Gradient, axis: number, mode: LowRankMode): Term {
  if (mode !== 'never' && isFactors(target) && isFactors(source)) {
    const out = axis === target.shape.length - 1;
    if (out || target.shape.length === 2) {
      const n = target.shape[axis];
      const k = target.shape.reduce((a, b) => a * b, 1) / n;
      const [mt, ms] = [target.x.shape[0], source.x.shape[0]];
      const factored = mt * ms * (k + n) + n * n * mt;
      const dense = (mt + ms) * k * n + n * n * k;
      if (mode === 'always' || factored < dense) {
        return out
          ? { l: target.d, r: tf.matMul(tf.matMul(target.x, source.x, false, true), source.d) }
          : { l: target.x, r: tf.matMul(tf.matMul(target.d, source.d, false, true), source.x) };
      }
    }
  }
  const t = isFactors(target) ? densify(target) : target;
  const s = isFactors(source) ? densify(source) : source;
  return { l: columns(t, axis), r: columns(s, axis) };
}

/** x with `axis` moved last, as a matrix [size / n, n] (a move only when the axis is not last already). */
function columns(x: tf.Tensor, axis: number): tf.Tensor2D {
  const n = x.shape[axis];
  if (axis === x.rank - 1) return tf.reshape(x, [-1, n]);
  const order = [...x.shape.keys()].filter((i) => i !== axis);
  return tf.reshape(tf.transpose(x, [...order, axis]), [-1, n]);
}

/** One-shot weight matching of the given pairs. */
export async function weightMatching(
  spec: PermutationSpec,
  pairs: { target: Gradients; source: Gradients }[],
  opts: MatchOptions & MatcherOptions = {},
): Promise<MatchResult> {
  const m = new WeightMatcher(spec, opts);
  try {
    for (const { target, source } of pairs) m.addPair(target, source);
    return await m.solve(opts);
  } finally {
    m.dispose();
  }
}
