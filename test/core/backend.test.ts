import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ENV, initBackend } from '../../src/core/backend.js';
import { softmaxCrossEntropy } from '../../src/core/evaluate.js';
import { rng } from '../../src/core/random.js';
import { wasmThreadsWanted } from '../../src/core/wasm-threads.js';

/**
 * The wasm backend with the kernel repairs of src/core/wasm-kernels.ts must compute what the
 * reference cpu backend computes. Inputs are plain arrays so both backends see identical data.
 */

type Arr = { data: Float32Array; shape: number[] };

function randn(shape: number[], seed: number): Arr {
  const r = rng(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = r.normal();
  return { data, shape };
}

const T = (a: Arr): tf.Tensor => tf.tensor(a.data, a.shape, 'float32');

/** Runs `fn` on each backend, returns its outputs as arrays, and checks that it leaked nothing. */
async function onBoth(fn: () => tf.Tensor[]): Promise<{ cpu: Arr[]; wasm: Arr[] }> {
  const out: Record<string, Arr[]> = {};
  for (const b of ['cpu', 'wasm'] as const) {
    await initBackend(b);
    const before = tf.memory().numTensors;
    const ts = tf.tidy(fn);
    out[b] = ts.map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
    tf.dispose(ts);
    assert.equal(tf.memory().numTensors, before, `${b}: tensors leaked`);
  }
  return { cpu: out.cpu, wasm: out.wasm };
}

function assertClose(actual: Arr, expected: Arr, what: string, rel = 1e-4): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.data.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected.data[i]));
    maxDiff = Math.max(maxDiff, Math.abs(actual.data[i] - expected.data[i]));
  }
  assert.ok(Number.isFinite(maxDiff), `${what}: non-finite values`);
  assert.ok(
    maxDiff <= rel * Math.max(maxAbs, 1e-3),
    `${what}: max |wasm − cpu| = ${maxDiff} vs max |cpu| = ${maxAbs}`,
  );
}

test('matMul on wasm equals cpu in all four transpose combinations, plain and batched', async () => {
  const cases: { a: number[]; b: number[] }[] = [
    { a: [37, 23], b: [23, 19] },
    { a: [3, 17, 11], b: [3, 11, 13] },
    { a: [4, 9, 6], b: [6, 5] }, // broadcast of b over the batch
    // a large operand and a small result: transposing the result is cheaper (hᵀ·dlogits)
    { a: [40, 64], b: [64, 3] },
    { a: [2, 40, 64], b: [2, 64, 3] },
  ];
  for (const [ci, c] of cases.entries()) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const swap = (s: number[], t: boolean) =>
          t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s;
        const a = randn(swap(c.a, ta), 10 + ci);
        const b = randn(swap(c.b, tb), 20 + ci);
        const r = await onBoth(() => [tf.matMul(T(a), T(b), ta, tb)]);
        assertClose(r.wasm[0], r.cpu[0], `case ${ci} transposeA=${ta} transposeB=${tb}`);
        // the fused kernel (used by tf.fused.matMul and tfjs-layers) too, with a bias and relu
        const bias = randn([c.b[c.b.length - 1]], 30 + ci);
        for (const activation of ['linear', 'relu', 'elu'] as const) {
          const f = await onBoth(() => [
            tf.fused.matMul({ a: T(a), b: T(b), transposeA: ta, transposeB: tb, bias: T(bias), activation }),
          ]);
          assertClose(
            f.wasm[0],
            f.cpu[0],
            `fused ${activation} case ${ci} transposeA=${ta} transposeB=${tb}`,
          );
        }
      }
    }
  }
});

