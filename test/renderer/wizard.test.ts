import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PRESETS,
  applyTrainedSource,
  buildSpec,
  emptyState,
  firstInvalidStep,
  normaliseField,
  parseTags,
  parseWidths,
  presetState,
  stepOfField,
  validateLayers,
  validateStep,
  type ValidationContext,
} from '../../src/renderer/src/lib/wizard.js';
import {
  estimateCost,
  gradientEvaluations,
  parseSpec,
  trainingExamples,
} from '../../src/shared/domain/index.js';

const ok: ValidationContext = { preview: 'ok', paramChecks: new Map() };
const build = {
  paramFile: (id: string) => `/data/weights/${id}.safetensors`,
  paramName: (id: string) => `set ${id}`,
};

test('every preset builds a spec the engine accepts', () => {
  for (const p of PRESETS) {
    const s = presetState(p.id);
    if (p.id === 'conv8-cifar10' || p.id === 'resnet20-cifar10') s.dataset.dir = '/data/cifar-10-batches-bin';
    const spec = parseSpec(buildSpec(s, build));
    assert.equal(spec.name, s.name);
    assert.deepEqual(spec.transfer.methods, ['gmt', 'fgmt', 'oracle', 'naive']);
  }
  const quick = buildSpec(presetState('quick'), build);
  assert.deepEqual(quick.dataset, { builtin: 'fashion-mnist-mini' });
  assert.deepEqual(quick.model, { arch: 'mlp', hidden: [256] });
  assert.equal(quick.transfer.T, 5);
  assert.equal(quick.source.init.seed, 101);
  assert.equal(quick.targets[0].init.seed, 102);
  const conv = buildSpec(presetState('conv8-cifar10'), build);
  assert.equal(conv.source.train.lrSchedule, 'cosine');
  assert.equal(conv.transfer.gradBatches, 2);
  assert.equal(conv.source.train.weightDecay, 1e-4);
  // the paper's scenarios: pre-training on other classes, ResNet-20 with augmentation
  const pre = buildSpec(presetState('pretrained-fmnist'), build);
  assert.deepEqual(pre.dataset, { builtin: 'fashion-mnist-mini', classes: 'upper-half' });
  assert.equal(pre.pretrain?.classes, 'lower-half');
  assert.equal(pre.pretrain?.head, 'reinit');
  const res = presetState('resnet20-cifar10');
  res.dataset.dir = '/data/cifar-10-batches-bin';
  const rs = parseSpec(buildSpec(res, build));
  assert.deepEqual(rs.model, { arch: 'resnet20', width: 1 });
  assert.deepEqual(rs.source.train.augment, { pad: 4, flip: true });
  assert.equal(rs.transfer.bnBatches, 10);
  // class subsets as typed
  const cls = presetState('quick');
  cls.dataset.classes = '0, 2, Sandal';
  assert.deepEqual(buildSpec(cls, build).dataset, {
    builtin: 'fashion-mnist-mini',
    classes: [0, 2, 'Sandal'],
  });
  cls.dataset.classes = ' ';
  assert.deepEqual(buildSpec(cls, build).dataset, { builtin: 'fashion-mnist-mini' });
});

test('the quick preset is valid at every step once the preview loaded', () => {
  const s = presetState('quick');
  assert.equal(firstInvalidStep(s, ok), null);
  assert.equal(firstInvalidStep(s, { preview: 'loading', paramChecks: new Map() }), 'dataset');
  assert.match(
    validateStep('dataset', s, { preview: 'error', previewError: 'no such folder', paramChecks: new Map() })[
      'dataset.dir'
    ],
    /no such folder/,
  );
});

test('the Conv8 preset cannot leave the dataset step without a folder', () => {
  const s = presetState('conv8-cifar10');
  assert.match(validateStep('dataset', s, ok)['dataset.dir'], /folder/);
});

