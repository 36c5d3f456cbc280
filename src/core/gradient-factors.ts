import * as tf from '@tensorflow/tfjs';
import { getPermutedParam, isIdentity, type Permutation, type PermutationSpec } from './permutation.js';

/**
 * A dense kernel's minibatch gradient kept as its two factors: g = reshape(xᵀ·d, shape), with x
 * the layer's inputs [m, in] and d = ∂loss/∂pre-activation [m, out] (the mean's 1/m included).
 * Its rank is at most m, so a product of two such gradients over a wide axis costs O(n²·m)
 * instead of O(n²·in) — what makes GMT/FGMT's similarity matrices cheap at H = 4096.
 */
export interface GradientFactors {
  x: tf.Tensor2D;
  d: tf.Tensor2D;
  /** the kernel's shape: [in, out], or [h, w, c, out] for a dense layer over a flattened feature map */
  shape: number[];
}

/** A parameter's gradient: the dense tensor, or (dense kernels) its factors. */
export type Gradient = tf.Tensor | GradientFactors;
/** Gradients by parameter name; plain Params are Gradients with every entry dense. */
export type Gradients = Record<string, Gradient>;

export function isFactors(g: Gradient): g is GradientFactors {
  return !(g instanceof tf.Tensor);
}

/** The gradient as a tensor of the kernel's shape (a new tensor either way). */
export function densify(g: Gradient): tf.Tensor {
  if (!isFactors(g)) return g.clone();
  return tf.tidy(() => tf.reshape(tf.matMul(g.x, g.d, true, false), g.shape));
}

export function disposeGradients(g: Gradients | null | undefined): void {
  if (!g) return;
  for (const v of Object.values(g)) {
    if (isFactors(v)) tf.dispose([v.x, v.d]);
    else v.dispose();
  }
}

export function cloneGradient(g: Gradient): Gradient {
  return isFactors(g) ? { x: g.x.clone(), d: g.d.clone(), shape: g.shape } : g.clone();
}

/**
 * a + b of two gradients on different minibatches; factors stack their rows (xᵀd + x'ᵀd' =
 * [x; x']ᵀ·[d; d']). Disposes both.
 */
export function addGradients(a: Gradients, b: Gradients): Gradients {
  const out: Gradients = {};
  for (const k of Object.keys(b)) {
    const u = a[k];
    const v = b[k];
    if (isFactors(u) && isFactors(v))
      out[k] = { x: tf.concat([u.x, v.x]), d: tf.concat([u.d, v.d]), shape: v.shape };
    else out[k] = tf.tidy(() => tf.add(isFactors(u) ? densify(u) : u, isFactors(v) ? densify(v) : v));
  }
  disposeGradients(a);
  disposeGradients(b);
  return out;
}

/**
 * s·g, disposing g. Factors whose rows outnumber what the dense kernel holds (many minibatches
 * averaged) become the dense kernel: past that size the factors save neither memory nor time.
 */
export function scaleGradients(g: Gradients, s: number): Gradients {
  const out: Gradients = {};
  for (const [k, v] of Object.entries(g)) {
    if (!isFactors(v)) {
      out[k] = tf.mul(v, s);
      v.dispose();
      continue;
    }
    const f = { x: v.x, d: tf.mul(v.d, s) as tf.Tensor2D, shape: v.shape };
    v.d.dispose();
    if (factorSize(f) < denseSize(f)) out[k] = f;
    else {
      out[k] = densify(f);
      tf.dispose([f.x, f.d]);
    }
  }
  return out;
}

const factorSize = (f: GradientFactors): number => f.x.size + f.d.size;
const denseSize = (f: GradientFactors): number => f.shape.reduce((a, b) => a * b, 1);

/**
 * A gradient with every permutation of the spec applied except on `exceptAxis`: a dense one as
 * getPermutedParam does it, factors by permuting the columns of x (the kernel's input axes, x seen
 * as [m, ...shape without its last axis]) and of d (its output axis).
 */
export function permuteGradient(
  spec: PermutationSpec,
  perm: Permutation,
  name: string,
  g: Gradient,
  exceptAxis?: number,
): Gradient {
  if (!isFactors(g)) return getPermutedParam(spec, perm, name, { [name]: g }, exceptAxis);
  const last = g.shape.length - 1;
  const { x, d } = tf.tidy(() => {
    let x: tf.Tensor = g.x;
    let d: tf.Tensor = g.d;
    (spec.axes[name] ?? []).forEach((p, axis) => {
      if (p === null || axis === exceptAxis || isIdentity(perm[p])) return;
      const idx = tf.tensor1d(perm[p], 'int32');
      if (axis === last) d = tf.gather(d, idx, 1);
      else {
        const full = tf.reshape(x, [x.shape[0], ...g.shape.slice(0, last)]);
        x = tf.reshape(tf.gather(full, idx, axis + 1), x.shape);
      }
    });
    return { x: (x === g.x ? x.clone() : x) as tf.Tensor2D, d: (d === g.d ? d.clone() : d) as tf.Tensor2D };
  });
  return { x, d, shape: g.shape };
}
