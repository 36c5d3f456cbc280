import {
  describeIssue,
  fieldDefault,
  listMethods,
  validateArch,
  validateSpec,
  type AnalysesSpec,
  type ArchSpec,
  type ClassSelection,
  type DatasetSpec,
  type ExperimentSpec,
  type InitSpec,
  type LayerSpec,
  type MethodName,
  type SpecIssue,
  type TrainSpec,
} from '../../../shared/domain/index.js';

/**
 * The new-experiment wizard's form state, its validation per step and the spec it builds. Field
 * keys are the spec's own paths ('source.train.lr', 'targets[1].init.seed') so that an error the
 * services report for a spec field lands on the same input as a local one.
 */

export const STEPS = ['dataset', 'model', 'source', 'targets', 'transfer', 'analyses', 'review'] as const;
export type StepId = (typeof STEPS)[number];
export const STEP_TITLES: Record<StepId, string> = {
  dataset: 'Dataset',
  model: 'Architecture',
  source: 'Source',
  targets: 'Targets',
  transfer: 'Transfer',
  analyses: 'Analyses',
  review: 'Review & run',
};

export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
/** The methods the wizard offers, in display order: every method in the domain registry. */
export function methodOptions(): MethodName[] {
  return listMethods().map((m) => m.name as MethodName);
}

export type DatasetChoice = 'builtin' | 'debian' | 'files';
export type InitFrom = 'seed' | 'paramset';

export interface InitForm {
  from: InitFrom;
  seed: number | string;
  paramSetId: string;
  label: string;
}

export interface WizardState {
  dataset: {
    choice: DatasetChoice;
    format: 'idx' | 'cifar10' | 'cifar100';
    dir: string;
    labelKind: 'fine' | 'coarse';
    valFraction: number | string;
    splitSeed: number | string;
    trainLimit: number | string;
    evalLimit: number | string;
    /** a class subset as typed: "" (all), "5-9", "upper-half", "subset-3", "0, 2, 4", "Sandal, Bag" */
    classes: string;
  };
  model: {
    arch: 'mlp' | 'conv8' | 'cnn' | 'resnet20';
    /** comma-separated widths as typed */
    hidden: string;
    width: number | string;
    layers: LayerSpec[];
  };
  source: {
    init: InitForm;
    train: {
      epochs: number | string;
      batchSize: number | string;
      lr: number | string;
      momentum: number | string;
      weightDecay: number | string;
      lrSchedule: 'constant' | 'cosine';
      checkpoints: boolean;
      /** the authors' CIFAR augmentation (pad 4, random crop, horizontal flip) */
      augment: boolean;
    };
    /** when filled from an already trained source: the parameter set and its experiment */
    reuse: { paramSetId: string; experimentId: string | null; label: string } | null;
  };
  targets: InitForm[];
  /** the pre-trained scenario: both initialisations are first trained on other classes of the same files */
  pretrain: {
    enabled: boolean;
    /** class subset to pre-train on, as typed (like dataset.classes) */
    classes: string;
    epochs: number | string;
    batchSize: number | string;
    lr: number | string;
    momentum: number | string;
    head: 'reinit' | 'keep';
  };
  transfer: {
    T: number | string;
    trajectory: 'linear' | 'actual';
    schedule: 'cosine' | 'uniform';
    batchSize: number | string;
    gradBatches: number | string;
    methods: MethodName[];
    seed: number | string;
    /** BatchNorm networks: minibatches to re-estimate running statistics on after each transfer step */
    bnBatches: number | string;
  };
  /** the paper's analyses; each off until switched on, with the paper's settings */
  analyses: AnalysesForm;
  name: string;
  /** comma-separated as typed */
  tags: string;
  notes: string;
}

