import type { AnalysesSpec } from './analyses/spec.js';

/**
 * The experiment spec: the one JSON document that describes a run, shared by the CLI, the worker,
 * the lab's store and the wizard. `parseSpec` fills defaults and names the field that is wrong.
 */

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
  const o = obj(v, 'dataset');
  if ('builtin' in o) {
    noExtra(o, 'dataset', ['builtin']);
    return { builtin: str(o.builtin, 'dataset.builtin', ['fashion-mnist-mini'] as const) };
  }
  const format = str(o.format, 'dataset.format', ['idx', 'cifar10', 'cifar100'] as const);
  const dir = str(o.dir, 'dataset.dir');
  if (!dir) throw new SpecError('dataset.dir', 'must not be empty');
  const name = o.name === undefined ? undefined : str(o.name, 'dataset.name');
  if (format === 'idx') {
    noExtra(o, 'dataset', ['format', 'dir', 'name']);
    return { format, dir, ...(name ? { name } : {}) };
  }
  noExtra(o, 'dataset', ['format', 'dir', 'name', 'labelKind']);
  const labelKind =
    o.labelKind === undefined
      ? undefined
      : str(o.labelKind, 'dataset.labelKind', ['fine', 'coarse'] as const);
  return { format, dir, ...(name ? { name } : {}), ...(labelKind ? { labelKind } : {}) };
}

function parseDatasetOptions(v: unknown): DatasetOptions {
  const o = obj(v, 'datasetOptions', true);
  noExtra(o, 'datasetOptions', ['valFraction', 'splitSeed', 'trainLimit']);
  return {
    valFraction: num(o.valFraction, 'datasetOptions.valFraction', { min: 0.001, max: 0.5, def: 0.1 }),
    splitSeed: num(o.splitSeed, 'datasetOptions.splitSeed', { int: true, def: 777 }),
    trainLimit: num(o.trainLimit, 'datasetOptions.trainLimit', { int: true, min: 0, def: 0 }),
  };
}

function positiveInt(v: unknown, field: string, max = 1 << 20): number {
  return num(v, field, { int: true, min: 1, max });
}

