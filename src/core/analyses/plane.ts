import * as tf from '@tensorflow/tfjs';
import { disposeParams, type Params } from '../params.js';
import type { Evaluator } from './paths.js';
import type { PlanePointName, PlaneResult } from '../../shared/domain/index.js';

/**
 * The plane through three parameter vectors w1, w2, w3 as in Garipov et al. 2018: origin w1,
 * u = (w2 − w1)/‖w2 − w1‖, v = the part of w3 − w1 orthogonal to u, normalised. A point
 * (x, y) of the plane is w1 + x·u + y·v; the three points sit at (0, 0), (‖w2 − w1‖, 0) and
 * ((w3 − w1)·u, (w3 − w1)·v).
 */
export interface PlaneBasis {
  origin: Params;
  u: Params;
  v: Params;
  /** coordinates of w1, w2, w3 */
  coords: [[number, number], [number, number], [number, number]];
  dispose(): void;
}

function dot(a: Params, b: Params): number {
  return tf.tidy(() => {
    let s: tf.Tensor = tf.scalar(0);
    for (const k of Object.keys(a)) s = tf.add(s, tf.sum(tf.mul(a[k], b[k])));
    return s.dataSync()[0];
  });
}

function combine(terms: [Params, number][]): Params {
  const out: Params = {};
  for (const k of Object.keys(terms[0][0])) {
    out[k] = tf.tidy(() => {
      let acc: tf.Tensor = tf.mul(terms[0][0][k], terms[0][1]);
      for (const [p, c] of terms.slice(1)) acc = tf.add(acc, tf.mul(p[k], c));
      return acc;
    });
  }
  return out;
}

export function planeBasis(w1: Params, w2: Params, w3: Params): PlaneBasis {
  const d2 = combine([
    [w2, 1],
    [w1, -1],
  ]);
  const d3 = combine([
    [w3, 1],
    [w1, -1],
  ]);
  try {
    const n2 = Math.sqrt(dot(d2, d2));
    if (!(n2 > 0)) throw new Error('the plane needs three distinct points (the first two coincide)');
    const u = combine([[d2, 1 / n2]]);
    const x3 = dot(d3, u);
    const r = combine([
      [d3, 1],
      [u, -x3],
    ]);
    const nr = Math.sqrt(dot(r, r));
    if (!(nr > 0)) {
      disposeParams(u);
      disposeParams(r);
      throw new Error('the plane needs three points not on one line');
    }
    const v = combine([[r, 1 / nr]]);
    disposeParams(r);
    const origin: Params = {};
    for (const k of Object.keys(w1)) origin[k] = w1[k].clone();
    return {
      origin,
      u,
      v,
      coords: [
        [0, 0],
        [n2, 0],
        [x3, nr],
      ],
      dispose() {
        disposeParams(origin);
        disposeParams(u);
        disposeParams(v);
      },
    };
  } finally {
    disposeParams(d2);
    disposeParams(d3);
  }
}

/** origin + x·u + y·v */
export function planePoint(basis: PlaneBasis, x: number, y: number): Params {
  return combine([
    [basis.origin, 1],
    [basis.u, x],
    [basis.v, y],
  ]);
}

/** `n` evenly spaced values covering [lo, hi] widened by `margin`·(hi − lo) on each side. */
export function gridAxis(lo: number, hi: number, n: number, margin: number): number[] {
  const span = hi - lo || 1;
  const a = lo - margin * span;
  const b = hi + margin * span;
  return Array.from({ length: n }, (_, i) => (n === 1 ? (a + b) / 2 : a + ((b - a) * i) / (n - 1)));
}

/**
 * Validation loss and accuracy on a grid × grid lattice of the plane through the method's point
 * (`transferred`), the trained target and the permuted source.
 */
export async function lossPlane(
  evaluate: Evaluator,
  points: Record<PlanePointName, Params>,
  opts: {
    method: PlaneResult['method'];
    from: PlaneResult['from'];
    grid: number;
    margin: number;
    onPoint?: (done: number, total: number) => void;
    signal?: AbortSignal;
  },
): Promise<PlaneResult> {
  const basis = planeBasis(points.transferred, points.trained, points.source);
  try {
    const xs = basis.coords.map((c) => c[0]);
    const ys = basis.coords.map((c) => c[1]);
    const u = gridAxis(Math.min(...xs), Math.max(...xs), opts.grid, opts.margin);
    const v = gridAxis(Math.min(...ys), Math.max(...ys), opts.grid, opts.margin);
    const valLoss: number[][] = [];
    const valAccuracy: number[][] = [];
    let done = 0;
    for (let j = 0; j < v.length; j++) {
      const lossRow: number[] = [];
      const accRow: number[] = [];
      for (let i = 0; i < u.length; i++) {
        opts.signal?.throwIfAborted();
        const p = planePoint(basis, u[i], v[j]);
        try {
          const r = await evaluate(p);
          lossRow.push(r.loss);
          accRow.push(r.accuracy);
        } finally {
          disposeParams(p);
        }
        opts.onPoint?.(++done, u.length * v.length);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      valLoss.push(lossRow);
      valAccuracy.push(accRow);
    }
    return {
      method: opts.method,
      from: opts.from,
      u,
      v,
      valLoss,
      valAccuracy,
      points: { transferred: basis.coords[0], trained: basis.coords[1], source: basis.coords[2] },
    };
  } finally {
    basis.dispose();
  }
}
