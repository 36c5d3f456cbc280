/**
 * The one spec parser. `parseSpec` fills every default and throws a SpecError naming the first
 * wrong field ('spec field "transfer.T": must be ≥ 1, got 0'); `validateSpec` collects every issue
 * instead, for forms that show them all. Rules (limits, defaults, labels) come from fields.ts.
 *
 * Adding a section: its type in types.ts, its fields in fields.ts, one entry in SECTIONS below
 * (and a cross-field rule in CHECKS if it has one).
 */
import { DomainError } from '../errors.js';
import { methodNames, type MethodName } from '../methods.js';
import { fieldLabel, fieldRule, type FieldRule, type Limit, type NumberRule } from './fields.js';
import type {
  AnalysesSpec,
  ArchSpec,
  AugmentSpec,
  BackendChoice,
  ClassSelection,
  PretrainSpec,
  TrainedFileSpec,
  DatasetOptions,
  DatasetSpec,
  ExperimentSpec,
  InitSpec,
  LayerSpec,
  TrainSpec,
  TransferSpec,
} from './types.js';

/** What is wrong with one field. `kind` lets a UI word it its own way (see describeIssue). */
export interface SpecIssue {
  field: string;
  /** the engine's wording: 'must be ≥ 1, got 0' */
  message: string;
  kind: 'type' | 'int' | 'min' | 'max' | 'choice' | 'unknown' | 'required' | 'other';
  value?: unknown;
  /** the limit broken, for 'min' and 'max' */
  limit?: Limit;
}

export class SpecError extends DomainError {
  constructor(
    override readonly field: string,
    message: string,
    readonly issue?: SpecIssue,
  ) {
    super('invalid', `spec field "${field}": ${message}`, field);
    this.name = 'SpecError';
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isFinite(v)) return `number ${v}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${clip(JSON.stringify(v))}`;
}

