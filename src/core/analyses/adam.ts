import * as tf from '@tensorflow/tfjs';
import { lossAndGrads, type StepRule } from '../train.js';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** decoupled weight decay (torch.optim.AdamW, what the authors' code used) instead of L2 (Adam) */
  decoupled?: boolean;
}

/**
 * Adam with torch.optim.Adam's semantics (amsgrad off): with g = ∇ + wd·θ (AdamW: θ ← θ·(1 − lr·wd)
 * instead), m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², and
 * θ ← θ − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps). The step count lives in the rule, so
 * make one rule per training run. State is [m…, v…] in parameter order.
 */
export function adamRule(opts: AdamOptions = {}): StepRule {
  const b1 = opts.beta1 ?? 0.9;
  const b2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? 0;
  let t = 0;
  return {
    step(model, names, theta, state, xb, yb, lr, _running, countHits) {
      t++;
      const { value, grads, hits } = lossAndGrads(model, names, theta, xb, yb, countHits);
      const n = theta.length;
      const bc1 = 1 - b1 ** t;
      const bc2Sqrt = Math.sqrt(1 - b2 ** t);
      const nextTheta: tf.Tensor[] = [];
      const m: tf.Tensor[] = [];
      const v: tf.Tensor[] = [];
      for (let i = 0; i < n; i++) {
        let p = theta[i];
        let g = grads[i];
        if (wd !== 0) {
          if (opts.decoupled) p = tf.mul(p, 1 - lr * wd);
          else g = tf.add(g, tf.mul(p, wd));
        }
        const mi = state ? tf.add(tf.mul(state[i], b1), tf.mul(g, 1 - b1)) : tf.mul(g, 1 - b1);
        const vi = state
          ? tf.add(tf.mul(state[n + i], b2), tf.mul(tf.square(g), 1 - b2))
          : tf.mul(tf.square(g), 1 - b2);
        const denom = tf.add(tf.div(tf.sqrt(vi), bc2Sqrt), eps);
        nextTheta.push(tf.sub(p, tf.mul(tf.div(mi, denom), lr / bc1)));
        m.push(mi);
        v.push(vi);
      }
      return { theta: nextTheta, state: [...m, ...v], loss: value, ...(hits ? { hits } : {}) };
    },
  };
}
