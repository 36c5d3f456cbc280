/**
 * Every spec field's default and limits, as data. The parser enforces them, the wizard reads its
 * defaults, labels and bounds from them, and docs/tools may list them. Keys are field paths with
 * array indices written `[]` ('targets[].init.seed', 'model.layers[].filters').
 *
 * A limit is hard (the engine cannot run past it) or soft (a sanity guard a user could later be
 * allowed to override knowingly); today the parser enforces both and reports which kind it was.
 */

export interface Limit {
  value: number;
  /** the bound itself is not allowed (lr > 0) */
  exclusive?: boolean;
  /** a guard against mistakes rather than a hard impossibility */
  soft?: boolean;
}

interface RuleBase {
  /** how the UI names the field; '{i}' is the first array index + 1 ('Target {i} seed') */
  label: string;
}

export interface NumberRule extends RuleBase {
  type: 'number';
  int?: boolean;
  min?: Limit;
  max?: Limit;
  default?: number;
}

export interface ChoiceRule extends RuleBase {
  type: 'choice';
  options: readonly string[];
  default?: string;
}

export interface BooleanRule extends RuleBase {
  type: 'boolean';
  default?: boolean;
}

export interface StringRule extends RuleBase {
  type: 'string';
  nonEmpty?: boolean;
  maxLength?: number;
}

export type FieldRule = NumberRule | ChoiceRule | BooleanRule | StringRule;

const hard = (value: number, exclusive = false): Limit => ({ value, ...(exclusive ? { exclusive } : {}) });
const soft = (value: number): Limit => ({ value, soft: true });

/** Names and labels are table cells and file names; paths are at most Linux's PATH_MAX (issue 8, item 6). */
export const MAX_NAME = 200;
export const MAX_PATH = 4096;
const LAYOUTS = ['auto', 'torch', 'engine'] as const;

const seed: NumberRule = { type: 'number', label: 'Seed', int: true, min: hard(0), max: hard(2 ** 31 - 1) };

