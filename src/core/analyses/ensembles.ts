import * as tf from '@tensorflow/tfjs';
import type { Split } from '../data/dataset.js';
import type { Model } from '../models/model.js';
import type { Params } from '../params.js';

/**
 * The averaged softmax of an ensemble's members on one split, accumulated member by member so
 * only a [n, classes] sum is kept, never the members' parameters.
 */
export class SoftmaxEnsemble {
  private sum: tf.Tensor2D | null = null;
  members = 0;
  /** each member's own accuracy, in order */
  readonly memberAccuracy: number[] = [];

  constructor(
    private readonly model: Model,
    private readonly split: Split,
    private readonly batchSize = 1000,
  ) {}

  /** adds one member (parameters already prepared for evaluation; not disposed) */
  add(params: Params): void {
    const probs = tf.tidy(() => {
      const parts: tf.Tensor2D[] = [];
      for (let start = 0; start < this.split.n; start += this.batchSize) {
        const size = Math.min(this.batchSize, this.split.n - start);
        const x = tf.slice(this.split.x, [start, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D;
        parts.push(tf.softmax(this.model.apply(params, x)) as tf.Tensor2D);
      }
      return parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor2D);
    });
    this.memberAccuracy.push(accuracyOf(probs, this.split.y));
    if (this.sum) {
      const next = tf.add(this.sum, probs) as tf.Tensor2D;
      this.sum.dispose();
      probs.dispose();
      this.sum = next;
    } else this.sum = probs;
    this.members++;
  }

  /** accuracy of the mean softmax (argmax of the sum is the argmax of the mean) */
  accuracy(): number {
    if (!this.sum) return NaN;
    return accuracyOf(this.sum, this.split.y);
  }

  dispose(): void {
    this.sum?.dispose();
    this.sum = null;
  }
}

function accuracyOf(probs: tf.Tensor2D, y: tf.Tensor1D): number {
  const hits = tf.tidy(() =>
    tf.sum(tf.cast(tf.equal(tf.argMax(probs, 1), y.dtype === 'int32' ? y : tf.cast(y, 'int32')), 'float32')),
  );
  const h = hits.dataSync()[0];
  hits.dispose();
  return h / probs.shape[0];
}