/** An echoed value, cut so an error never carries a huge wrong value back (issue 8, item 6). */
export function clip(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`;
}

/**
 * Reads values against their field rules and records what is wrong. A reader that collects keeps
 * going after an issue (returning the default or the raw value); the parser's reader throws.
 */
export class SpecReader {
  readonly issues: SpecIssue[] = [];
  constructor(private readonly collect: boolean) {}

  fail(issue: SpecIssue): void {
    if (!this.collect) throw new SpecError(issue.field, issue.message, issue);
    this.issues.push(issue);
  }

  obj(v: unknown, field: string, optional = false): Obj {
    if (v === undefined && optional) return {};
    if (!isObj(v)) {
      this.fail({
        field,
        kind: v === undefined ? 'required' : 'type',
        value: v,
        message: `expected an object, got ${describe(v)}`,
      });
      return {};
    }
    return v;
  }

  noExtra(o: Obj, field: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o))
      if (!allowed.includes(k))
        this.fail({
          field: clip(field ? `${field}.${k}` : k),
          kind: 'unknown',
          message: `unknown field (allowed: ${allowed.join(', ')})`,
        });
  }

  private rule<R extends FieldRule['type']>(
    field: string,
    type: R,
  ): Extract<FieldRule, { type: R }> | undefined {
    const r = fieldRule(field);
    if (r && r.type !== type)
      throw new Error(`spec field ${field} is declared as ${r.type}, read as ${type}`);
    return r as Extract<FieldRule, { type: R }> | undefined;
  }

  /** A number checked against its rule in fields.ts (or `extra`, for fields without one). */
  num(v: unknown, field: string, extra: Partial<NumberRule> = {}): number {
    const r = { ...this.rule(field, 'number'), ...extra };
    if (v === undefined && r.default !== undefined) return r.default;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.fail({
        field,
        kind: v === undefined ? 'required' : 'type',
        value: v,
        message: `expected a number, got ${describe(v)}`,
      });
      return r.default ?? NaN;
    }
    if (r.int && !Number.isInteger(v))
      this.fail({ field, kind: 'int', value: v, message: `expected an integer, got ${v}` });
    else if (r.min && (r.min.exclusive ? v <= r.min.value : v < r.min.value))
      this.fail({
        field,
        kind: 'min',
        value: v,
        limit: r.min,
        message: `must be ${r.min.exclusive ? '>' : '≥'} ${r.min.value}, got ${v}`,
      });
    else if (r.max && (r.max.exclusive ? v >= r.max.value : v > r.max.value))
      this.fail({
        field,
        kind: 'max',
        value: v,
        limit: r.max,
        message: `must be ${r.max.exclusive ? '<' : '≤'} ${r.max.value}, got ${v}`,
      });
    return v;
  }

  str(v: unknown, field: string): string {
    const r = this.rule(field, 'string');
    if (typeof v !== 'string') {
      this.fail({
        field,
        kind: v === undefined ? 'required' : 'type',
        value: v,
        message: `expected a string, got ${describe(v)}`,
      });
      return '';
    }
    if (r?.nonEmpty && !v) this.fail({ field, kind: 'required', value: v, message: 'must not be empty' });
    if (r?.maxLength !== undefined && v.length > r.maxLength)
      this.fail({
        field,
        kind: 'max',
        value: clip(v),
        message: `must be at most ${r.maxLength} characters, got ${v.length}`,
      });
    return v;
  }

  /** One of the rule's options (or `options`, for lists that live elsewhere, like the methods). */
  choice<T extends string>(v: unknown, field: string, options?: readonly T[]): T {
    const r = this.rule(field, 'choice');
    const allowed = (options ?? r?.options ?? []) as readonly T[];
    if (v === undefined && r?.default !== undefined) return r.default as T;
    if (typeof v !== 'string') {
      this.fail({
        field,
        kind: v === undefined ? 'required' : 'type',
        value: v,
        message: `expected a string, got ${describe(v)}`,
      });
      return (r?.default ?? allowed[0]) as T;
    }
    if (!allowed.includes(v as T))
      this.fail({
        field,
        kind: 'choice',
        value: v,
        message: `must be one of ${allowed.join(', ')}; got "${clip(v)}"`,
      });
    return v as T;
  }

  bool(v: unknown, field: string): boolean {
    const r = this.rule(field, 'boolean');
    if (v === undefined && r?.default !== undefined) return r.default;
    if (typeof v !== 'boolean') {
      this.fail({ field, kind: 'type', value: v, message: `expected true or false, got ${describe(v)}` });
      return r?.default ?? false;
    }
    return v;
  }

  /** A non-empty array; each element read by `each`. */
  list<T>(v: unknown, field: string, what: string, each: (x: unknown, path: string) => T): T[] {
    if (!Array.isArray(v) || v.length === 0) {
      this.fail({
        field,
        kind: v === undefined ? 'required' : 'type',
        value: v,
        message: `expected a non-empty array of ${what}`,
      });
      return [];
    }
    return v.map((x, i) => each(x, `${field}[${i}]`));
  }
}

// ───────────────────────────── sections ─────────────────────────────

/** A class selection: a non-empty list of distinct indices (≥ 0) or names, or a range / split name. */
function readClasses(r: SpecReader, v: unknown, field: string): ClassSelection {
  if (typeof v === 'string') {
    if (!v.trim()) r.fail({ field, kind: 'required', value: v, message: 'must not be empty' });
    return v;
  }
  if (!Array.isArray(v) || v.length === 0) {
    r.fail({
      field,
      kind: 'type',
      value: v,
      message: `expected a non-empty array of classes or a split name, got ${describe(v)}`,
    });
    return [];
  }
  const out = v.map((c, i) => {
    if (typeof c === 'string') return c;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) {
      r.fail({
        field: `${field}[${i}]`,
        kind: 'type',
        value: c,
        message: `expected a class index ≥ 0 or a class name, got ${describe(c)}`,
      });
      return 0;
    }
    return c;
  });
  if (new Set(out).size !== out.length)
    r.fail({ field, kind: 'other', value: v, message: 'lists a class twice' });
  return out;
}

export function readDataset(r: SpecReader, v: unknown, field = 'dataset'): DatasetSpec {
  const o = r.obj(v, field);
  const classes = o.classes === undefined ? {} : { classes: readClasses(r, o.classes, `${field}.classes`) };
  if ('builtin' in o) {
    r.noExtra(o, field, ['builtin', 'classes']);
    return { builtin: r.choice(o.builtin, `${field}.builtin`) as 'fashion-mnist-mini', ...classes };
  }
  const format = r.choice(o.format, `${field}.format`) as 'idx' | 'cifar10' | 'cifar100';
  const dir = r.str(o.dir, `${field}.dir`);
  const name = o.name === undefined ? undefined : r.str(o.name, `${field}.name`);
  if (format === 'idx') {
    r.noExtra(o, field, ['format', 'dir', 'name', 'classes']);
    return { format, dir, ...(name ? { name } : {}), ...classes };
  }
  r.noExtra(o, field, ['format', 'dir', 'name', 'labelKind', 'classes']);
  const labelKind =
    o.labelKind === undefined
      ? undefined
      : (r.choice(o.labelKind, `${field}.labelKind`) as 'fine' | 'coarse');
  return { format, dir, ...(name ? { name } : {}), ...(labelKind ? { labelKind } : {}), ...classes };
}

function readDatasetOptions(r: SpecReader, v: unknown): DatasetOptions {
  const o = r.obj(v, 'datasetOptions', true);
  r.noExtra(o, 'datasetOptions', [
    'valFraction',
    'splitSeed',
    'trainLimit',
    'validationIndices',
    'mean',
    'std',
  ]);
  const out: DatasetOptions = {
    valFraction: r.num(o.valFraction, 'datasetOptions.valFraction'),
    splitSeed: r.num(o.splitSeed, 'datasetOptions.splitSeed'),
    trainLimit: r.num(o.trainLimit, 'datasetOptions.trainLimit'),
  };
  if (o.validationIndices !== undefined)
    out.validationIndices = r.str(o.validationIndices, 'datasetOptions.validationIndices');
  if ((o.mean === undefined) !== (o.std === undefined))
    r.fail({
      field: o.mean === undefined ? 'datasetOptions.mean' : 'datasetOptions.std',
      kind: 'required',
      message: 'give mean and std together',
    });
  else if (o.mean !== undefined) {
    out.mean = r.list(o.mean, 'datasetOptions.mean', 'numbers', (x, p) => r.num(x, p));
    out.std = r.list(o.std, 'datasetOptions.std', 'numbers', (x, p) => r.num(x, p));
    if (out.mean.length !== out.std.length)
      r.fail({
        field: 'datasetOptions.std',
        kind: 'other',
        message: `has ${out.std.length} channels, mean has ${out.mean.length}`,
      });
  }
  return out;
}

function readLayer(r: SpecReader, v: unknown, field: string): LayerSpec {
  const o = r.obj(v, field);
  const type = r.choice(o.type, `${field}.type`) as LayerSpec['type'];
  switch (type) {
    case 'conv':
      r.noExtra(o, field, ['type', 'filters', 'kernel', 'stride', 'relu', 'bias']);
      return {
        type,
        filters: r.num(o.filters, `${field}.filters`),
        kernel: r.num(o.kernel, `${field}.kernel`),
        stride: r.num(o.stride, `${field}.stride`),
        relu: r.bool(o.relu, `${field}.relu`),
        ...(o.bias === undefined ? {} : { bias: r.bool(o.bias, `${field}.bias`) }),
      };
    case 'bn':
    case 'gap':
      r.noExtra(o, field, ['type']);
      return { type };
    case 'residual':
      r.noExtra(o, field, ['type', 'filters', 'stride']);
      return {
        type,
        filters: r.num(o.filters, `${field}.filters`),
        stride: r.num(o.stride, `${field}.stride`, { max: { value: 2 } }),
      };
    case 'maxpool':
      r.noExtra(o, field, ['type', 'size']);
      return { type, size: r.num(o.size, `${field}.size`) };
    case 'flatten':
      r.noExtra(o, field, ['type']);
      return { type };
    case 'dense':
      r.noExtra(o, field, ['type', 'units', 'relu']);
      return { type, units: r.num(o.units, `${field}.units`), relu: r.bool(o.relu, `${field}.relu`) };
    default:
      return { type: 'flatten' };
  }
}

/** Convolutions and pooling work on images: none may follow a flatten or dense layer. */
function checkLayerOrder(r: SpecReader, layers: LayerSpec[], field: string): void {
  let flat = false;
  layers.forEach((l, i) => {
    const at = `${field}[${i}]`;
    if ((l.type === 'conv' || l.type === 'maxpool' || l.type === 'residual' || l.type === 'gap') && flat)
      r.fail({
        field: at,
        kind: 'other',
        message: `a ${l.type === 'conv' ? 'convolution' : l.type === 'residual' ? 'residual block' : 'pooling layer'} cannot follow a flatten, dense or global-pooling layer`,
      });
    const prev = layers[i - 1];
    if (l.type === 'bn' && (!prev || (prev.type !== 'conv' && prev.type !== 'dense')))
      r.fail({ field: at, kind: 'other', message: 'a bn layer must follow a conv or dense layer' });
    if (l.type === 'flatten' && flat)
      r.fail({ field: at, kind: 'other', message: 'there is already a flatten or dense layer before it' });
    if (l.type === 'flatten' || l.type === 'dense' || l.type === 'gap') flat = true;
  });
}

function readArch(r: SpecReader, v: unknown): ArchSpec {
  const o = r.obj(v, 'model');
  const arch = r.choice(o.arch, 'model.arch') as ArchSpec['arch'];
  const at = (k: string): string => `model.${k}`;
  let out: ArchSpec;
  switch (arch) {
    case 'mlp':
      r.noExtra(o, 'model', ['arch', 'hidden']);
      out = { arch, hidden: r.list(o.hidden, at('hidden'), 'layer widths', (h, p) => r.num(h, p)) };
      break;
    case 'conv8':
      r.noExtra(o, 'model', ['arch', 'width']);
      out = o.width === undefined ? { arch } : { arch, width: r.num(o.width, at('width')) };
      break;
    case 'resnet20':
      r.noExtra(o, 'model', ['arch', 'width']);
      out =
        o.width === undefined
          ? { arch }
          : { arch, width: r.num(o.width, at('width'), { max: { value: 64, soft: true } }) };
      break;
    case 'cnn': {
      r.noExtra(o, 'model', ['arch', 'layers']);
      const layers = r.list(o.layers, at('layers'), 'layers', (l, p) => readLayer(r, l, p));
      checkLayerOrder(r, layers, at('layers'));
      out = { arch, layers };
      break;
    }
    default:
      out = { arch: 'mlp', hidden: [] };
  }
  return out;
}

function readInit(r: SpecReader, v: unknown, field: string): InitSpec {
  const o = r.obj(v, field);
  r.noExtra(o, field, ['seed', 'file', 'label', 'layout', 'paramSet']);
  const out: InitSpec = {};
  if (o.seed !== undefined) out.seed = r.num(o.seed, `${field}.seed`);
  if (o.file !== undefined) out.file = r.str(o.file, `${field}.file`);
  if (o.paramSet !== undefined) out.paramSet = r.str(o.paramSet, `${field}.paramSet`);
  if (o.label !== undefined) out.label = r.str(o.label, `${field}.label`);
  if (o.layout !== undefined) out.layout = r.choice(o.layout, `${field}.layout`) as InitSpec['layout'];
  const given = [out.seed, out.file, out.paramSet].filter((x) => x !== undefined).length;
  if (given === 0) r.fail({ field, kind: 'required', message: 'needs "seed", "file" or "paramSet"' });
  if (given > 1)
    r.fail({ field, kind: 'other', message: 'give one of "seed", "file" or "paramSet", not several' });
  return out;
}

function readTrainedFile(r: SpecReader, v: unknown, field: string): TrainedFileSpec {
  const o = r.obj(v, field);
  r.noExtra(o, field, ['file', 'checkpoints', 'layout']);
  const out: TrainedFileSpec = { file: r.str(o.file, `${field}.file`) };
  if (o.checkpoints !== undefined)
    out.checkpoints = r.list(o.checkpoints, `${field}.checkpoints`, 'files (θ^1..θ^T)', (c, p) =>
      r.str(c, p),
    );
  if (o.layout !== undefined) out.layout = r.choice(o.layout, `${field}.layout`) as TrainedFileSpec['layout'];
  return out;
}

function readAugment(r: SpecReader, v: unknown, field: string): AugmentSpec | undefined {
  if (v === false || v === undefined) return undefined;
  if (v === true) return { pad: r.num(undefined, `${field}.pad`), flip: r.bool(undefined, `${field}.flip`) };
  const o = r.obj(v, field);
  r.noExtra(o, field, ['pad', 'flip']);
  return { pad: r.num(o.pad, `${field}.pad`), flip: r.bool(o.flip, `${field}.flip`) };
}

function readPretrain(r: SpecReader, v: unknown): PretrainSpec | undefined {
  if (v === undefined) return undefined;
  const o = r.obj(v, 'pretrain');
  r.noExtra(o, 'pretrain', ['dataset', 'classes', 'train', 'head']);
  const out: PretrainSpec = {
    train: readTrain(r, o.train, 'pretrain.train'),
    head: r.choice(o.head, 'pretrain.head') as PretrainSpec['head'],
  };
  if (o.dataset !== undefined) out.dataset = readDataset(r, o.dataset, 'pretrain.dataset');
  if (o.classes !== undefined) out.classes = readClasses(r, o.classes, 'pretrain.classes');
  return out;
}

const TRAIN_FIELDS = [
  'epochs',
  'batchSize',
  'lr',
  'momentum',
  'weightDecay',
  'lrSchedule',
  'dataSeed',
  'checkpoints',
  'augment',
];

export function readTrain(r: SpecReader, v: unknown, field = 'source.train'): TrainSpec {
  const o = r.obj(v, field, true);
  r.noExtra(o, field, TRAIN_FIELDS);
  const t: TrainSpec = {
    epochs: r.num(o.epochs, `${field}.epochs`),
    batchSize: r.num(o.batchSize, `${field}.batchSize`),
    lr: r.num(o.lr, `${field}.lr`),
    momentum: r.num(o.momentum, `${field}.momentum`),
    weightDecay: r.num(o.weightDecay, `${field}.weightDecay`),
    lrSchedule: r.choice(o.lrSchedule, `${field}.lrSchedule`) as TrainSpec['lrSchedule'],
  };
  if (o.dataSeed !== undefined) t.dataSeed = r.num(o.dataSeed, `${field}.dataSeed`);
  if (o.checkpoints !== undefined) t.checkpoints = r.bool(o.checkpoints, `${field}.checkpoints`);
  const augment = readAugment(r, o.augment, `${field}.augment`);
  if (augment) t.augment = augment;
  return t;
}

function readTransfer(r: SpecReader, v: unknown): TransferSpec {
  const o = r.obj(v, 'transfer', true);
  r.noExtra(o, 'transfer', [
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
  let methods: MethodName[] = methodNames();
  if (o.methods !== undefined) {
    methods = r.list(o.methods, 'transfer.methods', 'method names', (m, p) => r.choice(m, p, methodNames()));
    if (new Set(methods).size !== methods.length)
      r.fail({ field: 'transfer.methods', kind: 'other', message: 'lists a method twice' });
  }
  return {
    T: r.num(o.T, 'transfer.T'),
    trajectory: r.choice(o.trajectory, 'transfer.trajectory') as TransferSpec['trajectory'],
    schedule: r.choice(o.schedule, 'transfer.schedule') as TransferSpec['schedule'],
    batchSize: r.num(o.batchSize, 'transfer.batchSize'),
    gradBatches: r.num(o.gradBatches, 'transfer.gradBatches'),
    methods,
    seed: r.num(o.seed, 'transfer.seed'),
    matchTolerance: r.num(o.matchTolerance, 'transfer.matchTolerance'),
    matchMaxIter: r.num(o.matchMaxIter, 'transfer.matchMaxIter'),
    bnBatches: r.num(o.bnBatches, 'transfer.bnBatches'),
  };
}

/**
 * The `analyses` section. A sub-section may be `true` (all its defaults) or an object; defaults
 * follow the paper: subsequent training with Adam, lr 1e-4, 10 epochs from the best step, with a
 * scratch baseline; 25 points per path; a 21×21 plane with 20 % margin around FGMT's point.
 */
function readAnalyses(r: SpecReader, v: unknown): AnalysesSpec | undefined {
  if (v === undefined) return undefined;
  const o = r.obj(v, 'analyses');
  r.noExtra(o, 'analyses', ['finetune', 'paths', 'plane', 'assumptionP', 'ensembles', 'evalLimit']);
  const out: AnalysesSpec = { evalLimit: r.num(o.evalLimit, 'analyses.evalLimit') };
  const section = (k: string, allowed: string[]): Record<string, unknown> | null => {
    const x = o[k];
    if (x === undefined || x === false) return null;
    const s = x === true ? {} : r.obj(x, `analyses.${k}`);
    r.noExtra(s, `analyses.${k}`, allowed);
    return s;
  };
  const ft = section('finetune', [
    'optimizer',
    'lr',
    'epochs',
    'from',
    'scratch',
    'batchSize',
    'weightDecay',
    'momentum',
  ]);
  if (ft) {
    const f = 'analyses.finetune';
    out.finetune = {
      optimizer: r.choice(ft.optimizer, `${f}.optimizer`) as 'adam' | 'adamw' | 'sgd',
      lr: r.num(ft.lr, `${f}.lr`),
      epochs: r.num(ft.epochs, `${f}.epochs`),
      from: r.choice(ft.from, `${f}.from`) as 'best' | 'final',
      scratch: r.bool(ft.scratch, `${f}.scratch`),
      weightDecay: r.num(ft.weightDecay, `${f}.weightDecay`),
      momentum: r.num(ft.momentum, `${f}.momentum`),
      ...(ft.batchSize !== undefined ? { batchSize: r.num(ft.batchSize, `${f}.batchSize`) } : {}),
    };
  }
  const pa = section('paths', ['points']);
  if (pa) out.paths = { points: r.num(pa.points, 'analyses.paths.points') };
  const pl = section('plane', ['method', 'grid', 'margin', 'from']);
  if (pl) {
    const f = 'analyses.plane';
    out.plane = {
      // the default (FGMT, else the first method) needs transfer.methods: filled in CHECKS
      method: (pl.method === undefined
        ? ''
        : r.choice(pl.method, `${f}.method`, methodNames())) as MethodName,
      grid: r.num(pl.grid, `${f}.grid`),
      margin: r.num(pl.margin, `${f}.margin`),
      from: r.choice(pl.from, `${f}.from`) as 'transferred' | 'finetuned',
    };
  }
  const ap = section('assumptionP', ['widths']);
  if (ap) {
    const widths =
      ap.widths === undefined || (Array.isArray(ap.widths) && ap.widths.length === 0)
        ? []
        : r.list(ap.widths, 'analyses.assumptionP.widths', 'widths', (w, p) => r.num(w, p));
    out.assumptionP = { widths };
  }
  const en = section('ensembles', ['from']);
  if (en) out.ensembles = { from: r.choice(en.from, 'analyses.ensembles.from') as 'best' | 'final' };
  return out;
}

/** What the analyses need from the rest of the spec. */
function checkAnalyses(r: SpecReader, spec: ExperimentSpec): void {
  const a = spec.analyses;
  if (!a) return;
  const methods = spec.transfer.methods;
  if (a.plane) {
    if (!a.plane.method) a.plane.method = methods.includes('fgmt') ? 'fgmt' : methods[0];
    else if (!methods.includes(a.plane.method))
      r.fail({
        field: 'analyses.plane.method',
        kind: 'other',
        value: a.plane.method,
        message: `"${a.plane.method}" is not among transfer.methods (${methods.join(', ')})`,
      });
    if (a.plane.from === 'finetuned' && !a.finetune)
      r.fail({ field: 'analyses.plane.from', kind: 'other', message: '"finetuned" needs analyses.finetune' });
  }
  const widths = a.assumptionP?.widths ?? [];
  if (widths.length && spec.model.arch === 'cnn')
    r.fail({
      field: 'analyses.assumptionP.widths',
      kind: 'other',
      message: 'a width sweep needs an mlp or conv8 model (a cnn has no single width)',
    });
  if (widths.length && (spec.source.init.seed === undefined || spec.targets[0]?.init.seed === undefined))
    r.fail({
      field: 'analyses.assumptionP.widths',
      kind: 'other',
      message: 'a width sweep needs seeded inits (a parameter file has one width)',
    });
  if (a.ensembles && spec.targets.length < 2)
    r.fail({
      field: 'analyses.ensembles',
      kind: 'other',
      message: `needs at least 2 targets, got ${spec.targets.length}`,
    });
}

type Section<K extends keyof ExperimentSpec> = (r: SpecReader, v: unknown) => ExperimentSpec[K];

/** Each top-level key of a spec and how it is read; a key not listed here is refused. */
const SECTIONS: { [K in keyof ExperimentSpec]-?: Section<K> } = {
  name: (r, v) => (v === undefined ? undefined : r.str(v, 'name')),
  dataset: (r, v) => readDataset(r, v),
  datasetOptions: readDatasetOptions,
  model: (r, v) => readArch(r, v),
  pretrain: readPretrain,
  source: (r, v) => {
    const o = r.obj(v, 'source');
    r.noExtra(o, 'source', ['init', 'train', 'trained']);
    return {
      init: readInit(r, o.init, 'source.init'),
      train: readTrain(r, o.train),
      ...(o.trained === undefined ? {} : { trained: readTrainedFile(r, o.trained, 'source.trained') }),
    };
  },
  targets: (r, v) =>
    r.list(v, 'targets', '{ "init": … }', (t, p) => {
      const o = r.obj(t, p);
      r.noExtra(o, p, ['init', 'trained']);
      return {
        init: readInit(r, o.init, `${p}.init`),
        ...(o.trained === undefined ? {} : { trained: readTrainedFile(r, o.trained, `${p}.trained`) }),
      };
    }),
  transfer: readTransfer,
  backend: (r, v) => r.choice(v, 'backend') as BackendChoice,
  evalLimit: (r, v) => r.num(v, 'evalLimit'),
  analyses: readAnalyses,
};

/** Rules across sections, run once every section has been read (and may fill implied values). */
const CHECKS: ((r: SpecReader, spec: ExperimentSpec) => void)[] = [
  checkAnalyses,
  (r, spec) => {
    const files = spec.source.trained;
    if (!files) return;
    if (spec.transfer.trajectory === 'actual' && !files.checkpoints)
      r.fail({
        field: 'source.trained.checkpoints',
        kind: 'required',
        message: 'an actual trajectory from files needs the checkpoints θ^1..θ^T (one file each)',
      });
    else if (spec.transfer.trajectory === 'actual' && files.checkpoints!.length !== spec.transfer.T)
      r.fail({
        field: 'source.trained.checkpoints',
        kind: 'other',
        message: `lists ${files.checkpoints!.length} files but transfer.T is ${spec.transfer.T}`,
      });
  },
  (r, spec) => {
    // a source trained elsewhere brings its own checkpoints: no epochs to match
    if (spec.transfer.trajectory !== 'actual' || spec.source.trained) return;
    if (!spec.source.train.checkpoints) spec.source.train.checkpoints = true;
    if (spec.transfer.T !== spec.source.train.epochs)
      r.fail({
        field: 'transfer.T',
        kind: 'other',
        value: spec.transfer.T,
        message: `an actual trajectory has one checkpoint per epoch, so T must equal the source's epochs (source.train.epochs = ${spec.source.train.epochs}); got ${spec.transfer.T}`,
      });
  },
];

