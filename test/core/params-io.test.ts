import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams } from '../../src/core/params.js';
import {
  checkParamsFit,
  decodePoints,
  encodeParams,
  encodePoints,
  loadParams,
  saveParams,
} from '../../src/core/params-io.js';

before(async () => {
  await tf.setBackend('cpu');
});

test('parameters survive a safetensors round trip, with metadata', async () => {
  const model = buildModel(
    {
      arch: 'cnn',
      layers: [
        { type: 'conv', filters: 4 },
        { type: 'maxpool', size: 2 },
        { type: 'dense', units: 8 },
      ],
    },
    [8, 8, 1],
    3,
  );
  const theta = model.init(5);
  const dir = mkdtempSync(join(tmpdir(), 'tlab-params-'));
  const path = join(dir, 'p.safetensors');
  const sha = await saveParams(path, theta, { arch: 'cnn', seed: '5' });
  assert.match(sha, /^[0-9a-f]{64}$/);
  const before = tf.memory().numTensors;
  const loaded = await loadParams(path);
  assert.equal(loaded.sha256, sha);
  assert.equal(loaded.metadata.seed, '5');
  assert.equal(checkParamsFit(model, loaded.params), null);
  for (const k of Object.keys(theta))
    assert.deepEqual(Array.from(loaded.params[k].dataSync()), Array.from(theta[k].dataSync()));
  disposeParams(loaded.params);
  assert.equal(tf.memory().numTensors, before);
  disposeParams(theta);
});

test('a parameter set for another architecture is refused with the reason', () => {
  const a = buildModel({ arch: 'mlp', hidden: [32] }, [4, 4, 1], 10);
  const b = buildModel({ arch: 'mlp', hidden: [16] }, [4, 4, 1], 10);
  const theta = b.init(1);
  const why = checkParamsFit(a, theta);
  assert.match(why ?? '', /fc1\.kernel" is \[16,16\] but MLP 16-32-10 needs \[16,32\]/);
  disposeParams(theta);
});

test('several trajectory points share one file', async () => {
  const model = buildModel({ arch: 'mlp', hidden: [4] }, [2, 2, 1], 2);
  const pts = [model.init(1), model.init(2), model.init(3)];
  const buf = await encodePoints(pts, { role: 'source' });
  const { points, metadata } = decodePoints(buf);
  assert.equal(points.length, 3);
  assert.equal(metadata.role, 'source');
  assert.deepEqual(Array.from(points[2]['fc1.bias'].dataSync()), Array.from(pts[2]['fc1.bias'].dataSync()));
  for (const p of [...pts, ...points]) disposeParams(p);
});

test('truncated and malformed files give errors naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlab-params-'));
  const model = buildModel({ arch: 'mlp', hidden: [4] }, [2, 2, 1], 2);
  const theta = model.init(1);
  const buf = await encodeParams(theta);
  disposeParams(theta);
  const truncated = join(dir, 'truncated.safetensors');
  writeFileSync(truncated, buf.subarray(0, buf.length - 10));
  await assert.rejects(
    loadParams(truncated),
    (e: Error) => e.message.includes(truncated) && /truncated/.test(e.message),
  );
  const garbage = join(dir, 'garbage.safetensors');
  writeFileSync(garbage, Buffer.from('this is not a tensor file at all'));
  await assert.rejects(loadParams(garbage), (e: Error) => e.message.includes(garbage));
  await assert.rejects(loadParams(join(dir, 'missing.safetensors')), /ENOENT/);
});