export interface AnalysesForm {
  finetune: {
    on: boolean;
    optimizer: 'adam' | 'adamw' | 'sgd';
    lr: number | string;
    epochs: number | string;
    from: 'best' | 'final';
    scratch: boolean;
  };
  paths: { on: boolean; points: number | string };
  plane: {
    on: boolean;
    /** '' = the default (FGMT when it runs, else the first method) */
    method: MethodName | '';
    grid: number | string;
    margin: number | string;
    from: 'transferred' | 'finetuned';
  };
  assumptionP: { on: boolean; /** comma-separated, may be empty */ widths: string };
  ensembles: { on: boolean; from: 'best' | 'final' };
  evalLimit: number | string;
}

export function emptyAnalyses(): AnalysesForm {
  return {
    finetune: {
      on: false,
      optimizer: fieldDefault('analyses.finetune.optimizer') as 'adam',
      lr: fieldDefault('analyses.finetune.lr'),
      epochs: fieldDefault('analyses.finetune.epochs'),
      from: fieldDefault('analyses.finetune.from') as 'best',
      scratch: fieldDefault('analyses.finetune.scratch'),
    },
    paths: { on: false, points: fieldDefault('analyses.paths.points') },
    plane: {
      on: false,
      method: '',
      grid: fieldDefault('analyses.plane.grid'),
      margin: fieldDefault('analyses.plane.margin'),
      from: fieldDefault('analyses.plane.from') as 'transferred',
    },
    assumptionP: { on: false, widths: '' },
    ensembles: { on: false, from: fieldDefault('analyses.ensembles.from') as 'best' },
    evalLimit: fieldDefault('analyses.evalLimit'),
  };
}

/** The `analyses` section the form describes, or undefined when none is on. */
export function analysesSpec(a: AnalysesForm): AnalysesSpec | undefined {
  if (!a.finetune.on && !a.paths.on && !a.plane.on && !a.assumptionP.on && !a.ensembles.on) return undefined;
  const out: AnalysesSpec = { evalLimit: toNumber(a.evalLimit) };
  if (a.finetune.on)
    out.finetune = {
      optimizer: a.finetune.optimizer,
      lr: toNumber(a.finetune.lr),
      epochs: toNumber(a.finetune.epochs),
      from: a.finetune.from,
      scratch: a.finetune.scratch,
      weightDecay: 0,
      momentum: 0,
    };
  if (a.paths.on) out.paths = { points: toNumber(a.paths.points) };
  if (a.plane.on)
    out.plane = {
      method: a.plane.method as MethodName,
      grid: toNumber(a.plane.grid),
      margin: toNumber(a.plane.margin),
      from: a.plane.from,
    };
  if (a.assumptionP.on)
    out.assumptionP = {
      widths: a.assumptionP.widths.trim() ? (parseWidths(a.assumptionP.widths) ?? [NaN]) : [],
    };
  if (a.ensembles.on) out.ensembles = { from: a.ensembles.from };
  return out;
}

export type Errors = Record<string, string>;

export interface PresetInfo {
  id: string;
  title: string;
  description: string;
}

