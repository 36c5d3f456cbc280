import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CIFAR_IMAGE_BYTES } from '../../src/core/data/cifar.js';
import {
  CIFAR100_COARSE_CLASS_NAMES,
  CIFAR100_FINE_CLASS_NAMES,
  FASHION_MNIST_CLASS_NAMES,
  MNIST_CLASS_NAMES,
} from '../../src/core/data/class-names.js';
import { DatasetError } from '../../src/core/data/errors.js';
import { encodeIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from '../../src/core/data/idx.js';
import { buildDataset, loadDataset, previewDataset, readRawDataset } from '../../src/core/data/load.js';
import { RESOURCES_ENV } from '../../src/core/data/resources.js';
import { splitTrainValidation } from '../../src/core/data/split.js';
import {
  cifar100Files,
  cifar100Split,
  cifar10Files,
  cifar10Fixture,
  idxFiles,
  idxFixture,
  makeTempDir,
  writeFiles,
} from '../helpers/data-fixtures.js';

let root = '';
let cleanup: () => Promise<void> = async () => {};
let counter = 0;
const freshDir = (label: string) => join(root, `${label}-${counter++}`);

before(async () => {
  await tf.setBackend('cpu');
  ({ dir: root, cleanup } = await makeTempDir());
});
after(() => cleanup());

/** Asserts the promise rejects with a DatasetError whose message contains every fragment. */
async function rejectsWith(p: Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DatasetError, `expected a DatasetError, got ${String(e)}`);
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(e.message.includes(f), `message lacks "${f}": ${e.message}`);
      else assert.match(e.message, f);
    }
    return true;
  });
}

test('IDX raw files round-trip: images, labels, shape, digit class names', async () => {
  const f = idxFixture(4, 5, 40, 12);
  const dir = freshDir('digits');
  await writeFiles(dir, idxFiles(f));
  const raw = await readRawDataset({ format: 'idx', dir });
  assert.deepEqual(raw.shape, [4, 5, 1]);
  assert.equal(raw.train.n, 40);
  assert.equal(raw.test.n, 12);
  assert.deepEqual(raw.train.images, f.train.images);
  assert.deepEqual(raw.train.labels, f.train.labels);
  assert.deepEqual(raw.test.images, f.test.images);
  assert.deepEqual(raw.test.labels, f.test.labels);
  assert.deepEqual(raw.classNames, MNIST_CLASS_NAMES);
  assert.equal(raw.name, dir.split('/').pop());
});

test('IDX gzip files round-trip; "fashion" in the name picks Fashion-MNIST class names', async () => {
  const f = idxFixture(6, 3, 30, 10);
  const dir = freshDir('gz');
  await writeFiles(dir, idxFiles(f), true);
  const raw = await readRawDataset({ format: 'idx', dir, name: 'My Fashion set' });
  assert.equal(raw.name, 'My Fashion set');
  assert.deepEqual(raw.shape, [6, 3, 1]);
  assert.deepEqual(raw.train.images, f.train.images);
  assert.deepEqual(raw.test.labels, f.test.labels);
  assert.deepEqual(raw.classNames, FASHION_MNIST_CLASS_NAMES);
  // the folder name counts when no name is given
  const fdir = freshDir('fashion-mnist');
  await writeFiles(fdir, idxFiles(f), true);
  assert.deepEqual(
    (await readRawDataset({ format: 'idx', dir: fdir })).classNames,
    FASHION_MNIST_CLASS_NAMES,
  );
});

test('contentHash is sha256 over the stored file bytes and changes with them', async () => {
  const f = idxFixture();
  const dir = freshDir('hash');
  const files = idxFiles(f);
  await writeFiles(dir, files);
  const raw = await readRawDataset({ format: 'idx', dir });
  const h = createHash('sha256');
  for (const name of [
    'train-images-idx3-ubyte',
    'train-labels-idx1-ubyte',
    't10k-images-idx3-ubyte',
    't10k-labels-idx1-ubyte',
  ]) {
    h.update(files[name]!);
  }
  assert.equal(raw.contentHash, h.digest('hex'));
  const changed = new Uint8Array(files['t10k-images-idx3-ubyte']!);
  changed[changed.length - 1] ^= 1;
  await writeFile(join(dir, 't10k-images-idx3-ubyte'), changed);
  assert.notEqual((await readRawDataset({ format: 'idx', dir })).contentHash, raw.contentHash);
});

