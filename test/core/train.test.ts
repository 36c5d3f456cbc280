import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import type { Dataset, Split } from '../../src/core/data/dataset.js';
import { evaluate, gradient, softmaxCrossEntropy } from '../../src/core/evaluate.js';
import type { Model } from '../../src/core/models/model.js';
import { disposeParams, type Params } from '../../src/core/params.js';
import { rng } from '../../src/core/random.js';
import type { TrainSpec } from '../../src/shared/domain/index.js';
import { cosineLr, dataOrder, epochLr, trainModel } from '../../src/core/train.js';

before(async () => {
  await initBackend('wasm');
});

/** Softmax regression on flattened inputs: logits = x·W + b, W [in, classes]. */
function linearModel(inputShape: [number, number, number], classes: number): Model {
  const inDim = inputShape[0] * inputShape[1] * inputShape[2];
  return {
    arch: { arch: 'mlp', hidden: [] } as unknown as Model['arch'],
    describe: 'linear',
    inputShape,
    classes,
    params: [
      { name: 'W', shape: [inDim, classes], fanIn: inDim },
      { name: 'b', shape: [classes], fanIn: inDim },
    ],
    permSpec: {} as Model['permSpec'],
    apply: (p, x) =>
      tf.tidy(
        () =>
          tf.add(
            tf.matMul(tf.reshape(x, [x.shape[0], inDim]) as tf.Tensor2D, p.W as tf.Tensor2D),
            p.b,
          ) as tf.Tensor2D,
      ),
    init: (seed) => {
      const r = rng(seed);
      return {
        W: tf.tensor(r.uniform(new Float32Array(inDim * classes), -0.5, 0.5), [inDim, classes]),
        b: tf.tensor(r.uniform(new Float32Array(classes), -0.5, 0.5), [classes]),
      };
    },
  };
}

/** 2-MLP with a smooth hidden activation (sigmoid) so finite differences are meaningful. */
function mlpModel(
  inputShape: [number, number, number],
  hidden: number,
  classes: number,
  act: 'relu' | 'sigmoid' = 'relu',
): Model {
  const inDim = inputShape[0] * inputShape[1] * inputShape[2];
  const f = act === 'relu' ? tf.relu : tf.sigmoid;
  return {
    arch: { arch: 'mlp', hidden: [hidden] },
    describe: `MLP ${inDim}-${hidden}-${classes}`,
    inputShape,
    classes,
    params: [
      { name: 'fc1.kernel', shape: [inDim, hidden], fanIn: inDim },
      { name: 'fc1.bias', shape: [hidden], fanIn: inDim },
      { name: 'fc2.kernel', shape: [hidden, classes], fanIn: hidden },
      { name: 'fc2.bias', shape: [classes], fanIn: hidden },
    ],
    permSpec: {} as Model['permSpec'],
    apply: (p, x) =>
      tf.tidy(() => {
        const h = f(
          tf.add(
            tf.matMul(tf.reshape(x, [x.shape[0], inDim]) as tf.Tensor2D, p['fc1.kernel'] as tf.Tensor2D),
            p['fc1.bias'],
          ),
        );
        return tf.add(
          tf.matMul(h as tf.Tensor2D, p['fc2.kernel'] as tf.Tensor2D),
          p['fc2.bias'],
        ) as tf.Tensor2D;
      }),
    init: (seed) => {
      const out: Params = {};
      for (const [i, p] of [
        { name: 'fc1.kernel', shape: [inDim, hidden], fanIn: inDim },
        { name: 'fc1.bias', shape: [hidden], fanIn: inDim },
        { name: 'fc2.kernel', shape: [hidden, classes], fanIn: hidden },
        { name: 'fc2.bias', shape: [classes], fanIn: hidden },
      ].entries()) {
        const bound = 1 / Math.sqrt(p.fanIn);
        const size = p.shape.reduce((a, b) => a * b, 1);
        out[p.name] = tf.tensor(rng(seed * 31 + i).uniform(new Float32Array(size), -bound, bound), p.shape);
      }
      return out;
    },
  };
}

function split(x: Float32Array, y: Int32Array, shape: [number, number, number]): Split {
  const n = y.length;
  return { x: tf.tensor4d(x, [n, ...shape]), y: tf.tensor1d(y, 'int32'), n };
}

function dataset(
  train: Split,
  validation: Split,
  test: Split,
  shape: [number, number, number],
  classes: number,
): Dataset {
  return {
    name: 'synthetic',
    inputShape: shape,
    classes,
    classNames: Array.from({ length: classes }, (_, i) => `c${i}`),
    train,
    validation,
    test,
    mean: [0],
    std: [1],
    contentHash: 'synthetic',
    trainClassCounts: [],
    dispose() {
      for (const s of [train, validation, test]) tf.dispose([s.x, s.y]);
    },
  };
}