export const SPEC_FIELDS = {
  name: { type: 'string', label: 'Name', maxLength: MAX_NAME },
  'dataset.builtin': { type: 'choice', label: 'Built-in dataset', options: ['fashion-mnist-mini'] },
  'dataset.format': { type: 'choice', label: 'Format', options: ['idx', 'cifar10', 'cifar100'] },
  'dataset.dir': { type: 'string', label: 'Folder', nonEmpty: true, maxLength: MAX_PATH },
  'dataset.name': { type: 'string', label: 'Dataset name', maxLength: MAX_NAME },
  'dataset.labelKind': { type: 'choice', label: 'Labels', options: ['fine', 'coarse'] },
  'datasetOptions.valFraction': {
    type: 'number',
    label: 'Validation fraction',
    min: hard(0.001),
    max: soft(0.5),
    default: 0.1,
  },
  'datasetOptions.splitSeed': { ...seed, label: 'Split seed', default: 777 },
  'datasetOptions.trainLimit': {
    type: 'number',
    label: 'Training limit',
    int: true,
    min: hard(0),
    default: 0,
  },
  'datasetOptions.validationIndices': { type: 'string', label: 'Validation index file', nonEmpty: true },
  'datasetOptions.mean[]': { type: 'number', label: 'Channel mean' },
  'datasetOptions.std[]': { type: 'number', label: 'Channel std', min: hard(0, true) },
  evalLimit: { type: 'number', label: 'Evaluation limit', int: true, min: hard(0), default: 0 },
  backend: {
    type: 'choice',
    label: 'Backend',
    options: ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu'],
    default: 'auto',
  },

  'model.arch': { type: 'choice', label: 'Architecture', options: ['mlp', 'conv8', 'cnn', 'resnet20'] },
  'model.hidden[]': { type: 'number', label: 'Hidden width', int: true, min: hard(1), max: soft(65536) },
  'model.width': { type: 'number', label: 'Width', int: true, min: hard(1), max: soft(512) },
  'model.layers[].type': {
    type: 'choice',
    label: 'Layer {i} type',
    options: ['conv', 'maxpool', 'flatten', 'dense', 'bn', 'residual', 'gap'],
  },
  'model.layers[].bias': { type: 'boolean', label: 'Layer {i} bias', default: true },
  'model.layers[].filters': {
    type: 'number',
    label: 'Layer {i} filters',
    int: true,
    min: hard(1),
    max: soft(8192),
  },
  'model.layers[].kernel': {
    type: 'number',
    label: 'Layer {i} kernel',
    int: true,
    min: hard(1),
    max: soft(11),
    default: 3,
  },
  'model.layers[].stride': {
    type: 'number',
    label: 'Layer {i} stride',
    int: true,
    min: hard(1),
    max: soft(4),
    default: 1,
  },
  'model.layers[].relu': { type: 'boolean', label: 'Layer {i} ReLU', default: true },
  'model.layers[].size': {
    type: 'number',
    label: 'Layer {i} pool size',
    int: true,
    min: hard(1),
    max: soft(8),
  },
  'model.layers[].units': {
    type: 'number',
    label: 'Layer {i} units',
    int: true,
    min: hard(1),
    max: soft(65536),
  },

  'source.init.seed': { ...seed, label: 'Source seed' },
  'source.init.file': { type: 'string', label: 'Source parameter file', nonEmpty: true, maxLength: MAX_PATH },
  'source.init.label': { type: 'string', label: 'Source label', maxLength: MAX_NAME },
  'targets[].init.seed': { ...seed, label: 'Target {i} seed' },
  'targets[].init.file': {
    type: 'string',
    label: 'Target {i} parameter file',
    nonEmpty: true,
    maxLength: MAX_PATH,
  },
  'targets[].init.label': { type: 'string', label: 'Target {i} label', maxLength: MAX_NAME },
  'source.init.layout': { type: 'choice', label: 'Source file layout', options: LAYOUTS, default: 'auto' },
  'targets[].init.layout': {
    type: 'choice',
    label: 'Target {i} file layout',
    options: LAYOUTS,
    default: 'auto',
  },
  'source.init.paramSet': {
    type: 'string',
    label: 'Source parameter set',
    nonEmpty: true,
    maxLength: MAX_NAME,
  },
  'targets[].init.paramSet': {
    type: 'string',
    label: 'Target {i} parameter set',
    nonEmpty: true,
    maxLength: MAX_NAME,
  },
  'source.trained.file': {
    type: 'string',
    label: 'Trained source file (θ1^T)',
    nonEmpty: true,
    maxLength: MAX_PATH,
  },
  'source.trained.checkpoints[]': {
    type: 'string',
    label: 'Source checkpoint {i}',
    nonEmpty: true,
    maxLength: MAX_PATH,
  },
  'source.trained.layout': {
    type: 'choice',
    label: 'Trained source layout',
    options: LAYOUTS,
    default: 'auto',
  },
  'targets[].trained.file': {
    type: 'string',
    label: 'Trained target {i} file (θ2^T)',
    nonEmpty: true,
    maxLength: MAX_PATH,
  },
  'targets[].trained.layout': {
    type: 'choice',
    label: 'Trained target {i} layout',
    options: LAYOUTS,
    default: 'auto',
  },

  'pretrain.head': {
    type: 'choice',
    label: 'Classifier for the new task',
    options: ['reinit', 'keep'],
    default: 'reinit',
  },

  'source.train.epochs': {
    type: 'number',
    label: 'Epochs',
    int: true,
    min: hard(1),
    max: soft(10000),
    default: 10,
  },
  'source.train.batchSize': {
    type: 'number',
    label: 'Batch size',
    int: true,
    min: hard(1),
    max: soft(65536),
    default: 128,
  },
  'source.train.lr': {
    type: 'number',
    label: 'Learning rate',
    min: hard(0, true),
    max: soft(100),
    default: 0.01,
  },
  'source.train.momentum': {
    type: 'number',
    label: 'Momentum',
    min: hard(0),
    max: hard(0.9999),
    default: 0.9,
  },
  'source.train.weightDecay': {
    type: 'number',
    label: 'Weight decay',
    min: hard(0),
    max: soft(1),
    default: 0,
  },
  'source.train.lrSchedule': {
    type: 'choice',
    label: 'Learning-rate schedule',
    options: ['constant', 'cosine'],
    default: 'constant',
  },
  'source.train.dataSeed': { ...seed, label: 'Data-order seed' },
  'source.train.checkpoints': { type: 'boolean', label: 'Keep per-epoch checkpoints', default: false },
  'source.train.augment.pad': {
    type: 'number',
    label: 'Augmentation padding',
    int: true,
    min: hard(0),
    max: soft(16),
    default: 4,
  },
  'source.train.augment.flip': { type: 'boolean', label: 'Augmentation: horizontal flip', default: true },

  'transfer.T': { type: 'number', label: 'T', int: true, min: hard(1), max: soft(1000), default: 10 },
  'transfer.trajectory': {
    type: 'choice',
    label: 'Trajectory',
    options: ['linear', 'actual'],
    default: 'linear',
  },
  'transfer.schedule': {
    type: 'choice',
    label: 'Schedule',
    options: ['cosine', 'uniform'],
    default: 'cosine',
  },
  'transfer.batchSize': {
    type: 'number',
    label: 'Gradient batch size',
    int: true,
    min: hard(1),
    max: soft(65536),
    default: 128,
  },
  'transfer.gradBatches': {
    type: 'number',
    label: 'Batches per gradient',
    int: true,
    min: hard(1),
    max: soft(1000),
    default: 1,
  },
  'transfer.seed': { ...seed, label: 'Minibatch seed', default: 0 },
  'transfer.matchTolerance': {
    type: 'number',
    label: 'Matching tolerance',
    min: hard(0),
    max: soft(1),
    default: 1e-7,
  },
  'transfer.matchMaxIter': {
    type: 'number',
    label: 'Matching iterations',
    int: true,
    min: hard(1),
    max: soft(10000),
    default: 100,
  },

  // The paper's analyses (Sec. 3.2, 4.2, 4.3, App. E.2); defaults follow the paper.
  'analyses.evalLimit': {
    type: 'number',
    label: 'Validation examples per path/plane point',
    int: true,
    min: hard(0),
    default: 0,
  },
  'analyses.finetune.optimizer': {
    type: 'choice',
    label: 'Fine-tuning optimiser',
    options: ['adam', 'adamw', 'sgd'],
    default: 'adam',
  },
  'analyses.finetune.lr': {
    type: 'number',
    label: 'Fine-tuning learning rate',
    min: hard(0),
    max: soft(10),
    default: 1e-4,
  },
  'analyses.finetune.epochs': {
    type: 'number',
    label: 'Fine-tuning epochs',
    int: true,
    min: hard(1),
    max: soft(1000),
    default: 10,
  },
  'analyses.finetune.from': {
    type: 'choice',
    label: 'Fine-tuning starts at',
    options: ['best', 'final'],
    default: 'best',
  },
  'analyses.finetune.scratch': { type: 'boolean', label: 'Also train from scratch', default: true },
  'analyses.finetune.batchSize': {
    type: 'number',
    label: 'Fine-tuning batch size',
    int: true,
    min: hard(1),
    max: soft(65536),
  },
  'analyses.finetune.weightDecay': {
    type: 'number',
    label: 'Fine-tuning weight decay',
    min: hard(0),
    max: soft(1),
    default: 0,
  },
  'analyses.finetune.momentum': {
    type: 'number',
    label: 'Fine-tuning momentum (SGD)',
    min: hard(0),
    max: hard(1, true),
    default: 0,
  },
  'analyses.paths.points': {
    type: 'number',
    label: 'Points per path',
    int: true,
    min: hard(2),
    max: soft(1001),
    default: 25,
  },
  'analyses.plane.method': { type: 'choice', label: 'Plane through', options: [] },
  'analyses.plane.grid': {
    type: 'number',
    label: 'Plane grid',
    int: true,
    min: hard(2),
    max: soft(201),
    default: 21,
  },
  'analyses.plane.margin': {
    type: 'number',
    label: 'Plane margin',
    min: hard(0),
    max: soft(10),
    default: 0.2,
  },
  'analyses.plane.from': {
    type: 'choice',
    label: 'Plane point',
    options: ['transferred', 'finetuned'],
    default: 'transferred',
  },
  'analyses.assumptionP.widths[]': {
    type: 'number',
    label: 'Width',
    int: true,
    min: hard(1),
    max: soft(65536),
  },
  'analyses.ensembles.from': {
    type: 'choice',
    label: 'Ensemble members at',
    options: ['best', 'final'],
    default: 'best',
  },
  'transfer.bnBatches': {
    type: 'number',
    label: 'BatchNorm re-estimation batches',
    int: true,
    min: hard(0),
    max: soft(10000),
    default: 10,
  },
} as const satisfies Record<string, FieldRule>;

