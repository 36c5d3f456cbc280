import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../random.js';
import type { AugmentSpec } from '../../shared/domain/index.js';

/**
 * The authors' CIFAR training augmentation (torchvision RandomCrop(32, padding=4) +
 * RandomHorizontalFlip), applied to a standardised minibatch on the backend. torchvision pads the
 * raw image with black, so the padding value is black after standardisation, (0 − mean)/std per
 * channel. Offsets and flips come from the caller's seeded generator: the same seed gives the same
 * augmented batches on every backend.
 */

/** (0 − mean)/std per channel: what a black pixel becomes after standardisation. */
export function blackLevel(stats: { mean: number[]; std: number[] }): number[] {
  return stats.mean.map((m, c) => -m / (stats.std[c]! > 1e-12 ? stats.std[c]! : 1));
}

/** The draws for one minibatch: a crop offset in [0, 2·pad] per axis and a flip per example. */
export function augmentDraws(
  n: number,
  spec: AugmentSpec,
  r: Rng,
): { dy: Int32Array; dx: Int32Array; flip: Uint8Array } {
  const dy = new Int32Array(n);
  const dx = new Int32Array(n);
  const flip = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    dy[i] = r.int(2 * spec.pad + 1);
    dx[i] = r.int(2 * spec.pad + 1);
    flip[i] = spec.flip && r.next() < 0.5 ? 1 : 0;
  }
  return { dy, dx, flip };
}

/** Pads by `spec.pad` with `fill`, crops back to the input size at random offsets, flips at random. */
export function augmentBatch(x: tf.Tensor4D, spec: AugmentSpec, r: Rng, fill: number[]): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const { dy, dx, flip } = augmentDraws(n, spec, r);
  const p = spec.pad;
  const H = h + 2 * p;
  const W = w + 2 * p;
  // One gather over the padded pixels: out[i, y, x] = padded[i, y + dy_i, (flip ? w−1−x : x) + dx_i].
  const idx = new Int32Array(n * h * w);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      const row = i * H * W + (y + dy[i]!) * W + dx[i]!;
      for (let xx = 0; xx < w; xx++) idx[k++] = row + (flip[i] ? w - 1 - xx : xx);
    }
  }
  return tf.tidy(() => {
    const f = tf.tensor1d(fill.length === c ? fill : new Array<number>(c).fill(fill[0] ?? 0));
    const padded =
      p > 0
        ? tf.add(
            tf.pad(tf.sub(x, f), [
              [0, 0],
              [p, p],
              [p, p],
              [0, 0],
            ]),
            f,
          )
        : x;
    const flat = tf.reshape(padded, [n * H * W, c]);
    return tf.reshape(tf.gather(flat, tf.tensor1d(idx, 'int32')), [n, h, w, c]) as tf.Tensor4D;
  });
}