/** Gaussian blobs, one per class, in `dim` dimensions: linearly separable with margin. */
function blobs(n: number, dim: number, classes: number, seed: number): { x: Float32Array; y: Int32Array } {
  const centers = rng(999);
  const c = Array.from({ length: classes }, () => Array.from({ length: dim }, () => 3 * centers.normal()));
  const r = rng(seed);
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r.int(classes);
    for (let d = 0; d < dim; d++) x[i * dim + d] = c[y[i]][d] + 0.7 * r.normal();
  }
  return { x, y };
}

const read = (p: Params): Record<string, Float32Array> =>
  Object.fromEntries(Object.entries(p).map(([k, t]) => [k, t.dataSync() as Float32Array]));

test('cosine learning rate follows PyTorch CosineAnnealingLR stepped per epoch', () => {
  assert.equal(cosineLr(0.05, 0, 60), 0.05);
  assert.ok(Math.abs(cosineLr(0.05, 30, 60) - 0.025) < 1e-15);
  assert.ok(Math.abs(cosineLr(0.05, 15, 60) - (0.05 * (1 + Math.SQRT1_2)) / 2) < 1e-15);
  assert.ok(Math.abs(cosineLr(0.05, 59, 60) - (0.05 * (1 + Math.cos((Math.PI * 59) / 60))) / 2) < 1e-15);
  const spec = { lr: 0.1, epochs: 4, lrSchedule: 'constant' as const };
  assert.deepEqual(
    [0, 1, 2, 3].map((e) => epochLr(spec, e)),
    [0.1, 0.1, 0.1, 0.1],
  );
  const cos = [0, 1, 2, 3].map((e) => epochLr({ ...spec, lrSchedule: 'cosine' }, e));
  assert.ok(Math.abs(cos[2] - 0.05) < 1e-15 && cos[0] === 0.1 && cos[1] < 0.1 && cos[3] > 0);
});

test('SGD steps equal a hand-computed PyTorch update (momentum, weight decay, cosine lr, last partial batch)', async () => {
  const shape: [number, number, number] = [2, 2, 1];
  const n = 10;
  const classes = 3;
  const bs = 4; // batches of 4, 4, 2
  const { x, y } = blobs(n, 4, classes, 5);
  const data = dataset(split(x, y, shape), split(x, y, shape), split(x, y, shape), shape, classes);
  const model = linearModel(shape, classes);
  const init = model.init(3);
  const spec: TrainSpec = {
    epochs: 2,
    batchSize: bs,
    lr: 0.2,
    momentum: 0.9,
    weightDecay: 0.01,
    lrSchedule: 'cosine',
    dataSeed: 42,
  };
  const before = tf.memory().numTensors;
  const res = await trainModel(model, init, data, spec);
  const got = read(res.final);

  // The same computation in float64 JavaScript.
  const W = Array.from(init.W.dataSync());
  const b = Array.from(init.b.dataSync());
  const theta = [W, b];
  let bufs: number[][] | null = null;
  const order = dataOrder(n, 42);
  for (let e = 0; e < spec.epochs; e++) {
    const lr = cosineLr(spec.lr, e, spec.epochs);
    const perm = order();
    for (let s = 0; s < n; s += bs) {
      const idx = Array.from(perm.subarray(s, Math.min(n, s + bs)));
      const gW = new Array(W.length).fill(0);
      const gb = new Array(b.length).fill(0);
      for (const i of idx) {
        const z = [0, 1, 2].map(
          (c) => b[c] + [0, 1, 2, 3].reduce((acc, d) => acc + x[i * 4 + d] * W[d * classes + c], 0),
        );
        const m = Math.max(...z);
        const ez = z.map((v) => Math.exp(v - m));
        const sum = ez.reduce((a, v) => a + v, 0);
        for (let c = 0; c < classes; c++) {
          const dz = (ez[c] / sum - (y[i] === c ? 1 : 0)) / idx.length;
          gb[c] += dz;
          for (let d = 0; d < 4; d++) gW[d * classes + c] += x[i * 4 + d] * dz;
        }
      }
      const grads = [gW, gb];
      const d = grads.map((g, k) => g.map((v, j) => v + spec.weightDecay * theta[k][j]));
      bufs = bufs
        ? bufs.map((buf, k) => buf.map((v, j) => spec.momentum * v + d[k][j]))
        : d.map((v) => [...v]);
      theta.forEach((p, k) => p.forEach((_, j) => (p[j] -= lr * bufs![k][j])));
    }
  }
  const close = (a: Float32Array, e: number[], what: string) =>
    e.forEach((v, j) =>
      assert.ok(Math.abs(a[j] - v) < 1e-5 * Math.max(1, Math.abs(v)), `${what}[${j}]: ${a[j]} vs ${v}`),
    );
  close(got.W, W, 'W');
  close(got.b, b, 'b');
  // the update moved the parameters (the test is not vacuous)
  assert.ok(Math.abs(W[0] - init.W.dataSync()[0]) > 1e-3);

  assert.equal(res.history.length, 2);
  assert.ok(!init.W.isDisposed && !init.b.isDisposed, 'init must stay alive');
  disposeParams(res.final);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  disposeParams(init);
  data.dispose();
});

