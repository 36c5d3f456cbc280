import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams, type Params } from '../../src/core/params.js';
import { encodeParams } from '../../src/core/params-io.js';
import {
  encodeTorchParams,
  importParams,
  readSafetensors,
  torchName,
  type RawTensor,
} from '../../src/core/torch-import.js';
import type { ArchSpec } from '../../src/shared/domain/index.js';

before(async () => {
  await initBackend('wasm');
});

const arch: ArchSpec = {
  arch: 'cnn',
  layers: [
    { type: 'conv', filters: 4, kernel: 3 },
    { type: 'bn' },
    { type: 'maxpool', size: 2 },
    { type: 'dense', units: 6 },
    { type: 'bn' },
  ],
};

/**
 * A state_dict as PyTorch lays it out, built by index arithmetic independent of the importer:
 * Conv2d weight [out, in, kh, kw]; Linear weight [out, in] reading NCHW-flattened features
 * (index c·H·W + y·W + x); BatchNorm weight/bias/running_mean/running_var and an int64
 * num_batches_tracked.
 */
function torchStateDict(
  p: Record<string, { data: Float32Array; shape: number[] }>,
): Record<string, RawTensor> {
  const out: Record<string, RawTensor> = {};
  const conv = p['conv1.kernel']!; // [3, 3, 1, 4]
  const [kh, kw, ci, co] = conv.shape as [number, number, number, number];
  const cw = new Float32Array(conv.data.length);
  for (let o = 0; o < co; o++)
    for (let i = 0; i < ci; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          cw[((o * ci + i) * kh + y) * kw + x] = conv.data[((y * kw + x) * ci + i) * co + o]!;
  out['conv1.weight'] = { dtype: 'F32', shape: [co, ci, kh, kw], data: cw };
  out['conv1.bias'] = { dtype: 'F32', shape: [co], data: p['conv1.bias']!.data };
  const fc = p['fc1.kernel']!; // [H, W, C, out]
  const [H, W, C, O] = fc.shape as [number, number, number, number];
  const fw = new Float32Array(fc.data.length);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          fw[o * C * H * W + c * H * W + y * W + x] = fc.data[((y * W + x) * C + c) * O + o]!;
  out['fc1.weight'] = { dtype: 'F32', shape: [O, C * H * W], data: fw };
  out['fc1.bias'] = { dtype: 'F32', shape: [O], data: p['fc1.bias']!.data };
  const head = p['fc2.kernel']!; // [in, out]
  const [hi, ho] = head.shape as [number, number];
  const hw = new Float32Array(head.data.length);
  for (let o = 0; o < ho; o++) for (let i = 0; i < hi; i++) hw[o * hi + i] = head.data[i * ho + o]!;
  out['fc2.weight'] = { dtype: 'F32', shape: [ho, hi], data: hw };
  out['fc2.bias'] = { dtype: 'F32', shape: [ho], data: p['fc2.bias']!.data };
  for (const bn of ['bn1', 'bn2']) {
    out[`${bn}.weight`] = { dtype: 'F32', shape: p[`${bn}.scale`]!.shape, data: p[`${bn}.scale`]!.data };
    out[`${bn}.bias`] = { dtype: 'F32', shape: p[`${bn}.shift`]!.shape, data: p[`${bn}.shift`]!.data };
    out[`${bn}.running_mean`] = { dtype: 'F32', shape: p[`${bn}.mean`]!.shape, data: p[`${bn}.mean`]!.data };
    out[`${bn}.running_var`] = {
      dtype: 'F32',
      shape: p[`${bn}.variance`]!.shape,
      data: p[`${bn}.variance`]!.data,
    };
    out[`${bn}.num_batches_tracked`] = { dtype: 'I64', shape: [], data: null };
  }
  return out;
}

async function randomParams(model: ReturnType<typeof buildModel>): Promise<Params> {
  const p = model.init(4);
  for (const n of model.buffers!) {
    p[n]!.dispose();
    p[n] = tf.randomUniform(model.params.find((q) => q.name === n)!.shape, 0.5, 2, 'float32', 3);
  }
  return p;
}

test('PyTorch names and layouts ([out, in], [out, in, kh, kw], NCHW flatten, BN buffers) import exactly', async () => {
  const model = buildModel(arch, [8, 8, 1], 3);
  const p = await randomParams(model);
  const host = Object.fromEntries(
    await Promise.all(
      Object.entries(p).map(
        async ([k, v]) => [k, { data: (await v.data()) as Float32Array, shape: v.shape }] as const,
      ),
    ),
  );
  const imported = importParams(model, torchStateDict(host), 'auto');
  for (const [k, v] of Object.entries(p))
    assert.deepEqual([...imported[k]!.dataSync()], [...v.dataSync()], k);
  const x = tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
  const a = model.apply(p, x);
  const b = model.apply(imported, x);
  assert.deepEqual([...a.dataSync()], [...b.dataSync()]);
  tf.dispose([x, a, b]);
  disposeParams(imported);
  disposeParams(p);
});

test('round trip through a PyTorch-layout safetensors file (ResNet-20), and engine-layout files still load', async () => {
  const model = buildModel({ arch: 'resnet20', width: 1 }, [8, 8, 3], 4);
  const p = await randomParams(model);
  const before = tf.memory().numTensors;
  const buf = await encodeTorchParams(model, p);
  const { tensors } = readSafetensors(buf, 'torch file');
  assert.ok('block4.shortcut.conv.weight' in tensors);
  assert.deepEqual(tensors['block1.conv1.weight']!.shape, [16, 16, 3, 3]);
  assert.deepEqual(tensors['fc1.weight']!.shape, [4, 64]);
  assert.ok('block1.bn1.running_var' in tensors);
  const back = importParams(model, tensors, 'auto');
  for (const [k, v] of Object.entries(p)) assert.deepEqual([...back[k]!.dataSync()], [...v.dataSync()], k);
  disposeParams(back);
  // the engine's own files (engine names, tfjs layouts)
  const eng = readSafetensors(await encodeParams(p), 'engine file').tensors;
  const back2 = importParams(model, eng, 'auto');
  for (const [k, v] of Object.entries(p)) assert.deepEqual([...back2[k]!.dataSync()], [...v.dataSync()], k);
  disposeParams(back2);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(torchName({ name: 'block2.bn1.variance' }, model), 'block2.bn1.running_var');
  disposeParams(p);
});

test('a mismatched file is refused with the tensor named and both layouts shown', async () => {
  const model = buildModel(arch, [8, 8, 1], 3);
  const p = model.init(1);
  const host = Object.fromEntries(
    await Promise.all(
      Object.entries(p).map(
        async ([k, v]) => [k, { data: (await v.data()) as Float32Array, shape: v.shape }] as const,
      ),
    ),
  );
  disposeParams(p);
  const sd = torchStateDict(host);
  sd['fc2.weight'] = { dtype: 'F32', shape: [5, 6], data: new Float32Array(30) };
  assert.throws(
    () => importParams(model, sd, 'auto', 'parameter file x.safetensors'),
    /parameter file x.safetensors does not match .*tensor "fc2.weight" is \[5,6\] but .* needs \[3,6\] \(PyTorch layout of fc2.kernel; the engine layout would be \[6,3\]\)/,
  );
  delete sd['bn1.running_mean'];
  sd['extra.weight'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
  assert.throws(
    () => importParams(model, sd),
    /missing "bn1.mean" \(PyTorch "bn1.running_mean"\).*unexpected tensor "extra.weight"/,
  );
  assert.equal(tf.memory().numTensors, 0, 'a refused import leaves no tensors behind');
});
