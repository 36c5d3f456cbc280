import * as tf from '@tensorflow/tfjs';
import { hasBatchNorm, reestimateBatchNorm } from '../batchnorm.js';
import type { Dataset } from '../data/dataset.js';
import { gradient, lowRankGradient } from '../evaluate.js';
import { addGradients, disposeGradients, scaleGradients, type Gradients } from '../gradient-factors.js';
import type { Model } from '../models/model.js';
import { disposeParams, type Params } from '../params.js';
import { applyPermutation, type Permutation } from '../permutation.js';
import { rng, type Rng } from '../random.js';
import type { MethodInfo, MethodName } from '../../shared/domain/index.js';
import type { Trajectory } from '../trajectory.js';
import type { WeightMatcher } from '../weight-matching.js';

export interface TransferOptions {
  /** minibatch size of each gradient */
  batchSize: number;
  /** minibatches averaged per gradient */
  gradBatches: number;
  seed: number;
  matchTolerance: number;
  matchMaxIter: number;
  /** validation examples per evaluation, 0 = all */
  evalLimit: number;
  /**
   * BatchNorm networks: training minibatches (of `batchSize`) on which the running statistics of
   * every θ2^s are reset and re-estimated before it is evaluated; 0 keeps θ2^0 + π(Δ) as they are
   */
  bnBatches?: number;
  /**
   * false: matching gradients of dense kernels as full tensors instead of their low-rank factors
   * (the same similarities to float32 rounding, at O(n²·in) instead of O(n²·batch) each; kept as
   * the reference the factored path is tested against)
   */
  lowRankGradients?: boolean;
}

/** What every method gets: the model, the data, the source trajectory and the target's init. */
export interface TransferContext {
  model: Model;
  data: Dataset;
  trajectory: Trajectory;
  /** θ2^0 (owned by the caller) */
  theta20: Params;
  /** θ2^T actually trained with the source's optimiser; only Oracle needs it */
  trained?: Params;
  options: TransferOptions;
  signal?: AbortSignal;
  /** adds seconds to a named phase of this method's timing (until the promise settles when fn is async) */
  time<T>(phase: string, fn: () => T): T;
  /** counts minibatch gradients (one network, one minibatch) */
  countGradients(n: number): void;
  progress(done: number, total: number, detail?: string): void;
  /** the objective Σ⟨target, π·source⟩ each matching step reached (for diagnostics) */
  recordObjective?(score: number): void;
}

/**
 * A transfer method is a source of permutations π_1..π_T: step s yields the π_s with which
 * θ2^s = θ2^0 + π_s(θ1^s − θ1^0) is built and evaluated. Naive and Oracle yield one fixed π; GMT
 * and FGMT compute π_s from gradients along the trajectory.
 */
export interface MethodImpl {
  name: MethodName;
  permutations(ctx: TransferContext): AsyncGenerator<Permutation, void, void>;
}

/** A method's tensor side joined with what the domain registry says of it (label, cost, needs). */
export type TransferMethod = MethodImpl & Omit<MethodInfo, 'name'>;

/** θ2^0 + π(θ1^t − θ1^0): the transferred parameters at step t. */
export function transferredAt(
  ctx: Pick<TransferContext, 'model' | 'trajectory' | 'theta20'>,
  t: number,
  perm: Permutation,
): Params {
  const theta1t = ctx.trajectory.at(t);
  try {
    const diff: Params = {};
    for (const k of Object.keys(theta1t)) diff[k] = tf.sub(theta1t[k], ctx.trajectory.start[k]);
    const permuted = applyPermutation(ctx.model.permSpec, perm, diff);
    disposeParams(diff);
    const out: Params = {};
    for (const k of Object.keys(permuted)) out[k] = tf.add(ctx.theta20[k], permuted[k]);
    disposeParams(permuted);
    return out;
  } finally {
    disposeParams(theta1t);
  }
}

