import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { loadDataset } from '../../src/core/data/load.js';

const DIR = '/usr/share/datasets/fashion-mnist';

test("Debian's full Fashion-MNIST loads with the paper's split", async (t) => {
  if (!existsSync(DIR)) {
    t.skip(`${DIR} is absent (apt-get install dataset-fashion-mnist)`);
    return;
  }
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  const data = await loadDataset(
    { format: 'idx', dir: DIR },
    { valFraction: 0.1, splitSeed: 777, trainLimit: 0 },
  );
  try {
    assert.equal(data.train.n, 54000);
    assert.equal(data.validation.n, 6000);
    assert.equal(data.test.n, 10000);
    assert.deepEqual(data.inputShape, [28, 28, 1]);
    assert.equal(data.classNames[9], 'Ankle boot');
    // the official training set is balanced: 6000 per class, so the train split is close to 5400 each
    for (const c of data.trainClassCounts) assert.ok(Math.abs(c - 5400) < 150, `class count ${c}`);
    assert.ok(Math.abs(data.mean[0] - 0.286) < 0.01, `mean ${data.mean[0]}`);
  } finally {
    data.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});
