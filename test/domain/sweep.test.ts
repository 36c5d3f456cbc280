/**
 * The sweep section: lists expand into one spec per grid point (last key fastest), `pairs` sets the
 * seeds and defaults to the paper's three, points that differ only in seeds share a group, and bad
 * sweeps are refused naming the key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  expandSweep,
  groupRows,
  groupTag,
  meanStd,
  parseSpec,
  PAPER_PAIRS,
  sweepGroupOf,
  withoutSeeds,
  SweepError,
} from '../../src/shared/domain/index.js';

const base = {
  dataset: { builtin: 'fashion-mnist-mini' },
  model: { arch: 'mlp', hidden: [8] },
  source: { init: { seed: 1 } },
  targets: [{ init: { seed: 2 } }],
  transfer: { T: 2, methods: ['naive'] },
};

test('a sweep expands into its grid; each point is a valid spec', () => {
  const points = expandSweep({
    ...base,
    sweep: {
      'model.hidden': [[16], [32]],
      pairs: [
        [101, 102],
        [201, 202, 203],
      ],
      'transfer.T': [5, 10],
    },
  });
  assert.equal(points.length, 8);
  assert.deepEqual(points[1]!.values, { 'model.hidden': [16], pairs: [101, 102], 'transfer.T': 10 });
  assert.equal(points[1]!.label, 'model.hidden=[16] pairs=101→102 transfer.T=10');
  assert.equal(points[1]!.group, 'model.hidden=[16] transfer.T=10');
  assert.equal(points[3]!.group, points[1]!.group, 'other seeds, same group');
  assert.deepEqual(
    points.map((p) => p.groupIndex),
    [0, 1, 0, 1, 2, 3, 2, 3],
  );
  const spec = parseSpec(points[3]!.spec);
  assert.equal(spec.source.init.seed, 201);
  assert.deepEqual(
    spec.targets.map((t) => t.init.seed),
    [202, 203],
  );
  assert.equal(spec.transfer.T, 10);
  assert.ok(!('sweep' in points[0]!.spec));
});

test("without pairs a sweep runs the paper's three seed pairs", () => {
  const points = expandSweep({ ...base, sweep: { 'transfer.T': [2] } });
  assert.deepEqual(
    points.map((p) => p.values.pairs),
    PAPER_PAIRS,
  );
  assert.equal(new Set(points.map((p) => p.group)).size, 1);
});

test('bad sweeps are refused naming the key', () => {
  assert.throws(() => expandSweep({ ...base, sweep: { 'transfer.T': [] } }), /sweep key "transfer.T"/);
  assert.throws(() => expandSweep({ ...base, sweep: { pairs: [[1]] } }), SweepError);
  assert.throws(() => expandSweep({ ...base, sweep: { 'model.hidden.x': [1] } }), /not a section/);
  assert.throws(
    () => expandSweep({ ...base, sweep: { 'source.train.lr': Array.from({ length: 3000 }, (_, i) => i) } }),
    /at most/,
  );
});

test('groups: mean ± std over seeds; tags name the group', () => {
  const m = meanStd([0.5, 0.7]);
  assert.ok(Math.abs(m.mean - 0.6) < 1e-12 && Math.abs(m.std - Math.SQRT2 * 0.1) < 1e-12 && m.n === 2);
  assert.deepEqual(meanStd([0.3]), { mean: 0.3, std: 0, n: 1 });
  const rows = groupRows([
    {
      point: 0,
      group: 'g',
      label: 'a',
      method: 'gmt',
      valAccuracyAtT: 0.5,
      testAccuracyAtT: 0.4,
      bestValAccuracy: 0.5,
      testAccuracyAtBest: 0.4,
    },
    {
      point: 1,
      group: 'g',
      label: 'b',
      method: 'gmt',
      valAccuracyAtT: 0.7,
      testAccuracyAtT: 0.6,
      bestValAccuracy: 0.7,
      testAccuracyAtBest: 0.6,
    },
  ]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.testAccuracyAtT.n, 2);
  assert.equal(sweepGroupOf(['x', groupTag('0123456789ab', 7)]), '0123456789ab.7');
  assert.ok(groupTag('0123456789ab', 999).length <= 40, 'tags are at most 40 characters');
  assert.equal(sweepGroupOf(['x']), null);
  assert.equal(
    withoutSeeds('tiny [model.hidden=[16] pairs=101→102 transfer.T=2]'),
    'tiny [model.hidden=[16] transfer.T=2]',
  );
});
