/**
 * From a DatasetSpec to tensors: read the raw files, split the official training set into
 * train/validation with a seeded shuffle, standardise every split with the training split's
 * per-channel statistics, and put the three splits on the backend as float32 NHWC.
 */
import * as tf from '@tensorflow/tfjs';
import { basename, resolve } from 'node:path';
import { fieldDefault, type DatasetOptions, type DatasetSpec } from '../../shared/domain/index.js';
import { readCifarDir } from './cifar.js';
import { FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES } from './class-names.js';
import { evalBatchSize } from '../evaluate.js';
import type { Dataset, Split, SplitBatch } from './dataset.js';
import { readIdxDir } from './idx.js';
import { classCounts, type RawDataset, type RawSplit } from './raw.js';
import { builtinDatasetDir } from './resources.js';
import { resolveClasses, selectClasses } from './class-subsets.js';
import { givenSplit, readIndexFile } from './given-split.js';
import { splitTrainValidation } from './split.js';
import { channelStats, gatherStandardised, type ChannelStats } from './standardise.js';

const DEFAULT_DATASET_OPTIONS: DatasetOptions = {
  valFraction: fieldDefault('datasetOptions.valFraction'),
  splitSeed: fieldDefault('datasetOptions.splitSeed'),
  trainLimit: fieldDefault('datasetOptions.trainLimit'),
};

/** Fashion-MNIST names when the dataset's name (or, without one, its folder) mentions fashion. */
function idxClassNames(spec: { dir: string; name?: string }): string[] {
  const label = spec.name ?? resolve(spec.dir);
  return [...(label.toLowerCase().includes('fashion') ? FASHION_MNIST_CLASS_NAMES : MNIST_CLASS_NAMES)];
}

/**
 * Reads a dataset's official train and test sets as uint8 HWC images, without touching tensors,
 * restricted to `spec.classes` when it names a subset.
 */
export async function readRawDataset(spec: DatasetSpec): Promise<RawDataset> {
  const raw = await readAllClasses(spec);
  return spec.classes === undefined
    ? raw
    : selectClasses(raw, resolveClasses(spec.classes, raw.classes, raw.classNames));
}

async function readAllClasses(spec: DatasetSpec): Promise<RawDataset> {
  if ('builtin' in spec) {
    const dir = builtinDatasetDir(spec.builtin);
    const d = await readIdxDir(dir, FASHION_MNIST_CLASS_NAMES.length);
    return { name: spec.builtin, classes: 10, classNames: [...FASHION_MNIST_CLASS_NAMES], ...d };
  }
  if (spec.format === 'idx') {
    const classNames = idxClassNames(spec);
    const d = await readIdxDir(spec.dir, classNames.length);
    return { name: spec.name ?? basename(resolve(spec.dir)), classes: classNames.length, classNames, ...d };
  }
  const labelKind = spec.labelKind ?? 'fine';
  const d = await readCifarDir(spec.dir, spec.format, labelKind);
  const name =
    spec.name ??
    (spec.format === 'cifar10' ? 'cifar10' : labelKind === 'coarse' ? 'cifar100-coarse' : 'cifar100');
  return { name, ...d };
}

function makeSplit(
  raw: RawSplit,
  indices: ArrayLike<number>,
  shape: [number, number, number],
  stats: ChannelStats,
  /** examples per ready evaluation batch; 0 = none (the training split is only ever gathered from) */
  evalBatch = 0,
): Split {
  const [h, w, c] = shape;
  const size = h * w * c;
  const n = indices.length;
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) labels[k] = raw.labels[indices[k]!]!;
  const pixels = gatherStandardised(raw.images, indices, size, c, stats);
  const x = tf.tensor4d(pixels, [n, h, w, c], 'float32');
  const y = tf.tensor1d(labels, 'int32');
  if (!evalBatch) return { x, y, n };
  // Cut from the host arrays, not from x: no backend slice at all.
  const batches: SplitBatch[] = [];
  for (let start = 0; start < n; start += evalBatch) {
    const end = Math.min(n, start + evalBatch);
    batches.push({
      x: tf.tensor4d(pixels.subarray(start * size, end * size), [end - start, h, w, c], 'float32'),
      y: tf.tensor1d(labels.subarray(start, end), 'int32'),
      size: end - start,
    });
  }
  return { x, y, n, batches };
}

function disposeSplit(s: Split): void {
  tf.dispose([s.x, s.y]);
  for (const b of s.batches ?? []) tf.dispose([b.x, b.y]);
}

