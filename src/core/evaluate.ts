import * as tf from '@tensorflow/tfjs';
import type { Split } from './data/dataset.js';
import { trainableNames, type Model } from './models/model.js';
import type { Params } from './params.js';
import type { EvalResult } from '../shared/domain/index.js';

/**
 * Mean softmax cross-entropy of logits [n, classes] against int32 labels [n], as PyTorch's
 * F.cross_entropy. Built from logSoftmax and a one-hot product rather than gather: gather's
 * gradient needs UnsortedSegmentSum, which the wasm backend lacks.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/**
 * Accuracy (a fraction) and mean cross-entropy of `params` on the first `limit` examples of
 * `split` (all when limit is 0 or absent), in batches so the activations stay small. One host
 * read at the end.
 */
export function evaluate(
  model: Model,
  params: Params,
  split: Split,
  opts: { limit?: number; batchSize?: number } = {},
): EvalResult {
  const n = opts.limit && opts.limit > 0 ? Math.min(opts.limit, split.n) : split.n;
  if (n === 0) return { accuracy: NaN, loss: NaN };
  const bs = Math.max(1, opts.batchSize ?? 1000);
  let correct: tf.Tensor = tf.scalar(0);
  let lossSum: tf.Tensor = tf.scalar(0);
  for (let start = 0; start < n; start += bs) {
    const size = Math.min(bs, n - start);
    const [c, l] = tf.tidy(() => {
      const x = tf.slice(split.x, [start, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D;
      const y = tf.slice(split.y, [start], [size]) as tf.Tensor1D;
      const logits = model.apply(params, x);
      const hits = tf.sum(
        tf.cast(tf.equal(tf.argMax(logits, 1), y.dtype === 'int32' ? y : tf.cast(y, 'int32')), 'float32'),
      );
      const loss = tf.mul(softmaxCrossEntropy(logits, y), size);
      return [tf.add(correct, hits), tf.add(lossSum, loss)];
    });
    correct.dispose();
    lossSum.dispose();
    correct = c;
    lossSum = l;
  }
  const both = tf.stack([correct, lossSum]);
  const [hits, loss] = both.dataSync();
  tf.dispose([both, correct, lossSum]);
  return { accuracy: hits / n, loss: loss / n };
}

/**
 * Gradient of the mean cross-entropy on (x, y) with respect to every trainable parameter, in the
 * model's parameter order, with the network in training mode (BatchNorm on the minibatch's
 * statistics, as the authors' code computes its matching gradients). The caller owns the returned
 * tensors.
 */
export function gradient(model: Model, params: Params, x: tf.Tensor4D, y: tf.Tensor1D): Params {
  const names = trainableNames(model);
  const list = names.map((n) => {
    const t = params[n];
    if (!t) throw new Error(`gradient: parameter "${n}" is missing`);
    return t;
  });
  const grads = tf.tidy(() =>
    tf.grads((...ps: tf.Tensor[]) => {
      const theta: Params = { ...params };
      names.forEach((n, i) => (theta[n] = ps[i]));
      return softmaxCrossEntropy(model.apply(theta, x, { training: true }), y);
    })(list),
  );
  const out: Params = {};
  names.forEach((n, i) => (out[n] = grads[i]));
  return out;
}
