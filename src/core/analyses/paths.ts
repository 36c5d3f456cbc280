import { lerpParams, disposeParams, type Params } from '../params.js';
import type { EvalResult, PathResult } from '../../shared/domain/index.js';

/** Validation accuracy and loss of parameters (the caller's; not disposed). */
export type Evaluator = (params: Params) => Promise<EvalResult>;

/** α_0..α_{n−1} evenly spaced over [0, 1], both ends exact. */
export function alphas(points: number): number[] {
  if (!Number.isInteger(points) || points < 2)
    throw new Error(`a path needs at least 2 points, got ${points}`);
  return Array.from({ length: points }, (_, i) => (i === points - 1 ? 1 : i / (points - 1)));
}

/** max loss on the path − the mean of its two ends' losses (Frankle et al. 2020). */
export function barrierHeight(losses: readonly number[]): number {
  if (losses.length === 0) return NaN;
  const ends = (losses[0] + losses[losses.length - 1]) / 2;
  return Math.max(...losses) - ends;
}

/**
 * Loss and accuracy along the segment (1 − α)·a + α·b. The ends are evaluated as they are (not
 * as interpolations), so α = 0 and α = 1 equal the end points' own evaluations exactly.
 */
export async function linearPath(
  evaluate: Evaluator,
  a: Params,
  b: Params,
  points: number,
  opts: { onPoint?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<PathResult> {
  const alpha = alphas(points);
  const valLoss: number[] = [];
  const valAccuracy: number[] = [];
  for (let i = 0; i < alpha.length; i++) {
    opts.signal?.throwIfAborted();
    const at = alpha[i];
    let r: EvalResult;
    if (at === 0) r = await evaluate(a);
    else if (at === 1) r = await evaluate(b);
    else {
      const p = lerpParams(a, b, at);
      try {
        r = await evaluate(p);
      } finally {
        disposeParams(p);
      }
    }
    valLoss.push(r.loss);
    valAccuracy.push(r.accuracy);
    opts.onPoint?.(i + 1, alpha.length);
    // let the host breathe (progress, cancel) between points
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { alpha, valLoss, valAccuracy, barrier: barrierHeight(valLoss) };
}
