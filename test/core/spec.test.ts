import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { parseSpec, SpecError } from '../../src/shared/domain/index.js';

const minimal = {
  dataset: { builtin: 'fashion-mnist-mini' },
  model: { arch: 'mlp', hidden: [64] },
  source: { init: { seed: 101 } },
  targets: [{ init: { seed: 102 } }],
};

test('defaults are filled in as the paper uses them', () => {
  const s = parseSpec(minimal);
  assert.equal(s.datasetOptions.valFraction, 0.1);
  assert.equal(s.datasetOptions.splitSeed, 777);
  assert.equal(s.transfer.T, 10);
  assert.equal(s.transfer.schedule, 'cosine');
  assert.equal(s.transfer.trajectory, 'linear');
  assert.deepEqual(s.transfer.methods, ['naive', 'oracle', 'gmt', 'fgmt']);
  assert.equal(s.source.train.momentum, 0.9);
  assert.equal(s.backend, 'auto');
});

function fieldOf(bad: unknown): string {
  try {
    parseSpec(bad);
  } catch (e) {
    assert.ok(e instanceof SpecError, `expected SpecError, got ${e}`);
    return e.field;
  }
  assert.fail('spec was accepted');
}

test('a bad spec gets a message naming the field', () => {
  assert.equal(fieldOf({ ...minimal, model: { arch: 'mlp', hidden: [0] } }), 'model.hidden[0]');
  assert.equal(fieldOf({ ...minimal, model: { arch: 'resnet' } }), 'model.arch');
  assert.equal(fieldOf({ ...minimal, targets: [] }), 'targets');
  assert.equal(fieldOf({ ...minimal, targets: [{ init: {} }] }), 'targets[0].init');
  assert.equal(fieldOf({ ...minimal, transfer: { methods: ['gmt', 'magic'] } }), 'transfer.methods[1]');
  assert.equal(fieldOf({ ...minimal, transfer: { T: 2.5 } }), 'transfer.T');
  assert.equal(
    fieldOf({ ...minimal, source: { init: { seed: 1 }, train: { lr: 'fast' } } }),
    'source.train.lr',
  );
  assert.equal(fieldOf({ ...minimal, dataset: { format: 'idx' } }), 'dataset.dir');
  assert.equal(fieldOf({ ...minimal, colour: 'blue' }), 'colour');
  assert.equal(
    fieldOf({
      ...minimal,
      transfer: { trajectory: 'actual', T: 3 },
      source: { init: { seed: 1 }, train: { epochs: 5 } },
    }),
    'transfer.T',
  );
  assert.match(
    String(
      (() => {
        try {
          parseSpec({ ...minimal, model: { arch: 'resnet' } });
        } catch (e) {
          return (e as Error).message;
        }
      })(),
    ),
    /model\.arch.*mlp, conv8, cnn/,
  );
});

test('every example spec parses', () => {
  const dir = new URL('../../examples/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 2, 'examples/ holds at least two specs');
  for (const f of files) parseSpec(JSON.parse(readFileSync(new URL(f, dir), 'utf8')));
});
