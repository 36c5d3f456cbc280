import * as tf from '@tensorflow/tfjs';
import type { Split } from './data/dataset.js';
import { trainableNames, type Model } from './models/model.js';
import type { Gradients } from './gradient-factors.js';
import { disposeParams, type Params } from './params.js';
import type { EvalResult } from '../shared/domain/index.js';
import { readScalars } from './readback.js';

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
 * Examples per evaluation batch on a backend: the GPU backends want few, large dispatches; on the
 * CPU backends (wasm, cpu) a batch of 1024 keeps XNNPACK's GEMM at full speed while the
 * activations of a wide layer stay small (1024 × 4096 floats = 16 MiB).
 */
export function evalBatchSize(backend: string = tf.getBackend()): number {
  return backend === 'webgpu' || backend === 'tensorflow' || backend === 'webgl' ? 4096 : 1024;
}

/**
 * Accuracy (a fraction) and mean cross-entropy of `params` on the first `limit` examples of
 * `split` (all when limit is 0 or absent). Uses the split's ready batches when it has them (the
 * loader makes them), so nothing is sliced per call; otherwise gathers rows of the split.
 * Per batch: one forward pass, then only the hit count and the loss sum stay on the backend; one
 * host read of two numbers at the end (asynchronous: see readback.ts).
 */
export async function evaluate(
  model: Model,
  params: Params,
  split: Split,
  opts: { limit?: number; batchSize?: number } = {},
): Promise<EvalResult> {
  const n = opts.limit && opts.limit > 0 ? Math.min(opts.limit, split.n) : split.n;
  if (n === 0) return { accuracy: NaN, loss: NaN };
  let correct: tf.Tensor = tf.scalar(0);
  let lossSum: tf.Tensor = tf.scalar(0);
  for (const batch of evalBatches(split, n, opts.batchSize)) {
    const [c, l] = tf.tidy(() => {
      const { x, y } = batch.take();
      const logits = model.apply(params, x);
      const labels = y.dtype === 'int32' ? y : tf.cast(y, 'int32');
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'));
      const loss = tf.mul(softmaxCrossEntropy(logits, labels), batch.size);
      return [tf.add(correct, hits), tf.add(lossSum, loss)];
    });
    correct.dispose();
    lossSum.dispose();
    correct = c;
    lossSum = l;
  }
  let hits: number, loss: number;
  try {
    [hits, loss] = await readScalars([correct, lossSum]);
  } finally {
    tf.dispose([correct, lossSum]);
  }
  return { accuracy: hits / n, loss: loss / n };
}

interface EvalBatch {
  size: number;
  /** the batch's tensors; call inside tf.tidy (what it creates is freed there, ready batches are not) */
  take(): { x: tf.Tensor4D; y: tf.Tensor1D };
}

/** The first n examples of a split in consecutive batches. */
function evalBatches(split: Split, n: number, batchSize?: number): EvalBatch[] {
  const ready = split.batches;
  if (ready?.length && (batchSize === undefined || batchSize === ready[0].size)) {
    const out: EvalBatch[] = [];
    let seen = 0;
    for (const b of ready) {
      if (seen >= n) break;
      const size = Math.min(b.size, n - seen);
      out.push({
        size,
        // only the batch that the limit cuts is sliced, and only within itself
        take: () =>
          size === b.size
            ? { x: b.x, y: b.y }
            : {
                x: tf.slice(b.x, [0, 0, 0, 0], [size, -1, -1, -1]),
                y: tf.slice(b.y, [0], [size]),
              },
      });
      seen += size;
    }
    return out;
  }
  // No ready batches: gather rows (a kernel over the rows asked for, where a wasm slice would read
  // the whole split back first).
  const bs = Math.max(1, batchSize ?? evalBatchSize());
  const out: EvalBatch[] = [];
  for (let start = 0; start < n; start += bs) {
    const size = Math.min(bs, n - start);
    out.push({
      size,
      take: () => {
        const rows = tf.range(start, start + size, 1, 'int32');
        return { x: tf.gather(split.x, rows) as tf.Tensor4D, y: tf.gather(split.y, rows) as tf.Tensor1D };
      },
    });
  }
  return out;
}

/**
 * Gradient of the mean cross-entropy on (x, y) with respect to every trainable parameter, in the
 * model's parameter order, with the network in training mode (BatchNorm on the minibatch's
 * statistics, as the authors' code computes its matching gradients). The caller owns the returned
 * tensors.
 */
export function gradient(model: Model, params: Params, x: tf.Tensor4D, y: tf.Tensor1D): Params {
  return differentiate(model, params, x, y, false) as Params;
}

/**
 * The same gradient with each dense kernel (ParamInfo.lowRankGradient) as its factors {x, d}: the
 * layer's inputs, recorded in the forward pass, and the gradient with respect to a zero probe added
 * to its pre-activation. The kernels' own gradients are never formed, which also spares the
 * backward pass their in×out products. Every other parameter's gradient is dense, as gradient()'s.
 */
export function lowRankGradient(model: Model, params: Params, x: tf.Tensor4D, y: tf.Tensor1D): Gradients {
  return differentiate(model, params, x, y, true);
}

function differentiate(
  model: Model,
  params: Params,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  factored: boolean,
): Gradients {
  const lowRank = factored ? model.params.filter((p) => p.lowRankGradient) : [];
  const skip = new Set(lowRank.map((p) => p.name));
  const names = trainableNames(model).filter((n) => !skip.has(n));
  const list = names.map((n) => {
    const t = params[n];
    if (!t) throw new Error(`gradient: parameter "${n}" is missing`);
    return t;
  });
  const m = x.shape[0];
  const probeList = lowRank.map((p) => tf.zeros([m, p.shape[p.shape.length - 1]]));
  const inputs: Params = {};
  let grads: tf.Tensor[];
  try {
    grads = tf.tidy(() =>
      tf.grads((...ps: tf.Tensor[]) => {
        const theta: Params = { ...params };
        names.forEach((n, i) => (theta[n] = ps[i]));
        const probes: Params = {};
        lowRank.forEach((p, i) => (probes[p.name] = ps[names.length + i]));
        const opts = lowRank.length ? { training: true, probes, inputs } : { training: true };
        return softmaxCrossEntropy(model.apply(theta, x, opts), y);
      })([...list, ...probeList]),
    );
  } catch (e) {
    disposeParams(inputs);
    throw e;
  } finally {
    tf.dispose(probeList);
  }
  const unrecorded = lowRank.find((p) => !inputs[p.name]);
  if (unrecorded) {
    tf.dispose(grads);
    disposeParams(inputs);
    throw new Error(`gradient: the forward pass did not record the input of "${unrecorded.name}"`);
  }
  const out: Gradients = {};
  names.forEach((n, i) => (out[n] = grads[i]));
  lowRank.forEach((p, i) => {
    out[p.name] = {
      x: inputs[p.name] as tf.Tensor2D,
      d: grads[names.length + i] as tf.Tensor2D,
      shape: p.shape,
    };
  });
  // in the model's parameter order, as gradient() returns them
  return Object.fromEntries(trainableNames(model).map((n) => [n, out[n]]));
}
