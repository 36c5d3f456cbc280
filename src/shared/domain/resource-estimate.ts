/**
 * What a spec will cost before it runs: parameters, peak memory, the largest single array and the
 * arithmetic, each traced to the spec field that drives it, and checked against this machine.
 * Pure and dependency-free (no engine, no Node): the service, the CLI and the wizard all call it.
 *
 * Hard limits are what cannot work here (it would fail after minutes or hours with an error
 * naming no field); soft limits are what is very likely a mistake but could be meant, and a user
 * may accept them knowingly (`allowLarge`).
 */
import { conv8Layers, resnet20Layers } from './model-layers.js';
import { pretrainDatasetSpec, type ArchSpec, type ClassSelection, type LayerSpec } from './spec/types.js';

/** The dataset fields the estimate reads. */
interface EstimateDataset {
  builtin?: string;
  format?: string;
  classes?: ClassSelection;
}

/** The parts of an experiment spec the estimate reads (a parsed spec fits). */
export interface EstimateSpec {
  dataset: EstimateDataset;
  datasetOptions?: { trainLimit?: number; valFraction?: number };
  model: ArchSpec;
  /** the pre-trained scenario: every initialisation is trained on this first */
  pretrain?: {
    dataset?: EstimateDataset;
    classes?: ClassSelection;
    train: { epochs: number; batchSize: number };
  };
  source: { train: { epochs: number; batchSize: number; checkpoints?: boolean } };
  targets: unknown[];
  transfer: { T: number; trajectory: string; batchSize: number; gradBatches: number; methods: string[] };
  evalLimit?: number;
}

/** What the dataset brings; `datasetFacts` guesses it from the spec when it is not loaded. */
export interface DatasetFacts {
  inputShape: [number, number, number];
  classes: number;
  trainCount: number;
  valCount: number;
}

export interface MachineFacts {
  /** bytes of memory the lab may use (os.totalmem() in Node) */
  memoryBytes: number;
}

export interface Finding {
  /** the spec field that drives it ('model.hidden[0]', 'targets', 'source.train.epochs') */
  field: string;
  limit: 'hard' | 'soft';
  message: string;
}

export interface ResourceEstimate {
  parameters: number;
  /** estimated peak bytes the engine holds at once */
  memoryBytes: number;
  /** the largest single array (elements) and what it is */
  largestArray: { elements: number; what: string; field: string };
  /** floating-point operations of the whole experiment */
  flops: number;
  findings: Finding[];
}

/**
 * Why each limit is what it is.
 * - targets ≤ 1000: an experiment's detail (every run) travels in one reply and one table; 1000
 *   targets with four methods are 5,001 runs, about 2 MB. Results are means over targets, whose
 *   spread settles within tens of seeds (the paper uses a handful); more is a sweep, not one experiment.
 * - layers ≤ 64 (soft): plain stacks without normalisation stop training long before that, and
 *   matching runs once per layer per step.
 * - one array ≤ 2^31 bytes (hard): typed arrays and the wasm backend's 4 GiB heap cannot hold more;
 *   past it the engine fails with "Invalid typed array length" after the work before it.
 * - memory: hard past 90 % of this machine (it cannot fit), soft past 40 % (it may, with nothing else).
 * - work: soft past 10^15 floating-point operations, about 40 times the paper's 2-MLP setting
 *   (~2.5·10^13), days on CPU cores.
 */
export const LIMITS = {
  maxTargets: 1000,
  softLayers: 64,
  hardArrayBytes: 2 ** 31,
  hardMemoryFraction: 0.9,
  softMemoryFraction: 0.4,
  softFlops: 1e15,
} as const;

/**
 * How many classes a selection keeps, from its form alone (the loader checks it against the
 * data): a list, a range "a-b", the halves, a 10-class "subset-k"; anything else counts as all.
 */
function selectedClasses(sel: ClassSelection | undefined, classes: number): number {
  if (sel === undefined) return classes;
  if (typeof sel !== 'string') return Math.min(sel.length, classes);
  const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(sel);
  if (range) return Math.min(classes, Math.max(0, Number(range[2]) - Number(range[1]) + 1));
  if (sel === 'lower-half') return Math.floor(classes / 2);
  if (sel === 'upper-half') return classes - Math.floor(classes / 2);
  if (/^subset-\d+$/.test(sel)) return Math.min(10, classes);
  return classes;
}