test('same seed gives an identical trajectory, a different seed a different one; checkpoints and progress', async () => {
  const shape: [number, number, number] = [3, 3, 1];
  const { x, y } = blobs(300, 9, 4, 1);
  const v = blobs(100, 9, 4, 2);
  const data = dataset(split(x, y, shape), split(v.x, v.y, shape), split(v.x, v.y, shape), shape, 4);
  const model = mlpModel(shape, 16, 4);
  const init = model.init(7);
  const spec: TrainSpec = {
    epochs: 3,
    batchSize: 32,
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 5e-4,
    lrSchedule: 'cosine',
  };
  const before = tf.memory().numTensors;

  const progress: number[] = [];
  const epochs: number[] = [];
  const a = await trainModel(model, init, data, spec, {
    seed: 1,
    checkpoints: true,
    progressEvery: 4,
    onProgress: (done, total, info) => {
      assert.equal(total, 3 * 10); // ceil(300/32) = 10 steps per epoch, last batch 12
      assert.ok(Number.isFinite(info.loss));
      progress.push(done);
    },
    onEpoch: (e, p, ev) => {
      epochs.push(e);
      assert.ok(ev.accuracy >= 0 && ev.accuracy <= 1);
      assert.ok(p['fc1.kernel'] && !p['fc1.kernel'].isDisposed);
    },
  });
  assert.deepEqual(epochs, [0, 1, 2]);
  assert.deepEqual(progress, [4, 8, 10, 14, 18, 20, 24, 28, 30]);
  assert.equal(a.checkpoints.length, 3);
  const b = await trainModel(model, init, data, spec, { seed: 1 });
  const c = await trainModel(model, init, data, spec, { seed: 2 });
  const [ra, rb, rc, rlast] = [a.final, b.final, c.final, a.checkpoints[2]].map(read);
  for (const k of Object.keys(ra)) {
    assert.deepEqual(rb[k], ra[k], `${k}: same seed, same result`);
    assert.deepEqual(rlast[k], ra[k], `${k}: last checkpoint is the final params`);
  }
  assert.notDeepEqual(rc['fc1.kernel'], ra['fc1.kernel']);
  assert.deepEqual(b.history, a.history);
  // spec.dataSeed wins over opts.seed
  const d = await trainModel(model, init, data, { ...spec, dataSeed: 1 }, { seed: 2 });
  assert.deepEqual(read(d.final)['fc2.bias'], ra['fc2.bias']);

  for (const r of [a, b, c, d]) {
    disposeParams(r.final);
    r.checkpoints.forEach(disposeParams);
  }
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  disposeParams(init);
  data.dispose();
});

test('a small MLP learns a separable synthetic dataset', async () => {
  const shape: [number, number, number] = [4, 4, 1];
  const t = blobs(1200, 16, 5, 11);
  const v = blobs(400, 16, 5, 12);
  const data = dataset(split(t.x, t.y, shape), split(v.x, v.y, shape), split(v.x, v.y, shape), shape, 5);
  const model = mlpModel(shape, 32, 5);
  const init = model.init(3);
  const initial = evaluate(model, init, data.validation);
  const res = await trainModel(
    model,
    init,
    data,
    { epochs: 4, batchSize: 64, lr: 0.05, momentum: 0.9, weightDecay: 0, lrSchedule: 'constant' },
    { seed: 0 },
  );
  const final = evaluate(model, res.final, data.validation);
  assert.ok(initial.accuracy < 0.6, `initial accuracy ${initial.accuracy}`);
  assert.ok(final.accuracy > 0.95, `final accuracy ${final.accuracy}`);
  assert.ok(res.history[3].trainLoss < res.history[0].trainLoss);
  assert.ok(Math.abs(res.history[3].valAccuracy - final.accuracy) < 1e-9);
  assert.ok(res.seconds > 0);
  disposeParams(res.final);
  disposeParams(init);
  data.dispose();
});

