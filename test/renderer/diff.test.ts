import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffSettings, flatten, formatScalar } from '../../src/renderer/src/lib/diff.js';

const specA = {
  dataset: { builtin: 'fashion-mnist-mini' },
  model: { arch: 'mlp', hidden: [256] },
  source: { init: { seed: 101 }, train: { epochs: 2, lr: 0.02 } },
  targets: [{ init: { seed: 102 } }],
  transfer: { T: 5, methods: ['gmt', 'naive'] },
};

test('flatten gives dotted paths, indexes object arrays, keeps value arrays whole', () => {
  const f = flatten(specA);
  assert.equal(f.get('source.train.lr'), 0.02);
  assert.equal(f.get('targets[0].init.seed'), 102);
  assert.equal(f.get('model.hidden'), '[256]');
  assert.equal(f.get('transfer.methods'), '["gmt","naive"]');
  assert.deepEqual([...f.keys()].slice(0, 3), ['dataset.builtin', 'model.arch', 'model.hidden']);
  assert.equal(flatten({ a: {}, b: [] }).get('a'), '{}');
  assert.equal(flatten({ a: {}, b: [] }).get('b'), '[]');
  assert.equal(flatten({ a: undefined }).size, 0);
});

test('only differing keys by default; all with showAll', () => {
  const specB = structuredClone(specA);
  specB.source.train.lr = 0.05;
  specB.targets.push({ init: { seed: 202 } });
  const rows = diffSettings([specA, specB]);
  assert.deepEqual(
    rows.map((r) => r.path),
    ['source.train.lr', 'targets[1].init.seed'],
  );
  assert.deepEqual(rows[0].values, [0.02, 0.05]);
  assert.deepEqual(rows[1].values, [undefined, 202]);
  assert.equal(formatScalar(rows[1].values[0]), '(not set)');
  const all = diffSettings([specA, specB], { showAll: true });
  assert.ok(all.length > rows.length);
  assert.equal(all.find((r) => r.path === 'model.arch')!.differs, false);
  assert.equal(all.find((r) => r.path === 'source.train.lr')!.differs, true);
});

test('identical documents have no differences; ignore drops paths and their children', () => {
  assert.deepEqual(diffSettings([specA, structuredClone(specA)]), []);
  const b = { ...structuredClone(specA), name: 'other' };
  assert.deepEqual(diffSettings([{ ...specA, name: 'x' }, b], { ignore: ['name'] }), []);
  const c = structuredClone(specA);
  c.targets[0].init.seed = 5;
  assert.deepEqual(diffSettings([specA, c], { ignore: ['targets'] }), []);
});

test('type differences count (1 vs "1") and a single document never differs', () => {
  assert.equal(diffSettings([{ a: 1 }, { a: '1' }]).length, 1);
  assert.equal(diffSettings([specA]).length, 0);
  assert.ok(diffSettings([specA], { showAll: true }).every((r) => !r.differs));
});
