import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { runExperiment, type TrainedCache } from '../../src/core/experiment.js';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams, type Params } from '../../src/core/params.js';
import { decodePoints, encodeParams, encodePoints } from '../../src/core/params-io.js';
import type { EngineEvent, TrainedSummary } from '../../src/shared/domain/index.js';
import { parseSpec, SpecError } from '../../src/shared/domain/index.js';
import { encodeTorchParams } from '../../src/core/torch-import.js';
import { cifar10Files, makeTempDir, writeFiles, type FixtureSplit } from '../helpers/data-fixtures.js';
import { CIFAR_IMAGE_BYTES } from '../../src/core/data/cifar.js';
import { rng } from '../../src/core/random.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  await initBackend('wasm');
  tmp = await makeTempDir('tlab-scenarios-');
});
after(async () => {
  await tmp?.cleanup();
});

/** A cache in memory (encoded, as the store keeps it) that remembers what was saved under which role. */
function memoryCache(): TrainedCache & { saved: { key: string; role: string; buf: Buffer }[] } {
  const saved: { key: string; role: string; buf: Buffer; summary: TrainedSummary }[] = [];
  return {
    saved,
    async load(key) {
      const hit = saved.find((s) => s.key === key);
      return hit ? { points: decodePoints(hit.buf).points, summary: hit.summary } : null;
    },
    async save(key, role, points, summary) {
      saved.push({ key, role, buf: await encodePoints(points), summary });
    },
  };
}

const tiny = {
  dataset: { builtin: 'fashion-mnist-mini' },
  datasetOptions: { trainLimit: 300 },
  model: { arch: 'mlp', hidden: [32] },
  source: { init: { seed: 101 }, train: { epochs: 2, batchSize: 50, lr: 0.05 } },
  targets: [{ init: { seed: 102 } }],
  transfer: { T: 3, batchSize: 50, methods: ['naive', 'oracle', 'fgmt'] },
  evalLimit: 200,
  backend: 'wasm',
};

test('spec: the scenario fields parse with their defaults and are checked', () => {
  const s = parseSpec({
    ...tiny,
    dataset: { builtin: 'fashion-mnist-mini', classes: 'upper-half' },
    pretrain: { classes: [0, 1, 2, 3, 4], train: { epochs: 1 } },
    source: { ...tiny.source, train: { ...tiny.source.train, augment: true } },
  });
  assert.equal(s.pretrain!.head, 'reinit');
  assert.deepEqual(s.source.train.augment, { pad: 4, flip: true });
  assert.equal(s.transfer.bnBatches, 10);
  assert.deepEqual(parseSpec({ ...tiny, model: { arch: 'resnet20', width: 2 } }).model, {
    arch: 'resnet20',
    width: 2,
  });
  const field = (bad: unknown): string => {
    try {
      parseSpec(bad);
    } catch (e) {
      assert.ok(e instanceof SpecError, String(e));
      return e.field;
    }
    return 'accepted';
  };
  assert.equal(field({ ...tiny, pretrain: { head: 'new', train: {} } }), 'pretrain.head');
  assert.equal(
    field({ ...tiny, dataset: { builtin: 'fashion-mnist-mini', classes: [1, 1] } }),
    'dataset.classes',
  );
  assert.equal(field({ ...tiny, targets: [{ init: { seed: 1, paramSet: 'x' } }] }), 'targets[0].init');
  assert.equal(field({ ...tiny, datasetOptions: { mean: [0.5] } }), 'datasetOptions.std');
  assert.equal(
    field({
      ...tiny,
      transfer: { ...tiny.transfer, trajectory: 'actual', T: 2 },
      source: { ...tiny.source, trained: { file: 'x' } },
    }),
    'source.trained.checkpoints',
  );
  assert.equal(
    field({ ...tiny, model: { arch: 'cnn', layers: [{ type: 'residual', filters: 8, stride: 3 }] } }),
    'model.layers[0].stride',
  );
});

test('a transfer from files reproduces the run from seeds when given the same endpoints', async () => {
  const cache = memoryCache();
  const fromSeeds = await runExperiment(parseSpec(tiny), { cache });
  const src = decodePoints(cache.saved.find((s) => s.role === 'source')!.buf).points;
  const tgt = decodePoints(cache.saved.find((s) => s.role === 'target')!.buf).points;
  const model = buildModel({ arch: 'mlp', hidden: [32] }, [28, 28, 1], 10);
  const f = (n: string) => join(tmp.dir, n);
  await writeFile(f('src0.safetensors'), await encodeParams(src[0]!));
  // θ1^T as a PyTorch user would bring it: PyTorch names and layouts
  await writeFile(f('src1.safetensors'), await encodeTorchParams(model, src[1]!));
  await writeFile(f('tgt0.safetensors'), await encodeParams(tgt[0]!));
  await writeFile(f('tgt1.safetensors'), await encodeTorchParams(model, tgt[1]!));
  [...src, ...tgt].forEach(disposeParams);
  const before = tf.memory().numTensors;
  const fromFiles = await runExperiment(
    parseSpec({
      ...tiny,
      source: {
        ...tiny.source,
        init: { file: f('src0.safetensors') },
        trained: { file: f('src1.safetensors') },
      },
      targets: [
        { init: { file: f('tgt0.safetensors') }, trained: { file: f('tgt1.safetensors'), layout: 'torch' } },
      ],
    }),
  );
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  assert.equal(fromFiles.source.fromFile, f('src1.safetensors'));
  assert.equal(fromFiles.source.valAccuracy, fromSeeds.source.valAccuracy);
  for (const m of ['naive', 'oracle', 'fgmt'] as const) {
    assert.deepEqual(
      fromFiles.targets[0]!.methods[m]!.valAccuracy,
      fromSeeds.targets[0]!.methods[m]!.valAccuracy,
      m,
    );
    assert.equal(
      fromFiles.targets[0]!.methods[m]!.testAccuracy,
      fromSeeds.targets[0]!.methods[m]!.testAccuracy,
      m,
    );
  }
});

