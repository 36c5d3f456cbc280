import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bandBest, computeBands, meanStd } from '../../src/renderer/src/lib/bands.js';

const close = (a: number, b: number, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${a} ≉ ${b}`);

test('meanStd uses the sample standard deviation and 0 for one value', () => {
  const { mean, std } = meanStd([1, 2, 3, 4]);
  close(mean, 2.5);
  close(std, Math.sqrt(5 / 3));
  assert.deepEqual(meanStd([7]), { mean: 7, std: 0 });
  assert.ok(Number.isNaN(meanStd([]).mean));
});

test('bands aggregate per group and step across members', () => {
  const bands = computeBands([
    {
      group: 'gmt',
      points: [
        { step: 0, value: 0.1 },
        { step: 1, value: 0.5 },
        { step: 2, value: 0.8 },
      ],
    },
    {
      group: 'gmt',
      points: [
        { step: 0, value: 0.3 },
        { step: 1, value: 0.7 },
        { step: 2, value: 0.9 },
      ],
    },
    {
      group: 'naive',
      points: [
        { step: 0, value: 0.1 },
        { step: 1, value: 0.2 },
      ],
    },
  ]);
  assert.equal(bands.length, 2);
  const gmt = bands.find((b) => b.group === 'gmt')!;
  assert.deepEqual(gmt.steps, [0, 1, 2]);
  assert.deepEqual(gmt.n, [2, 2, 2]);
  assert.equal(gmt.members, 2);
  close(gmt.mean[1], 0.6);
  close(gmt.std[1], Math.sqrt(0.02));
  close(gmt.lo[1], 0.6 - Math.sqrt(0.02));
  close(gmt.hi[1], 0.6 + Math.sqrt(0.02));
  const naive = bands.find((b) => b.group === 'naive')!;
  assert.deepEqual(naive.std, [0, 0]);
});

test('series of different lengths: each step uses the members that reached it', () => {
  const [b] = computeBands([
    {
      group: 'g',
      points: [
        { step: 0, value: 0.2 },
        { step: 1, value: 0.4 },
        { step: 2, value: 0.6 },
        { step: 3, value: 0.8 },
      ],
    },
    {
      group: 'g',
      points: [
        { step: 0, value: 0.4 },
        { step: 1, value: 0.6 },
      ],
    },
  ]);
  assert.deepEqual(b.steps, [0, 1, 2, 3]);
  assert.deepEqual(b.n, [2, 2, 1, 1]);
  close(b.mean[0], 0.3);
  close(b.mean[3], 0.8);
  assert.equal(b.std[3], 0);
});

test('steps out of order, duplicates and non-finite values', () => {
  const [b] = computeBands([
    {
      group: 'g',
      points: [
        { step: 2, value: 0.5 },
        { step: 0, value: 0.1 },
        { step: 2, value: 0.7 },
        { step: 1, value: NaN },
      ],
    },
  ]);
  assert.deepEqual(b.steps, [0, 2]);
  // the later report of step 2 wins
  close(b.mean[1], 0.7);
});

test('groups can be ordered and the best step is the first maximum', () => {
  const bands = computeBands(
    [
      { group: 'b', points: [{ step: 0, value: 1 }] },
      {
        group: 'a',
        points: [
          { step: 0, value: 0.5 },
          { step: 1, value: 0.9 },
          { step: 2, value: 0.9 },
          { step: 3, value: 0.4 },
        ],
      },
    ],
    (x, y) => x.localeCompare(y),
  );
  assert.deepEqual(
    bands.map((b) => b.group),
    ['a', 'b'],
  );
  assert.deepEqual(bandBest(bands[0]), { step: 1, mean: 0.9, std: 0 });
  assert.equal(bandBest(bands[0], false)!.step, 3);
  assert.equal(computeBands([]).length, 0);
});