/**
 * The dataset's shape from the spec alone (the store or a loaded dataset knows better); a class
 * subset keeps its share of the examples, assuming balanced classes.
 */
export function datasetFacts(spec: Pick<EstimateSpec, 'dataset' | 'datasetOptions'>): DatasetFacts {
  const d = spec.dataset;
  const all: DatasetFacts =
    d.builtin === 'fashion-mnist-mini'
      ? { inputShape: [28, 28, 1], classes: 10, trainCount: 9000, valCount: 1000 }
      : d.format === 'cifar10' || d.format === 'cifar100'
        ? {
            inputShape: [32, 32, 3],
            classes: d.format === 'cifar100' ? 100 : 10,
            trainCount: 45000,
            valCount: 5000,
          }
        : { inputShape: [28, 28, 1], classes: 10, trainCount: 54000, valCount: 6000 };
  const k = selectedClasses(d.classes, all.classes);
  const base: DatasetFacts = {
    ...all,
    classes: k,
    trainCount: Math.round((all.trainCount * k) / all.classes),
    valCount: Math.round((all.valCount * k) / all.classes),
  };
  const limit = spec.datasetOptions?.trainLimit ?? 0;
  return limit > 0 ? { ...base, trainCount: Math.min(base.trainCount, limit) } : base;
}

interface LayerCost {
  field: string;
  params: number;
  /** multiply-adds per example */
  macs: number;
  /** activation elements per example */
  outElements: number;
  /** units a permutation acts on (matching solves a width × width assignment) */
  width: number;
}

/** Per layer (the classifier appended): parameters, work and activations, with the field behind it. */
function layerCosts(model: EstimateSpec['model'], facts: DatasetFacts): LayerCost[] {
  let layers: { layer: LayerSpec; field: string }[];
  if (model.arch === 'mlp')
    layers = [
      { layer: { type: 'flatten' }, field: 'model' },
      ...model.hidden.map((units, i) => ({
        layer: { type: 'dense', units } as LayerSpec,
        field: `model.hidden[${i}]`,
      })),
    ];
  else if (model.arch === 'conv8')
    layers = conv8Layers(model.width ?? 64).map((layer) => ({ layer, field: 'model.width' }));
  else if (model.arch === 'resnet20')
    layers = resnet20Layers(model.width ?? 1).map((layer) => ({ layer, field: 'model.width' }));
  else
    layers = model.layers.map((layer, i) => ({
      layer,
      field: `model.layers[${i}].${
        layer.type === 'conv' || layer.type === 'residual'
          ? 'filters'
          : layer.type === 'dense'
            ? 'units'
            : 'type'
      }`,
    }));
  layers.push({ layer: { type: 'dense', units: facts.classes }, field: 'model' });
  let [h, w, c] = facts.inputShape;
  let flat = 0; // > 0 once flattened
  const out: LayerCost[] = [];
  for (const { layer, field } of layers) {
    if (layer.type === 'conv') {
      const k = layer.kernel ?? 3;
      const s = layer.stride ?? 1;
      h = Math.ceil(h / s);
      w = Math.ceil(w / s);
      const params = k * k * c * layer.filters + (layer.bias === false ? 0 : layer.filters);
      out.push({
        field,
        params,
        macs: h * w * k * k * c * layer.filters,
        outElements: h * w * layer.filters,
        width: layer.filters,
      });
      c = layer.filters;
    } else if (layer.type === 'maxpool') {
      h = Math.floor(h / layer.size);
      w = Math.floor(w / layer.size);
    } else if (layer.type === 'flatten') {
      flat = h * w * c;
    } else if (layer.type === 'bn') {
      // scale, shift and the two running statistics of the previous layer's channels
      const ch = flat || c;
      out.push({ field, params: 4 * ch, macs: 0, outElements: flat || h * w * c, width: ch });
    } else if (layer.type === 'gap') {
      h = 1;
      w = 1;
      flat = c;
    } else if (layer.type === 'residual') {
      const s = layer.stride ?? 1;
      const f = layer.filters;
      const cin = c;
      h = Math.ceil(h / s);
      w = Math.ceil(w / s);
      const shortcut = s !== 1 || cin !== f ? cin * f + 4 * f : 0;
      const params = 9 * cin * f + 9 * f * f + 8 * f + shortcut;
      const macs = h * w * (9 * cin * f + 9 * f * f + (shortcut ? cin * f : 0));
      out.push({ field, params, macs, outElements: 3 * h * w * f, width: f });
      c = f;
    } else {
      const inputs = flat || h * w * c;
      out.push({
        field,
        params: inputs * layer.units + layer.units,
        macs: inputs * layer.units,
        outElements: layer.units,
        width: layer.units,
      });
      flat = layer.units;
    }
  }
  return out;
}

