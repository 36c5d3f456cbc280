/**
 * An experiment as a small DAG of phase jobs: train the source, train each Oracle target, run each
 * method on each target. The source's and the targets' trainings are independent; a method needs
 * the source (and, for Oracle, its trained target). The job queue runs this plan across worker
 * processes or BullMQ workers; the engine runs one job (src/core/phase-jobs.ts).
 */
import { methodInfo, type MethodName } from './methods.js';
import { formatPhase, type PHASE_JOB_KINDS, type Phase, type PhaseId } from './phases.js';
import type { ExperimentSpec } from './spec/types.js';

/** One phase job: a phase that is a run the queue can run on its own (source, target, transfer). */
export type PhaseJob = Extract<Phase, { kind: (typeof PHASE_JOB_KINDS)[number] }>;

/**
 * Whether the queue runs the spec as ONE whole-experiment task (one worker, runExperiment) rather
 * than phase jobs: the analyses and the pretrain stage run only inside runExperiment.
 */
export function runsWhole(spec: ExperimentSpec): boolean {
  const a = spec.analyses;
  const anyAnalysis = !!a && !!(a.finetune || a.paths || a.plane || a.assumptionP || a.ensembles);
  return anyAnalysis || !!spec.pretrain;
}

export interface PlannedPhase {
  phase: PhaseId;
  job: PhaseJob;
  /** phases of the same experiment that must be done first */
  after: PhaseId[];
}

/**
 * The phase jobs still to run. The source job always runs (a cache hit on resume) because it also
 * measures what every result needs: the data, the model, each target's initial accuracy.
 */
export function planPhases(
  spec: ExperimentSpec,
  finished: (target: number, method: MethodName) => boolean = () => false,
): PlannedPhase[] {
  const job = (j: PhaseJob, after: PhaseId[] = []): PlannedPhase => ({
    phase: formatPhase(j),
    job: j,
    after,
  });
  const source = job({ kind: 'source' });
  const plan: PlannedPhase[] = [source];
  spec.targets.forEach((_, target) => {
    const open = spec.transfer.methods.filter((m) => !finished(target, m));
    const trained = job({ kind: 'target', target });
    if (open.some((m) => methodInfo(m)?.needsTrainedTarget)) plan.push(trained);
    for (const method of open)
      plan.push(
        job({ kind: 'transfer', target, method }, [
          source.phase,
          ...(methodInfo(method)?.needsTrainedTarget ? [trained.phase] : []),
        ]),
      );
  });
  return plan;
}
