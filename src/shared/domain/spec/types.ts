/**
 * The experiment spec's types: the one JSON document that describes a run, shared by the CLI, the
 * worker, the lab's store and the wizard. Defaults and limits of every field are in fields.ts,
 * the parser in parse.ts. Adding a section: its type here, its fields in fields.ts, its parser in
 * parse.ts's SECTIONS.
 */
import type { MethodName } from '../methods.js';

export type DatasetSpec =
  | { builtin: 'fashion-mnist-mini' }
  | { format: 'idx'; dir: string; name?: string }
  | { format: 'cifar10' | 'cifar100'; dir: string; name?: string; labelKind?: 'fine' | 'coarse' };

export interface DatasetOptions {
  /** fraction of the official training set held out for validation (paper: 0.1) */
  valFraction: number;
  /** seed of the train/validation split (authors' code: 777) */
  splitSeed: number;
  /** keep only this many training examples (after the split); 0 = all */
  trainLimit: number;
}

export type LayerSpec =
  | { type: 'conv'; filters: number; kernel?: number; stride?: number; relu?: boolean }
  | { type: 'maxpool'; size: number }
  | { type: 'flatten' }
  | { type: 'dense'; units: number; relu?: boolean };

export type ArchSpec =
  /** MLP with ReLU hidden layers; the paper's 2-MLP is `{ arch: 'mlp', hidden: [4096] }` */
  | { arch: 'mlp'; hidden: number[] }
  /** the paper's Conv8 (authors' code: last pool 4×4, head 512→256→256→classes) */
  | { arch: 'conv8'; width?: number }
  /** any plain CNN: a list of layers; the classifier layer is appended automatically */
  | { arch: 'cnn'; layers: LayerSpec[] };

export interface InitSpec {
  /** seeded PyTorch-default initialisation */
  seed?: number;
  /** or a saved parameter file (safetensors) */
  file?: string;
  /** a label for tables and the store */
  label?: string;
}

/** How tables and the store name an initialisation: its label, its seed, or its file's name. */
export function initLabel(init: InitSpec): string {
  return (
    init.label ??
    (init.seed !== undefined ? `seed ${init.seed}` : (init.file ?? 'file').split(/[\\/]/).pop()!)
  );
}

export type LrSchedule = 'constant' | 'cosine';

export interface TrainSpec {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  lrSchedule: LrSchedule;
  /** seed of the data order; defaults to the init seed */
  dataSeed?: number;
  /** save θ^t after every epoch (needed for `trajectory: "actual"`) */
  checkpoints?: boolean;
}

export interface TransferSpec {
  T: number;
  trajectory: 'linear' | 'actual';
  schedule: 'cosine' | 'uniform';
  /** minibatch size for each gradient in GMT/FGMT (paper: 128) */
  batchSize: number;
  /** minibatches averaged per gradient (authors' gm_iters: MNIST 1, CIFAR-10 2) */
  gradBatches: number;
  methods: MethodName[];
  /** seed of the gradient minibatches */
  seed: number;
  /** weight-matching stopping tolerance on the objective (reference 1e-12, authors' code 1e-7) */
  matchTolerance: number;
  matchMaxIter: number;
}

export interface ExperimentSpec {
  name?: string;
  dataset: DatasetSpec;
  datasetOptions: DatasetOptions;
  model: ArchSpec;
  source: { init: InitSpec; train: TrainSpec };
  targets: { init: InitSpec }[];
  transfer: TransferSpec;
  /** 'auto' picks the best backend that loads */
  backend: BackendChoice;
  /** validation examples used per evaluation (0 = all); evaluation happens T+1 times per method */
  evalLimit: number;
  /** the paper's analyses of the transferred parameters (all optional) */
  analyses?: AnalysesSpec;
}

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu' | 'webgpu';
export const BACKENDS: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu'];

/**
 * The `analyses` section of an experiment spec (all optional): the paper's analyses of the
 * transferred parameters. Each present section runs; defaults are filled by the spec parser.
 */
export interface FinetuneSpec {
  /** paper Sec. 4.2: Adam; the authors' code used AdamW (decoupled weight decay) */
  optimizer: 'adam' | 'adamw' | 'sgd';
  /** paper: 1e-4 (1e-6 on ImageNet) */
  lr: number;
  /** paper: 10 */
  epochs: number;
  /** start from θ2 at the best step by validation (paper) or at T */
  from: 'best' | 'final';
  /** also train θ2^0 from scratch with the source's optimiser and schedule for `epochs` epochs */
  scratch: boolean;
  /** minibatch size (the source's when absent) */
  batchSize?: number;
  weightDecay: number;
  /** SGD only */
  momentum: number;
}

export interface PathsSpec {
  /** α values on each linear path, both ends included */
  points: number;
}

export interface PlaneSpec {
  /** whose transferred (or fine-tuned) parameters span the plane with θ2^T and πθ1^T */
  method: MethodName;
  /** points per side */
  grid: number;
  /** extra room around the three points, as a fraction of their span */
  margin: number;
  /** the method's point: its transferred parameters or, when finetune ran, the fine-tuned ones */
  from: 'transferred' | 'finetuned';
}

export interface AssumptionPSpec {
  /**
   * hidden widths for the sweep over widths (paper Fig. 3a), each training a source and a target
   * with checkpoints; empty = only the experiment's own model
   */
  widths: number[];
}

export interface EnsemblesSpec {
  /** members are each method's transferred parameters at its best step or at T */
  from: 'best' | 'final';
}

export interface AnalysesSpec {
  finetune?: FinetuneSpec;
  paths?: PathsSpec;
  plane?: PlaneSpec;
  assumptionP?: AssumptionPSpec;
  ensembles?: EnsemblesSpec;
  /**
   * validation examples per path/plane point (0 = the experiment's evalLimit); a 21×21 plane is
   * 441 evaluations
   */
  evalLimit: number;
}