function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

function count(n: number): string {
  if (n < 1e3) return String(Math.round(n));
  const [d, s] =
    n >= 1e18
      ? [1e18, 'E']
      : n >= 1e15
        ? [1e15, 'P']
        : n >= 1e12
          ? [1e12, 'T']
          : n >= 1e9
            ? [1e9, 'G']
            : n >= 1e6
              ? [1e6, 'M']
              : [1e3, 'k'];
  return `${(n / d).toFixed(1)} ${s}`;
}

/** Estimates what the spec costs and what of it is past this machine's limits. */
export function estimateResources(
  spec: EstimateSpec,
  machine: MachineFacts,
  facts: DatasetFacts = datasetFacts(spec),
): ResourceEstimate {
  const findings: Finding[] = [];
  const layers = layerCosts(spec.model, facts);
  const parameters = layers.reduce((s, l) => s + l.params, 0);
  const macs = layers.reduce((s, l) => s + l.macs, 0);
  const activations = layers.reduce((s, l) => s + l.outElements, 0);
  const { epochs, batchSize } = spec.source.train;
  const { T, gradBatches, methods, trajectory } = spec.transfer;
  const targets = spec.targets.length;

  // Parameter copies held at once: the source trajectory's points, the target's init, SGD's
  // momentum and gradient, and GMT/FGMT's working copies (transferred θ, its gradient, π-applied).
  const points = trajectory === 'actual' || spec.source.train.checkpoints ? epochs + 1 : 2;
  const copies = points + 8;
  const evalBatch = Math.max(batchSize, spec.transfer.batchSize, 1000);
  const activationBytes = 4 * activations * evalBatch * 3;
  const widest = layers
    .slice(0, -1)
    .reduce((m, l) => (l.width > m.width ? l : m), { width: 0, field: 'model' } as LayerCost);
  const matchingBytes = 8 * widest.width * widest.width * 2;
  const memoryBytes = 4 * parameters * copies + activationBytes + matchingBytes;

  const biggestLayer = layers.reduce((m, l) => (l.params > m.params ? l : m), layers[0]);
  const arrays = [
    {
      elements: biggestLayer.params,
      what: `the weights of one layer (${count(biggestLayer.params)} parameters)`,
      field: biggestLayer.field,
    },
    {
      elements: widest.width * widest.width,
      what: `weight matching's ${widest.width}×${widest.width} similarity matrix`,
      field: widest.field,
    },
    ...layers.map((l) => ({
      elements: l.outElements * evalBatch,
      what: `one layer's activations for a batch of ${evalBatch}`,
      field: l.field,
    })),
  ];
  const largestArray = arrays.reduce((m, a) => (a.elements > m.elements ? a : m), arrays[0]);

  // Work: an SGD step is ~3 forward passes (forward, two backward products); a forward pass is 2 flops per MAC.
  const trainFlops = epochs * facts.trainCount * 6 * macs;
  const evalExamples =
    spec.evalLimit && spec.evalLimit > 0 ? Math.min(spec.evalLimit, facts.valCount) : facts.valCount;
  const gradientsPerTarget = methods.reduce(
    (s, m) => s + (m === 'gmt' ? T * (T + 1) : m === 'fgmt' ? 2 * T : 0) * gradBatches,
    0,
  );
  const perTarget =
    (methods.includes('oracle') ? trainFlops : 0) +
    gradientsPerTarget * spec.transfer.batchSize * 6 * macs +
    methods.length * (T + 1) * evalExamples * 2 * macs;
  const sourceFlops = trainFlops;
  // Pre-training every initialisation, on its own classes (the task's network's work per example).
  const pretrainFlops = spec.pretrain
    ? (1 + targets) *
      spec.pretrain.train.epochs *
      datasetFacts({ dataset: pretrainDatasetSpec(spec), datasetOptions: spec.datasetOptions }).trainCount *
      6 *
      macs
    : 0;
  const flops = pretrainFlops + sourceFlops + targets * perTarget;

  if (targets > LIMITS.maxTargets)
    findings.push({
      field: 'targets',
      limit: 'hard',
      message: `${targets} targets; an experiment takes at most ${LIMITS.maxTargets} (more is a sweep of several experiments)`,
    });
  if (layers.length - 1 > LIMITS.softLayers)
    findings.push({
      field: spec.model.arch === 'mlp' ? 'model.hidden' : 'model.layers',
      limit: 'soft',
      message: `${layers.length - 1} layers; plain networks this deep do not train (soft limit ${LIMITS.softLayers})`,
    });
  if (4 * largestArray.elements > LIMITS.hardArrayBytes)
    findings.push({
      field: largestArray.field,
      limit: 'hard',
      message: `${largestArray.what} would be one array of ${bytes(4 * largestArray.elements)}; one array can hold at most ${bytes(LIMITS.hardArrayBytes)}`,
    });
  const memoryField = matchingBytes > 4 * parameters * copies ? widest.field : biggestLayer.field;
  const memoryWhat = `${count(parameters)} parameters, ~${bytes(memoryBytes)} at peak`;
  if (memoryBytes > LIMITS.hardMemoryFraction * machine.memoryBytes)
    findings.push({
      field: memoryField,
      limit: 'hard',
      message: `${memoryWhat}: more than this machine's ${bytes(machine.memoryBytes)} of memory can hold`,
    });
  else if (memoryBytes > LIMITS.softMemoryFraction * machine.memoryBytes)
    findings.push({
      field: memoryField,
      limit: 'soft',
      message: `${memoryWhat}: over ${Math.round(LIMITS.softMemoryFraction * 100)} % of this machine's ${bytes(machine.memoryBytes)} of memory`,
    });
  if (flops > LIMITS.softFlops) {
    const field =
      pretrainFlops > sourceFlops + targets * perTarget
        ? 'pretrain.train.epochs'
        : targets * perTarget > sourceFlops
          ? targets > 10
            ? 'targets'
            : gradientsPerTarget * spec.transfer.batchSize * 6 * macs >
                (methods.includes('oracle') ? trainFlops : 0)
              ? 'transfer.T'
              : 'source.train.epochs'
          : 'source.train.epochs';
    findings.push({
      field,
      limit: 'soft',
      message: `~${count(flops)}FLOP of work (${pretrainFlops ? `pre-training ${count(pretrainFlops)}FLOP, ` : ''}source ${count(sourceFlops)}FLOP, ${targets} target${targets === 1 ? '' : 's'} × ${count(perTarget)}FLOP): days on CPU cores (soft limit ${count(LIMITS.softFlops)}FLOP)`,
    });
  }
  return { parameters, memoryBytes, largestArray, flops, findings };
}

/**
 * The findings that refuse the spec: every hard one, and soft ones unless accepted knowingly.
 * Each reads `spec field "<field>": <message>`.
 */
export function refusals(estimate: ResourceEstimate, allowLarge = false): Finding[] {
  return estimate.findings.filter((f) => f.limit === 'hard' || !allowLarge);
}

/** One line per refusal, naming the field and the estimate, and how to accept soft ones. */
export function describeRefusals(found: readonly Finding[]): string {
  const soft = found.some((f) => f.limit === 'soft');
  return (
    found.map((f) => `spec field "${f.field}": ${f.message}`).join('; ') +
    (soft ? ' (to run it anyway, accept the large run: allowLarge)' : '')
  );
}
