import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import type { Dataset, Split } from '../../src/core/data/dataset.js';
import { gradient, lowRankGradient } from '../../src/core/evaluate.js';
import {
  addGradients,
  densify,
  disposeGradients,
  isFactors,
  permuteGradient,
  scaleGradients,
  type Gradients,
} from '../../src/core/gradient-factors.js';
import { METHODS, runMethod } from '../../src/core/methods/index.js';
import type { TransferOptions } from '../../src/core/methods/context.js';
import { buildModel, type Model } from '../../src/core/models/index.js';
import { disposeParams } from '../../src/core/params.js';
import {
  getPermutedParam,
  identityPermutation,
  randomPermutation,
  type Permutation,
} from '../../src/core/permutation.js';
import { rng } from '../../src/core/random.js';
import { linearTrajectory } from '../../src/core/trajectory.js';
import type { ArchSpec } from '../../src/shared/domain/index.js';
import { WeightMatcher, type LowRankMode } from '../../src/core/weight-matching.js';

// wasm: the backend the lab runs on here, with its own matMul repairs (src/core/wasm-kernels.ts)
before(async () => {
  await initBackend('wasm');
});

const MLP: ArchSpec = { arch: 'mlp', hidden: [40, 24] };
// a dense head over a spatial feature map: its kernel is [h, w, c, out] with the conv's
// permutation on c, the one axis the factors cannot carry (dense fallback)
const CNN: ArchSpec = {
  arch: 'cnn',
  layers: [
    { type: 'conv', filters: 6, kernel: 3 },
    { type: 'maxpool', size: 2 },
    { type: 'flatten' },
    { type: 'dense', units: 16 },
    { type: 'dense', units: 12 },
  ],
};

const MODELS: { arch: ArchSpec; shape: [number, number, number] }[] = [
  { arch: MLP, shape: [8, 8, 1] },
  { arch: CNN, shape: [10, 10, 2] },
];

function images(
  n: number,
  shape: [number, number, number],
  seed: number,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const r = rng(seed);
  const x = new Float32Array(n * shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < x.length; i++) x[i] = r.normal();
  const y = Int32Array.from({ length: n }, () => r.int(10));
  return { x: tf.tensor4d(x, [n, ...shape]), y: tf.tensor1d(y, 'int32') };
}

/** max |a − b| / max |b| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

test('lowRankGradient: factors of every dense kernel give gradient() within float32 rounding', () => {
  for (const { arch, shape } of MODELS) {
    const before = tf.memory().numTensors;
    const model = buildModel(arch, shape, 10);
    const theta = model.init(3);
    const { x, y } = images(20, shape, 4);
    const dense = gradient(model, theta, x, y);
    const low = lowRankGradient(model, theta, x, y);
    assert.deepEqual(Object.keys(low), Object.keys(dense), 'the same parameters in the same order');
    const kernels = model.params.filter((p) => p.lowRankGradient).map((p) => p.name);
    assert.ok(kernels.length >= 2, `${model.describe}: its dense kernels are flagged`);
    for (const [k, g] of Object.entries(low)) {
      assert.equal(isFactors(g), kernels.includes(k), `${k} factored iff a dense kernel`);
      const t = densify(g);
      assert.deepEqual(t.shape, dense[k].shape, k);
      const err = relErr(t.dataSync(), dense[k].dataSync());
      assert.ok(err <= 1e-5, `${model.describe} ${k}: relative error ${err}`);
      t.dispose();
    }
    disposeGradients(low);
    disposeParams(dense);
    disposeParams(theta);
    tf.dispose([x, y]);
    assert.equal(tf.memory().numTensors, before, `${model.describe}: no tensor leaked`);
  }
});

test('averaging over minibatches stacks the factors, and densifies factors larger than their kernel', () => {
  const before = tf.memory().numTensors;
  const model = buildModel(MLP, [8, 8, 1], 10);
  const theta = model.init(5);
  const batches = [images(6, [8, 8, 1], 6), images(6, [8, 8, 1], 7)];
  const low = batches.map(({ x, y }) => lowRankGradient(model, theta, x, y));
  const dense = batches.map(({ x, y }) => gradient(model, theta, x, y));
  // m = 12 rows: fc1 (64→40) and fc2 (40→24) stay factors, the head's 12·(24 + 10) > 24·10 does not
  const mean = scaleGradients(addGradients(low[0], low[1]), 0.5);
  assert.equal(isFactors(mean['fc1.kernel']) && mean['fc1.kernel'].x.shape[0], 12);
  assert.ok(isFactors(mean['fc2.kernel']));
  assert.ok(!isFactors(mean['fc3.kernel']), 'the head became its dense kernel');
  for (const [k, g] of Object.entries(mean)) {
    const want = tf.tidy(() => tf.mul(tf.add(dense[0][k], dense[1][k]), 0.5));
    const got = densify(g);
    assert.ok(relErr(got.dataSync(), want.dataSync()) <= 1e-5, k);
    tf.dispose([want, got]);
  }
  disposeGradients(mean);
  dense.forEach(disposeParams);
  disposeParams(theta);
  batches.forEach(({ x, y }) => tf.dispose([x, y]));
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
});

/** Every permutation's similarity matrix, at the identity and at a random permutation of the others. */
async function similarities(
  model: Model,
  pairs: { target: Gradients; source: Gradients }[],
  mode: LowRankMode,
  perms: Permutation[],
): Promise<Float32Array[]> {
  const m = new WeightMatcher(model.permSpec, { lowRank: mode });
  try {
    for (const { target, source } of pairs) m.addPair(target, source);
    const out: Float32Array[] = [];
    for (const perm of perms)
      for (const p of Object.keys(model.permSpec.perms)) out.push(await m.similarity(p, perm));
    return out;
  } finally {
    m.dispose();
  }
}