test('Conv2DBackpropFilter and Conv2DBackpropInput on wasm equal cpu (strides 1/2, same/valid, odd sizes, 1×1 and 5×5)', async () => {
  const cases = [
    { x: [2, 8, 8, 3], k: [3, 3, 3, 4], s: 1, pad: 'same' as const },
    { x: [2, 7, 9, 2], k: [3, 3, 2, 5], s: 2, pad: 'same' as const },
    { x: [2, 8, 8, 3], k: [3, 3, 3, 4], s: 2, pad: 'same' as const },
    { x: [3, 8, 8, 2], k: [3, 3, 2, 3], s: 2, pad: 'valid' as const }, // last input row unused
    { x: [2, 6, 5, 4], k: [3, 3, 4, 2], s: 1, pad: 'valid' as const },
    { x: [2, 6, 6, 3], k: [1, 1, 3, 4], s: 2, pad: 'same' as const },
    { x: [1, 9, 9, 2], k: [5, 5, 2, 3], s: 2, pad: 'same' as const },
    { x: [2, 4, 4, 2], k: [3, 3, 2, 2], s: [1, 2] as [number, number], pad: 'same' as const },
    { x: [2, 9, 8, 3], k: [2, 2, 3, 4], s: 2, pad: 'same' as const }, // even kernel: padding only at the bottom
    { x: [2, 10, 10, 2], k: [4, 4, 2, 3], s: 3, pad: 'valid' as const },
  ];
  for (const [i, c] of cases.entries()) {
    const x = randn(c.x, 100 + i);
    const info = tf.backend_util.computeConv2DInfo(
      c.x as [number, number, number, number],
      c.k as [number, number, number, number],
      c.s,
      1,
      c.pad,
    );
    const dy = randn([c.x[0], info.outHeight, info.outWidth, c.k[3]], 200 + i);
    const r = await onBoth(() => [
      tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x: T(x), dy: T(dy) },
        {
          strides: c.s,
          pad: c.pad,
          dataFormat: 'NHWC',
          filterShape: c.k,
        },
      ) as tf.Tensor,
    ]);
    assertClose(r.wasm[0], r.cpu[0], `filter, case ${i} ${JSON.stringify(c)}`);
    const filter = randn(c.k, 300 + i);
    const q = await onBoth(() => [
      tf.engine().runKernel(
        'Conv2DBackpropInput',
        { dy: T(dy), filter: T(filter) },
        {
          strides: c.s,
          pad: c.pad,
          dataFormat: 'NHWC',
          inputShape: c.x,
        },
      ) as tf.Tensor,
    ]);
    assertClose(q.wasm[0], q.cpu[0], `input, case ${i} ${JSON.stringify(c)}`);
  }
});

test('gradients of a 2-hidden-layer MLP on wasm equal cpu for every parameter', async () => {
  const n = 16;
  const x = randn([n, 4, 5, 1], 1);
  const labels = Array.from({ length: n }, (_, i) => (i * 7) % 6);
  const shapes: Record<string, number[]> = {
    w1: [20, 32],
    b1: [32],
    w2: [32, 24],
    b2: [24],
    w3: [24, 6],
    b3: [6],
  };
  const init = Object.values(shapes).map((s, i) => ({
    shape: s,
    data: randn(s, 50 + i).data.map((v) => v * 0.3),
  }));
  const r = await onBoth(() => {
    const xt = T(x);
    const y = tf.tensor1d(labels, 'int32');
    const params = init.map(T);
    const grads = tf.grads((w1, b1, w2, b2, w3, b3) => {
      const h1 = tf.relu(tf.add(tf.matMul(tf.reshape(xt, [n, -1]) as tf.Tensor2D, w1 as tf.Tensor2D), b1));
      const h2 = tf.relu(tf.add(tf.matMul(h1 as tf.Tensor2D, w2 as tf.Tensor2D), b2));
      const logits = tf.add(tf.matMul(h2 as tf.Tensor2D, w3 as tf.Tensor2D), b3) as tf.Tensor2D;
      return softmaxCrossEntropy(logits, y);
    })(params);
    tf.dispose([xt, y, ...params]);
    return grads;
  });
  Object.keys(shapes).forEach((name, i) => assertClose(r.wasm[i], r.cpu[i], `d loss / d ${name}`));
});

test('gradients of a small CNN (conv s1 same, conv s2 valid, maxPool 2, dense) on wasm equal cpu', async () => {
  const n = 4;
  const x = randn([n, 12, 12, 3], 2);
  const labels = [0, 3, 1, 4];
  const shapes = [[3, 3, 3, 4], [4], [3, 3, 4, 6], [6], [24, 5], [5]];
  const init = shapes.map((s, i) => ({ shape: s, data: randn(s, 70 + i).data.map((v) => v * 0.4) }));
  const r = await onBoth(() => {
    const xt = T(x) as tf.Tensor4D;
    const y = tf.tensor1d(labels, 'int32');
    const params = init.map(T);
    const grads = tf.grads((k1, b1, k2, b2, w, b) => {
      let a = tf.relu(tf.add(tf.conv2d(xt, k1 as tf.Tensor4D, 1, 'same'), b1)) as tf.Tensor4D; // 12×12×4
      a = tf.relu(tf.add(tf.conv2d(a, k2 as tf.Tensor4D, 2, 'valid'), b2)) as tf.Tensor4D; // 5×5×6
      a = tf.maxPool(a, 2, 2, 'valid'); // 2×2×6
      const logits = tf.add(
        tf.matMul(tf.reshape(a, [n, -1]) as tf.Tensor2D, w as tf.Tensor2D),
        b,
      ) as tf.Tensor2D;
      return softmaxCrossEntropy(logits, y);
    })(params);
    tf.dispose([xt, y, ...params]);
    return grads;
  });
  ['conv1.kernel', 'conv1.bias', 'conv2.kernel', 'conv2.bias', 'fc.kernel', 'fc.bias'].forEach((name, i) =>
    assertClose(r.wasm[i], r.cpu[i], `d loss / d ${name}`),
  );
  // and not trivially: every kernel gradient has non-zero entries
  for (const i of [0, 2, 4]) assert.ok(r.cpu[i].data.some((v) => v !== 0));
});