test('CIFAR-10 binary: planar records become HWC; class names from batches.meta.txt or defaults', async () => {
  const f = cifar10Fixture(4, 5);
  const dir = freshDir('cifar10');
  await writeFiles(dir, cifar10Files(f));
  const raw = await readRawDataset({ format: 'cifar10', dir });
  assert.deepEqual(raw.shape, [32, 32, 3]);
  assert.equal(raw.classes, 10);
  assert.equal(raw.train.n, 20);
  assert.equal(raw.test.n, 5);
  const trainImages = new Uint8Array(20 * CIFAR_IMAGE_BYTES);
  f.batches.forEach((b, i) => trainImages.set(b.images, i * 4 * CIFAR_IMAGE_BYTES));
  assert.deepEqual(raw.train.images, trainImages);
  assert.deepEqual(
    Array.from(raw.train.labels),
    f.batches.flatMap((b) => Array.from(b.labels)),
  );
  assert.deepEqual(raw.test.images, f.test.images);
  assert.deepEqual(raw.classNames[0], 'airplane');

  const names = ['a0', 'b1', 'c2', 'd3', 'e4', 'f5', 'g6', 'h7', 'i8', 'j9'];
  // the archive's own layout: a cifar-10-batches-bin subfolder, names file with trailing blank lines
  const nested = freshDir('cifar10-archive');
  await writeFiles(join(nested, 'cifar-10-batches-bin'), {
    ...cifar10Files(f),
    'batches.meta.txt': new TextEncoder().encode(names.join('\n') + '\n\n'),
  });
  const raw2 = await readRawDataset({ format: 'cifar10', dir: nested, name: 'mine' });
  assert.deepEqual(raw2.classNames, names);
  assert.equal(raw2.name, 'mine');
  assert.equal(raw2.contentHash, raw.contentHash);
});

test('CIFAR-100 binary: fine and coarse labels, names files', async () => {
  const train = cifar100Split(30, 3);
  const test = cifar100Split(7, 4);
  const dir = freshDir('cifar100');
  await writeFiles(dir, cifar100Files(train, test));
  const fine = await readRawDataset({ format: 'cifar100', dir });
  assert.equal(fine.classes, 100);
  assert.equal(fine.name, 'cifar100');
  assert.deepEqual(fine.train.labels, train.labels);
  assert.deepEqual(fine.test.labels, test.labels);
  assert.deepEqual(
    fine.train.images.subarray(0, 3 * CIFAR_IMAGE_BYTES),
    train.images.subarray(0, 3 * CIFAR_IMAGE_BYTES),
  );
  assert.deepEqual(fine.classNames, CIFAR100_FINE_CLASS_NAMES);
  assert.equal(CIFAR100_FINE_CLASS_NAMES.length, 100);
  assert.equal(new Set(CIFAR100_FINE_CLASS_NAMES).size, 100);
  const coarse = await readRawDataset({ format: 'cifar100', dir, labelKind: 'coarse' });
  assert.equal(coarse.classes, 20);
  assert.equal(coarse.name, 'cifar100-coarse');
  assert.deepEqual(coarse.train.labels, train.coarse);
  assert.deepEqual(coarse.classNames, CIFAR100_COARSE_CLASS_NAMES);

  const coarseNames = Array.from({ length: 20 }, (_, i) => `super${i}`);
  await writeFile(join(dir, 'coarse_label_names.txt'), coarseNames.join('\n'));
  assert.deepEqual(
    (await readRawDataset({ format: 'cifar100', dir, labelKind: 'coarse' })).classNames,
    coarseNames,
  );
  await writeFile(join(dir, 'fine_label_names.txt'), 'only\ntwo\n');
  await rejectsWith(
    readRawDataset({ format: 'cifar100', dir }),
    'fine_label_names.txt',
    'lists 2 class names, expected 100',
  );
});