export const PRESETS: readonly PresetInfo[] = [
  {
    id: 'quick',
    title: 'Smoke test (bundled data)',
    description:
      'Bundled Fashion-MNIST subset, MLP 256, 2 epochs on 2,000 images, T = 5, all four methods. Under a minute on a laptop. Smaller than examples/quick.json (MLP 512, 5 epochs, T = 10), whose numbers the README quotes.',
  },
  {
    id: 'paper-mlp',
    title: 'Paper: 2-MLP on Fashion-MNIST',
    description:
      "Debian's full Fashion-MNIST, hidden 4096, SGD lr 0.01 momentum 0.9, 10 epochs, batch 128, T = 10 cosine (the paper's MNIST setting).",
  },
  {
    id: 'analyses',
    title: "The paper's analyses (bundled data)",
    description:
      'Bundled subset, MLP 256, two targets, all four methods, then subsequent training, linear paths, the loss plane, Assumption (P) over widths and ensembles (examples/analyses-fashion-mnist.json).',
  },
  {
    id: 'conv8-cifar10',
    title: 'Conv8 on CIFAR-10 (your files)',
    description:
      'Conv8, lr 0.05, wd 1e-4, cosine lr, 60 epochs, T = 30, 2 gradient batches. Point it at your CIFAR-10 folder.',
  },
  {
    id: 'pretrained-fmnist',
    title: 'Pre-trained scenario (bundled data)',
    description:
      'Both initialisations pre-trained on Fashion-MNIST classes 0–4, the source fine-tuned on 5–9 and its fine-tuning transferred (paper Sec. 4.1). MLP 512, 5 + 5 epochs, T = 10. A few minutes.',
  },
  {
    id: 'resnet20-cifar10',
    title: 'ResNet-20 on CIFAR-10 (your files)',
    description:
      'ResNet-20 with BatchNorm, CIFAR augmentation (pad 4, crop, flip), lr 0.05 cosine, wd 1e-4, 60 epochs, T = 30; running statistics re-estimated after each transfer step. Needs a GPU-class machine.',
  },
];

function seedInit(seed: number): InitForm {
  return { from: 'seed', seed, paramSetId: '', label: '' };
}

export function emptyState(): WizardState {
  return {
    dataset: {
      choice: 'builtin',
      format: 'idx',
      dir: '',
      labelKind: 'fine',
      valFraction: fieldDefault('datasetOptions.valFraction'),
      splitSeed: fieldDefault('datasetOptions.splitSeed'),
      trainLimit: fieldDefault('datasetOptions.trainLimit'),
      evalLimit: fieldDefault('evalLimit'),
      classes: '',
    },
    model: { arch: 'mlp', hidden: '256', width: '', layers: defaultCnnLayers() },
    source: {
      init: seedInit(101),
      train: {
        epochs: fieldDefault('source.train.epochs'),
        batchSize: fieldDefault('source.train.batchSize'),
        lr: fieldDefault('source.train.lr'),
        momentum: fieldDefault('source.train.momentum'),
        weightDecay: fieldDefault('source.train.weightDecay'),
        lrSchedule: fieldDefault('source.train.lrSchedule') as 'constant' | 'cosine',
        checkpoints: false,
        augment: false,
      },
      reuse: null,
    },
    targets: [seedInit(102)],
    pretrain: {
      enabled: false,
      classes: 'lower-half',
      epochs: 5,
      batchSize: fieldDefault('source.train.batchSize'),
      lr: fieldDefault('source.train.lr'),
      momentum: fieldDefault('source.train.momentum'),
      head: fieldDefault('pretrain.head') as 'reinit' | 'keep',
    },
    transfer: {
      T: fieldDefault('transfer.T'),
      trajectory: fieldDefault('transfer.trajectory') as 'linear' | 'actual',
      schedule: fieldDefault('transfer.schedule') as 'cosine' | 'uniform',
      batchSize: fieldDefault('transfer.batchSize'),
      gradBatches: fieldDefault('transfer.gradBatches'),
      methods: methodOptions(),
      seed: fieldDefault('transfer.seed'),
      bnBatches: fieldDefault('transfer.bnBatches'),
    },
    analyses: emptyAnalyses(),
    name: '',
    tags: '',
    notes: '',
  };
}

function defaultCnnLayers(): LayerSpec[] {
  return [
    { type: 'conv', filters: 16, kernel: 3, stride: 1, relu: true },
    { type: 'maxpool', size: 2 },
    { type: 'conv', filters: 32, kernel: 3, stride: 1, relu: true },
    { type: 'maxpool', size: 2 },
    { type: 'flatten' },
    { type: 'dense', units: 128, relu: true },
  ];
}

