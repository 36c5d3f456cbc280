import * as tf from '@tensorflow/tfjs';

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
