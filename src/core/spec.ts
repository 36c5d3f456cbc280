/**
 * The experiment spec: the one JSON document that describes a run, shared by the CLI, the worker,
 * the lab's store and the wizard. `parseSpec` fills defaults and names the field that is wrong.
 */

/**
 * A subset of a dataset's classes, relabelled 0..k−1 in the order given: class indices, class
 * names, a range "5-9", or a named split (`classSubset` in data/class-subsets.ts lists them).
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
  /** BatchNorm over the previous layer's channels/units; that layer's ReLU moves after it */
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
  /** or a parameter set stored in the lab, by id (the service resolves it to its file) */
  paramSet?: string;
  /** a label for tables and the store */
  label?: string;
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

export type ParamLayout = 'auto' | 'torch' | 'engine';
export const PARAM_LAYOUTS: readonly ParamLayout[] = ['auto', 'torch', 'engine'];

/** Parameters trained elsewhere: θ^T, and optionally θ^1..θ^T (one file each) for an actual trajectory. */
export interface TrainedFileSpec {
  file: string;
  checkpoints?: string[];
  layout?: ParamLayout;
}

/** The authors' CIFAR augmentation: zero-pad `pad` pixels, random crop back, random horizontal flip. */
export interface AugmentSpec {
  pad: number;
  flip: boolean;
}

