import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  DomainError,
  SPEC_FIELDS,
  SpecError,
  describeIssue,
  fieldDefault,
  formatPhase,
  isDomainError,
  isTrainingPhase,
  notFound,
  parseArch,
  parseDataset,
  parsePhase,
  parseSpec,
  phaseId,
  phaseTarget,
  validateSpec,
} from '../../src/shared/domain/index.js';

const minimal = {
  dataset: { builtin: 'fashion-mnist-mini' },
  model: { arch: 'mlp', hidden: [64] },
  source: { init: { seed: 101 } },
  targets: [{ init: { seed: 102 } }],
};

test('the domain module imports nothing outside itself', () => {
  const root = new URL('../../src/shared/domain/', import.meta.url).pathname;
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)],
    );
  for (const f of walk(root)) {
    for (const m of readFileSync(f, 'utf8').matchAll(/(?<![\w.'"])(?:from|import)\s*\(?'([^']+)'/g)) {
      assert.ok(m[1].startsWith('.'), `${f} imports the package ${m[1]}`);
      assert.ok(join(dirname(f), m[1]).startsWith(root), `${f} imports ${m[1]}, outside the domain`);
    }
  }
});

test('defaults come from the field table, and the parser fills them', () => {
  const s = parseSpec(minimal);
  assert.equal(s.source.train.lr, fieldDefault('source.train.lr'));
  assert.equal(s.transfer.T, SPEC_FIELDS['transfer.T'].default);
  assert.equal(s.datasetOptions.splitSeed, 777);
});

test('the parser names the field and the bound; lr must be positive everywhere', () => {
  assert.throws(
    () => parseSpec({ ...minimal, transfer: { T: 0 } }),
    (e: unknown) =>
      e instanceof SpecError &&
      e instanceof DomainError &&
      e.code === 'invalid' &&
      e.field === 'transfer.T' &&
      e.message === 'spec field "transfer.T": must be ≥ 1, got 0',
  );
  assert.throws(
    () => parseSpec({ ...minimal, source: { init: { seed: 1 }, train: { lr: 0 } } }),
    /spec field "source.train.lr": must be > 0, got 0/,
  );
});

test('validateSpec collects every issue, with limits a form can word', () => {
  const { issues } = validateSpec({
    ...minimal,
    source: { init: { seed: -1 }, train: { epochs: 0, lr: 'fast' } },
    transfer: { T: 1e6 },
    colour: 'blue',
  });
  const byField = new Map(issues.map((i) => [i.field, i]));
  assert.deepEqual([...byField.keys()].sort(), [
    'colour',
    'source.init.seed',
    'source.train.epochs',
    'source.train.lr',
    'transfer.T',
  ]);
  assert.equal(describeIssue(byField.get('source.train.epochs')!), 'Epochs must be at least 1; it is 0.');
  assert.equal(describeIssue(byField.get('source.train.lr')!), 'Learning rate must be a number.');
  const T = byField.get('transfer.T')!;
  assert.equal(T.kind, 'max');
  assert.equal(T.limit?.soft, true, 'T ≤ 1000 is a guard, not an impossibility');
  assert.equal(byField.get('source.init.seed')!.limit?.soft, undefined);
  assert.deepEqual(validateSpec(minimal).issues, []);
});

test('sections parse on their own, errors named under the caller’s field', () => {
  assert.deepEqual(parseDataset({ format: 'idx', dir: '/d' }, 'spec'), { format: 'idx', dir: '/d' });
  assert.throws(
    () => parseDataset({ format: 'idx' }, 'spec'),
    (e: unknown) => e instanceof SpecError && e.field === 'spec.dir',
  );
  assert.throws(
    () => parseArch({ arch: 'mlp', hidden: [0] }, 'arch'),
    (e: unknown) => e instanceof SpecError && e.field === 'arch.hidden[0]',
  );
  assert.throws(
    () => parseArch({ arch: 'cnn', layers: [{ type: 'flatten' }, { type: 'conv', filters: 4 }] }),
    (e: unknown) => e instanceof SpecError && e.field === 'model.layers[1]',
  );
});

test('phase ids are built and parsed in one place', () => {
  assert.equal(phaseId.transfer(2, 'gmt'), 'transfer:2:gmt');
  assert.deepEqual(parsePhase('transfer:2:gmt'), { kind: 'transfer', target: 2, method: 'gmt' });
  assert.deepEqual(parsePhase('target:1'), { kind: 'target', target: 1 });
  assert.deepEqual(parsePhase('source'), { kind: 'source' });
  for (const bad of ['transfer:x:gmt', 'transfer:0:magic', 'target', 'nope', 'source:1'])
    assert.equal(parsePhase(bad), null, bad);
  for (const id of ['data', 'source', 'target:3', 'transfer:0:fgmt'])
    assert.equal(formatPhase(parsePhase(id)!), id);
  assert.equal(phaseTarget('target:3'), 3);
  assert.equal(phaseTarget('source'), null);
  assert.ok(isTrainingPhase('source') && isTrainingPhase('target:0') && !isTrainingPhase('transfer:0:gmt'));
});

test('domain errors keep their code across a realm (shape only)', () => {
  const e = notFound('experiment e1');
  assert.equal(e.message, 'experiment e1 not found');
  assert.equal(e.code, 'not-found');
  assert.ok(isDomainError(JSON.parse(JSON.stringify({ name: e.name, code: e.code, message: e.message }))));
  assert.ok(!isDomainError(new Error('x')));
});