function parseLayer(v: unknown, field: string): LayerSpec {
  const o = obj(v, field);
  const type = str(o.type, `${field}.type`, ['conv', 'maxpool', 'flatten', 'dense'] as const);
  switch (type) {
    case 'conv':
      noExtra(o, field, ['type', 'filters', 'kernel', 'stride', 'relu']);
      return {
        type,
        filters: positiveInt(o.filters, `${field}.filters`, 8192),
        kernel: num(o.kernel, `${field}.kernel`, { int: true, min: 1, max: 11, def: 3 }),
        stride: num(o.stride, `${field}.stride`, { int: true, min: 1, max: 4, def: 1 }),
        relu: o.relu === undefined ? true : bool(o.relu, `${field}.relu`),
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
  const arch = str(o.arch, `${field}.arch`, ['mlp', 'conv8', 'cnn'] as const);
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
  noExtra(o, field, ['seed', 'file', 'label']);
  const out: InitSpec = {};
  if (o.seed !== undefined) out.seed = num(o.seed, `${field}.seed`, { int: true, min: 0, max: 2 ** 31 - 1 });
  if (o.file !== undefined) out.file = str(o.file, `${field}.file`);
  if (o.label !== undefined) out.label = str(o.label, `${field}.label`);
  if (out.seed === undefined && out.file === undefined) throw new SpecError(field, 'needs "seed" or "file"');
  if (out.seed !== undefined && out.file !== undefined)
    throw new SpecError(field, 'give either "seed" or "file", not both');
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
    'source',
    'targets',
    'transfer',
    'backend',
    'evalLimit',
    'analyses',
  ]);
  const source = obj(o.source, 'source');
  noExtra(source, 'source', ['init', 'train']);
  if (!Array.isArray(o.targets) || o.targets.length === 0)
    throw new SpecError('targets', 'expected a non-empty array of { "init": … }');
  const targets = o.targets.map((t, i) => {
    const to = obj(t, `targets[${i}]`);
    noExtra(to, `targets[${i}]`, ['init']);
    return { init: parseInit(to.init, `targets[${i}].init`) };
  });
  const spec: ExperimentSpec = {
    ...(o.name !== undefined ? { name: str(o.name, 'name') } : {}),
    dataset: parseDataset(o.dataset),
    datasetOptions: parseDatasetOptions(o.datasetOptions),
    model: parseArch(o.model),
    source: { init: parseInit(source.init, 'source.init'), train: parseTrain(source.train) },
    targets,
    transfer: parseTransfer(o.transfer),
    backend: str(o.backend, 'backend', BACKENDS, 'auto'),
    evalLimit: num(o.evalLimit, 'evalLimit', { int: true, min: 0, def: 0 }),
  };
  if (o.analyses !== undefined) spec.analyses = parseAnalyses(o.analyses, spec);
  if (spec.transfer.trajectory === 'actual') {
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

/**
 * The `analyses` section. Defaults follow the paper: subsequent training with Adam, lr 1e-4, 10
 * epochs from the best step, with a scratch baseline; 25 points per path; a 21×21 plane with 20 %
 * margin around FGMT's point (the first method listed when FGMT does not run).
 */
function parseAnalyses(v: unknown, spec: ExperimentSpec): AnalysesSpec {
  const o = obj(v, 'analyses');
  noExtra(o, 'analyses', ['finetune', 'paths', 'plane', 'assumptionP', 'ensembles', 'evalLimit']);
  const out: AnalysesSpec = {
    evalLimit: num(o.evalLimit, 'analyses.evalLimit', { int: true, min: 0, def: 0 }),
  };
  const section = (k: string): Obj | null => {
    const x = o[k];
    if (x === undefined || x === false) return null;
    if (x === true) return {};
    return obj(x, `analyses.${k}`);
  };
  const ft = section('finetune');
  if (ft) {
    const f = 'analyses.finetune';
    noExtra(ft, f, ['optimizer', 'lr', 'epochs', 'from', 'scratch', 'batchSize', 'weightDecay', 'momentum']);
    out.finetune = {
      optimizer: str(ft.optimizer, `${f}.optimizer`, ['adam', 'adamw', 'sgd'] as const, 'adam'),
      lr: num(ft.lr, `${f}.lr`, { min: 0, max: 10, def: 1e-4 }),
      epochs: num(ft.epochs, `${f}.epochs`, { int: true, min: 1, max: 1000, def: 10 }),
      from: str(ft.from, `${f}.from`, ['best', 'final'] as const, 'best'),
      scratch: ft.scratch === undefined ? true : bool(ft.scratch, `${f}.scratch`),
      weightDecay: num(ft.weightDecay, `${f}.weightDecay`, { min: 0, max: 1, def: 0 }),
      momentum: num(ft.momentum, `${f}.momentum`, { min: 0, max: 0.9999, def: 0 }),
      ...(ft.batchSize !== undefined
        ? { batchSize: num(ft.batchSize, `${f}.batchSize`, { int: true, min: 1, max: 65536 }) }
        : {}),
    };
  }
  const pa = section('paths');
  if (pa) {
    noExtra(pa, 'analyses.paths', ['points']);
    out.paths = {
      points: num(pa.points, 'analyses.paths.points', { int: true, min: 2, max: 1001, def: 25 }),
    };
  }
  const pl = section('plane');
  if (pl) {
    const f = 'analyses.plane';
    noExtra(pl, f, ['method', 'grid', 'margin', 'from']);
    const methods = spec.transfer.methods;
    const method = str(
      pl.method,
      `${f}.method`,
      METHOD_NAMES,
      methods.includes('fgmt') ? 'fgmt' : methods[0],
    );
    if (!methods.includes(method))
      throw new SpecError(`${f}.method`, `"${method}" is not among transfer.methods (${methods.join(', ')})`);
    out.plane = {
      method,
      grid: num(pl.grid, `${f}.grid`, { int: true, min: 2, max: 201, def: 21 }),
      margin: num(pl.margin, `${f}.margin`, { min: 0, max: 10, def: 0.2 }),
      from: str(pl.from, `${f}.from`, ['transferred', 'finetuned'] as const, 'transferred'),
    };
    if (out.plane.from === 'finetuned' && !out.finetune)
      throw new SpecError(`${f}.from`, '"finetuned" needs analyses.finetune');
  }
  const ap = section('assumptionP');
  if (ap) {
    const f = 'analyses.assumptionP';
    noExtra(ap, f, ['widths']);
    let widths: number[] = [];
    if (ap.widths !== undefined) {
      if (!Array.isArray(ap.widths)) throw new SpecError(`${f}.widths`, 'expected an array of widths');
      widths = ap.widths.map((w, i) => positiveInt(w, `${f}.widths[${i}]`, 65536));
    }
    if (widths.length && spec.model.arch === 'cnn')
      throw new SpecError(`${f}.widths`, 'a width sweep needs an mlp or conv8 model');
    if (widths.length && (spec.source.init.seed === undefined || spec.targets[0].init.seed === undefined))
      throw new SpecError(`${f}.widths`, 'a width sweep needs seeded inits (a parameter file has one width)');
    out.assumptionP = { widths };
  }
  const en = section('ensembles');
  if (en) {
    noExtra(en, 'analyses.ensembles', ['from']);
    if (spec.targets.length < 2)
      throw new SpecError('analyses.ensembles', `needs at least 2 targets, got ${spec.targets.length}`);
    out.ensembles = { from: str(en.from, 'analyses.ensembles.from', ['best', 'final'] as const, 'best') };
  }
  return out;
}
