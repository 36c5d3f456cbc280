/** What the engine reports: results of methods, trained networks and whole experiments. Types only. */
import type {
  AssumptionPResult,
  EnsemblesResult,
  FinetuneResult,
  PathsResult,
  PermutationDiagnostics,
  PlaneResult,
  ScratchResult,
} from './analyses.js';
import type { MethodName } from './methods.js';
import type { ExperimentSpec, TrainSpec } from './spec/types.js';

/** Which TensorFlow.js backend ran the numbers; reported with every result. */
export interface BackendInfo {
  name: string;
  /** tfjs core version and, for native/wasm backends, the backend package's version */
  version: string;
  threads: number;
  /** 'gpu' when the backend computes on a GPU */
  device: 'cpu' | 'gpu';
  simd?: boolean;
  /** the WebGPU adapter, in the driver's words (webgpu only) */
  adapter?: string;
  /** every backend considered, in order, and why it was or was not picked */
  tried?: BackendAttempt[];
  /** why better backends were skipped */
  notes: string[];
}

export interface BackendAttempt {
  backend: string;
  picked: boolean;
  reason: string;
}

export interface EvalResult {
  accuracy: number;
  loss: number;
}

export interface TrainedSummary {
  label: string;
  valAccuracy: number;
  valLoss: number;
  testAccuracy: number;
  seconds: number;
  /** true when the parameters came from a cache (a previous run) instead of being trained */
  reused?: boolean;
  /** the file θ^T was read from when it was trained elsewhere (`trained: { file }`) */
  fromFile?: string;
}

export interface MethodResult {
  method: MethodName;
  /** fractions in [0, 1], t = 0..T */
  valAccuracy: number[];
  valLoss: number[];
  /** test accuracy of θ2 at t = T */
  testAccuracy: number;
  /** t with the highest validation accuracy (early stopping) */
  bestStep: number;
  testAccuracyAtBest: number;
  seconds: number;
  /** seconds per phase: gradients, matching, evaluation, target training (Oracle) */
  phases: Record<string, number>;
  /** gradient evaluations used (each = one minibatch gradient of one network) */
  gradientEvaluations: number;
  /** analyses (spec `analyses`), when asked for */
  finetune?: FinetuneResult;
  paths?: PathsResult;
  permutation?: PermutationDiagnostics;
}

export interface TargetResult {
  label: string;
  init: ExperimentSpec['targets'][number]['init'];
  initial: EvalResult;
  /** θ2 actually trained with the source's settings (present when Oracle ran) */
  trained?: TrainedSummary;
  methods: Partial<Record<MethodName, MethodResult>>;
  /** analyses: the scratch baseline of subsequent training, the loss plane */
  scratch?: ScratchResult;
  plane?: PlaneResult;
}

export interface ExperimentResult {
  formatVersion: 1;
  spec: ExperimentSpec;
  backend: BackendInfo;
  dataset: DatasetSummary;
  model: { arch: string; parameters: number; permutations: Record<string, number> };
  source: TrainedSummary;
  /** the pre-trained scenario: the pre-training task, the head choice and the pre-trained models */
  pretrain?: PretrainSummary;
  targets: TargetResult[];
  assumptionP?: AssumptionPResult;
  ensembles?: EnsemblesResult;
  seconds: number;
  startedAt: string;
  finishedAt: string;
}

export interface DatasetSummary {
  name: string;
  inputShape: number[];
  classes: number;
  classNames: string[];
  train: number;
  validation: number;
  test: number;
  /** sha256 over the files read, so a store can tell datasets apart */
  contentHash: string;
}

/** What one phase job (see phase-plan.ts) hands back: enough to assemble the experiment's result with the others. */
export interface PhaseOutput {
  phase: string;
  backend: BackendInfo;
  seconds: number;
  /** the source job: the data, the model, the source and each target's initial evaluation */
  run?: Pick<ExperimentResult, 'dataset' | 'model'> & { source: TrainedSummary; initial: EvalResult[] };
  /** a target job: the target trained directly */
  trained?: { target: number; summary: TrainedSummary };
  /** a transfer job */
  method?: { target: number; result: MethodResult };
  /** the whole-experiment task (analyses, a pretrain stage: see `runsWhole`): its result as it is */
  result?: ExperimentResult;
}

/** The pre-trained scenario's first stage, as run: the pre-training task, the head choice, the models. */
export interface PretrainSummary {
  /** the pre-training dataset's name (with its class subset) */
  dataset: string;
  classes: number;
  classNames: string[];
  /** "reinit": a new classifier per model for the task; "keep": the pre-trained one */
  head: 'reinit' | 'keep';
  train: TrainSpec;
  /** the pre-trained source and targets, evaluated on the pre-training task */
  source: TrainedSummary;
  targets: TrainedSummary[];
}
