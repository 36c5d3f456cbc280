import type { ExperimentSpec } from './spec/types.js';

/** What one analysis adds to an experiment, in the units the cost model uses. */
export interface AnalysisCostLine {
  analysis: 'finetune' | 'scratch' | 'paths' | 'plane' | 'assumptionP' | 'ensembles';
  /** minibatch gradient evaluations (training steps) */
  gradients: number;
  /** evaluations of one parameter vector on `evalExamples` validation examples */
  evaluations: number;
  /** what the numbers count, for the wizard */
  detail: string;
}

export interface AnalysesCost {
  lines: AnalysisCostLine[];
  gradients: number;
  evaluations: number;
  /** validation examples per path/plane evaluation */
  evalExamples: number;
}

/**
 * The extra cost of a spec's analyses over the transfer itself: training steps of subsequent
 * training, the scratch baseline and the trainings Assumption (P) and the ensembles need, and
 * the number of validation passes the paths and the plane make. `trainCount` and `valCount`
 * are the split sizes.
 */
export function estimateAnalysesCost(
  spec: ExperimentSpec,
  trainCount: number,
  valCount: number,
): AnalysesCost {
  const a = spec.analyses;
  const lines: AnalysisCostLine[] = [];
  const targets = spec.targets.length;
  const methods = spec.transfer.methods.length;
  const src = spec.source.train;
  const steps = (epochs: number, bs: number): number => epochs * Math.ceil(trainCount / bs);
  const oracleTrains = spec.transfer.methods.includes('oracle');
  const limit = a?.evalLimit || spec.evalLimit;
  const evalExamples = limit > 0 ? Math.min(limit, valCount) : valCount;
  if (a?.finetune) {
    const ft = a.finetune;
    lines.push({
      analysis: 'finetune',
      gradients: targets * methods * steps(ft.epochs, ft.batchSize ?? src.batchSize),
      evaluations: 0,
      detail: `${targets} × ${methods} fine-tunings of ${ft.epochs} epochs`,
    });
    if (ft.scratch)
      lines.push({
        analysis: 'scratch',
        gradients: targets * steps(ft.epochs, src.batchSize),
        evaluations: 0,
        detail: `${targets} trainings from scratch of ${ft.epochs} epochs`,
      });
  }
  const trainedTargets = !!(a?.plane || a?.assumptionP || a?.ensembles);
  if (a?.paths) {
    const legs = (trainedTargets || oracleTrains ? 2 : 1) * (a.finetune ? 2 : 1);
    lines.push({
      analysis: 'paths',
      gradients: 0,
      evaluations: targets * methods * legs * a.paths.points,
      detail: `${targets} × ${methods} × ${legs} paths of ${a.paths.points} points`,
    });
  }
  if (a?.plane)
    lines.push({
      analysis: 'plane',
      gradients: 0,
      evaluations: targets * a.plane.grid * a.plane.grid,
      detail: `${targets} planes of ${a.plane.grid}×${a.plane.grid} points`,
    });
  // Targets trained for the analyses alone (Oracle trains them anyway; one training serves both,
  // with checkpoints kept when Assumption (P) needs them).
  const extraTargetTrainings = trainedTargets && !oracleTrains ? targets : 0;
  if (extraTargetTrainings)
    lines.push({
      analysis: a?.ensembles ? 'ensembles' : a?.assumptionP ? 'assumptionP' : 'plane',
      gradients: extraTargetTrainings * steps(src.epochs, src.batchSize),
      evaluations: 0,
      detail: `${targets} target(s) trained directly with the source's settings (Oracle does not run)`,
    });
  const widths = a?.assumptionP?.widths.length ?? 0;
  if (widths)
    lines.push({
      analysis: 'assumptionP',
      gradients: 2 * widths * steps(src.epochs, src.batchSize),
      evaluations: 0,
      detail: `a source and a target trained with checkpoints at each of ${widths} widths`,
    });
  return {
    lines,
    gradients: lines.reduce((s, l) => s + l.gradients, 0),
    evaluations: lines.reduce((s, l) => s + l.evaluations, 0),
    evalExamples,
  };
}
