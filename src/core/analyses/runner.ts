import type { Dataset } from '../data/dataset.js';
import { oraclePermutation } from '../methods/oracle.js';
import type { MethodRun } from '../methods/run-method.js';
import { transferredAt } from '../methods/context.js';
import { buildModel, type Model } from '../models/index.js';
import { cloneParams, disposeParams, type Params } from '../params.js';
import { applyPermutation, identityPermutation, type Permutation } from '../permutation.js';
import {
  type EngineEvent,
  type MethodResult,
  type TargetResult,
  type ArchSpec,
  type ExperimentSpec,
  type InitSpec,
  type MethodName,
  type TrainSpec,
  type AnalysesSpec,
  type AssumptionPResult,
  type EnsembleEntry,
  type EnsemblesResult,
  type PathsResult,
  phaseId,
  initLabel,
} from '../../shared/domain/index.js';
import { trainModel } from '../train.js';
import type { Trajectory } from '../trajectory.js';
import type { MatchOptions } from '../weight-matching.js';
import { assumptionPCurves } from './assumption-p.js';
import { SoftmaxEnsemble } from './ensembles.js';
import { evaluateParams, type PrepareParams } from './evaluate-params.js';
import { epochsSaved, finetuneCurve, trainCurve } from './finetune.js';
import { linearPath, type Evaluator } from './paths.js';
import { permutationDiagnostics } from './permutation-diagnostics.js';
import { lossPlane } from './plane.js';

/** What the experiment must provide for the analyses a spec asks for. */
export function analysesNeeds(spec: ExperimentSpec): {
  trainedTarget: boolean;
  sourceCheckpoints: boolean;
  targetCheckpoints: boolean;
} {
  const a = spec.analyses;
  return {
    trainedTarget: !!(a?.plane || a?.assumptionP || a?.ensembles),
    sourceCheckpoints: !!a?.assumptionP,
    targetCheckpoints: !!a?.assumptionP,
  };
}

/** The model of the experiment at another width (Assumption (P) over widths, paper Fig. 3a). */
export function archAtWidth(arch: ArchSpec, width: number): ArchSpec {
  switch (arch.arch) {
    case 'mlp':
      return { arch: 'mlp', hidden: arch.hidden.map(() => width) };
    case 'conv8':
      return { arch: 'conv8', width };
    default:
      throw new Error(`a width sweep needs an mlp or conv8 model (a ${arch.arch} has no single width)`);
  }
}

export interface AnalysesEnv {
  spec: ExperimentSpec;
  model: Model;
  data: Dataset;
  trajectory: Trajectory;
  /** θ1^0..θ1^E (with checkpoints) or [θ1^0, θ1^T]; the experiment's */
  sourcePoints: readonly Params[];
  emit: (e: EngineEvent) => void;
  signal?: AbortSignal;
  /** the BN re-estimation hook for parameters no training produced */
  prepare?: PrepareParams;
}

export interface TargetState {
  index: number;
  result: TargetResult;
  theta20: Params;
  /** θ2^T trained with the source's settings */
  trained?: Params;
  /** θ2^0..θ2^E when trained with checkpoints */
  trainedPoints?: readonly Params[];
  match: MatchOptions;
}

interface EnsembleSlot {
  entry: Omit<EnsembleEntry, 'valAccuracy' | 'testAccuracy' | 'memberTestAccuracy' | 'members'>;
  val: SoftmaxEnsemble;
  test: SoftmaxEnsemble;
}

/**
 * Runs the paper's analyses (spec `analyses`) inside one experiment: the experiment calls it
 * before a target's methods, after each method (with the method's π_s and θ2^T) and after the
 * target, and collects the experiment-wide results at the end. Every evaluation goes through
 * `evaluateParams` (the BN hook); everything it creates it disposes.
 */
export class AnalysesRunner {
  private readonly a: AnalysesSpec;
  private readonly evaluate: Evaluator;
  private readonly ensembles = new Map<string, EnsembleSlot>();
  private readonly assumption: AssumptionPResult['targets'] = [];
  /** per current target: each method's π_T, and Oracle's π once known */
  private finalPerms: Partial<Record<MethodName, Permutation>> = {};
  private oracle: Permutation | null = null;

  constructor(private readonly env: AnalysesEnv) {
    if (!env.spec.analyses) throw new Error('AnalysesRunner: the spec has no analyses');
    this.a = env.spec.analyses;
    const limit = this.a.evalLimit || env.spec.evalLimit;
    this.evaluate = (p) =>
      evaluateParams(env.model, p, env.data, env.data.validation, { limit, prepare: env.prepare });
  }