function allIndices(n: number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return idx;
}

/**
 * Builds the tensors of a dataset already read from disk. `validation` is a given split's
 * validation indices (`datasetOptions.validationIndices`, read by loadDataset).
 */
export function buildDataset(
  raw: RawDataset,
  opts: DatasetOptions = DEFAULT_DATASET_OPTIONS,
  validation?: Int32Array,
): Dataset {
  if (raw.train.n < 2)
    throw new RangeError(
      `${raw.name}: the training set has ${raw.train.n} images; at least 2 are needed for a train/validation split`,
    );
  if (raw.test.n < 1) throw new RangeError(`${raw.name}: the test set is empty`);
  const split = validation
    ? givenSplit(raw.train.n, validation, opts.trainLimit, opts.validationIndices)
    : splitTrainValidation(raw.train.n, opts.valFraction, opts.splitSeed, opts.trainLimit);
  const { train } = split;
  const [h, w, c] = raw.shape;
  if (opts.mean && (opts.mean.length !== c || opts.std?.length !== c))
    throw new RangeError(
      `${raw.name}: datasetOptions.mean/std give ${opts.mean.length} channels, the images have ${c}`,
    );
  const stats: ChannelStats = opts.mean
    ? { mean: [...opts.mean], std: [...opts.std!] }
    : channelStats(raw.train.images, train, h * w * c, c);
  const counts = new Array<number>(raw.classes).fill(0);
  for (const i of train) counts[raw.train.labels[i]!]!++;

  const splits: Split[] = [];
  try {
    splits.push(makeSplit(raw.train, train, raw.shape, stats));
    splits.push(makeSplit(raw.train, split.validation, raw.shape, stats, evalBatchSize()));
    splits.push(makeSplit(raw.test, allIndices(raw.test.n), raw.shape, stats, evalBatchSize()));
  } catch (e) {
    splits.forEach(disposeSplit);
    throw e;
  }
  const [trainSplit, validationSplit, testSplit] = splits as [Split, Split, Split];
  let disposed = false;
  return {
    name: raw.name,
    inputShape: [h, w, c],
    classes: raw.classes,
    classNames: [...raw.classNames],
    train: trainSplit,
    validation: validationSplit,
    test: testSplit,
    mean: stats.mean,
    std: stats.std,
    contentHash: raw.contentHash,
    trainClassCounts: counts,
    dispose() {
      if (disposed) return;
      disposed = true;
      splits.forEach(disposeSplit);
    },
  };
}

/** Reads a dataset and puts its train/validation/test splits on the current backend. */
export async function loadDataset(
  spec: DatasetSpec,
  opts: DatasetOptions = DEFAULT_DATASET_OPTIONS,
): Promise<Dataset> {
  const raw = await readRawDataset(spec);
  const validation = opts.validationIndices ? await readIndexFile(opts.validationIndices) : undefined;
  return buildDataset(raw, opts, validation);
}

export interface DatasetPreview {
  name: string;
  inputShape: [number, number, number];
  classes: number;
  classNames: string[];
  /** size of the official training set (before the train/validation split) */
  trainCount: number;
  testCount: number;
  /** class counts of the official training set */
  classCounts: number[];
  /** the first `perClass` training images of each class, class by class; pixels are h·w·c HWC bytes */
  samples: { label: number; pixels: Uint8Array }[];
  contentHash: string;
}

/** What the wizard shows before a run: shapes, names, counts and a few images per class. */
export async function previewDataset(spec: DatasetSpec, perClass = 8): Promise<DatasetPreview> {
  const raw = await readRawDataset(spec);
  const [h, w, c] = raw.shape;
  const size = h * w * c;
  const picked: number[][] = Array.from({ length: raw.classes }, () => []);
  let remaining = raw.classes * perClass;
  for (let i = 0; i < raw.train.n && remaining > 0; i++) {
    const bucket = picked[raw.train.labels[i]!]!;
    if (bucket.length < perClass) {
      bucket.push(i);
      remaining--;
    }
  }
  const samples = picked.flatMap((idx, label) =>
    idx.map((i) => ({ label, pixels: raw.train.images.slice(i * size, (i + 1) * size) })),
  );
  return {
    name: raw.name,
    inputShape: [h, w, c],
    classes: raw.classes,
    classNames: raw.classNames,
    trainCount: raw.train.n,
    testCount: raw.test.n,
    classCounts: classCounts(raw.train.labels, raw.classes),
    samples,
    contentHash: raw.contentHash,
  };
}