test('clone (Identity) on wasm shares the buffer safely: the clone outlives its source, nothing leaks', async () => {
  await initBackend('wasm');
  const before = tf.memory();
  const a = tf.tensor([1, 2, 3, 4], [2, 2]);
  const b = a.clone();
  const c = tf.clone(b);
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3, 4]);
  b.dispose();
  assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3, 4]);
  // gradients through saved (cloned) tensors still come out right
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(c);
  assert.deepEqual(Array.from(g.dataSync()), [2, 4, 6, 8]);
  tf.dispose([c, g]);
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numDataBuffers, before.numDataBuffers);
  assert.equal(after.numBytes, before.numBytes);
});

test('initBackend reports what it chose and is idempotent', async () => {
  const cpu = await initBackend('cpu');
  assert.equal(cpu.name, 'cpu');
  assert.equal(cpu.device, 'cpu');
  assert.equal(cpu.threads, 1);
  assert.equal(tf.getBackend(), 'cpu');
  assert.match(cpu.version, /^tfjs-core 4\./);

  const wasm = await initBackend('wasm');
  assert.equal(wasm.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(wasm.threads, wasmThreadsWanted()); // TRAJECTORY_LAB_WASM_THREADS, else the cores
  assert.equal(typeof wasm.simd, 'boolean');
  assert.match(wasm.version, /tfjs-backend-wasm 4\./);
  assert.equal(await initBackend('wasm'), wasm, 'a second call returns the same info');
  const [p1, p2] = [initBackend('cpu'), initBackend('cpu')];
  assert.equal(await p1, await p2);
  await initBackend('wasm');
});

test("'auto' skips the absent tensorflow packages, says why, and picks wasm", async (t) => {
  const saved = process.env[BACKEND_ENV];
  delete process.env[BACKEND_ENV];
  try {
    const logs: string[] = [];
    const info = await initBackend('auto', (m) => logs.push(m));
    if (info.name === 'tensorflow') {
      t.skip('@tensorflow/tfjs-node is installed here');
      return;
    }
    assert.equal(info.name, 'wasm');
    assert.ok(
      info.notes.some((n) => /tfjs-node-gpu is not installed/.test(n)),
      info.notes.join('\n'),
    );
    assert.ok(
      info.notes.some((n) => /tensorflow skipped: @tensorflow\/tfjs-node is not installed/.test(n)),
      info.notes.join('\n'),
    );
    assert.ok(logs.some((l) => /backend wasm/.test(l)));
  } finally {
    if (saved === undefined) delete process.env[BACKEND_ENV];
    else process.env[BACKEND_ENV] = saved;
  }
});

test(`${BACKEND_ENV} replaces 'auto' only; an explicit choice wins; bad values are named`, async () => {
  const saved = process.env[BACKEND_ENV];
  try {
    process.env[BACKEND_ENV] = 'cpu';
    const auto = await initBackend('auto');
    assert.equal(auto.name, 'cpu');
    assert.ok(auto.notes.some((n) => n.includes(BACKEND_ENV)));
    assert.equal((await initBackend('wasm')).name, 'wasm');
    process.env[BACKEND_ENV] = 'tpu';
    await assert.rejects(initBackend('auto'), new RegExp(`${BACKEND_ENV}="tpu"`));
    await assert.rejects(initBackend('webgpu'), /webgpu.*not available/);
  } finally {
    if (saved === undefined) delete process.env[BACKEND_ENV];
    else process.env[BACKEND_ENV] = saved;
    await initBackend('wasm');
  }
});
