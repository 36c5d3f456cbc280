import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flatten } from '../../src/renderer/src/lib/diff.js';
import {
  axisFor,
  axisPosition,
  axisValueAt,
  brushedRows,
  differingFields,
  experimentResults,
  formatBrushes,
  naturalCompare,
  parseBrushes,
  parseResultField,
  resultFields,
} from '../../src/renderer/src/lib/explore.js';
import { bootstrapDiffCi, bootstrapSteps } from '../../src/renderer/src/lib/stats.js';
import { run } from './fixtures.js';

test('explorer fields: the settings that differ, and each method’s results as means over targets', () => {
  const specs = [
    { name: 'a', model: { hidden: [64] }, source: { train: { lr: 0.01, epochs: 3 } } },
    { name: 'b', model: { hidden: [128] }, source: { train: { lr: 0.01, epochs: 3 } } },
    { name: 'c', model: { hidden: [64] }, source: { train: { lr: 0.05, epochs: 3 } } },
  ];
  assert.deepEqual(differingFields(specs.map((s) => flatten(s))), ['model.hidden', 'source.train.lr']);
  assert.deepEqual(resultFields(['gmt'], ['best', 'final']), ['best:gmt', 'final:gmt']);
  assert.deepEqual(parseResultField('test:fgmt'), { stat: 'test', method: 'fgmt' });
  assert.equal(parseResultField('source.train.lr'), null);

  const runs = [
    run({ id: 'g0', final: 0.7, best: 0.75, test: 0.69, summary: { bestStep: 3 } as never }),
    run({ id: 'g1', targetIndex: 1, final: 0.8, best: 0.85, test: null, summary: { bestStep: 2 } as never }),
    // still running: its values come from the curve so far
    run({ id: 'n0', method: 'naive', status: 'running' }),
    run({ id: 's', kind: 'source', method: null, final: 0.9 }),
  ];
  const curves: Record<string, { step: number; value: number }[]> = {
    n0: [
      { step: 0, value: 0.1 },
      { step: 1, value: 0.4 },
      { step: 2, value: 0.3 },
    ],
  };
  const asked: string[] = [];
  const r = experimentResults(runs, (id) => (asked.push(id), curves[id] ?? []));
  assert.ok(Math.abs(r['final:gmt'] - 0.75) < 1e-12);
  assert.ok(Math.abs(r['best:gmt'] - 0.8) < 1e-12);
  assert.equal(r['test:gmt'], 0.69, 'a missing value is left out of the mean');
  assert.equal(r['final:naive'], 0.3);
  assert.equal(r['best:naive'], 0.4);
  assert.equal(r['test:naive'], undefined);
  assert.deepEqual([...new Set(asked)], ['n0'], 'curves are read only where cached values are missing');
});

test('parallel-coordinates axes place values from bottom to top; brushes select rows inside every range', () => {
  const lr = axisFor('lr', [0.01, 0.05, null, 0.02]);
  assert.deepEqual(lr, { field: 'lr', kind: 'number', lo: 0.01, hi: 0.05 });
  assert.equal(axisPosition(lr, 0.01), 0);
  assert.equal(axisPosition(lr, 0.05), 1);
  assert.equal(axisPosition(lr, null), null);
  assert.ok(Math.abs((axisValueAt(lr, 0.25) as number) - 0.02) < 1e-12);
  const hidden = axisFor('h', ['[512]', '[64]', '[128]', '[64]']);
  assert.deepEqual(hidden, { field: 'h', kind: 'category', categories: ['[64]', '[128]', '[512]'] });
  assert.equal(axisPosition(hidden, '[128]'), 0.5);
  assert.equal(axisValueAt(hidden, 0.9), '[512]');
  assert.equal(axisPosition(axisFor('one', [3, 3]), 3), 0.5, 'a constant sits in the middle');

  const rows = [
    { id: 'a', values: { lr: 0.01, h: '[64]' } },
    { id: 'b', values: { lr: 0.05, h: '[64]' } },
    { id: 'c', values: { lr: 0.02, h: '[512]' } },
    { id: 'd', values: { lr: null, h: '[64]' } },
  ];
  const axes = [lr, hidden];
  assert.equal(brushedRows(rows, axes, new Map()).length, 4, 'no brush: everything');
  const low = new Map<string, [number, number]>([['lr', [0, 0.3]]]);
  assert.deepEqual(
    brushedRows(rows, axes, low).map((r) => r.id),
    ['a', 'c'],
    'a row without a value on a brushed axis is out',
  );
  low.set('h', [0, 0.2]);
  assert.deepEqual(
    brushedRows(rows, axes, low).map((r) => r.id),
    ['a'],
  );
  const text = formatBrushes(low);
  assert.equal(text, 'lr~0~0.3|h~0~0.2');
  assert.deepEqual([...parseBrushes(text)], [...low]);
  assert.deepEqual(
    [...parseBrushes('source.train.lr~0.8~0.2|junk|best:gmt~-1~2')],
    [
      ['source.train.lr', [0.2, 0.8]],
      ['best:gmt', [0, 1]],
    ],
  );
  assert.ok(naturalCompare('[64]', '[128]') < 0 && naturalCompare('lr 0.05', 'lr 0.1') < 0);
  assert.equal(naturalCompare('b', 'a'), 1);
});

test('the bootstrap in slices gives the one-shot interval and pauses between slices', () => {
  const a = Array.from({ length: 300 }, (_, i) => 0.8 + 0.01 * Math.sin(i));
  const b = Array.from({ length: 200 }, (_, i) => 0.78 + 0.01 * Math.cos(i));
  const steps = bootstrapSteps(a, b, {}, 50_000);
  let pauses = 0;
  let r = steps.next();
  while (!r.done) {
    pauses++;
    r = steps.next();
  }
  assert.ok(pauses >= 30, `${pauses} pauses for 4000 rounds of 500 draws in slices of 50,000`);
  assert.deepEqual(r.value, bootstrapDiffCi(a, b));
  assert.ok(r.value!.lo < 0.02 && r.value!.hi > 0.02);
});
