/**
 * The experiment spec's types: the one JSON document that describes a run, shared by the CLI, the
 * worker, the lab's store and the wizard. Defaults and limits of every field are in fields.ts,
 * the parser in parse.ts. Adding a section: its type here, its fields in fields.ts, its parser in
 * parse.ts's SECTIONS.
 */
import type { MethodName } from '../methods.js';

/**
 * A subset of a dataset's classes, relabelled 0..k−1 in the order given: class indices, class
 * names, a range "5-9", or a named split ("lower-half", "upper-half", "subset-0" … "subset-9"; see
 * src/core/data/class-subsets.ts).
 */
export type ClassSelection = (number | string)[] | string;

export type DatasetSpec = (
  | { builtin: 'fashion-mnist-mini' }
  | { format: 'idx'; dir: string; name?: string }
  | { format: 'cifar10' | 'cifar100'; dir: string; name?: string; labelKind?: 'fine' | 'coarse' }
) & { classes?: ClassSelection };

export interface DatasetOptions {
  /** fraction of the official training set held out for validation (paper: 0.1) */
  valFraction: number;
  /** seed of the train/validation split (authors' code: 777) */
  splitSeed: number;
  /** keep only this many training examples (after the split); 0 = all */
  trainLimit: number;
  /**
   * a given split instead of the seeded one: a file (JSON array, or whitespace-separated integers)
   * of indices into the official training set (after any class selection) that form validation
   */
  validationIndices?: string;
  /** fixed per-channel standardisation of the [0,1] pixels instead of the training split's statistics */
  mean?: number[];
  std?: number[];
}

export type LayerSpec =
  | { type: 'conv'; filters: number; kernel?: number; stride?: number; relu?: boolean; bias?: boolean }
  | { type: 'maxpool'; size: number }
  | { type: 'flatten' }
  | { type: 'dense'; units: number; relu?: boolean }
  /** BatchNorm over the previous conv/dense layer's channels; that layer's ReLU moves after it */
  | { type: 'bn' }
  /** a CIFAR ResNet basic block: conv-BN-ReLU-conv-BN plus a shortcut (1×1 conv + BN when the shape changes), ReLU */
  | { type: 'residual'; filters: number; stride?: number }
  /** global average pooling (then the classifier) */
  | { type: 'gap' };

export type ArchSpec =
  /** MLP with ReLU hidden layers; the paper's 2-MLP is `{ arch: 'mlp', hidden: [4096] }` */
  | { arch: 'mlp'; hidden: number[] }
  /** the paper's Conv8 (authors' code: last pool 4×4, head 512→256→256→classes) */
  | { arch: 'conv8'; width?: number }
  /** any plain CNN: a list of layers; the classifier layer is appended automatically */
  | { arch: 'cnn'; layers: LayerSpec[] }
  /** CIFAR ResNet-20 (He et al. 2016) with BatchNorm; `width` multiplies the 16/32/64 channels */
  | { arch: 'resnet20'; width?: number };

export interface InitSpec {
  /** seeded PyTorch-default initialisation */
  seed?: number;
  /** or a saved parameter file (safetensors) */
  file?: string;
  /** layout of that file's tensors: detected from names/shapes (auto), PyTorch's, or the engine's */
  layout?: ParamLayout;
  /** or a parameter set stored in the lab, by id (the lab resolves it to its file) */
  paramSet?: string;
  /** a label for tables and the store */
  label?: string;
}

export type ParamLayout = 'auto' | 'torch' | 'engine';

/** Parameters trained elsewhere: θ^T, and optionally θ^1..θ^T (one file each) for an actual trajectory. */
export interface TrainedFileSpec {
  file: string;
  checkpoints?: string[];
  layout?: ParamLayout;
}

/** The authors' CIFAR augmentation: pad `pad` pixels with black, random crop back, random horizontal flip. */
export interface AugmentSpec {
  pad: number;
  flip: boolean;
}

/**
 * The pre-trained scenario (paper Sec. 4.1, Fig. 5d–f): every initialisation is first trained on
 * `dataset` (default: the experiment's files) restricted to `classes`; the resulting models are the
 * θ^0 of the fine-tuning the transfer is about.
 */
export interface PretrainSpec {
  dataset?: DatasetSpec;
  classes?: ClassSelection;
  train: TrainSpec;
  /**
   * the classifier for the new task: "reinit" seeds a fresh head per model (needed when the class
   * counts differ; the default), "keep" keeps the pre-trained head (equal class counts only)
   */
  head: 'reinit' | 'keep';
}

/**
 * The pre-training's dataset: `pretrain.dataset`, or the task's files, with the pre-training's
 * classes (never the task's subset). Generic so the resource estimate's looser spec fits too.
 */
export function pretrainDatasetSpec<D extends { classes?: ClassSelection }>(spec: {
  dataset: D;
  pretrain?: { dataset?: D; classes?: ClassSelection };
}): D {
  const p = spec.pretrain;
  const { classes: _taskClasses, ...rest } = p?.dataset ?? spec.dataset;
  const classes = p?.classes ?? p?.dataset?.classes;
  return (classes === undefined ? rest : { ...rest, classes }) as D;
}

/** How tables and the store name an initialisation: its label, its seed, or its file's name. */
export function initLabel(init: InitSpec): string {
  return (
    init.label ??
    (init.seed !== undefined
      ? `seed ${init.seed}`
      : init.paramSet !== undefined && init.file === undefined
        ? `set ${init.paramSet}`
        : (init.file ?? 'file').split(/[\\/]/).pop()!)
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
  /** CIFAR-style augmentation of every training minibatch, seeded by the data seed */
  augment?: AugmentSpec;
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
  /**
   * BatchNorm networks only: training minibatches (of `batchSize`) on which the running statistics
   * of every transferred θ2^t are reset and re-estimated before it is evaluated (authors' bn_stats_iters)
   */
  bnBatches: number;
}

export interface ExperimentSpec {
  name?: string;
  dataset: DatasetSpec;
  datasetOptions: DatasetOptions;
  model: ArchSpec;
  /** the pre-trained scenario: both initialisations are pre-trained first */
  pretrain?: PretrainSpec;
  /** `trained`: θ1^T (and checkpoints) from files instead of training the source */
  source: { init: InitSpec; train: TrainSpec; trained?: TrainedFileSpec };
  /** `trained`: θ2^T from a file, for Oracle, instead of training the target */
  targets: { init: InitSpec; trained?: TrainedFileSpec }[];
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
