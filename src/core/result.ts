import type { PretrainSummary } from './pretrain.js';
import type { ExperimentSpec, MethodName } from './spec.js';

/** Which TensorFlow.js backend ran the numbers; reported with every result. */
export interface BackendInfo {
  name: string;
  /** tfjs core version and, for native/wasm backends, the backend package's version */
  version: string;
  threads: number;
  /** 'gpu' when the backend computes on a GPU */
  device: 'cpu' | 'gpu';
  simd?: boolean;
  /** why better backends were skipped */
  notes: string[];
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
}

export interface TargetResult {
  label: string;
  init: ExperimentSpec['targets'][number]['init'];
  initial: EvalResult;
  /** θ2 actually trained with the source's settings (present when Oracle ran) */
  trained?: TrainedSummary;
  methods: Partial<Record<MethodName, MethodResult>>;
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

/**
 * Everything the engine tells its host while it works. The CLI draws these, the worker forwards
 * them to main, and the store persists the metric events.
 */
export type EngineEvent =
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'backend'; backend: BackendInfo }
  | { type: 'phase'; phase: PhaseId; state: 'start' | 'done' | 'reused'; seconds?: number }
  | { type: 'progress'; phase: PhaseId; done: number; total: number; detail?: string }
  | { type: 'metric'; phase: PhaseId; key: string; step: number; value: number }
  | { type: 'method-done'; target: number; result: MethodResult };

/**
 * Phases are addressed by kind and, where there are several, by target index:
 * 'source', 'target:0', 'transfer:0:gmt', 'data'.
 */
export type PhaseId = string;

export const phaseId = {
  data: 'data',
  source: 'source',
  target: (i: number) => `target:${i}`,
  transfer: (i: number, m: MethodName) => `transfer:${i}:${m}`,
  /** pre-training of the source's ('pretrain:source') or a target's ('pretrain:0') initialisation */
  pretrain: (who: 'source' | number) => (who === 'source' ? 'pretrain:source' : `pretrain:${who}`),
};
