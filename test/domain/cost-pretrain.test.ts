import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateCost, estimateSpecCost, parseSpec, type ArchSpec } from '../../src/shared/domain/index.js';
import { datasetFacts, estimateResources } from '../../src/shared/domain/resource-estimate.js';
import { buildModel } from '../../src/core/models/index.js';

const base = {
  trainExamples: 1000,
  epochs: 2,
  batchSize: 100,
  T: 4,
  gradBatches: 1,
  methods: ['naive', 'oracle', 'fgmt'],
  targets: 2,
};

test('the cost counts pre-training every initialisation, and not in what a transfer saves', () => {
  const without = estimateCost(base);
  assert.equal(without.pretrainSteps, 0);
  const pretrain = { trainExamples: 501, epochs: 3, batchSize: 50 };
  const c = estimateCost({ ...base, pretrain });
  assert.equal(c.pretrainPerNetwork, 3 * 11, 'three epochs of 11 steps (the last one partial)');
  assert.equal(c.pretrainSteps, 3 * 33, 'the source and both targets');
  assert.equal(c.total, without.total + 99);
  // a transfer is compared with fine-tuning the target, which starts from its pre-trained model too
  assert.equal(c.trainEveryTarget, without.trainEveryTarget);
  assert.deepEqual(c.savedByMethod, without.savedByMethod);
  // a reused source brings its pre-training with it
  const reused = estimateCost({ ...base, pretrain, sourceReused: true });
  assert.equal(reused.pretrainSteps, 2 * 33);
  assert.equal(reused.total, c.total - 33 - c.sourceSteps);
  // not known yet: nothing counted, nothing broken
  assert.equal(estimateCost({ ...base, pretrain: { ...pretrain, trainExamples: null } }).pretrainSteps, 0);
});

const spec = {
  dataset: { builtin: 'fashion-mnist-mini', classes: 'upper-half' },
  model: { arch: 'mlp', hidden: [64] },
  source: { init: { seed: 1 }, train: { epochs: 2, batchSize: 100 } },
  targets: [{ init: { seed: 2 } }],
  transfer: { T: 4, methods: ['naive', 'fgmt'] },
};

test('a parsed spec with a pretrain stage: its own epochs and batch size, its own example count', () => {
  const s = parseSpec({ ...spec, pretrain: { classes: 'lower-half', train: { epochs: 5, batchSize: 50 } } });
  const same = estimateSpecCost(s, 4000);
  assert.equal(same.pretrainPerNetwork, 5 * 80);
  assert.equal(same.pretrainSteps, 2 * 400);
  const own = estimateSpecCost(s, 4000, { pretrainExamples: 4500 });
  assert.equal(own.pretrainPerNetwork, 5 * 90);
  assert.equal(own.total, estimateSpecCost(parseSpec(spec), 4000).total + 2 * 450);
});

test('the resource estimate counts pre-training work on the pre-training classes', () => {
  const machine = { memoryBytes: 8e9 };
  // a class subset keeps its share of the examples and sets the classifier's width
  assert.deepEqual(datasetFacts(parseSpec(spec)), {
    inputShape: [28, 28, 1],
    classes: 5,
    trainCount: 4500,
    valCount: 500,
  });
  assert.equal(
    datasetFacts({ dataset: { builtin: 'fashion-mnist-mini', classes: [0, 3] } }).trainCount,
    1800,
  );
  assert.equal(datasetFacts({ dataset: { format: 'cifar100', classes: 'subset-2' } }).classes, 10);

  const plain = estimateResources(parseSpec(spec), machine);
  const on = (classes: unknown, epochs: number, model: unknown = spec.model) =>
    estimateResources(
      parseSpec({ ...spec, model, pretrain: { classes, train: { epochs, batchSize: 50 } } }),
      machine,
    );
  const half = on('lower-half', 3);
  const macs = 784 * 64 + 64 * 5;
  // source and one target, 3 epochs over the 4,500 examples of classes 0–4, 6 flops per MAC
  assert.equal(half.flops - plain.flops, 2 * 3 * 4500 * 6 * macs);
  assert.equal(on([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3).flops - plain.flops, 2 * 3 * 9000 * 6 * macs);
  assert.equal(half.parameters, plain.parameters, 'pre-training adds work, not parameters');
  // when the pre-training is what makes it huge, the finding names its epochs
  const huge = on('lower-half', 10000, { arch: 'mlp', hidden: [2048, 2048] }).findings.find((f) =>
    f.message.includes('FLOP'),
  );
  assert.equal(huge?.field, 'pretrain.train.epochs');
  assert.match(huge!.message, /pre-training \d/);
});

test('the estimate reads the same layer lists the engine builds (Conv8, ResNet-20, BN CNN)', () => {
  const cases: [
    ArchSpec,
    { format: string; dir: string } | { builtin: string },
    [number, number, number],
    number,
  ][] = [
    [{ arch: 'resnet20', width: 1 }, { format: 'cifar10', dir: '/c10' }, [32, 32, 3], 10],
    [{ arch: 'resnet20', width: 2 }, { format: 'cifar100', dir: '/c100' }, [32, 32, 3], 100],
    [{ arch: 'conv8', width: 8 }, { format: 'cifar10', dir: '/c10' }, [32, 32, 3], 10],
    [
      {
        arch: 'cnn',
        layers: [
          { type: 'conv', filters: 6, kernel: 3, stride: 2, bias: false },
          { type: 'bn' },
          { type: 'residual', filters: 8, stride: 2 },
          { type: 'gap' },
        ],
      },
      { builtin: 'fashion-mnist-mini' },
      [28, 28, 1],
      10,
    ],
  ];
  for (const [arch, dataset, shape, classes] of cases) {
    const model = buildModel(arch, shape, classes);
    // every tensor, the BN running statistics included (they are held like parameters)
    const engine = model.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
    const est = estimateResources(
      parseSpec({ ...spec, dataset, model: arch }) as Parameters<typeof estimateResources>[0],
      { memoryBytes: 64e9 },
    );
    assert.equal(est.parameters, engine, model.describe);
  }
});