test('evaluate counts accuracy and mean cross-entropy exactly, in batches, with a limit', () => {
  const shape: [number, number, number] = [1, 1, 2];
  const model = linearModel(shape, 2);
  // logits = x (W = I, b = 0)
  const params: Params = {
    W: tf.tensor2d([
      [1, 0],
      [0, 1],
    ]),
    b: tf.zeros([2]),
  };
  const xs = new Float32Array([2, 0, 0, 1, 3, 0, 0, 0, 1, 0]); // 5 examples
  const ys = new Int32Array([0, 1, 1, 0, 0]);
  const s = split(xs, ys, shape);
  const before = tf.memory().numTensors;
  const full = evaluate(model, params, s, { batchSize: 2 });
  // predictions: 0, 1, 0, 0 (tie → first), 0 → correct: 1, 1, 0, 1, 1
  assert.equal(full.accuracy, 4 / 5);
  const ce = (z: number[], c: number) => Math.log(z.reduce((a, v) => a + Math.exp(v), 0)) - z[c];
  const losses = [ce([2, 0], 0), ce([0, 1], 1), ce([3, 0], 1), ce([0, 0], 0), ce([1, 0], 0)];
  assert.ok(Math.abs(full.loss - losses.reduce((a, v) => a + v) / 5) < 1e-5);
  const lim = evaluate(model, params, s, { limit: 3, batchSize: 2 });
  assert.equal(lim.accuracy, 2 / 3);
  assert.ok(Math.abs(lim.loss - (losses[0] + losses[1] + losses[2]) / 3) < 1e-5);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  disposeParams(params);
  tf.dispose([s.x, s.y]);
});

test('gradient() matches central finite differences', () => {
  const shape: [number, number, number] = [2, 3, 1];
  const model = mlpModel(shape, 5, 3, 'sigmoid');
  const params = model.init(4);
  const { x, y } = blobs(8, 6, 3, 9);
  const xt = tf.tensor4d(x, [8, ...shape]);
  const yt = tf.tensor1d(y, 'int32');
  const before = tf.memory().numTensors;
  const g = gradient(model, params, xt, yt);
  assert.deepEqual(
    Object.keys(g),
    model.params.map((p) => p.name),
  );
  const loss = (p: Params): number =>
    tf.tidy(() => softmaxCrossEntropy(model.apply(p, xt), yt).dataSync()[0]);
  const eps = 1e-2;
  const r = rng(1);
  for (const info of model.params) {
    const base = params[info.name].dataSync() as Float32Array;
    const gv = g[info.name].dataSync();
    for (let trial = 0; trial < 4; trial++) {
      const j = r.int(base.length);
      const shifted = (delta: number): number => {
        const v = base.slice();
        v[j] += delta;
        const t = tf.tensor(v, info.shape);
        const out = loss({ ...params, [info.name]: t });
        t.dispose();
        return out;
      };
      const fd = (shifted(eps) - shifted(-eps)) / (2 * eps);
      assert.ok(
        Math.abs(fd - gv[j]) < 2e-3 + 1e-2 * Math.abs(fd),
        `${info.name}[${j}]: analytic ${gv[j]} vs finite difference ${fd}`,
      );
    }
  }
  disposeParams(g);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  disposeParams(params);
  tf.dispose([xt, yt]);
});

test('an AbortSignal stops training between steps without leaking', async () => {
  const shape: [number, number, number] = [2, 2, 1];
  const { x, y } = blobs(200, 4, 2, 3);
  const data = dataset(split(x, y, shape), split(x, y, shape), split(x, y, shape), shape, 2);
  const model = mlpModel(shape, 8, 2);
  const init = model.init(1);
  const before = tf.memory().numTensors;
  const ac = new AbortController();
  let lastDone = 0;
  await assert.rejects(
    trainModel(
      model,
      init,
      data,
      { epochs: 5, batchSize: 10, lr: 0.1, momentum: 0.9, weightDecay: 0, lrSchedule: 'constant' },
      {
        checkpoints: true,
        progressEvery: 3,
        signal: ac.signal,
        onProgress: (done) => {
          lastDone = done;
          if (done >= 22) ac.abort();
        },
      },
    ),
    (e: unknown) => (e as Error).name === 'AbortError',
  );
  assert.equal(lastDone, 23); // progress at 3, 6, …, 18, 20, 23
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  assert.ok(!init['fc1.kernel'].isDisposed);
  disposeParams(init);
  data.dispose();
});