test('pre-trained scenario: both inits pre-trained on classes 0–4, the source fine-tuned on 5–9 and transferred', async () => {
  const cache = memoryCache();
  const spec = parseSpec({
    ...tiny,
    dataset: { builtin: 'fashion-mnist-mini', classes: 'upper-half' },
    pretrain: { classes: 'lower-half', train: { epochs: 2, batchSize: 50, lr: 0.05 } },
    transfer: { ...tiny.transfer, methods: ['naive', 'oracle', 'gmt', 'fgmt'] },
  });
  const events: EngineEvent[] = [];
  const r = await runExperiment(spec, { cache, onEvent: (e) => events.push(e) });
  assert.equal(r.pretrain!.head, 'reinit');
  assert.equal(r.pretrain!.classes, 5);
  assert.deepEqual(r.pretrain!.classNames, ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat']);
  assert.equal(r.dataset.classes, 5);
  assert.ok(r.pretrain!.source.valAccuracy > 0.5, `pre-training learns (${r.pretrain!.source.valAccuracy})`);
  assert.equal(r.pretrain!.targets.length, 1);
  const started = events
    .filter((e) => e.type === 'phase' && e.state === 'start')
    .map((e) => (e as { phase: string }).phase);
  assert.deepEqual(started.slice(0, 3), ['data', 'pretrain:source', 'pretrain:0']);
  // pre-trained features help: the fine-tuned source beats chance by far, every method ran T steps
  assert.ok(r.source.valAccuracy > 0.6);
  for (const m of ['naive', 'oracle', 'gmt', 'fgmt'] as const)
    assert.equal(r.targets[0]!.methods[m]!.valAccuracy.length, 4);
  // θ2^0 is the pre-trained target with a fresh head: its features are good but the head is random
  assert.ok(r.targets[0]!.initial.accuracy < 0.6);

  // pre-trained models are stored and reused like trained sources
  const again: EngineEvent[] = [];
  const r2 = await runExperiment(spec, { cache, onEvent: (e) => again.push(e) });
  const reused = again
    .filter((e) => e.type === 'phase' && e.state === 'reused')
    .map((e) => (e as { phase: string }).phase);
  assert.ok(
    reused.includes('pretrain:source') && reused.includes('pretrain:0') && reused.includes('source'),
    reused.join(),
  );
  assert.deepEqual(r2.targets[0]!.methods.fgmt!.valAccuracy, r.targets[0]!.methods.fgmt!.valAccuracy);

  // "keep" needs equal class counts
  await assert.rejects(
    runExperiment(parseSpec({ ...spec, pretrain: { ...spec.pretrain!, classes: [0, 1, 2], head: 'keep' } })),
    /head "keep" needs as many pre-training classes as task classes \(3 vs 5\)/,
  );
});

/** CIFAR-10-format files whose classes differ in brightness, so a tiny net can learn something. */
function brightCifar(perBatch: number, nTest: number): Record<string, Uint8Array> {
  const r = rng(3);
  const split = (n: number, offset: number): FixtureSplit => {
    const labels = Uint8Array.from({ length: n }, (_, i) => (i + offset) % 10);
    const images = new Uint8Array(n * CIFAR_IMAGE_BYTES);
    for (let i = 0; i < n; i++)
      for (let p = 0; p < CIFAR_IMAGE_BYTES; p++)
        images[i * CIFAR_IMAGE_BYTES + p] = Math.min(255, labels[i]! * 25 + r.int(30));
    return { images, labels, n };
  };
  return cifar10Files({ batches: [0, 1, 2, 3, 4].map((b) => split(perBatch, b)), test: split(nTest, 7) });
}

test('ResNet-20 with augmentation and BN re-estimation runs on CIFAR-10-format files', async () => {
  const dir = join(tmp.dir, 'cifar-10-batches-bin');
  await writeFiles(dir, brightCifar(12, 20));
  const example = JSON.parse(
    (await import('node:fs')).readFileSync(
      new URL('../../examples/resnet20-cifar10.json', import.meta.url),
      'utf8',
    ),
  );
  // the shipped example, scaled down
  const spec = parseSpec({
    ...example,
    dataset: { ...example.dataset, dir },
    source: { ...example.source, train: { ...example.source.train, epochs: 1, batchSize: 18 } },
    transfer: {
      ...example.transfer,
      T: 2,
      batchSize: 16,
      gradBatches: 1,
      bnBatches: 2,
      methods: ['naive', 'fgmt'],
    },
    backend: 'wasm',
  });
  const before = tf.memory().numTensors;
  const r = await runExperiment(spec);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  assert.equal(r.model.arch, 'ResNet-20 (width 1)');
  assert.equal(r.targets[0]!.methods.fgmt!.valAccuracy.length, 3);
  assert.ok(r.targets[0]!.methods.fgmt!.phases['bn statistics']! > 0, 'running statistics were re-estimated');
  assert.ok(r.targets[0]!.methods.fgmt!.valAccuracy.every((v) => Number.isFinite(v)));
});

export type { Params };