test('train/validation split: deterministic in the seed, disjoint, complete, sized right', () => {
  const a = splitTrainValidation(1000, 0.1, 777);
  const b = splitTrainValidation(1000, 0.1, 777);
  const c = splitTrainValidation(1000, 0.1, 778);
  assert.deepEqual(a, b);
  assert.notDeepEqual(Array.from(a.validation), Array.from(c.validation));
  assert.equal(a.validation.length, 100);
  assert.equal(a.train.length, 900);
  const all = new Set([...a.train, ...a.validation]);
  assert.equal(all.size, 1000);
  assert.ok([...all].every((i) => i >= 0 && i < 1000));
  // the split is random, not a block of the file
  assert.ok(Math.max(...a.validation) - Math.min(...a.validation) > 500);

  const limited = splitTrainValidation(1000, 0.1, 777, 50);
  assert.deepEqual(limited.validation, a.validation);
  assert.deepEqual(limited.train, a.train.slice(0, 50));
  assert.equal(splitTrainValidation(1000, 0.1, 777, 5000).train.length, 900);
  assert.equal(splitTrainValidation(10, 0.25, 1).validation.length, 3);
  assert.throws(() => splitTrainValidation(10, 0, 1), /valFraction/);
});

test('loadDataset: split sizes, labels follow images, standardisation from train, no leaked tensors', async () => {
  const f = idxFixture(4, 5, 200, 30);
  const dir = freshDir('load');
  await writeFiles(dir, idxFiles(f), true);
  const before = tf.memory().numTensors;
  const ds = await loadDataset({ format: 'idx', dir }, { valFraction: 0.1, splitSeed: 777, trainLimit: 0 });
  try {
    assert.deepEqual(ds.inputShape, [4, 5, 1]);
    assert.equal(ds.classes, 10);
    assert.deepEqual([ds.train.n, ds.validation.n, ds.test.n], [180, 20, 30]);
    assert.deepEqual(ds.train.x.shape, [180, 4, 5, 1]);
    assert.equal(ds.train.x.dtype, 'float32');
    assert.equal(ds.train.y.dtype, 'int32');
    assert.deepEqual(ds.test.y.shape, [30]);
    // validation and test come with ready evaluation batches holding the same examples in order
    for (const sp of [ds.validation, ds.test]) {
      assert.ok(sp.batches?.length, 'ready batches');
      assert.equal(
        sp.batches!.reduce((a, b) => a + b.size, 0),
        sp.n,
      );
      const joined = tf.tidy(() => tf.concat(sp.batches!.map((b) => b.x)).dataSync());
      assert.deepEqual(Array.from(joined), Array.from(sp.x.dataSync()));
    }
    assert.equal(ds.train.batches, undefined, 'the training split is only gathered from');

    const { train, validation } = splitTrainValidation(200, 0.1, 777);
    const yVal = await ds.validation.y.data();
    assert.deepEqual(
      Array.from(yVal),
      Array.from(validation, (i) => f.train.labels[i]!),
    );
    // an image's standardised pixels are (raw/255 - mean)/std of the train split
    const px = (await ds.validation.x.data()).subarray(3 * 20, 4 * 20);
    const rawPx = f.train.images.subarray(validation[3]! * 20, validation[3]! * 20 + 20);
    rawPx.forEach((v, p) => assert.ok(Math.abs(px[p]! - (v / 255 - ds.mean[0]!) / ds.std[0]!) < 1e-5));
    let m = 0;
    for (const i of train) for (let p = 0; p < 20; p++) m += f.train.images[i * 20 + p]! / 255;
    assert.ok(Math.abs(ds.mean[0]! - m / (180 * 20)) < 1e-12);

    const stats = tf.tidy(() => {
      const { mean, variance } = tf.moments(ds.train.x);
      return [mean.dataSync()[0]!, Math.sqrt(variance.dataSync()[0]!)];
    });
    assert.ok(Math.abs(stats[0]!) < 1e-5, `train mean ${stats[0]}`);
    assert.ok(Math.abs(stats[1]! - 1) < 1e-4, `train std ${stats[1]}`);
    const counts = new Array(10).fill(0);
    for (const i of train) counts[f.train.labels[i]!]++;
    assert.deepEqual(ds.trainClassCounts, counts);
  } finally {
    ds.dispose();
  }
  ds.dispose(); // a second dispose is harmless
  assert.equal(tf.memory().numTensors, before);

  const other = await loadDataset(
    { format: 'idx', dir },
    { valFraction: 0.1, splitSeed: 778, trainLimit: 25 },
  );
  try {
    assert.equal(other.train.n, 25);
    assert.equal(other.validation.n, 20);
    const seed777ValLabels = Array.from(
      splitTrainValidation(200, 0.1, 777).validation,
      (i) => f.train.labels[i]!,
    );
    assert.notDeepEqual(Array.from(await other.validation.y.data()), seed777ValLabels);
  } finally {
    other.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('loadDataset: CIFAR standardisation is per channel', async () => {
  const f = cifar10Fixture(4, 3);
  // give the channels different brightness so a shared mean would be wrong
  for (const b of [...f.batches, f.test])
    for (let i = 0; i < b.images.length; i += 3) b.images[i] = Math.floor(b.images[i]! / 4);
  const dir = freshDir('cifar10-load');
  await writeFiles(dir, cifar10Files(f));
  const before = tf.memory().numTensors;
  const ds = await loadDataset({ format: 'cifar10', dir }, { valFraction: 0.2, splitSeed: 1, trainLimit: 0 });
  try {
    assert.deepEqual([ds.train.n, ds.validation.n, ds.test.n], [16, 4, 3]);
    assert.ok(ds.mean[0]! < ds.mean[1]! * 0.5, `channel means ${ds.mean}`);
    const [mean, std] = tf.tidy(() => {
      const { mean, variance } = tf.moments(ds.train.x, [0, 1, 2]);
      return [Array.from(mean.dataSync()), Array.from(variance.sqrt().dataSync())];
    });
    mean!.forEach((v) => assert.ok(Math.abs(v) < 1e-5, `mean ${mean}`));
    std!.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-4, `std ${std}`));
  } finally {
    ds.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('corrupt IDX files: each error names the file and the problem', async () => {
  const f = idxFixture(4, 5, 30, 10);
  const files = idxFiles(f);

  const d1 = freshDir('trunc-images');
  await writeFiles(d1, files);
  await truncate(join(d1, 'train-images-idx3-ubyte'), 16 + 600 - 10);
  await rejectsWith(
    readRawDataset({ format: 'idx', dir: d1 }),
    'train-images-idx3-ubyte',
    'truncated',
    'expected 600 bytes of data',
    'found 590',
  );

  const d2 = freshDir('trunc-labels');
  await writeFiles(d2, files);
  await truncate(join(d2, 't10k-labels-idx1-ubyte'), 8 + 7);
  await rejectsWith(
    readRawDataset({ format: 'idx', dir: d2 }),
    't10k-labels-idx1-ubyte',
    'truncated',
    'expected 10 bytes of data',
    'found 7',
  );

  const d3 = freshDir('trunc-gz');
  await writeFiles(d3, files, true);
  const gz = await readFile(join(d3, 'train-images-idx3-ubyte.gz'));
  await writeFile(join(d3, 'train-images-idx3-ubyte.gz'), gz.subarray(0, gz.length - 40));
  await rejectsWith(readRawDataset({ format: 'idx', dir: d3 }), 'train-images-idx3-ubyte.gz', 'gzip');

  const d4 = freshDir('magic');
  await writeFiles(d4, { ...files, 't10k-images-idx3-ubyte': files['t10k-labels-idx1-ubyte']! });
  await rejectsWith(
    readRawDataset({ format: 'idx', dir: d4 }),
    't10k-images-idx3-ubyte',
    'wrong magic number 0x00000801',
    'expected 0x00000803',
  );

  const d5 = freshDir('count');
  await writeFiles(d5, {
    ...files,
    'train-labels-idx1-ubyte': encodeIdx(IDX_LABELS_MAGIC, [29], f.train.labels.subarray(0, 29)),
  });
  await rejectsWith(
    readRawDataset({ format: 'idx', dir: d5 }),
    'train-labels-idx1-ubyte',
    'count mismatch',
    '29 labels',
    '30 images',
  );

  const d6 = freshDir('label');
  const bad = new Uint8Array(f.train.labels);
  bad[7] = 10;
  await writeFiles(d6, { ...files, 'train-labels-idx1-ubyte': encodeIdx(IDX_LABELS_MAGIC, [30], bad) });
  await rejectsWith(
    readRawDataset({ format: 'idx', dir: d6 }),
    'train-labels-idx1-ubyte',
    'label at index 7 is 10',
    'outside the 10 classes',
  );

  const d7 = freshDir('size');
  await writeFiles(d7, {
    ...files,
    't10k-images-idx3-ubyte': encodeIdx(IDX_IMAGES_MAGIC, [10, 5, 4], f.test.images),
  });
  await rejectsWith(readRawDataset({ format: 'idx', dir: d7 }), 't10k-images-idx3-ubyte', '5×4', '4×5');

  const d8 = freshDir('missing');
  await writeFiles(d8, files, true);
  await rm(join(d8, 't10k-labels-idx1-ubyte.gz'));
  await rejectsWith(
    readRawDataset({ format: 'idx', dir: d8 }),
    d8,
    'missing IDX files',
    't10k-labels-idx1-ubyte.gz',
    't10k-labels-idx1-ubyte,',
  );
  await rejectsWith(
    readRawDataset({ format: 'idx', dir: join(root, 'nowhere') }),
    'nowhere',
    'does not exist',
  );
});

test('corrupt CIFAR files: truncated record, label out of range, missing file', async () => {
  const f = cifar10Fixture(3, 2);
  const files = cifar10Files(f);

  const d1 = freshDir('c-trunc');
  await writeFiles(d1, {
    ...files,
    'data_batch_3.bin': files['data_batch_3.bin']!.subarray(0, 3073 * 2 + 100),
  });
  await rejectsWith(
    readRawDataset({ format: 'cifar10', dir: d1 }),
    'data_batch_3.bin',
    'truncated',
    'not a multiple of the 3073-byte record',
    '2 whole records and 100 bytes left over',
  );

  const d2 = freshDir('c-label');
  const badTest = new Uint8Array(files['test_batch.bin']!);
  badTest[3073] = 10;
  await writeFiles(d2, { ...files, 'test_batch.bin': badTest });
  await rejectsWith(
    readRawDataset({ format: 'cifar10', dir: d2 }),
    'test_batch.bin',
    'label of record 1 is 10',
    'outside the 10 classes',
  );

  const d3 = freshDir('c-missing');
  const { ['test_batch.bin']: _dropped, ...rest } = files;
  await writeFiles(d3, rest);
  await rejectsWith(
    readRawDataset({ format: 'cifar10', dir: d3 }),
    'missing CIFAR-10 binary files: test_batch.bin',
  );

  const train = cifar100Split(4, 5);
  const test = cifar100Split(2, 6);
  const c100 = cifar100Files(train, test);
  const d4 = freshDir('c100-label');
  const badTrain = new Uint8Array(c100['train.bin']!);
  badTrain[3074 * 2 + 1] = 100;
  await writeFiles(d4, { ...c100, 'train.bin': badTrain });
  await rejectsWith(
    readRawDataset({ format: 'cifar100', dir: d4 }),
    'train.bin',
    'fine label of record 2 is 100',
    'outside the 100 classes',
  );
  const d5 = freshDir('c100-trunc');
  await writeFiles(d5, { ...c100, 'test.bin': c100['test.bin']!.subarray(0, 3074 + 5) });
  await rejectsWith(
    readRawDataset({ format: 'cifar100', dir: d5 }),
    'test.bin',
    'truncated',
    '3074-byte record',
  );
});

test('bundled fashion-mnist-mini: 10000 train + 2000 test, balanced, loads and disposes cleanly', async () => {
  const preview = await previewDataset({ builtin: 'fashion-mnist-mini' }, 4);
  assert.equal(preview.name, 'fashion-mnist-mini');
  assert.deepEqual(preview.inputShape, [28, 28, 1]);
  assert.equal(preview.trainCount, 10000);
  assert.equal(preview.testCount, 2000);
  assert.deepEqual(preview.classCounts, new Array(10).fill(1000));
  assert.deepEqual(preview.classNames, FASHION_MNIST_CLASS_NAMES);
  assert.equal(preview.samples.length, 40);
  assert.deepEqual(
    preview.samples.map((s) => s.label),
    Array.from({ length: 40 }, (_, i) => Math.floor(i / 4)),
  );
  assert.ok(preview.samples.every((s) => s.pixels.length === 784 && s.pixels.some((v) => v > 0)));
  assert.match(preview.contentHash, /^[0-9a-f]{64}$/);

  const before = tf.memory().numTensors;
  const ds = await loadDataset(
    { builtin: 'fashion-mnist-mini' },
    { valFraction: 0.1, splitSeed: 777, trainLimit: 0 },
  );
  try {
    assert.deepEqual([ds.train.n, ds.validation.n, ds.test.n], [9000, 1000, 2000]);
    assert.equal(
      ds.trainClassCounts.reduce((a, b) => a + b, 0),
      9000,
    );
    // a random 90 % of a balanced set stays roughly balanced
    assert.ok(
      ds.trainClassCounts.every((c) => c > 850 && c < 950),
      `${ds.trainClassCounts}`,
    );
    assert.equal(ds.contentHash, preview.contentHash);
    // Fashion-MNIST's own pixel statistics are about 0.286 / 0.353
    assert.ok(
      Math.abs(ds.mean[0]! - 0.286) < 0.01 && Math.abs(ds.std[0]! - 0.353) < 0.01,
      `${ds.mean} ${ds.std}`,
    );
    const testMean = tf.tidy(() => ds.test.x.mean().dataSync()[0]!);
    assert.ok(Math.abs(testMean) < 0.05, `test mean ${testMean}`);
  } finally {
    ds.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test(`${RESOURCES_ENV} overrides where bundled datasets are found`, async () => {
  const res = freshDir('resources');
  const f = idxFixture(3, 3, 20, 5);
  await writeFiles(join(res, 'datasets', 'fashion-mnist-mini'), idxFiles(f), true);
  const saved = process.env[RESOURCES_ENV];
  process.env[RESOURCES_ENV] = res;
  try {
    const raw = await readRawDataset({ builtin: 'fashion-mnist-mini' });
    assert.equal(raw.train.n, 20);
    assert.deepEqual(raw.shape, [3, 3, 1]);
    process.env[RESOURCES_ENV] = join(res, 'datasets');
    await rejectsWith(
      readRawDataset({ builtin: 'fashion-mnist-mini' }),
      RESOURCES_ENV,
      'no datasets/ folder',
    );
  } finally {
    if (saved === undefined) delete process.env[RESOURCES_ENV];
    else process.env[RESOURCES_ENV] = saved;
  }
});

test('buildDataset refuses a training set too small to split', () => {
  const tiny = {
    name: 'tiny',
    shape: [1, 1, 1] as [number, number, number],
    classes: 2,
    classNames: ['a', 'b'],
    train: { images: new Uint8Array([1]), labels: new Uint8Array([0]), n: 1 },
    test: { images: new Uint8Array([1]), labels: new Uint8Array([0]), n: 1 },
    contentHash: '',
    files: [],
  };
  assert.throws(() => buildDataset(tiny), /at least 2/);
});