function read(r: SpecReader, input: unknown): ExperimentSpec {
  const o = r.obj(input, '(spec)');
  r.noExtra(o, '', Object.keys(SECTIONS));
  const spec: Record<string, unknown> = {};
  for (const [key, section] of Object.entries(SECTIONS) as [string, Section<keyof ExperimentSpec>][]) {
    const value = section(r, o[key]);
    if (value !== undefined) spec[key] = value;
  }
  for (const check of CHECKS) check(r, spec as unknown as ExperimentSpec);
  return spec as unknown as ExperimentSpec;
}

/** Validates a spec read from JSON and fills every default; throws SpecError naming the field. */
export function parseSpec(input: unknown): ExperimentSpec {
  return read(new SpecReader(false), input);
}

/** Every issue of a spec at once (empty when parseSpec would accept it), and the spec as far as read. */
export function validateSpec(input: unknown): { spec: ExperimentSpec; issues: SpecIssue[] } {
  const r = new SpecReader(true);
  const spec = read(r, input);
  return { spec, issues: r.issues };
}

/**
 * Reads one section on its own, its issues renamed from the section's place in a spec ('model')
 * to `field` ('arch'); throws the first as a SpecError.
 */
function parseSection<T>(
  read: (r: SpecReader, v: unknown) => T,
  input: unknown,
  from: string,
  field: string,
): T {
  const r = new SpecReader(true);
  const out = read(r, input);
  const first = r.issues[0];
  if (!first) return out;
  const name =
    first.field === from || first.field.startsWith(`${from}.`) || first.field.startsWith(`${from}[`)
      ? field + first.field.slice(from.length)
      : first.field;
  throw new SpecError(name, first.message, { ...first, field: name });
}