  private phase<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    this.env.emit({ type: 'phase', phase: id, state: 'start' });
    return fn().then((r) => {
      this.env.emit({ type: 'phase', phase: id, state: 'done', seconds: (performance.now() - t0) / 1000 });
      return r;
    });
  }

  private progress(phase: string) {
    return (done: number, total: number, detail?: string): void =>
      this.env.emit({ type: 'progress', phase, done, total, detail });
  }

  private metric(phase: string, key: string, step: number, value: number): void {
    this.env.emit({ type: 'metric', phase, key, step, value });
  }

  private dataSeed(t: TargetState): number {
    return this.env.spec.source.train.dataSeed ?? t.result.init.seed ?? 0;
  }

  /** Oracle's π for the current target (from Oracle's run, else matched now), or null untrained. */
  private async oraclePerm(t: TargetState): Promise<Permutation | null> {
    if (this.oracle) return this.oracle;
    if (!t.trained) return null;
    this.oracle = await oraclePermutation(
      this.env.model.permSpec,
      this.env.trajectory,
      { start: t.theta20, end: t.trained },
      t.match,
    );
    return this.oracle;
  }

  private slot(key: string, entry: EnsembleSlot['entry']): EnsembleSlot {
    let s = this.ensembles.get(key);
    if (!s) {
      s = {
        entry,
        val: new SoftmaxEnsemble(this.env.model, this.env.data.validation),
        test: new SoftmaxEnsemble(this.env.model, this.env.data.test),
      };
      this.ensembles.set(key, s);
    }
    return s;
  }

  private addMember(
    key: string,
    entry: EnsembleSlot['entry'],
    params: Params,
    gradients: number,
    seconds: number,
  ) {
    const s = this.slot(key, entry);
    const ready = (this.env.prepare ?? ((_m, p) => ({ params: p, owned: false })))(
      this.env.model,
      params,
      this.env.data,
    );
    try {
      s.val.add(ready.params);
      s.test.add(ready.params);
    } finally {
      if (ready.owned) disposeParams(ready.params);
    }
    s.entry.gradientEvaluations += gradients;
    s.entry.seconds += seconds;
  }

  private trainingGradients(): number {
    const { epochs, batchSize } = this.env.spec.source.train;
    return epochs * Math.ceil(this.env.data.train.n / batchSize);
  }

  /** Before a target's methods: the scratch baseline and the trained target as an ensemble member. */
  async beginTarget(t: TargetState): Promise<void> {
    this.finalPerms = {};
    this.oracle = null;
    const ft = this.a.finetune;
    if (ft?.scratch) {
      const phase = phaseId.scratch(t.index);
      const curve = await this.phase(phase, () =>
        trainCurve(
          this.env.model,
          t.theta20,
          this.env.data,
          {
            ...this.env.spec.source.train,
            epochs: ft.epochs,
            checkpoints: false,
            dataSeed: this.dataSeed(t),
          },
          {
            seed: this.dataSeed(t),
            evalLimit: this.env.spec.evalLimit,
            prepare: this.env.prepare,
            signal: this.env.signal,
            onProgress: this.progress(phase),
            onEpoch: (e, acc, loss) => {
              this.metric(phase, 'valAccuracy', e, acc);
              this.metric(phase, 'valLoss', e, loss);
            },
          },
        ),
      );
      disposeParams(curve.final);
      const { final: _f, ...scratch } = curve;
      t.result.scratch = scratch;
    }
    if (this.a.ensembles && t.trained) {
      this.addMember(
        'trained',
        { kind: 'trained', finetuned: false, gradientEvaluations: 0, seconds: 0 },
        t.trained,
        this.trainingGradients(),
        t.result.trained?.seconds ?? 0,
      );
    }
  }

  /**
   * After one method on the current target: fine-tuning, paths, permutation diagnostics, the
   * plane (for the plane's method) and ensemble members. Writes into `result`; `run` stays the
   * caller's. A method reused from an earlier attempt (no `run`) keeps what it had.
   */
  async afterMethod(
    t: TargetState,
    m: MethodName,
    run: MethodRun | null,
    result: MethodResult,
  ): Promise<void> {
    if (!run) {
      if (this.a.finetune || this.a.paths || this.a.ensembles || this.a.plane?.method === m)
        this.env.emit({
          type: 'log',
          level: 'warn',
          message: `analyses of ${m} on target ${t.index + 1}: reused from an earlier attempt without its parameters; not recomputed`,
        });
      return;
    }
    const { model, trajectory, data } = this.env;
    const T = trajectory.T;
    const piT = run.perms[T - 1];
    this.finalPerms[m] = piT;
    if (m === 'oracle') this.oracle = piT;

    const startStep = (from: 'best' | 'final'): number => (from === 'best' ? result.bestStep : T);
    const pointAt = (s: number): Params =>
      s === T
        ? cloneParams(run.final)
        : s === 0
          ? cloneParams(t.theta20)
          : transferredAt({ model, trajectory, theta20: t.theta20 }, s, run.perms[s - 1]);
    const owned: Params[] = [];
    try {
      let tuned: Params | null = null;
      const ft = this.a.finetune;
      if (ft) {
        const fromStep = startStep(ft.from);
        const start = pointAt(fromStep);
        owned.push(start);
        const phase = phaseId.finetune(t.index, m);
        const curve = await this.phase(phase, () =>
          finetuneCurve(model, start, data, ft, this.env.spec.source.train.batchSize, {
            seed: this.dataSeed(t),
            evalLimit: this.env.spec.evalLimit,
            prepare: this.env.prepare,
            signal: this.env.signal,
            onProgress: this.progress(phase),
            onEpoch: (e, acc, loss) => {
              this.metric(phase, 'valAccuracy', e, acc);
              this.metric(phase, 'valLoss', e, loss);
            },
          }),
        );
        tuned = curve.final;
        owned.push(tuned);
        const scratchFinal = t.result.scratch?.valAccuracy.at(-1) ?? NaN;
        result.finetune = {
          fromStep,
          valAccuracy: curve.valAccuracy,
          valLoss: curve.valLoss,
          testAccuracy: curve.testAccuracy,
          ...epochsSaved(curve.valAccuracy, scratchFinal),
          seconds: curve.seconds,
          gradientEvaluations: curve.gradientEvaluations,
        };
      }

      const needsSource = !!this.a.paths || (this.a.plane?.method === m && !!t.trained);
      const permSource = needsSource ? applyPermutation(model.permSpec, piT, trajectory.end) : null;
      if (permSource) owned.push(permSource);

      if (this.a.paths && permSource) {
        const points = this.a.paths.points;
        const phase = phaseId.paths(t.index, m);
        const legs = (t.trained ? 2 : 1) * (tuned ? 2 : 1);
        let leg = 0;
        const path = (a: Params, b: Params) => {
          const base = leg++ * points;
          return linearPath(this.evaluate, a, b, points, {
            signal: this.env.signal,
            onPoint: (d) => this.progress(phase)(base + d, legs * points),
          });
        };
        result.paths = await this.phase(phase, async () => {
          const out: PathsResult = { toSource: await path(run.final, permSource) };
          if (t.trained) out.toTrained = await path(run.final, t.trained);
          if (tuned) {
            out.finetuned = { toSource: await path(tuned, permSource) };
            if (t.trained) out.finetuned.toTrained = await path(tuned, t.trained);
          }
          return out;
        });
      }

      if (m === 'gmt' || m === 'fgmt') {
        result.permutation = permutationDiagnostics(
          run.perms,
          run.objectives,
          (await this.oraclePerm(t)) ?? undefined,
        );
      }

      const pl = this.a.plane;
      if (pl && pl.method === m && t.trained && permSource) {
        const usesTuned = pl.from === 'finetuned' && tuned !== null;
        const phase = phaseId.plane(t.index);
        t.result.plane = await this.phase(phase, () =>
          lossPlane(
            this.evaluate,
            { transferred: usesTuned ? tuned! : run.final, trained: t.trained!, source: permSource },
            {
              method: m,
              from: usesTuned ? 'finetuned' : 'transferred',
              grid: pl.grid,
              margin: pl.margin,
              signal: this.env.signal,
              onPoint: this.progress(phase),
            },
          ),
        );
      }

      const en = this.a.ensembles;
      if (en) {
        const extra = result.method === 'oracle' ? this.trainingGradients() : 0;
        const extraSeconds = result.method === 'oracle' ? (t.result.trained?.seconds ?? 0) : 0;
        const member = pointAt(startStep(en.from));
        owned.push(member);
        this.addMember(
          m,
          { kind: m, method: m, finetuned: false, gradientEvaluations: 0, seconds: 0 },
          member,
          result.gradientEvaluations + extra,
          result.seconds + extraSeconds,
        );
        if (tuned && result.finetune) {
          this.addMember(
            `${m} + finetune`,
            { kind: `${m} + finetune`, method: m, finetuned: true, gradientEvaluations: 0, seconds: 0 },
            tuned,
            result.gradientEvaluations + extra + result.finetune.gradientEvaluations,
            result.seconds + extraSeconds + result.finetune.seconds,
          );
        }
      }
    } finally {
      for (const p of owned) disposeParams(p);
    }
  }

  /** After a target's methods: Assumption (P) with the actual checkpoints of both trainings. */
  async endTarget(t: TargetState): Promise<void> {
    if (!this.a.assumptionP) return;
    const src = this.env.sourcePoints;
    const tgt = t.trainedPoints;
    if (!tgt || tgt.length !== src.length || src.length < 2) {
      this.env.emit({
        type: 'log',
        level: 'warn',
        message: `Assumption (P) on target ${t.index + 1}: needs the checkpoints of both trainings; skipped`,
      });
      return;
    }
    await this.phase(phaseId.assumptionP, async () => {
      const perms: { name: string; perm: Permutation }[] = [
        { name: 'identity', perm: identityPermutation(this.env.model.permSpec) },
      ];
      const oracle = await this.oraclePerm(t);
      if (oracle) perms.push({ name: 'oracle', perm: oracle });
      for (const [m, p] of Object.entries(this.finalPerms))
        if (m !== 'naive' && m !== 'oracle' && p) perms.push({ name: m, perm: p });
      this.assumption.push({
        label: t.result.label,
        curves: assumptionPCurves(this.env.model.permSpec, src, tgt, perms),
      });
    });
  }

  /** The experiment-wide results: Assumption (P) (with its width sweep) and the ensembles. */
  async finish(): Promise<{ assumptionP?: AssumptionPResult; ensembles?: EnsemblesResult }> {
    const out: { assumptionP?: AssumptionPResult; ensembles?: EnsemblesResult } = {};
    const ap = this.a.assumptionP;
    if (ap) {
      const epochs = this.env.spec.source.train.epochs;
      out.assumptionP = {
        steps: Array.from({ length: epochs }, (_, i) => i + 1),
        targets: this.assumption,
      };
      if (ap.widths.length)
        out.assumptionP.widths = await this.phase(phaseId.assumptionP, () => this.widthSweep(ap.widths));
    }
    if (this.a.ensembles) {
      const entries: EnsembleEntry[] = [];
      for (const s of this.ensembles.values()) {
        entries.push({
          ...s.entry,
          members: s.test.members,
          valAccuracy: s.val.accuracy(),
          testAccuracy: s.test.accuracy(),
          memberTestAccuracy: s.test.memberAccuracy.reduce((a, b) => a + b, 0) / Math.max(1, s.test.members),
        });
      }
      out.ensembles = { from: this.a.ensembles.from, entries };
    }
    return out;
  }

  /** Paper Fig. 3a: identity and Oracle's π at each width, source and first target retrained with checkpoints. */
  private async widthSweep(widths: number[]): Promise<NonNullable<AssumptionPResult['widths']>> {
    const { spec, data } = this.env;
    const train: TrainSpec = { ...spec.source.train, checkpoints: true };
    const rows: NonNullable<AssumptionPResult['widths']> = [];
    for (const width of widths) {
      this.env.signal?.throwIfAborted();
      const arch = archAtWidth(spec.model, width);
      const model = buildModel(arch, data.inputShape, data.classes);
      const targetInit = spec.targets[0].init;
      const src = await this.trainAtWidth(model, spec.source.init, train);
      let tgt: { points: Params[] } | null = null;
      try {
        tgt = {
          points: await this.trainAtWidth(model, targetInit, {
            ...train,
            dataSeed: spec.source.train.dataSeed ?? targetInit.seed,
          }),
        };
        const oracle = await oraclePermutation(
          model.permSpec,
          { start: src[0], end: src[src.length - 1] },
          { start: tgt.points[0], end: tgt.points[tgt.points.length - 1] },
          {
            tolerance: spec.transfer.matchTolerance,
            maxIter: spec.transfer.matchMaxIter,
            seed: spec.transfer.seed,
          },
        );
        rows.push({
          width,
          curves: assumptionPCurves(model.permSpec, src, tgt.points, [
            { name: 'identity', perm: identityPermutation(model.permSpec) },
            { name: 'oracle', perm: oracle },
          ]),
        });
      } finally {
        for (const p of src) disposeParams(p);
        for (const p of tgt?.points ?? []) disposeParams(p);
      }
    }
    return rows;
  }

  /**
   * θ^0..θ^E of one training at another width, trained here rather than through the experiment's
   * cache: these networks are the sweep's own, not the experiment's source or targets.
   */
  private async trainAtWidth(model: Model, init: InitSpec, train: TrainSpec): Promise<Params[]> {
    const theta0 = model.init(init.seed ?? 0);
    try {
      const res = await trainModel(model, theta0, this.env.data, train, {
        seed: train.dataSeed ?? init.seed ?? 0,
        checkpoints: true,
        evalLimit: this.env.spec.evalLimit,
        signal: this.env.signal,
        onProgress: (done, total, info) =>
          this.progress(phaseId.assumptionP)(
            done,
            total,
            `width ${model.describe}, ${initLabel(init)}: epoch ${info.epoch + 1}/${train.epochs}`,
          ),
      });
      disposeParams(res.final);
      return [theta0, ...res.checkpoints];
    } catch (e) {
      disposeParams(theta0);
      throw e;
    }
  }

  dispose(): void {
    for (const s of this.ensembles.values()) {
      s.val.dispose();
      s.test.dispose();
    }
    this.ensembles.clear();
  }
}
