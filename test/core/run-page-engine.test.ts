/**
 * The engine side of the run page (issue 12): π_1..π_T stored compactly and read back exactly,
 * training loss and accuracy per SGD step without changing the training, and thinning that
 * averages (never drops) steps past the cap.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { loadDataset } from '../../src/core/data/load.js';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams } from '../../src/core/params.js';
import { decodePermSteps, encodePermSteps } from '../../src/core/perm-steps.js';
import type { Permutation } from '../../src/core/permutation.js';
import { rng } from '../../src/core/random.js';
import { StepThinner } from '../../src/core/step-metrics.js';
import { trainModel, type TrainStep } from '../../src/core/train.js';
import { parseSpec } from '../../src/shared/domain/index.js';

const plain = (ps: Permutation[]) =>
  ps.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, [...v]])));

test('π_1..π_T round-trip exactly; repeated steps are stored once; 16-bit indices when they fit', () => {
  const r = rng(3);
  const gmt: Permutation[] = Array.from({ length: 6 }, () => ({
    P_0: r.permutation(300),
    P_1: r.permutation(40),
  }));
  gmt[3] = gmt[2]!; // a step that keeps the previous π
  const buf = encodePermSteps(gmt);
  assert.deepEqual(plain(decodePermSteps(buf)), plain(gmt));
  // 5 distinct sets of 340 two-byte indices, plus the header
  assert.ok(buf.length < 5 * 340 * 2 + 200, `${buf.length} bytes`);

  const id = new Int32Array(300).map((_, i) => i);
  const naive = encodePermSteps(Array.from({ length: 100 }, () => ({ P_0: id })));
  assert.ok(naive.length < 300 * 2 + 600, `identity for 100 steps is one set (${naive.length} bytes)`);
  assert.equal(decodePermSteps(naive).length, 100);

  const wide: Permutation[] = [{ P_0: r.permutation(70_000) }];
  assert.deepEqual(
    plain(decodePermSteps(encodePermSteps(wide))),
    plain(wide),
    '32-bit indices past 65,536 units',
  );
});

test('stored permutations that are damaged are refused, not used', () => {
  const buf = encodePermSteps([{ P_0: new Int32Array([2, 0, 1]) }]);
  const twice = Buffer.from(buf);
  twice.writeUInt16LE(0, twice.length - 2); // [2, 0, 0]: not a permutation
  assert.throws(() => decodePermSteps(twice), /not a permutation/);
  assert.throws(() => decodePermSteps(buf.subarray(0, buf.length - 2)), /bytes/);
  assert.throws(() => decodePermSteps(Buffer.from([1, 2])), /too short/);
});

test('thinning keeps every step up to the cap, then averages strides and ends on the last step', () => {
  const steps = (n: number): TrainStep[] =>
    Array.from({ length: n }, (_, i) => ({
      step: i + 1,
      loss: i + 1,
      accuracy: (i + 1) / 100,
      at: 1000 + i,
    }));
  const keep = new StepThinner(10, 10);
  assert.equal(keep.stride, 1);
  assert.equal(keep.push(steps(10)).length, 10);

  const thin = new StepThinner(10, 4); // stride 3: buckets 1-3, 4-6, 7-9, 10
  assert.equal(thin.stride, 3);
  const all = steps(10);
  // arriving in batches that cut buckets in two changes nothing
  const out = [...thin.push(all.slice(0, 4)), ...thin.push(all.slice(4, 8)), ...thin.push(all.slice(8))];
  assert.deepEqual(
    out.map((p) => [p.step, p.loss, p.at]),
    [
      [3, 2, 1002],
      [6, 5, 1005],
      [9, 8, 1008],
      [10, 10, 1009],
    ],
  );
  assert.ok(Math.abs(out[0]!.accuracy - 0.02) < 1e-12);
});

test('loss and accuracy per SGD step: every step, in order, without changing the training or leaking', async () => {
  await initBackend('cpu');
  const spec = parseSpec({
    dataset: { builtin: 'fashion-mnist-mini' },
    datasetOptions: { trainLimit: 400 },
    model: { arch: 'mlp', hidden: [16] },
    source: { init: { seed: 1 }, train: { epochs: 2, batchSize: 64, lr: 0.05 } },
    targets: [{ init: { seed: 2 } }],
    transfer: { T: 1, methods: ['naive'] },
  });
  const data = await loadDataset(spec.dataset, spec.datasetOptions);
  const model = buildModel(spec.model, data.inputShape, data.classes);
  const init = model.init(1);
  try {
    const before = tf.memory().numTensors;
    const seen: TrainStep[] = [];
    const a = await trainModel(model, init, data, spec.source.train, {
      progressEvery: 3,
      onSteps: (s) => seen.push(...s),
    });
    const b = await trainModel(model, init, data, spec.source.train, { progressEvery: 3 });
    const spe = Math.ceil(data.train.n / 64);
    assert.deepEqual(
      seen.map((s) => s.step),
      Array.from({ length: 2 * spe }, (_, i) => i + 1),
    );
    assert.ok(seen.every((s) => s.accuracy >= 0 && s.accuracy <= 1 && Number.isFinite(s.loss)));
    assert.ok(seen.every((s, i) => i === 0 || s.at >= seen[i - 1]!.at));
    assert.deepEqual(
      a.history.map((h) => h.trainLoss),
      b.history.map((h) => h.trainLoss),
    );
    for (const k of Object.keys(a.final))
      assert.deepEqual(a.final[k]!.dataSync(), b.final[k]!.dataSync(), `${k}: the same training`);
    disposeParams(a.final);
    disposeParams(b.final);
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  } finally {
    disposeParams(init);
    data.dispose();
  }
});
