import { lerpParams, type Params, cloneParams } from './params.js';

/**
 * λ_0..λ_T of a linear trajectory θ^t = (1 − λ_t)θ^0 + λ_t θ^T.
 * cosine (authors' code): λ_k = Σ_{t<k}(1 + cos(πt/T)) / Σ_{t<T}(1 + cos(πt/T)), which tracks a
 * cosine-annealed learning rate; uniform: λ_k = k/T (paper v2).
 */
export function lambdas(T: number, schedule: 'cosine' | 'uniform'): number[] {
  if (!Number.isInteger(T) || T < 1) throw new Error(`T must be a positive integer, got ${T}`);
  if (schedule === 'uniform') return Array.from({ length: T + 1 }, (_, k) => k / T);
  const alpha = Array.from({ length: T }, (_, t) => 1 + Math.cos((Math.PI * t) / T));
  const Z = alpha.reduce((a, b) => a + b, 0);
  const out = [0];
  let acc = 0;
  for (let k = 1; k <= T; k++) {
    acc += alpha[k - 1];
    out.push(k === T ? 1 : acc / Z);
  }
  return out;
}

/**
 * A source trajectory θ1^0..θ1^T. `at(t)` returns fresh tensors the caller disposes: a linear
 * trajectory is stored as its two end points only, which is its whole point (storage).
 */
export interface Trajectory {
  readonly T: number;
  readonly kind: 'linear' | 'actual';
  at(t: number): Params;
  /** θ1^0, owned by the trajectory */
  readonly start: Params;
  /** θ1^T, owned by the trajectory */
  readonly end: Params;
}

export function linearTrajectory(
  start: Params,
  end: Params,
  T: number,
  schedule: 'cosine' | 'uniform',
): Trajectory {
  const lam = lambdas(T, schedule);
  return {
    T,
    kind: 'linear',
    start,
    end,
    at(t) {
      if (t === 0) return cloneParams(start);
      if (t === T) return cloneParams(end);
      return lerpParams(start, end, lam[t]);
    },
  };
}

/** The saved checkpoints θ^0 (the init), θ^1..θ^T (one per epoch). */
export function actualTrajectory(points: Params[]): Trajectory {
  if (points.length < 2)
    throw new Error('an actual trajectory needs the initial parameters and at least one checkpoint');
  return {
    T: points.length - 1,
    kind: 'actual',
    start: points[0],
    end: points[points.length - 1],
    at(t) {
      return cloneParams(points[t]);
    },
  };
}