export type SpecFieldKey = keyof typeof SPEC_FIELDS;

/**
 * 'targets[2].init.seed' → 'targets[].init.seed', the key of its rule. A pre-training reads its
 * training and dataset fields with the source's and the experiment's rules.
 */
export function fieldKey(path: string): string {
  return path
    .replace(/\[\d+\]/g, '[]')
    .replace(/^pretrain\.train\./, 'source.train.')
    .replace(/^pretrain\.dataset\./, 'dataset.');
}

export function fieldRule(path: string): FieldRule | undefined {
  return (SPEC_FIELDS as Record<string, FieldRule>)[fieldKey(path)];
}

/** The default of a field with one; throws for a field without (a programming error). */
export function fieldDefault<K extends SpecFieldKey>(
  key: K,
): (typeof SPEC_FIELDS)[K] extends { default: infer D } ? D : never {
  const r = SPEC_FIELDS[key] as FieldRule;
  if (!('default' in r) || r.default === undefined) throw new Error(`spec field ${key} has no default`);
  return r.default as never;
}

/** The field's label for the UI, with '{i}' filled from the path's first index. */
export function fieldLabel(path: string): string {
  const label = fieldRule(path)?.label ?? path;
  const m = /\[(\d+)\]/.exec(path);
  return label.replace('{i}', m ? String(Number(m[1]) + 1) : '');
}