test('similarity matrices from factored gradients equal the dense ones (relative max error ≤ 1e-4)', async () => {
  for (const { arch, shape } of MODELS) {
    const before = tf.memory().numTensors;
    const model = buildModel(arch, shape, 10);
    const pairs: { target: Gradients; source: Gradients }[] = [];
    const reference: { target: Gradients; source: Gradients }[] = [];
    for (let i = 0; i < 2; i++) {
      const t = model.init(10 + i);
      const s = model.init(20 + i);
      const { x, y } = images(24, shape, 30 + i);
      pairs.push({ target: lowRankGradient(model, t, x, y), source: lowRankGradient(model, s, x, y) });
      reference.push({ target: gradient(model, t, x, y), source: gradient(model, s, x, y) });
      disposeParams(t);
      disposeParams(s);
      tf.dispose([x, y]);
    }
    const perms = [identityPermutation(model.permSpec), randomPermutation(model.permSpec, rng(5))];
    const want = await similarities(model, reference, 'auto', perms);
    for (const mode of ['always', 'auto', 'never'] as const) {
      const got = await similarities(model, pairs, mode, perms);
      got.forEach((a, i) => {
        const err = relErr(a, want[i]);
        assert.ok(err <= 1e-4, `${model.describe}, ${mode}, matrix ${i}: relative max error ${err}`);
      });
    }
    for (const p of [...pairs, ...reference]) {
      disposeGradients(p.target);
      disposeGradients(p.source);
    }
    assert.equal(tf.memory().numTensors, before, `${model.describe}: no tensor leaked`);
  }
});

test('permuteGradient on factors permutes the kernel they stand for', () => {
  const before = tf.memory().numTensors;
  const model = buildModel(CNN, [10, 10, 2], 10);
  const theta = model.init(1);
  const { x, y } = images(8, [10, 10, 2], 2);
  const low = lowRankGradient(model, theta, x, y);
  const perm = randomPermutation(model.permSpec, rng(3));
  for (const [k, g] of Object.entries(low)) {
    if (!isFactors(g)) continue;
    for (const except of [undefined, ...g.shape.keys()]) {
      const dense = { [k]: densify(g) };
      const want = getPermutedParam(model.permSpec, perm, k, dense, except);
      const p = permuteGradient(model.permSpec, perm, k, g, except);
      const got = densify(p);
      assert.ok(relErr(got.dataSync(), want.dataSync()) <= 1e-6, `${k} except axis ${except}`);
      disposeGradients({ p, got, want, ...dense });
    }
  }
  disposeGradients(low);
  disposeParams(theta);
  tf.dispose([x, y]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
});

function split(n: number, seed: number): Split {
  const { x, y } = images(n, [8, 8, 1], seed);
  return { x, y, n };
}

test('GMT and FGMT find the same permutations with factored and with dense gradients', async () => {
  const before = tf.memory().numTensors;
  const model = buildModel(MLP, [8, 8, 1], 10);
  const data = {
    train: split(200, 1),
    validation: split(50, 2),
    test: split(50, 3),
    dispose() {},
  } as unknown as Dataset;
  const start = model.init(1);
  const end = model.init(2);
  const theta20 = model.init(3);
  const trajectory = linearTrajectory(start, end, 3, 'cosine');
  const options: TransferOptions = {
    // m = 8 samples per gradient: fewer than every kernel's input width but the head's, so 'auto'
    // multiplies the hidden kernels' blocks, dependent ones included, through their factors
    batchSize: 4,
    gradBatches: 2,
    seed: 7,
    matchTolerance: 1e-7,
    matchMaxIter: 20,
    evalLimit: 0,
  };
  for (const name of ['gmt', 'fgmt'] as const) {
    const runs = [];
    for (const lowRankGradients of [true, false]) {
      const r = await runMethod(METHODS[name], {
        model,
        data,
        trajectory,
        theta20,
        options: { ...options, lowRankGradients },
      });
      disposeParams(r.final);
      runs.push(r);
    }
    const [low, dense] = runs;
    assert.equal(low.perms.length, 3);
    low.perms.forEach((perm, s) => {
      for (const p of Object.keys(perm))
        assert.deepEqual(Array.from(perm[p]), Array.from(dense.perms[s][p]), `${name} π_${s + 1}[${p}]`);
    });
    assert.ok(
      low.perms.some((perm) => Object.values(perm).some((a) => a.some((v, i) => v !== i))),
      `${name}: the permutations are not all the identity`,
    );
    assert.deepEqual(low.result.valAccuracy, dense.result.valAccuracy);
  }
  disposeParams(start);
  disposeParams(end);
  disposeParams(theta20);
  for (const s of [data.train, data.validation, data.test]) tf.dispose([s.x, s.y]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
});