test('invalid numbers are refused with the reason', () => {
  const s = presetState('quick');
  s.source.train.epochs = 0;
  s.source.train.lr = 'fast';
  s.source.train.batchSize = 12.5;
  const e = validateStep('source', s, ok);
  assert.match(e['source.train.epochs'], /at least 1/);
  assert.match(e['source.train.lr'], /must be a number/);
  assert.match(e['source.train.batchSize'], /whole number/);
  s.source.train.lr = 0;
  assert.match(validateStep('source', s, ok)['source.train.lr'], /more than 0/);
  s.transfer.T = '';
  assert.match(validateStep('transfer', s, ok)['transfer.T'], /must be a number/);
  s.transfer.T = 3;
  s.transfer.trajectory = 'actual';
  assert.match(validateStep('transfer', s, ok)['transfer.T'], /must equal the source's epochs/);
  s.transfer.methods = [];
  assert.ok(validateStep('transfer', s, ok)['transfer.methods']);
  s.name = '  ';
  assert.ok(validateStep('review', s, ok).name);
});

test('architecture: widths and layer lists', () => {
  assert.deepEqual(parseWidths('512, 256'), [512, 256]);
  assert.deepEqual(parseWidths(' 64 '), [64]);
  assert.equal(parseWidths(''), null);
  assert.equal(parseWidths('10, -3'), null);
  assert.equal(parseWidths('1.5'), null);
  const s = emptyState();
  s.model.hidden = 'abc';
  assert.ok(validateStep('model', s, ok)['model.hidden']);
  assert.deepEqual(
    validateLayers([{ type: 'conv', filters: 8 }, { type: 'flatten' }, { type: 'dense', units: 10 }]),
    {},
  );
  const bad = validateLayers([{ type: 'flatten' }, { type: 'conv', filters: 0 }]);
  assert.ok(bad['model.layers[1]']);
  assert.ok(bad['model.layers[1].filters']);
  assert.ok(validateLayers([])['model.layers']);
});

test('targets: parameter sets must fit, duplicates are flagged', () => {
  const s = presetState('quick');
  s.targets.push({ from: 'paramset', seed: '', paramSetId: 'p1', label: '' });
  const checks = new Map([
    ['p1', { state: 'misfit' as const, reason: 'does not match MLP 784-256-10: "fc1.kernel" is [784,512]' }],
  ]);
  const e = validateStep('targets', s, { preview: 'ok', paramChecks: checks });
  assert.match(e['targets[1].init.file'], /cannot be used.*fc1\.kernel/);
  checks.set('p1', { state: 'fits' as const, reason: undefined } as never);
  assert.deepEqual(validateStep('targets', s, { preview: 'ok', paramChecks: checks }), {});
  const spec = buildSpec(s, build);
  // by id, not by the weights file's path: the spec stays portable
  assert.deepEqual(spec.targets[1].init, { paramSet: 'p1', label: 'set p1' });
  s.targets.push({ from: 'seed', seed: 102, paramSetId: '', label: '' });
  assert.match(
    validateStep('targets', s, { preview: 'ok', paramChecks: checks })['targets[2].init.seed'],
    /repeats target 1/,
  );
  s.targets = [];
  assert.ok(validateStep('targets', s, ok).targets);
});

test('picking a trained source fills the source and split from its experiment', () => {
  const s = emptyState();
  const earlier = parseSpec(buildSpec(presetState('quick'), build));
  applyTrainedSource(s, earlier, { paramSetId: 'ps1', experimentId: 'e1', label: 'seed 101' });
  assert.equal(s.source.init.seed, 101);
  assert.equal(s.source.train.epochs, 2);
  assert.equal(s.source.train.lr, 0.02);
  assert.equal(s.dataset.trainLimit, 2000);
  assert.equal(s.source.reuse?.paramSetId, 'ps1');
});

test('service errors map to steps and fields', () => {
  assert.equal(stepOfField('spec.transfer.T'), 'transfer');
  assert.equal(stepOfField('datasetOptions.trainLimit'), 'dataset');
  assert.equal(stepOfField('evalLimit'), 'dataset');
  assert.equal(stepOfField('targets[0].init'), 'targets');
  assert.equal(stepOfField('name'), 'review');
  assert.equal(normaliseField('spec.model.hidden[2]'), 'model.hidden');
  assert.deepEqual(parseTags('a, b,,a , c'), ['a', 'b', 'c']);
});

test('cost estimate: GMT T(T+1), FGMT 2T, Oracle trains, saving vs direct training', () => {
  assert.equal(gradientEvaluations('gmt', 5, 1), 30);
  assert.equal(gradientEvaluations('fgmt', 10, 2), 40);
  assert.equal(gradientEvaluations('naive', 10, 2), 0);
  assert.equal(trainingExamples(10000, 0.1, 2000), 2000);
  assert.equal(trainingExamples(60000, 0.1, 0), 54000);
  const c = estimateCost({
    trainExamples: 54000,
    epochs: 10,
    batchSize: 128,
    T: 10,
    gradBatches: 1,
    methods: ['gmt', 'fgmt', 'oracle'],
    targets: 2,
  });
  assert.equal(c.stepsPerEpoch, 422);
  assert.equal(c.directPerNetwork, 4220);
  assert.equal(c.gradientsPerTarget.gmt, 110);
  assert.equal(c.gradientsPerTarget.fgmt, 20);
  assert.equal(c.oracleStepsPerTarget, 4220);
  assert.equal(c.total, 4220 + 2 * (110 + 20 + 4220));
  assert.equal(c.trainEveryTarget, 8440);
  assert.equal(c.cheapestMethod, 'fgmt');
  assert.ok(Math.abs(c.savedFraction - (1 - 20 / 4220)) < 1e-12);
  assert.deepEqual(Object.keys(c.savedByMethod), ['gmt', 'fgmt']);
  assert.ok(Math.abs(c.savedByMethod.gmt - (1 - 110 / 4220)) < 1e-12);
  // GMT can cost more than training when T is large against the epochs: never a negative saving
  assert.equal(
    estimateCost({
      trainExamples: 1000,
      epochs: 1,
      batchSize: 100,
      T: 10,
      gradBatches: 1,
      methods: ['gmt'],
      targets: 1,
    }).savedByMethod.gmt,
    0,
  );
  const reused = estimateCost({
    trainExamples: 54000,
    epochs: 10,
    batchSize: 128,
    T: 10,
    gradBatches: 1,
    methods: ['oracle'],
    targets: 1,
    sourceReused: true,
  });
  assert.equal(reused.sourceSteps, 0);
  assert.equal(reused.savedFraction, 0);
  assert.equal(reused.cheapestMethod, null);
});
