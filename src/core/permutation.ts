import * as tf from '@tensorflow/tfjs';
import type { Params } from './params.js';

/**
 * A model's permutation symmetry as data (Git Re-Basin's "permutation spec"). A model declares,
 * for each parameter, which permutation acts on each of its axes; everything else — the reverse
 * map, the sizes, applying a permutation, weight matching — is derived here, so no method ever
 * knows which architecture it is working on.
 */
export interface PermutationSpec {
  /** parameter name → for each axis, the permutation acting on it or null */
  axes: Record<string, (string | null)[]>;
  /** permutation name → the (parameter, axis) pairs it acts on; derived from `axes` */
  perms: Record<string, { param: string; axis: number }[]>;
  /** permutation name → number of units it permutes */
  sizes: Record<string, number>;
  /**
   * parameters that are permuted with the others but never matched: BatchNorm running statistics,
   * which carry no gradient and are re-estimated after a transfer
   */
  buffers?: string[];
}

/** perm[p][i] = the source unit that lands at position i (so permuted = gather(source, perm, axis)). */
export type Permutation = Record<string, Int32Array>;

export function makePermutationSpec(
  axes: Record<string, (string | null)[]>,
  shapes: Record<string, number[]>,
  buffers: string[] = [],
): PermutationSpec {
  const perms: PermutationSpec['perms'] = {};
  const sizes: PermutationSpec['sizes'] = {};
  for (const [param, ax] of Object.entries(axes)) {
    const shape = shapes[param];
    if (!shape) throw new Error(`permutation spec names parameter "${param}" that the model does not have`);
    if (shape.length !== ax.length) {
      throw new Error(
        `permutation spec for "${param}" lists ${ax.length} axes but the parameter has shape [${shape}]`,
      );
    }
    ax.forEach((p, axis) => {
      if (p === null) return;
      (perms[p] ??= []).push({ param, axis });
      if (sizes[p] === undefined) sizes[p] = shape[axis];
      else if (sizes[p] !== shape[axis]) {
        throw new Error(
          `permutation "${p}" acts on axes of different sizes (${sizes[p]} vs ${param}[${axis}] = ${shape[axis]})`,
        );
      }
    });
  }
  return buffers.length ? { axes, perms, sizes, buffers } : { axes, perms, sizes };
}

/** The (parameter, axis) pairs weight matching compares for a permutation: all but the buffers. */
export function matchedEntries(spec: PermutationSpec, p: string): { param: string; axis: number }[] {
  const list = spec.perms[p] ?? [];
  if (!spec.buffers?.length) return list;
  const skip = new Set(spec.buffers);
  return list.filter((e) => !skip.has(e.param));
}

export function identityPermutation(spec: PermutationSpec): Permutation {
  const out: Permutation = {};
  for (const [p, n] of Object.entries(spec.sizes)) {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    out[p] = a;
  }
  return out;
}

export function randomPermutation(
  spec: PermutationSpec,
  random: { permutation(n: number): Int32Array },
): Permutation {
  const out: Permutation = {};
  for (const [p, n] of Object.entries(spec.sizes)) out[p] = random.permutation(n);
  return out;
}

export function isIdentity(perm: Int32Array): boolean {
  for (let i = 0; i < perm.length; i++) if (perm[i] !== i) return false;
  return true;
}

export function invertPermutation(perm: Permutation): Permutation {
  const out: Permutation = {};
  for (const [p, a] of Object.entries(perm)) {
    const inv = new Int32Array(a.length);
    for (let i = 0; i < a.length; i++) inv[a[i]] = i;
    out[p] = inv;
  }
  return out;
}

/**
 * One parameter with every permutation applied to it, except on `exceptAxis` — the building
 * block of the weight-matching sweep.
 */
export function getPermutedParam(
  spec: PermutationSpec,
  perm: Permutation,
  name: string,
  params: Params,
  exceptAxis?: number,
): tf.Tensor {
  return tf.tidy(() => {
    let w = params[name];
    const axes = spec.axes[name] ?? [];
    axes.forEach((p, axis) => {
      if (p === null || axis === exceptAxis) return;
      const idx = perm[p];
      if (isIdentity(idx)) return;
      w = tf.gather(w, tf.tensor1d(idx, 'int32'), axis);
    });
    return w === params[name] ? w.clone() : w;
  });
}

/** π·θ: the function computed by the network is unchanged. Returns new tensors. */
export function applyPermutation(spec: PermutationSpec, perm: Permutation, params: Params): Params {
  const out: Params = {};
  for (const name of Object.keys(params)) out[name] = getPermutedParam(spec, perm, name, params);
  return out;
}