/**
 * θ2^t ready to be evaluated: for a BatchNorm network, its running statistics (a meaningless
 * θ2^0 + π(Δ) of statistics) reset and re-estimated on `bnBatches` training minibatches.
 */
export function transferredForEval(ctx: TransferContext, t: number, perm: Permutation): Params {
  const theta = transferredAt(ctx, t, perm);
  const batches = ctx.options.bnBatches ?? 0;
  if (batches > 0 && hasBatchNorm(ctx.model)) {
    ctx.time('bn statistics', () =>
      reestimateBatchNorm(ctx.model, theta, ctx.data.train, {
        batches,
        batchSize: ctx.options.batchSize,
        seed: ctx.options.seed * 7919 + t,
      }),
    );
  }
  return theta;
}

/**
 * Draws the same minibatches for the source and the target network (Algorithm 1, lines 3–5) and
 * returns both gradients, each averaged over `gradBatches` minibatches as in the authors' code.
 */
export class GradientSampler {
  private readonly random: Rng;

  constructor(
    private readonly ctx: TransferContext,
    stream: string,
  ) {
    this.random = rng(ctx.options.seed * 7919 + hashString(stream));
  }

  pair(theta1: Params, theta2: Params): { g1: Gradients; g2: Gradients } {
    const { batchSize, gradBatches } = this.ctx.options;
    const grad = this.ctx.options.lowRankGradients === false ? gradient : lowRankGradient;
    const n = this.ctx.data.train.n;
    let g1: Gradients | null = null;
    let g2: Gradients | null = null;
    for (let b = 0; b < gradBatches; b++) {
      const idx = new Int32Array(Math.min(batchSize, n));
      for (let i = 0; i < idx.length; i++) idx[i] = this.random.int(n);
      const [x, y] = tf.tidy(() => {
        const it = tf.tensor1d(idx, 'int32');
        return [tf.gather(this.ctx.data.train.x, it), tf.gather(this.ctx.data.train.y, it)] as const;
      });
      try {
        const a = this.ctx.time('gradients', () =>
          grad(this.ctx.model, theta1, x as tf.Tensor4D, y as tf.Tensor1D),
        );
        const c = this.ctx.time('gradients', () =>
          grad(this.ctx.model, theta2, x as tf.Tensor4D, y as tf.Tensor1D),
        );
        this.ctx.countGradients(2);
        g1 = g1 ? addGradients(g1, a) : a;
        g2 = g2 ? addGradients(g2, c) : c;
      } finally {
        x.dispose();
        y.dispose();
      }
    }
    // also with one minibatch: factors larger than their kernel (a narrow head) become the kernel
    return { g1: scaleGradients(g1!, 1 / gradBatches), g2: scaleGradients(g2!, 1 / gradBatches) };
  }
}

/**
 * One gradient pair of Algorithms 1 and 2, added to a matcher: g1 at θ1^t and g2 at
 * θ2^0 + π(θ1^t − θ1^0), on the same minibatches.
 */
export function addGradientPair(
  ctx: TransferContext,
  sampler: GradientSampler,
  matcher: WeightMatcher,
  t: number,
  perm: Permutation,
): void {
  const theta1 = ctx.trajectory.at(t);
  const theta2 = transferredAt(ctx, t, perm);
  const { g1, g2 } = sampler.pair(theta1, theta2);
  disposeParams(theta1);
  disposeParams(theta2);
  ctx.time('matching', () => matcher.addPair(g2, g1));
  disposeGradients(g1);
  disposeGradients(g2);
}

/** π_s from the pairs a matcher holds, with the spec's stopping rule. */
export async function solveMatching(
  ctx: TransferContext,
  matcher: WeightMatcher,
  s: number,
): Promise<Permutation> {
  const r = await ctx.time('matching', () =>
    matcher.solve({
      tolerance: ctx.options.matchTolerance,
      maxIter: ctx.options.matchMaxIter,
      seed: ctx.options.seed + s,
    }),
  );
  ctx.recordObjective?.(r.score);
  return r.perm;
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('cancelled');
}