export function presetState(id: string): WizardState {
  const s = emptyState();
  switch (id) {
    case 'quick':
      s.dataset = { ...s.dataset, choice: 'builtin', trainLimit: 2000, evalLimit: 1000 };
      s.model = { ...s.model, arch: 'mlp', hidden: '256' };
      s.source.train = {
        epochs: 2,
        batchSize: 128,
        lr: 0.02,
        momentum: 0.9,
        weightDecay: 0,
        lrSchedule: 'constant',
        checkpoints: false,
        augment: false,
      };
      s.transfer = {
        ...s.transfer,
        T: 5,
        schedule: 'cosine',
        trajectory: 'linear',
        batchSize: 128,
        gradBatches: 1,
      };
      s.name = 'Smoke test';
      s.tags = 'demo';
      return s;
    case 'paper-mlp':
      s.dataset = {
        ...s.dataset,
        choice: 'debian',
        format: 'idx',
        dir: DEBIAN_FASHION_MNIST,
        trainLimit: 0,
        evalLimit: 0,
      };
      s.model = { ...s.model, arch: 'mlp', hidden: '4096' };
      s.source.train = {
        epochs: 10,
        batchSize: 128,
        lr: 0.01,
        momentum: 0.9,
        weightDecay: 0,
        lrSchedule: 'constant',
        checkpoints: false,
        augment: false,
      };
      s.transfer = {
        ...s.transfer,
        T: 10,
        schedule: 'cosine',
        trajectory: 'linear',
        batchSize: 128,
        gradBatches: 1,
      };
      s.name = '2-MLP on Fashion-MNIST (paper)';
      s.tags = 'paper, mlp';
      return s;
    case 'analyses':
      s.dataset = { ...s.dataset, choice: 'builtin', trainLimit: 0, evalLimit: 0 };
      s.model = { ...s.model, arch: 'mlp', hidden: '256' };
      s.source.train = {
        epochs: 5,
        batchSize: 128,
        lr: 0.01,
        momentum: 0.9,
        weightDecay: 0,
        lrSchedule: 'constant',
        checkpoints: false,
        augment: false,
      };
      s.targets = [seedInit(102), seedInit(103)];
      s.transfer = {
        ...s.transfer,
        T: 10,
        schedule: 'cosine',
        trajectory: 'linear',
        batchSize: 128,
        gradBatches: 1,
      };
      s.analyses = emptyAnalyses();
      s.analyses.finetune = { ...s.analyses.finetune, on: true, epochs: 5 };
      s.analyses.paths.on = true;
      s.analyses.plane = { ...s.analyses.plane, on: true, method: 'fgmt' };
      s.analyses.assumptionP = { on: true, widths: '32, 128, 512' };
      s.analyses.ensembles.on = true;
      s.analyses.evalLimit = 500;
      s.name = "The paper's analyses";
      s.tags = 'analyses, demo';
      return s;
    case 'conv8-cifar10':
      s.dataset = { ...s.dataset, choice: 'files', format: 'cifar10', dir: '', trainLimit: 0, evalLimit: 0 };
      s.model = { ...s.model, arch: 'conv8', width: '' };
      s.source.train = {
        epochs: 60,
        batchSize: 128,
        lr: 0.05,
        momentum: 0.9,
        weightDecay: 1e-4,
        lrSchedule: 'cosine',
        checkpoints: false,
        augment: false,
      };
      s.transfer = {
        ...s.transfer,
        T: 30,
        schedule: 'cosine',
        trajectory: 'linear',
        batchSize: 128,
        gradBatches: 2,
      };
      s.name = 'Conv8 on CIFAR-10';
      s.tags = 'paper, conv8';
      return s;
    case 'pretrained-fmnist':
      s.dataset = { ...s.dataset, choice: 'builtin', trainLimit: 0, evalLimit: 0, classes: 'upper-half' };
      s.model = { ...s.model, arch: 'mlp', hidden: '512' };
      s.pretrain = {
        ...s.pretrain,
        enabled: true,
        classes: 'lower-half',
        epochs: 5,
        lr: 0.01,
        head: 'reinit',
      };
      s.source.train = {
        epochs: 5,
        batchSize: 128,
        lr: 0.01,
        momentum: 0.9,
        weightDecay: 0,
        lrSchedule: 'constant',
        checkpoints: false,
        augment: false,
      };
      s.transfer = { ...s.transfer, T: 10, schedule: 'cosine', trajectory: 'linear', batchSize: 128 };
      s.name = 'Pre-trained scenario: Fashion-MNIST 0–4 → 5–9';
      s.tags = 'paper, pretrained';
      return s;
    case 'resnet20-cifar10':
      s.dataset = { ...s.dataset, choice: 'files', format: 'cifar10', dir: '', trainLimit: 0, evalLimit: 0 };
      s.model = { ...s.model, arch: 'resnet20', width: 1 };
      s.source.train = {
        epochs: 60,
        batchSize: 128,
        lr: 0.05,
        momentum: 0.9,
        weightDecay: 1e-4,
        lrSchedule: 'cosine',
        checkpoints: false,
        augment: true,
      };
      s.transfer = {
        ...s.transfer,
        T: 30,
        schedule: 'cosine',
        trajectory: 'linear',
        batchSize: 128,
        gradBatches: 2,
        bnBatches: 10,
      };
      s.name = 'ResNet-20 on CIFAR-10';
      s.tags = 'resnet, batchnorm';
      return s;
    default:
      return s;
  }
}