/**
 * The pre-trained scenario (paper Sec. 4.1, Fig. 5d–f): every initialisation is first trained on
 * `dataset` (default: the experiment's dataset) restricted to `classes`; the resulting models are
 * the θ^0 of the fine-tuning the transfer is about.
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

export type MethodName = 'naive' | 'oracle' | 'gmt' | 'fgmt';
export const METHOD_NAMES: readonly MethodName[] = ['naive', 'oracle', 'gmt', 'fgmt'];

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
}

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu' | 'webgpu';
const BACKENDS: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu'];

export class SpecError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`spec field "${field}": ${message}`);
    this.name = 'SpecError';
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, field: string, optional = false): Obj {
  if (v === undefined && optional) return {};
  if (!isObj(v)) throw new SpecError(field, `expected an object, got ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function num(
  v: unknown,
  field: string,
  opts: { int?: boolean; min?: number; max?: number; def?: number } = {},
): number {
  if (v === undefined && opts.def !== undefined) return opts.def;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new SpecError(field, `expected a number, got ${describe(v)}`);
  if (opts.int && !Number.isInteger(v)) throw new SpecError(field, `expected an integer, got ${v}`);
  if (opts.min !== undefined && v < opts.min) throw new SpecError(field, `must be ≥ ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new SpecError(field, `must be ≤ ${opts.max}, got ${v}`);
  return v;
}

function str<T extends string>(v: unknown, field: string, allowed?: readonly T[], def?: T): T {
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'string') throw new SpecError(field, `expected a string, got ${describe(v)}`);
  if (allowed && !allowed.includes(v as T))
    throw new SpecError(field, `must be one of ${allowed.join(', ')}; got "${v}"`);
  return v as T;
}

function noExtra(o: Obj, field: string, allowed: string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw new SpecError(field ? `${field}.${k}` : k, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

function parseDataset(v: unknown): DatasetSpec {
  return parseDatasetAt(v, 'dataset');
}

export function parseClasses(v: unknown, field: string): ClassSelection {
  if (typeof v === 'string') {
    if (!v.trim()) throw new SpecError(field, 'must not be empty');
    return v;
  }
  if (!Array.isArray(v) || v.length === 0)
    throw new SpecError(field, `expected a non-empty array of classes or a split name, got ${describe(v)}`);
  const out = v.map((c, i) =>
    typeof c === 'string' ? str(c, `${field}[${i}]`) : num(c, `${field}[${i}]`, { int: true, min: 0 }),
  );
  if (new Set(out).size !== out.length) throw new SpecError(field, 'lists a class twice');
  return out;
}

function parseDatasetAt(v: unknown, field: string): DatasetSpec {
  const o = obj(v, field);
  const classes = o.classes === undefined ? {} : { classes: parseClasses(o.classes, `${field}.classes`) };
  if ('builtin' in o) {
    noExtra(o, field, ['builtin', 'classes']);
    return { builtin: str(o.builtin, `${field}.builtin`, ['fashion-mnist-mini'] as const), ...classes };
  }
  const format = str(o.format, `${field}.format`, ['idx', 'cifar10', 'cifar100'] as const);
  const dir = str(o.dir, `${field}.dir`);
  if (!dir) throw new SpecError(`${field}.dir`, 'must not be empty');
  const name = o.name === undefined ? undefined : str(o.name, `${field}.name`);
  if (format === 'idx') {
    noExtra(o, field, ['format', 'dir', 'name', 'classes']);
    return { format, dir, ...(name ? { name } : {}), ...classes };
  }
  noExtra(o, field, ['format', 'dir', 'name', 'labelKind', 'classes']);
  const labelKind =
    o.labelKind === undefined
      ? undefined
      : str(o.labelKind, `${field}.labelKind`, ['fine', 'coarse'] as const);
  return { format, dir, ...(name ? { name } : {}), ...(labelKind ? { labelKind } : {}), ...classes };
}

function numList(v: unknown, field: string, min: number): number[] {
  if (!Array.isArray(v) || v.length === 0)
    throw new SpecError(field, `expected a non-empty array of numbers`);
  return v.map((x, i) => num(x, `${field}[${i}]`, { min }));
}

function parseDatasetOptions(v: unknown): DatasetOptions {
  const o = obj(v, 'datasetOptions', true);
  noExtra(o, 'datasetOptions', [
    'valFraction',
    'splitSeed',
    'trainLimit',
    'validationIndices',
    'mean',
    'std',
  ]);
  const out: DatasetOptions = {
    valFraction: num(o.valFraction, 'datasetOptions.valFraction', { min: 0.001, max: 0.5, def: 0.1 }),
    splitSeed: num(o.splitSeed, 'datasetOptions.splitSeed', { int: true, def: 777 }),
    trainLimit: num(o.trainLimit, 'datasetOptions.trainLimit', { int: true, min: 0, def: 0 }),
  };
  if (o.validationIndices !== undefined)
    out.validationIndices = str(o.validationIndices, 'datasetOptions.validationIndices');
  if ((o.mean === undefined) !== (o.std === undefined))
    throw new SpecError(
      o.mean === undefined ? 'datasetOptions.mean' : 'datasetOptions.std',
      'give mean and std together',
    );
  if (o.mean !== undefined) {
    out.mean = numList(o.mean, 'datasetOptions.mean', -1e6);
    out.std = numList(o.std, 'datasetOptions.std', 1e-12);
    if (out.mean.length !== out.std.length)
      throw new SpecError(
        'datasetOptions.std',
        `has ${out.std.length} channels, mean has ${out.mean.length}`,
      );
  }
  return out;
}

function positiveInt(v: unknown, field: string, max = 1 << 20): number {
  return num(v, field, { int: true, min: 1, max });
}

function parseLayer(v: unknown, field: string): LayerSpec {
  const o = obj(v, field);
  const type = str(o.type, `${field}.type`, [
    'conv',
    'maxpool',
    'flatten',
    'dense',
    'bn',
    'residual',
    'gap',
  ] as const);
  switch (type) {
    case 'conv':
      noExtra(o, field, ['type', 'filters', 'kernel', 'stride', 'relu', 'bias']);
      return {
        type,
        filters: positiveInt(o.filters, `${field}.filters`, 8192),
        kernel: num(o.kernel, `${field}.kernel`, { int: true, min: 1, max: 11, def: 3 }),
        stride: num(o.stride, `${field}.stride`, { int: true, min: 1, max: 4, def: 1 }),
        relu: o.relu === undefined ? true : bool(o.relu, `${field}.relu`),
        ...(o.bias === undefined ? {} : { bias: bool(o.bias, `${field}.bias`) }),
      };
    case 'bn':
    case 'gap':
      noExtra(o, field, ['type']);
      return { type };
    case 'residual':
      noExtra(o, field, ['type', 'filters', 'stride']);
      return {
        type,
        filters: positiveInt(o.filters, `${field}.filters`, 8192),
        stride: num(o.stride, `${field}.stride`, { int: true, min: 1, max: 2, def: 1 }),
      };
    case 'maxpool':
      noExtra(o, field, ['type', 'size']);
      return { type, size: num(o.size, `${field}.size`, { int: true, min: 1, max: 8 }) };
    case 'flatten':
      noExtra(o, field, ['type']);
      return { type };
    case 'dense':
      noExtra(o, field, ['type', 'units', 'relu']);
      return {
        type,
        units: positiveInt(o.units, `${field}.units`, 65536),
        relu: o.relu === undefined ? true : bool(o.relu, `${field}.relu`),
      };
  }
}

function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new SpecError(field, `expected true or false, got ${describe(v)}`);
  return v;
}

export function parseArch(v: unknown, field = 'model'): ArchSpec {
  const o = obj(v, field);
  const arch = str(o.arch, `${field}.arch`, ['mlp', 'conv8', 'cnn', 'resnet20'] as const);
  switch (arch) {
    case 'mlp': {
      noExtra(o, field, ['arch', 'hidden']);
      if (!Array.isArray(o.hidden) || o.hidden.length === 0)
        throw new SpecError(`${field}.hidden`, 'expected a non-empty array of layer widths');
      return { arch, hidden: o.hidden.map((h, i) => positiveInt(h, `${field}.hidden[${i}]`, 65536)) };
    }
    case 'conv8':
      noExtra(o, field, ['arch', 'width']);
      return o.width === undefined ? { arch } : { arch, width: positiveInt(o.width, `${field}.width`, 512) };
    case 'resnet20':
      noExtra(o, field, ['arch', 'width']);
      return o.width === undefined ? { arch } : { arch, width: positiveInt(o.width, `${field}.width`, 64) };
    case 'cnn': {
      noExtra(o, field, ['arch', 'layers']);
      if (!Array.isArray(o.layers) || o.layers.length === 0)
        throw new SpecError(`${field}.layers`, 'expected a non-empty array of layers');
      return { arch, layers: o.layers.map((l, i) => parseLayer(l, `${field}.layers[${i}]`)) };
    }
  }
}

function parseInit(v: unknown, field: string, defaultSeed?: number): InitSpec {
  const o = obj(v ?? (defaultSeed !== undefined ? { seed: defaultSeed } : undefined), field);
  noExtra(o, field, ['seed', 'file', 'label', 'layout', 'paramSet']);
  const out: InitSpec = {};
  if (o.seed !== undefined) out.seed = num(o.seed, `${field}.seed`, { int: true, min: 0, max: 2 ** 31 - 1 });
  if (o.file !== undefined) out.file = str(o.file, `${field}.file`);
  if (o.paramSet !== undefined) out.paramSet = str(o.paramSet, `${field}.paramSet`);
  if (o.label !== undefined) out.label = str(o.label, `${field}.label`);
  if (o.layout !== undefined) out.layout = str(o.layout, `${field}.layout`, PARAM_LAYOUTS);
  const given = [out.seed, out.file, out.paramSet].filter((x) => x !== undefined).length;
  if (given === 0) throw new SpecError(field, 'needs "seed", "file" or "paramSet"');
  if (given > 1) throw new SpecError(field, 'give one of "seed", "file" or "paramSet", not several');
  return out;
}

function parseTrainedFile(v: unknown, field: string): TrainedFileSpec {
  const o = obj(v, field);
  noExtra(o, field, ['file', 'checkpoints', 'layout']);
  const out: TrainedFileSpec = { file: str(o.file, `${field}.file`) };
  if (!out.file) throw new SpecError(`${field}.file`, 'must not be empty');
  if (o.checkpoints !== undefined) {
    if (!Array.isArray(o.checkpoints) || o.checkpoints.length === 0)
      throw new SpecError(`${field}.checkpoints`, 'expected a non-empty array of files (θ^1..θ^T)');
    out.checkpoints = o.checkpoints.map((c, i) => str(c, `${field}.checkpoints[${i}]`));
  }
  if (o.layout !== undefined) out.layout = str(o.layout, `${field}.layout`, PARAM_LAYOUTS);
  return out;
}

function parseAugment(v: unknown, field: string): AugmentSpec | undefined {
  if (v === false || v === undefined) return undefined;
  if (v === true) return { pad: 4, flip: true };
  const o = obj(v, field);
  noExtra(o, field, ['pad', 'flip']);
  return {
    pad: num(o.pad, `${field}.pad`, { int: true, min: 0, max: 16, def: 4 }),
    flip: o.flip === undefined ? true : bool(o.flip, `${field}.flip`),
  };
}

function parsePretrain(v: unknown): PretrainSpec | undefined {
  if (v === undefined) return undefined;
  const o = obj(v, 'pretrain');
  noExtra(o, 'pretrain', ['dataset', 'classes', 'train', 'head']);
  const out: PretrainSpec = {
    train: parseTrain(o.train, 'pretrain.train'),
    head: str(o.head, 'pretrain.head', ['reinit', 'keep'] as const, 'reinit'),
  };
  if (o.dataset !== undefined) out.dataset = parseDatasetAt(o.dataset, 'pretrain.dataset');
  if (o.classes !== undefined) out.classes = parseClasses(o.classes, 'pretrain.classes');
  return out;
}

export function parseTrain(v: unknown, field = 'source.train'): TrainSpec {
  const o = obj(v, field, true);
  noExtra(o, field, [
    'epochs',
    'batchSize',
    'lr',
    'momentum',
    'weightDecay',
    'lrSchedule',
    'dataSeed',
    'checkpoints',
    'augment',
  ]);
  const t: TrainSpec = {
    epochs: num(o.epochs, `${field}.epochs`, { int: true, min: 1, max: 10000, def: 10 }),
    batchSize: num(o.batchSize, `${field}.batchSize`, { int: true, min: 1, max: 65536, def: 128 }),
    lr: num(o.lr, `${field}.lr`, { min: 0, max: 100, def: 0.01 }),
    momentum: num(o.momentum, `${field}.momentum`, { min: 0, max: 0.9999, def: 0.9 }),
    weightDecay: num(o.weightDecay, `${field}.weightDecay`, { min: 0, max: 1, def: 0 }),
    lrSchedule: str(o.lrSchedule, `${field}.lrSchedule`, ['constant', 'cosine'] as const, 'constant'),
  };
  if (o.dataSeed !== undefined) t.dataSeed = num(o.dataSeed, `${field}.dataSeed`, { int: true, min: 0 });
  if (o.checkpoints !== undefined) t.checkpoints = bool(o.checkpoints, `${field}.checkpoints`);
  const augment = parseAugment(o.augment, `${field}.augment`);
  if (augment) t.augment = augment;
  return t;
}

function parseTransfer(v: unknown): TransferSpec {
  const o = obj(v, 'transfer', true);
  noExtra(o, 'transfer', [
    'T',
    'trajectory',
    'schedule',
    'batchSize',
    'gradBatches',
    'methods',
    'seed',
    'matchTolerance',
    'matchMaxIter',
    'bnBatches',
  ]);
  let methods: MethodName[] = [...METHOD_NAMES];
  if (o.methods !== undefined) {
    if (!Array.isArray(o.methods) || o.methods.length === 0)
      throw new SpecError('transfer.methods', 'expected a non-empty array');
    methods = o.methods.map((m, i) => str(m, `transfer.methods[${i}]`, METHOD_NAMES));
    if (new Set(methods).size !== methods.length)
      throw new SpecError('transfer.methods', 'lists a method twice');
  }
  return {
    T: num(o.T, 'transfer.T', { int: true, min: 1, max: 1000, def: 10 }),
    trajectory: str(o.trajectory, 'transfer.trajectory', ['linear', 'actual'] as const, 'linear'),
    schedule: str(o.schedule, 'transfer.schedule', ['cosine', 'uniform'] as const, 'cosine'),
    batchSize: num(o.batchSize, 'transfer.batchSize', { int: true, min: 1, max: 65536, def: 128 }),
    gradBatches: num(o.gradBatches, 'transfer.gradBatches', { int: true, min: 1, max: 1000, def: 1 }),
    methods,
    seed: num(o.seed, 'transfer.seed', { int: true, min: 0, def: 0 }),
    matchTolerance: num(o.matchTolerance, 'transfer.matchTolerance', { min: 0, max: 1, def: 1e-7 }),
    matchMaxIter: num(o.matchMaxIter, 'transfer.matchMaxIter', { int: true, min: 1, max: 10000, def: 100 }),
    bnBatches: num(o.bnBatches, 'transfer.bnBatches', { int: true, min: 0, max: 10000, def: 10 }),
  };
}

/** Validates a spec read from JSON and fills every default; throws SpecError naming the field. */
export function parseSpec(input: unknown): ExperimentSpec {
  const o = obj(input, '(spec)');
  noExtra(o, '', [
    'name',
    'dataset',
    'datasetOptions',
    'model',
    'pretrain',
    'source',
    'targets',
    'transfer',
    'backend',
    'evalLimit',
  ]);
  const source = obj(o.source, 'source');
  noExtra(source, 'source', ['init', 'train', 'trained']);
  if (!Array.isArray(o.targets) || o.targets.length === 0)
    throw new SpecError('targets', 'expected a non-empty array of { "init": … }');
  const targets = o.targets.map((t, i) => {
    const to = obj(t, `targets[${i}]`);
    noExtra(to, `targets[${i}]`, ['init', 'trained']);
    return {
      init: parseInit(to.init, `targets[${i}].init`),
      ...(to.trained === undefined ? {} : { trained: parseTrainedFile(to.trained, `targets[${i}].trained`) }),
    };
  });
  const spec: ExperimentSpec = {
    ...(o.name !== undefined ? { name: str(o.name, 'name') } : {}),
    dataset: parseDataset(o.dataset),
    datasetOptions: parseDatasetOptions(o.datasetOptions),
    model: parseArch(o.model),
    ...(o.pretrain === undefined ? {} : { pretrain: parsePretrain(o.pretrain) }),
    source: {
      init: parseInit(source.init, 'source.init'),
      train: parseTrain(source.train),
      ...(source.trained === undefined
        ? {}
        : { trained: parseTrainedFile(source.trained, 'source.trained') }),
    },
    targets,
    transfer: parseTransfer(o.transfer),
    backend: str(o.backend, 'backend', BACKENDS, 'auto'),
    evalLimit: num(o.evalLimit, 'evalLimit', { int: true, min: 0, def: 0 }),
  };
  if (spec.transfer.trajectory === 'actual' && spec.source.trained && !spec.source.trained.checkpoints) {
    throw new SpecError(
      'source.trained.checkpoints',
      'an actual trajectory from files needs the checkpoints θ^1..θ^T (one file each)',
    );
  }
  if (spec.source.trained?.checkpoints) {
    const n = spec.source.trained.checkpoints.length;
    if (spec.transfer.trajectory === 'actual' && n !== spec.transfer.T)
      throw new SpecError(
        'source.trained.checkpoints',
        `lists ${n} files but transfer.T is ${spec.transfer.T}`,
      );
  }
  if (spec.transfer.trajectory === 'actual' && !spec.source.trained) {
    if (!spec.source.train.checkpoints) spec.source.train.checkpoints = true;
    if (spec.transfer.T !== spec.source.train.epochs) {
      throw new SpecError(
        'transfer.T',
        `an actual trajectory uses one checkpoint per epoch, so T must equal source.train.epochs (${spec.source.train.epochs}); got ${spec.transfer.T}`,
      );
    }
  }
  return spec;
}
