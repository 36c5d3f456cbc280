import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dedupeRuns, runIdentity, stableJson } from '../../src/renderer/src/lib/dedupe.js';
import { summarize } from '../../src/renderer/src/lib/summary.js';
import { run } from './fixtures.js';

const spec = (over: { lr?: number; target?: number; T?: number; methods?: string[] } = {}) =>
  ({
    name: 'x',
    dataset: { builtin: 'fashion-mnist-mini' },
    datasetOptions: { valFraction: 0.1, splitSeed: 777, trainLimit: 0 },
    model: { arch: 'mlp', hidden: [64] },
    source: { init: { seed: 101 }, train: { epochs: 2, batchSize: 128, lr: over.lr ?? 0.01, momentum: 0.9 } },
    targets: [{ init: { seed: over.target ?? 102 } }],
    transfer: { T: over.T ?? 5, methods: over.methods ?? ['gmt', 'naive'], schedule: 'cosine' },
    evalLimit: 0,
  }) as never;

function exp(id: string, s: never) {
  return {
    id,
    name: id,
    spec: s,
    runs: [
      run({
        id: `${id}-s`,
        experimentId: id,
        kind: 'source',
        phase: 'source',
        method: null,
        targetIndex: null,
        final: 0.745,
        test: 0.74,
      }),
      run({ id: `${id}-g`, experimentId: id, final: 0.7, test: 0.69 }),
      run({
        id: `${id}-n`,
        experimentId: id,
        method: 'naive',
        phase: 'transfer:0:naive',
        final: 0.5,
        test: 0.49,
      }),
    ],
  };
}

test('identical computations in two experiments are pooled once, and the table says 1/1', () => {
  const a = exp('A', spec());
  const b = exp('B', spec({ methods: ['naive', 'gmt'] })); // same computation; only the method list differs
  const before = summarize([a, b], { pool: true });
  assert.equal(
    before.find((r) => r.group === 'source')!.runs,
    2,
    'the defect: the shared source counts twice',
  );
  const d = dedupeRuns([a, b]);
  assert.equal(d.duplicates.length, 3);
  assert.deepEqual(d.duplicates.map((x) => x.sameAs).sort(), ['A-g', 'A-n', 'A-s']);
  const rows = summarize(d.experiments, { pool: true });
  for (const r of rows) assert.equal(r.runs, 1, r.group);
});

test('a different target seed, learning rate or T is a different computation', () => {
  const base = spec();
  const s = (x: never) => runIdentity(x, { kind: 'transfer', method: 'gmt', targetIndex: 0 });
  assert.equal(s(base), s(spec()));
  assert.notEqual(s(base), s(spec({ target: 103 })));
  assert.notEqual(s(base), s(spec({ lr: 0.02 })));
  assert.notEqual(s(base), s(spec({ T: 10 })));
  // the source is shared across different targets and T
  const src = (x: never) => runIdentity(x, { kind: 'source', method: null, targetIndex: null });
  assert.equal(src(base), src(spec({ target: 103, T: 10 })));
  assert.equal(stableJson({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
});

test('a pre-trained start is another computation; each pre-training has its own identity', () => {
  const plain = spec();
  const pre = (classes: string) =>
    ({
      ...(plain as object),
      pretrain: { classes, head: 'reinit', train: { epochs: 1, batchSize: 100, lr: 0.05 } },
    }) as never;
  const id = (x: never, kind: 'source' | 'transfer' | 'pretrain', targetIndex: number | null) =>
    runIdentity(x, { kind, method: kind === 'transfer' ? 'gmt' : null, targetIndex });
  assert.notEqual(id(plain, 'source', null), id(pre('lower-half'), 'source', null));
  assert.notEqual(id(pre('lower-half'), 'transfer', 0), id(pre('0-2'), 'transfer', 0));
  assert.equal(id(pre('lower-half'), 'pretrain', 0), id(pre('lower-half'), 'pretrain', 0));
  assert.notEqual(id(pre('lower-half'), 'pretrain', null), id(pre('lower-half'), 'pretrain', 0));
  assert.equal(id(pre('lower-half'), 'pretrain', 5), null, 'no such target');
});
