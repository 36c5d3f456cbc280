import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams, type Params } from '../../src/core/params.js';
import { applyPermutation, identityPermutation, randomPermutation } from '../../src/core/permutation.js';
import { rng } from '../../src/core/random.js';
import type { ArchSpec } from '../../src/shared/domain/index.js';
import { weightMatching } from '../../src/core/weight-matching.js';

before(async () => {
  await tf.setBackend('cpu');
});

const ARCHS: { name: string; arch: ArchSpec; input: [number, number, number] }[] = [
  { name: '2-MLP', arch: { arch: 'mlp', hidden: [64] }, input: [28, 28, 1] },
  { name: 'MLP with three hidden layers', arch: { arch: 'mlp', hidden: [48, 40, 32] }, input: [8, 8, 1] },
  { name: 'Conv8 on 32×32×3', arch: { arch: 'conv8', width: 4 }, input: [32, 32, 3] },
  { name: 'Conv8 on 28×28×1', arch: { arch: 'conv8', width: 4 }, input: [28, 28, 1] },
  {
    name: 'plain CNN with a strided conv and a spatial flatten',
    arch: {
      arch: 'cnn',
      layers: [
        { type: 'conv', filters: 6, kernel: 3 },
        { type: 'conv', filters: 8, kernel: 3, stride: 2 },
        { type: 'maxpool', size: 2 },
        { type: 'flatten' },
        { type: 'dense', units: 12 },
      ],
    },
    input: [12, 12, 2],
  },
];

function randomInput(shape: [number, number, number], n: number, seed: number): tf.Tensor4D {
  const r = rng(seed);
  const data = new Float32Array(n * shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < data.length; i++) data[i] = r.normal();
  return tf.tensor4d(data, [n, ...shape]);
}

for (const { name, arch, input } of ARCHS) {
  test(`f(x; πθ) = f(x; θ) for ${name}`, () => {
    const before = tf.memory().numTensors;
    const model = buildModel(arch, input, 10);
    const theta = model.init(1);
    const perm = randomPermutation(model.permSpec, rng(2));
    assert.ok(Object.keys(perm).length > 0, 'the model declares at least one permutation');
    const permuted = applyPermutation(model.permSpec, perm, theta);
    const x = randomInput(input, 5, 3);
    const a = model.apply(theta, x);
    const b = model.apply(permuted, x);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    const mag = tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
    assert.ok(diff <= 1e-5 * Math.max(1, mag), `outputs differ by ${diff}`);
    // and the permutation really moved the parameters
    const moved = Object.keys(theta).some(
      (k) => tf.tidy(() => tf.max(tf.abs(tf.sub(theta[k], permuted[k]))).dataSync()[0]) > 0,
    );
    assert.ok(moved, 'π changed no parameter');
    tf.dispose([x, a, b]);
    disposeParams(theta);
    disposeParams(permuted);
    assert.equal(tf.memory().numTensors, before, `leaked ${tf.memory().numTensors - before} tensors`);
  });
}

function plantedRecovery(arch: ArchSpec, input: [number, number, number], seed: number): void {
  const model = buildModel(arch, input, 10);
  const theta: Params = model.init(seed);
  const planted = randomPermutation(model.permSpec, rng(seed + 1));
  const target = applyPermutation(model.permSpec, planted, theta);
  const before = tf.memory().numTensors;
  const { perm, sweeps } = weightMatching(model.permSpec, [{ target, source: theta }], {
    seed,
    tolerance: 1e-12,
  });
  assert.equal(tf.memory().numTensors, before, 'weight matching leaked tensors');
  for (const p of Object.keys(planted)) {
    assert.deepEqual(
      Array.from(perm[p]),
      Array.from(planted[p]),
      `permutation ${p} not recovered (after ${sweeps} sweeps)`,
    );
  }
  disposeParams(theta);
  disposeParams(target);
}

test('weight matching recovers a planted permutation of an MLP with several hidden layers', () => {
  plantedRecovery({ arch: 'mlp', hidden: [128, 96, 64] }, [12, 12, 1], 11);
});

test('weight matching recovers a planted permutation of Conv8', () => {
  plantedRecovery({ arch: 'conv8', width: 8 }, [32, 32, 3], 21);
});

test('weight matching over several pairs at once recovers the shared permutation', () => {
  const model = buildModel({ arch: 'mlp', hidden: [32, 32] }, [6, 6, 1], 10);
  const planted = randomPermutation(model.permSpec, rng(5));
  const pairs = [7, 8, 9].map((s) => {
    const source = model.init(s);
    return { source, target: applyPermutation(model.permSpec, planted, source) };
  });
  const { perm } = weightMatching(model.permSpec, pairs, { seed: 1 });
  for (const p of Object.keys(planted)) assert.deepEqual(Array.from(perm[p]), Array.from(planted[p]));
  for (const { source, target } of pairs) {
    disposeParams(source);
    disposeParams(target);
  }
});

test('identical pairs match with the identity', () => {
  const model = buildModel({ arch: 'mlp', hidden: [16] }, [4, 4, 1], 3);
  const theta = model.init(3);
  const { perm } = weightMatching(model.permSpec, [{ target: theta, source: theta }]);
  assert.deepEqual(perm, identityPermutation(model.permSpec));
  disposeParams(theta);
});
