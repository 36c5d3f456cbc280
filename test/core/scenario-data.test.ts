import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { augmentBatch, augmentDraws, blackLevel } from '../../src/core/data/augment.js';
import { namedClassSplits, resolveClasses, selectClasses } from '../../src/core/data/class-subsets.js';
import { readIndexFile } from '../../src/core/data/given-split.js';
import { buildDataset, loadDataset } from '../../src/core/data/load.js';
import type { RawDataset } from '../../src/core/data/raw.js';
import { rng } from '../../src/core/random.js';
import { makeTempDir } from '../helpers/data-fixtures.js';

before(async () => {
  await initBackend('wasm');
});

/** 12 one-pixel images whose pixel value is 10·label, classes a..f. */
function tinyRaw(): RawDataset {
  const labels = Uint8Array.from([0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0]);
  const split = { images: labels.map((l) => 10 * l), labels, n: labels.length };
  return {
    name: 'tiny',
    shape: [1, 1, 1],
    classes: 6,
    classNames: ['a', 'b', 'c', 'd', 'e', 'f'],
    train: split,
    test: { ...split },
    contentHash: 'h',
    files: [],
  };
}

test('class subsets: labels remapped to 0..k−1 in the order given, names kept, other classes dropped', () => {
  const raw = tinyRaw();
  const sub = selectClasses(raw, [4, 1]);
  assert.equal(sub.classes, 2);
  assert.deepEqual(sub.classNames, ['e', 'b']);
  assert.deepEqual([...sub.train.labels], [1, 0, 0, 1]);
  // the images travel with their labels: pixel 10·(original class)
  assert.deepEqual([...sub.train.images], [10, 40, 40, 10]);
  assert.notEqual(sub.contentHash, raw.contentHash);
  assert.notEqual(selectClasses(raw, [1, 4]).contentHash, sub.contentHash);
});

test('class selections: indices, names, ranges and named splits; bad ones are refused with a reason', () => {
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  assert.deepEqual(resolveClasses([2, 0], 6, names), [2, 0]);
  assert.deepEqual(resolveClasses(['F', 'b'], 6, names), [5, 1]);
  assert.deepEqual(resolveClasses('1-3', 6, names), [1, 2, 3]);
  assert.deepEqual(resolveClasses('lower-half', 10, []), [0, 1, 2, 3, 4]);
  assert.deepEqual(resolveClasses('upper-half', 10, []), [5, 6, 7, 8, 9]);
  // CIFAR-100's ten 10-class subsets
  const splits = namedClassSplits(100);
  assert.equal(splits.filter((s) => s.id.startsWith('subset-')).length, 10);
  assert.deepEqual(resolveClasses('subset-3', 100, []), [30, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
  assert.throws(() => resolveClasses([7], 6, names), /out of range/);
  assert.throws(() => resolveClasses(['zebra', 'a'], 6, names), /"zebra" is not one of/);
  assert.throws(() => resolveClasses('subset-3', 10, []), /unknown class split "subset-3".*lower-half/);
  assert.throws(() => resolveClasses([1], 6, names), /at least 2/);
});

test('the bundled Fashion-MNIST as classes 5–9: five classes named sandal … ankle boot', async () => {
  const d = await loadDataset({ builtin: 'fashion-mnist-mini', classes: 'upper-half' });
  try {
    assert.equal(d.classes, 5);
    assert.deepEqual(d.classNames, ['Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    const y = await d.train.y.data();
    assert.ok(y.every((v) => v >= 0 && v < 5));
    assert.equal(d.trainClassCounts.length, 5);
    assert.ok(d.trainClassCounts.every((c) => c > 0));
  } finally {
    d.dispose();
  }
});

test('a given split and fixed standardisation are used as given', async () => {
  const raw = tinyRaw();
  const { dir, cleanup } = await makeTempDir();
  try {
    const file = join(dir, 'val.txt');
    await writeFile(file, '3 0\n7\n');
    assert.deepEqual([...(await readIndexFile(file))], [3, 0, 7]);
    const built = buildDataset(
      raw,
      { valFraction: 0.1, splitSeed: 1, trainLimit: 0, mean: [0.5], std: [0.25] },
      Int32Array.from([3, 0, 7]),
    );
    try {
      assert.equal(built.validation.n, 3);
      assert.equal(built.train.n, 9);
      assert.deepEqual([...(await built.validation.y.data())], [3, 0, 4]);
      // pixel 30 → (30/255 − 0.5)/0.25
      const x = await built.validation.x.data();
      assert.ok(Math.abs(x[0]! - (30 / 255 - 0.5) / 0.25) < 1e-6);
      assert.deepEqual(built.mean, [0.5]);
    } finally {
      built.dispose();
    }
    assert.throws(() => buildDataset(raw, undefined, Int32Array.from([3, 3])), /listed twice/);
    assert.throws(() => buildDataset(raw, undefined, Int32Array.from([30])), /past the training set/);
  } finally {
    await cleanup();
  }
});

test('augmentation: pad + crop + flip, identical for the same seed, different for another', () => {
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(
    Float32Array.from({ length: 2 * 6 * 6 * 2 }, (_, i) => i),
    [2, 6, 6, 2],
  );
  const spec = { pad: 2, flip: true };
  const a = augmentBatch(x, spec, rng(5), [-1, -2]);
  const b = augmentBatch(x, spec, rng(5), [-1, -2]);
  const c = augmentBatch(x, spec, rng(6), [-1, -2]);
  assert.deepEqual(a.shape, [2, 6, 6, 2]);
  assert.deepEqual([...a.dataSync()], [...b.dataSync()]);
  assert.notDeepEqual([...a.dataSync()], [...c.dataSync()]);
  // each output pixel is a shifted (maybe mirrored) input pixel or the padding value
  const draws = augmentDraws(2, spec, rng(5));
  const xs = x.arraySync();
  const as = a.arraySync();
  for (let i = 0; i < 2; i++)
    for (let yy = 0; yy < 6; yy++)
      for (let xx = 0; xx < 6; xx++) {
        const sy = yy + draws.dy[i]! - 2;
        const sx = (draws.flip[i] ? 5 - xx : xx) + draws.dx[i]! - 2;
        const inside = sy >= 0 && sy < 6 && sx >= 0 && sx < 6;
        const want = inside ? xs[i]![sy]![sx] : [-1, -2];
        assert.deepEqual(as[i]![yy]![xx], want, `example ${i} pixel (${yy}, ${xx})`);
      }
  // no padding and no flip: the batch itself
  const same = augmentBatch(x, { pad: 0, flip: false }, rng(1), [0, 0]);
  assert.deepEqual([...same.dataSync()], [...x.dataSync()]);
  // black after standardisation
  assert.deepEqual(blackLevel({ mean: [0.5, 0.25], std: [0.25, 0.5] }), [-2, -0.5]);
  tf.dispose([x, a, b, c, same]);
  assert.equal(tf.memory().numTensors, before);
});