/** An architecture on its own (a parameter set's); `field` names it in errors. */
export function parseArch(input: unknown, field = 'model'): ArchSpec {
  return parseSection(readArch, input, 'model', field);
}

export function validateArch(input: unknown): SpecIssue[] {
  const r = new SpecReader(true);
  readArch(r, input);
  return r.issues;
}

/** A dataset on its own (the datasets API); errors name `<field>.dir` etc. */
export function parseDataset(input: unknown, field = 'dataset'): DatasetSpec {
  return parseSection(readDataset, input, 'dataset', field);
}

/** A spec issue in a sentence for a form: 'Epochs must be at least 1; it is 0.' */
export function describeIssue(issue: SpecIssue): string {
  const label = fieldLabel(issue.field);
  switch (issue.kind) {
    case 'type':
    case 'required':
      if (fieldRule(issue.field)?.type === 'number') return `${label} must be a number.`;
      break;
    case 'int':
      return `${label} must be a whole number, not ${issue.value}.`;
    case 'min':
      return `${label} must be ${issue.limit?.exclusive ? 'more than' : 'at least'} ${issue.limit?.value}; it is ${issue.value}.`;
    case 'max':
      if (issue.limit)
        return `${label} must be ${issue.limit.exclusive ? 'less than' : 'at most'} ${issue.limit.value}; it is ${issue.value}.`;
      break;
  }
  const m = issue.message.replace(/\.$/, '');
  return fieldRule(issue.field) ? `${label}: ${m}.` : `${m.charAt(0).toUpperCase()}${m.slice(1)}.`;
}
