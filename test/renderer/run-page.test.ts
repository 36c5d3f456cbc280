/**
 * The run page's chart logic for training per SGD step (issue 12): the same curves on an epoch,
 * step or seconds axis; a curve thinned when it was recorded is said to be; a download's file
 * name is read from its Content-Disposition header.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DASHES } from '../../src/renderer/src/lib/chart-series.js';
import type { Curve } from '../../src/renderer/src/lib/curves.js';
import { dispositionFileName } from '../../src/renderer/src/lib/disposition.js';
import {
  parseTrainX,
  strideNote,
  trainingSeries,
  type StepCurve,
} from '../../src/renderer/src/lib/run-charts.js';

const source: Curve = {
  experimentId: 'e',
  experimentName: 'E',
  runId: 's',
  method: 'source',
  target: 'seed 1',
  targetIndex: null,
  key: 'valAccuracy',
  points: [
    { step: 1, value: 0.5, wall: 11_000 },
    { step: 2, value: 0.6, wall: 21_000 },
  ],
};
const steps: StepCurve = {
  stepsPerEpoch: 4,
  points: [2, 4, 6, 8].map((step) => ({ step, value: step / 10, wall: 10_000 + step * 1000 })),
};

test('training per step on the epoch, step and seconds axes', () => {
  const per = new Map([['s', steps]]);
  const at = (x: 'epoch' | 'step' | 'seconds', startOf?: (id: string) => number | null) => {
    const s = trainingSeries([source], per, '#15803d', DASHES as number[][], { x, startOf });
    return Object.fromEntries(s.map((x) => [x.id, x.points.map((p) => p.x)]));
  };
  assert.deepEqual(at('epoch'), { s: [1, 2], 's|train': [0.5, 1, 1.5, 2] });
  assert.deepEqual(at('step'), { s: [4, 8], 's|train': [2, 4, 6, 8] });
  // seconds since the run started (given), else since its first point
  assert.deepEqual(
    at('seconds', () => 10_000),
    { s: [1, 11], 's|train': [2, 4, 6, 8] },
  );
  assert.deepEqual(at('seconds'), { s: [0, 10], 's|train': [1, 3, 5, 7] });
  assert.equal(parseTrainX('step'), 'step');
  assert.equal(parseTrainX('nonsense'), 'epoch');
  assert.equal(parseTrainX(undefined), 'epoch');
});

test('a per-step curve thinned when recorded says so, in its label and under the chart', () => {
  const thinned = new Map([['s', { ...steps, stride: 7 }]]);
  const s = trainingSeries([source], thinned, '#15803d', DASHES as number[][]);
  assert.match(s.find((x) => x.id === 's|train')!.label, /per step, mean of 7/);
  assert.match(
    strideNote(thinned, () => 'Source training')!,
    /Source training: each point is the mean of 7 steps \(4 points\)/,
  );
  assert.equal(
    strideNote(new Map([['s', steps]]), () => 'x'),
    null,
  );
});

test('a download’s file name comes from Content-Disposition, the UTF-8 form first', () => {
  assert.equal(
    dispositionFileName(
      `attachment; filename="A_.gmt.safetensors"; filename*=UTF-8''A%C3%A9.gmt.safetensors`,
    ),
    'Aé.gmt.safetensors',
  );
  assert.equal(dispositionFileName('attachment; filename="x.bin"'), 'x.bin');
  assert.equal(dispositionFileName(null), null);
});
