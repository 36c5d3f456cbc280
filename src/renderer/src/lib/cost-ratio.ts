/**
 * How a transfer's compute compares with training the target directly, said honestly: a share
 * saved when it is cheaper, and a multiple when it costs more (GMT's T(T+1) gradients pass a
 * training's steps at large T: at T = 1000 it is tens of thousands of trainings' worth), never a
 * clamped "0 % saved". Plus a wall-clock estimate from seconds per gradient evaluation measured
 * on this machine.
 */
export interface CostRatio {
  /** gradients ÷ direct training's gradients */
  ratio: number;
  text: string;
  cheaper: boolean;
}

export function costRatio(gradients: number, direct: number): CostRatio | null {
  if (!(direct > 0) || !Number.isFinite(gradients)) return null;
  const ratio = gradients / direct;
  const pct = (x: number): string => `${(x * 100).toFixed(x > 0.999 || x < 0.001 ? 0 : 1)} %`;
  if (ratio <= 1) return { ratio, cheaper: true, text: `saves ${pct(1 - ratio)} (uses ${pct(ratio)})` };
  const times = ratio >= 100 ? Math.round(ratio).toLocaleString('en-US') : ratio.toFixed(ratio >= 10 ? 0 : 1);
  return {
    ratio,
    cheaper: false,
    text: `costs ${times}× the training (${Math.round(ratio * 100).toLocaleString('en-US')} %)`,
  };
}

/** Seconds per gradient evaluation from finished GMT/FGMT runs' measured gradient phase. */
export function secondsPerGradient(
  runs: readonly { summary: unknown }[],
): { seconds: number; samples: number } | null {
  let secs = 0;
  let grads = 0;
  let samples = 0;
  for (const r of runs) {
    const s = r.summary as { phases?: Record<string, number>; gradientEvaluations?: number } | null;
    const g = s?.gradientEvaluations ?? 0;
    const t = s?.phases?.gradients;
    if (g > 0 && typeof t === 'number' && t > 0) {
      secs += t;
      grads += g;
      samples++;
    }
  }
  return grads > 0 ? { seconds: secs / grads, samples } : null;
}
