import * as tf from '@tensorflow/tfjs';
import type { Split } from './data/dataset.js';
import type { Model } from './models/model.js';
import type { Params } from './params.js';
import { deriveSeed, rng } from './random.js';

/**
 * BatchNorm running statistics outside the training loop. A transferred or interpolated θ has
 * running statistics that belong to no network (θ2^0's, or a mix of two networks'), and a BN net
 * evaluated with them is garbage; the authors reset them and re-estimate them on a few training
 * minibatches (bn_stats_iters), as REPAIR does. Every place that evaluates parameters it built —
 * the transfer methods, the analyses' interpolations — calls `reestimateBatchNorm` first.
 */

/** PyTorch's BatchNorm momentum: running ← (1 − 0.1)·running + 0.1·batch. */
export const BN_MOMENTUM = 0.1;

export function hasBatchNorm(model: Pick<Model, 'buffers'>): boolean {
  return (model.buffers?.length ?? 0) > 0;
}

/** New running statistics after one training minibatch (PyTorch's update); the caller owns them. */
export function blendRunningStats(running: Params, batchStats: Params, momentum = BN_MOMENTUM): Params {
  const out: Params = {};
  for (const [name, b] of Object.entries(batchStats)) {
    const r = running[name];
    if (!r) throw new Error(`BatchNorm statistic "${name}" has no running counterpart`);
    out[name] = tf.tidy(() => tf.add(tf.mul(r, 1 - momentum), tf.mul(b, momentum)));
  }
  return out;
}

/** Sets every running mean to 0 and variance to 1 (PyTorch's reset_running_stats), in place. */
export function resetBatchNorm(model: Pick<Model, 'buffers'>, params: Params): void {
  for (const name of model.buffers ?? []) {
    const old = params[name];
    params[name] = tf.fill(old.shape, name.endsWith('.variance') ? 1 : 0, 'float32');
    old.dispose();
  }
}

export interface BnEstimateOptions {
  /** minibatches to average over (authors' bn_stats_iters); 0 leaves the statistics alone */
  batches: number;
  /** examples per minibatch (default 128) */
  batchSize?: number;
  /** which minibatches: drawn without replacement from a permutation seeded by this (default 0) */
  seed?: number;
}

/**
 * Resets and re-estimates the running statistics of `params` in place (the old buffer tensors are
 * disposed): each BN layer's running mean and unbiased variance become the plain average of its
 * training-mode minibatch statistics over `batches` minibatches of `data` — PyTorch with
 * momentum = None, as REPAIR's reset_bn_stats. Parameters of a network without BN are untouched.
 */
export function reestimateBatchNorm(
  model: Model,
  params: Params,
  data: Split,
  opts: BnEstimateOptions,
): void {
  if (!hasBatchNorm(model) || opts.batches <= 0) return;
  if (data.n === 0) throw new Error('reestimateBatchNorm: the split is empty');
  const bs = Math.max(1, Math.min(opts.batchSize ?? 128, data.n));
  const order = rng(deriveSeed(opts.seed ?? 0, 'bn-stats')).permutation(data.n);
  let sums: Params | null = null;
  let used = 0;
  for (let b = 0; b < opts.batches; b++) {
    let start = (b * bs) % data.n;
    if (start + bs > data.n) start = 0;
    const next: Params = tf.tidy(() => {
      const idx = tf.tensor1d(order.subarray(start, start + bs), 'int32');
      const x = tf.gather(data.x, idx) as tf.Tensor4D;
      const stats: Params = {};
      model.apply(params, x, { training: true, batchStats: stats });
      const acc: Params = {};
      for (const [k, v] of Object.entries(stats)) {
        acc[k] = sums ? tf.add(sums[k], v) : v.clone();
        v.dispose();
      }
      return acc;
    });
    if (sums) for (const t of Object.values(sums)) t.dispose();
    sums = next;
    used++;
  }
  for (const name of model.buffers ?? []) {
    const s = sums![name];
    if (!s) throw new Error(`reestimateBatchNorm: the forward pass produced no statistic for "${name}"`);
    params[name].dispose();
    params[name] = tf.tidy(() => tf.div(s, used));
  }
  for (const t of Object.values(sums!)) t.dispose();
}
