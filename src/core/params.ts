import * as tf from '@tensorflow/tfjs';
import { readScalars } from './readback.js';

/**
 * A network's parameters: named tensors in tfjs layouts (dense kernel [in, out], conv kernel
 * [kh, kw, in, out]). Every model lists its names in a fixed order (`Model.paramNames`), which is
 * the order used when parameters are flattened, saved or differentiated.
 */
export type Params = Record<string, tf.Tensor>;

export function disposeParams(p: Params | undefined | null): void {
  if (!p) return;
  for (const t of Object.values(p)) t.dispose();
}

export function cloneParams(p: Params): Params {
  const out: Params = {};
  for (const [k, v] of Object.entries(p)) out[k] = v.clone();
  return out;
}

/** a + scale·(b − c) for every parameter, the shape of every trajectory formula in the paper. */
export function addScaledDiff(a: Params, b: Params, c: Params, scale = 1): Params {
  const out: Params = {};
  for (const k of Object.keys(a)) {
    out[k] = tf.tidy(() => tf.add(a[k], tf.mul(tf.sub(b[k], c[k]), scale)));
  }
  return out;
}

export function subParams(a: Params, b: Params): Params {
  const out: Params = {};
  for (const k of Object.keys(a)) out[k] = tf.sub(a[k], b[k]);
  return out;
}

/** (1 − λ)·a + λ·b */
export function lerpParams(a: Params, b: Params, lambda: number): Params {
  const out: Params = {};
  for (const k of Object.keys(a)) {
    out[k] = tf.tidy(() => tf.add(tf.mul(a[k], 1 - lambda), tf.mul(b[k], lambda)));
  }
  return out;
}

export function paramCount(p: Params): number {
  let n = 0;
  for (const t of Object.values(p)) n += t.size;
  return n;
}

/** Squared L2 distance, summed over every parameter; used by tests and diagnostics. */
export async function sqDistance(a: Params, b: Params): Promise<number> {
  const s = tf.tidy(() => {
    let sum = tf.scalar(0);
    for (const k of Object.keys(a)) sum = sum.add(tf.sum(tf.square(tf.sub(a[k], b[k]))));
    return sum;
  });
  try {
    return (await readScalars([s]))[0];
  } finally {
    s.dispose();
  }
}