// ───────────────────────────── parsing helpers ─────────────────────────────

/** A form value as a number: '' and non-numeric text are NaN (v-model.number leaves text as is). */
export function toNumber(v: number | string | null | undefined): number {
  if (typeof v === 'number') return v;
  if (v === null || v === undefined || String(v).trim() === '') return NaN;
  const n = Number(String(v).trim());
  return Number.isFinite(n) ? n : NaN;
}

/** "256, 128" → [256, 128]; null when any entry is not a positive whole number. */
export function parseWidths(text: string): number[] | null {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) return null;
  const out = parts.map(Number);
  return out.every((n) => Number.isInteger(n) && n >= 1 && n <= 65536) ? out : null;
}

/**
 * A class subset as typed → the spec's selection: "" → none; "0, 2, 4" or "Sandal, Bag" → a list
 * (numbers stay numbers); anything else ("5-9", "upper-half", "subset-3") as it is.
 */
export function parseClassesText(text: string): ClassSelection | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (!t.includes(',')) return t;
  return t
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => (/^\d+$/.test(x) ? Number(x) : x));
}

export function parseTags(text: string): string[] {
  const out: string[] = [];
  for (const t of text.split(',')) {
    const s = t.trim();
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

// ───────────────────────────── validation ─────────────────────────────

export interface ParamCheck {
  state: 'checking' | 'fits' | 'misfit' | 'error';
  reason?: string;
}

export interface ValidationContext {
  preview: 'idle' | 'loading' | 'ok' | 'error';
  previewError?: string;
  /** params.check outcome by parameter set id, for the current architecture and dataset */
  paramChecks: ReadonlyMap<string, ParamCheck>;
}

/** A parameter set chosen as an initialisation must fit; `who` sits inside a sentence ("target 2"). */
function checkInit(errors: Errors, key: string, init: InitForm, ctx: ValidationContext, who: string): void {
  if (init.from === 'seed') return; // the spec parser checks the seed
  if (!init.paramSetId) {
    errors[`${key}.file`] = `Pick a parameter set for ${who}.`;
    return;
  }
  const c = ctx.paramChecks.get(init.paramSetId);
  if (!c || c.state === 'checking')
    errors[`${key}.file`] = `Checking whether the parameter set fits the architecture…`;
  else if (c.state !== 'fits')
    errors[`${key}.file`] =
      `This parameter set cannot be used for ${who}: ${(c.reason ?? 'it does not fit the architecture').replace(/\.$/, '')}.`;
}

/** Errors of a CNN's layer list, from the spec parser, keyed 'model.layers[i].field'. */
export function validateLayers(layers: readonly LayerSpec[]): Errors {
  return issuesToErrors(validateArch({ arch: 'cnn', layers }));
}

function issuesToErrors(issues: readonly SpecIssue[], step?: StepId): Errors {
  const errors: Errors = {};
  for (const i of issues) {
    const key = normaliseField(i.field);
    if (step === undefined || stepOfField(key) === step) errors[key] ??= describeIssue(i);
  }
  return errors;
}

/** Where a parameter set's file would be, for validation: any absolute path will do. */
export const VALIDATION_BUILD: BuildContext = {
  paramFile: (id) => `/param-sets/${id}`,
  paramName: () => null,
};

/**
 * Errors of one step, keyed by field; empty when the step may be left. The spec's own fields are
 * checked by the domain's parser on the spec the wizard would build (so the wizard and the engine
 * cannot disagree on a bound); the rest (the dataset preview, parameter sets, name and tags) here.
 */
export function validateStep(step: StepId, s: WizardState, ctx: ValidationContext): Errors {
  const e: Errors = {};
  switch (step) {
    case 'dataset': {
      if (s.dataset.choice === 'files' && !s.dataset.dir.trim())
        e['dataset.dir'] = 'Enter the folder that holds the dataset files.';
      else if (ctx.preview === 'error')
        e['dataset.dir'] = `The lab cannot use this dataset — ${ctx.previewError ?? 'it gave no reason'}`;
      else if (ctx.preview === 'loading')
        e['dataset.dir'] = 'Still reading the dataset — wait for the preview.';
      else if (ctx.preview !== 'ok') e['dataset.dir'] = 'Load the preview to check the dataset.';
      break;
    }
    case 'model': {
      if (s.model.arch === 'mlp' && !parseWidths(s.model.hidden))
        e['model.hidden'] =
          'Hidden widths must be whole numbers from 1 to 65536, separated by commas (e.g. "256" or "512, 256").';
      break;
    }
    case 'source':
      checkInit(e, 'source.init', s.source.init, ctx, 'the source');
      break;
    case 'targets': {
      if (s.targets.length === 0) e.targets = 'Add at least one target initialisation.';
      s.targets.forEach((t, i) => checkInit(e, `targets[${i}].init`, t, ctx, `target ${i + 1}`));
      const seen = new Map<string, number>();
      s.targets.forEach((t, i) => {
        const k = t.from === 'seed' ? `seed:${toNumber(t.seed)}` : `ps:${t.paramSetId}`;
        if (seen.has(k))
          e[`targets[${i}].init.${t.from === 'seed' ? 'seed' : 'file'}`] ??=
            `Target ${i + 1} repeats target ${seen.get(k)! + 1}.`;
        else seen.set(k, i);
      });
      break;
    }
    case 'transfer':
      if (s.transfer.methods.length === 0) e['transfer.methods'] = 'Choose at least one method.';
      break;
    case 'review': {
      if (!s.name.trim()) e.name = 'Give the experiment a name.';
      else if (s.name.trim().length > 200) e.name = 'The name is longer than 200 characters.';
      const tags = parseTags(s.tags);
      if (tags.length > 32) e.tags = 'At most 32 tags.';
      const long = tags.find((t) => t.length > 40);
      if (long) e.tags = `Tag "${long.slice(0, 20)}…" is longer than 40 characters.`;
      break;
    }
  }
  const { issues } = validateSpec(buildSpec(s, VALIDATION_BUILD));
  // The wizard's own message for a field wins: it knows what the user typed (text, a missing preview).
  for (const [k, v] of Object.entries(issuesToErrors(issues, step))) e[k] ??= v;
  return e;
}

/** The first step with errors (so a jump to the review page can send the user back), or null. */
export function firstInvalidStep(s: WizardState, ctx: ValidationContext): StepId | null {
  for (const step of STEPS) if (Object.keys(validateStep(step, s, ctx)).length) return step;
  return null;
}

// ───────────────────────────── spec ─────────────────────────────

export interface BuildContext {
  /** where a parameter set's weights file is, for `init.file` */
  paramFile(id: string): string | null;
  paramName(id: string): string | null;
}

/** The dataset's files, without a class subset (what the preview reads and a pre-training shares). */
export function datasetFilesSpec(s: WizardState): DatasetSpec {
  const d = s.dataset;
  if (d.choice === 'builtin') return { builtin: 'fashion-mnist-mini' };
  if (d.choice === 'debian') return { format: 'idx', dir: DEBIAN_FASHION_MNIST };
  const dir = d.dir.trim();
  if (d.format === 'idx') return { format: 'idx', dir };
  return d.format === 'cifar100'
    ? { format: d.format, dir, labelKind: d.labelKind }
    : { format: d.format, dir };
}

export function datasetSpec(s: WizardState): DatasetSpec {
  const classes = parseClassesText(s.dataset.classes);
  return classes === undefined ? datasetFilesSpec(s) : { ...datasetFilesSpec(s), classes };
}

/** Whether the architecture has BatchNorm layers (then running statistics are re-estimated). */
export function hasBatchNormArch(s: WizardState): boolean {
  return (
    s.model.arch === 'resnet20' || (s.model.arch === 'cnn' && s.model.layers.some((l) => l.type === 'bn'))
  );
}

export function archSpec(s: WizardState): ArchSpec {
  const m = s.model;
  if (m.arch === 'mlp') return { arch: 'mlp', hidden: parseWidths(m.hidden) ?? [] };
  if (m.arch === 'conv8')
    return String(m.width).trim() === '' ? { arch: 'conv8' } : { arch: 'conv8', width: toNumber(m.width) };
  if (m.arch === 'resnet20')
    return String(m.width).trim() === ''
      ? { arch: 'resnet20' }
      : { arch: 'resnet20', width: toNumber(m.width) };
  return { arch: 'cnn', layers: m.layers.map((l) => ({ ...l })) };
}

function initSpec(f: InitForm, ctx: BuildContext): InitSpec {
  if (f.from === 'seed')
    return { seed: toNumber(f.seed), ...(f.label.trim() ? { label: f.label.trim() } : {}) };
  // By id, not by the weights file's path: the spec stays valid in a bundle opened elsewhere.
  const label = f.label.trim() || ctx.paramName(f.paramSetId) || undefined;
  return { paramSet: f.paramSetId, ...(label ? { label } : {}) };
}

function trainSpec(s: WizardState): TrainSpec {
  const t = s.source.train;
  return {
    epochs: toNumber(t.epochs),
    batchSize: toNumber(t.batchSize),
    lr: toNumber(t.lr),
    momentum: toNumber(t.momentum),
    weightDecay: toNumber(t.weightDecay),
    lrSchedule: t.lrSchedule,
    ...(t.checkpoints ? { checkpoints: true } : {}),
    ...(t.augment
      ? {
          augment: {
            pad: fieldDefault('source.train.augment.pad'),
            flip: fieldDefault('source.train.augment.flip'),
          },
        }
      : {}),
  };
}

function pretrainSpec(s: WizardState): ExperimentSpec['pretrain'] {
  const p = s.pretrain;
  if (!p.enabled) return undefined;
  const classes = parseClassesText(p.classes);
  return {
    ...(classes === undefined ? {} : { classes }),
    head: p.head,
    train: {
      epochs: toNumber(p.epochs),
      batchSize: toNumber(p.batchSize),
      lr: toNumber(p.lr),
      momentum: toNumber(p.momentum),
      weightDecay: 0,
      lrSchedule: 'constant',
    },
  };
}

/** The spec the wizard describes, every field explicit so the review shows what will run. */
export function buildSpec(s: WizardState, ctx: BuildContext): ExperimentSpec {
  const methods = methodOptions().filter((m) => s.transfer.methods.includes(m));
  const analyses = analysesSpec(s.analyses ?? emptyAnalyses());
  return {
    name: s.name.trim(),
    dataset: datasetSpec(s),
    datasetOptions: {
      valFraction: toNumber(s.dataset.valFraction),
      splitSeed: toNumber(s.dataset.splitSeed),
      trainLimit: toNumber(s.dataset.trainLimit),
    },
    model: archSpec(s),
    ...(s.pretrain.enabled ? { pretrain: pretrainSpec(s) } : {}),
    source: { init: initSpec(s.source.init, ctx), train: trainSpec(s) },
    targets: s.targets.map((t) => ({ init: initSpec(t, ctx) })),
    transfer: {
      T: toNumber(s.transfer.T),
      trajectory: s.transfer.trajectory,
      schedule: s.transfer.schedule,
      batchSize: toNumber(s.transfer.batchSize),
      gradBatches: toNumber(s.transfer.gradBatches),
      methods,
      seed: toNumber(s.transfer.seed),
      matchTolerance: 1e-7,
      matchMaxIter: 100,
      bnBatches: toNumber(s.transfer.bnBatches),
    },
    backend: 'auto',
    evalLimit: toNumber(s.dataset.evalLimit),
    ...(analyses ? { analyses } : {}),
  };
}

/**
 * Fills the source section (and the split it was trained on) from an earlier experiment's spec, so
 * the engine finds the trained source in its cache instead of training again.
 */
export function applyTrainedSource(
  s: WizardState,
  spec: ExperimentSpec,
  reuse: { paramSetId: string; experimentId: string | null; label: string },
  ctx: { paramSetIdForFile?(file: string): string | null } = {},
): void {
  s.dataset.valFraction = spec.datasetOptions.valFraction;
  s.dataset.splitSeed = spec.datasetOptions.splitSeed;
  s.dataset.trainLimit = spec.datasetOptions.trainLimit;
  const init = spec.source.init;
  if (init.seed !== undefined)
    s.source.init = { from: 'seed', seed: init.seed, paramSetId: '', label: init.label ?? '' };
  else
    s.source.init = {
      from: 'paramset',
      seed: '',
      paramSetId: init.paramSet ?? ((init.file && ctx.paramSetIdForFile?.(init.file)) || ''),
      label: init.label ?? '',
    };
  const t = spec.source.train;
  s.source.train = {
    epochs: t.epochs,
    batchSize: t.batchSize,
    lr: t.lr,
    momentum: t.momentum,
    weightDecay: t.weightDecay,
    lrSchedule: t.lrSchedule,
    checkpoints: !!t.checkpoints || spec.transfer.trajectory === 'actual',
    augment: !!t.augment,
  };
  s.source.reuse = reuse;
}

/** Which wizard step a field (as the services name it, maybe prefixed "spec.") belongs to. */
export function stepOfField(field: string): StepId {
  const f = normaliseField(field);
  if (f.startsWith('dataset') || f === 'evalLimit') return 'dataset';
  if (f.startsWith('model')) return 'model';
  if (f.startsWith('source') || f.startsWith('pretrain')) return 'source';
  if (f.startsWith('targets')) return 'targets';
  if (f.startsWith('transfer')) return 'transfer';
  if (f.startsWith('analyses')) return 'analyses';
  return 'review';
}

/** "spec.model.hidden[1]" → "model.hidden"; a spec error's field to the wizard's input key. */
export function normaliseField(field: string): string {
  let f = field.replace(/^spec\./, '');
  if (/^model\.hidden\[\d+\]$/.test(f)) f = 'model.hidden';
  if (/^analyses\.assumptionP\.widths\[\d+\]$/.test(f)) f = 'analyses.assumptionP.widths';
  return f;
}
