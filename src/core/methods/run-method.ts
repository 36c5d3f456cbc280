import { evaluate } from '../evaluate.js';
import { disposeParams, type Params } from '../params.js';
import type { Permutation } from '../permutation.js';
import type { MethodResult } from '../../shared/domain/index.js';
import { throwIfAborted, transferredForEval, type TransferContext, type TransferMethod } from './context.js';

export type RunMethodArgs = Pick<
  TransferContext,
  'model' | 'data' | 'trajectory' | 'theta20' | 'trained' | 'options' | 'signal'
> & {
  onProgress?: (done: number, total: number, detail?: string) => void;
  /** validation accuracy/loss of θ2^t as soon as it is known */
  onMetric?: (key: 'valAccuracy' | 'valLoss', step: number, value: number) => void;
};

export interface MethodRun {
  result: MethodResult;
  /** θ2^T (the caller's) */
  final: Params;
  /** π_1..π_T, so callers can rebuild any θ2^s or study the permutations */
  perms: Permutation[];
  /** the matching objective of each step that solved a matching (GMT/FGMT: one per step) */
  objectives: number[];
}

/**
 * Runs one method along the whole trajectory: θ2^s is evaluated on validation right after π_s is
 * known (so a host can draw the curve live), and at the end the test accuracy is measured at T
 * and at the best step by validation accuracy (early stopping).
 */
export async function runMethod(method: TransferMethod, args: RunMethodArgs): Promise<MethodRun> {
  const started = performance.now();
  const phases: Record<string, number> = {};
  let gradientEvaluations = 0;
  const objectives: number[] = [];
  const ctx: TransferContext = {
    model: args.model,
    data: args.data,
    trajectory: args.trajectory,
    theta20: args.theta20,
    trained: args.trained,
    options: args.options,
    signal: args.signal,
    time(phase, fn) {
      const t0 = performance.now();
      const add = (): void => {
        phases[phase] = (phases[phase] ?? 0) + (performance.now() - t0) / 1000;
      };
      let out;
      try {
        out = fn();
      } catch (e) {
        add();
        throw e;
      }
      // An asynchronous phase (a readback, a solve that waits for the device) counts until it settles.
      if (out instanceof Promise) return out.finally(add) as typeof out;
      add();
      return out;
    },
    countGradients(n) {
      gradientEvaluations += n;
    },
    progress(done, total, detail) {
      args.onProgress?.(done, total, detail);
    },
    recordObjective(score) {
      objectives.push(score);
    },
  };
  const limit = args.options.evalLimit;
  const valAccuracy: number[] = [];
  const valLoss: number[] = [];
  const record = async (t: number, params: Params): Promise<void> => {
    const r = await ctx.time('evaluation', () =>
      evaluate(args.model, params, args.data.validation, { limit }),
    );
    valAccuracy[t] = r.accuracy;
    valLoss[t] = r.loss;
    args.onMetric?.('valAccuracy', t, r.accuracy);
    args.onMetric?.('valLoss', t, r.loss);
  };
  await record(0, args.theta20);

  const T = args.trajectory.T;
  const perms: Permutation[] = [];
  let last: Params | null = null;
  try {
    for await (const perm of method.permutations(ctx)) {
      throwIfAborted(args.signal);
      const s = perms.length + 1;
      perms.push(perm);
      const theta2s = transferredForEval(ctx, s, perm);
      await record(s, theta2s);
      disposeParams(last);
      last = theta2s;
      if (method.gradientEvaluations(T, 1) === 0) args.onProgress?.(s, T, `step ${s}/${T}`);
    }
    if (perms.length !== T || !last)
      throw new Error(`${method.label} produced ${perms.length} permutations for T = ${T}`);

    let bestStep = 0;
    for (let t = 1; t <= T; t++) if (valAccuracy[t] > valAccuracy[bestStep]) bestStep = t;
    const testAccuracy = (await ctx.time('evaluation', () => evaluate(args.model, last!, args.data.test)))
      .accuracy;
    let testAccuracyAtBest = testAccuracy;
    if (bestStep !== T) {
      const best = bestStep === 0 ? null : transferredForEval(ctx, bestStep, perms[bestStep - 1]);
      testAccuracyAtBest = (
        await ctx.time('evaluation', () => evaluate(args.model, best ?? args.theta20, args.data.test))
      ).accuracy;
      disposeParams(best);
    }
    const result: MethodResult = {
      method: method.name,
      valAccuracy,
      valLoss,
      testAccuracy,
      bestStep,
      testAccuracyAtBest,
      seconds: (performance.now() - started) / 1000,
      phases,
      gradientEvaluations,
    };
    const final = last;
    last = null;
    return { result, final, perms, objectives };
  } finally {
    disposeParams(last);
  }
}
