import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectCurves, bandInputs, distinctNames, groupLabel } from '../../src/renderer/src/lib/curves.js';
import { MetricStore, bestPoint, higherIsBetter } from '../../src/renderer/src/lib/metrics.js';
import { runValues, summarize } from '../../src/renderer/src/lib/summary.js';
import { computeBands } from '../../src/renderer/src/lib/bands.js';
import { run } from './fixtures.js';

test('metric store overwrites repeated steps and sorts by step', () => {
  const s = new MetricStore();
  assert.equal(
    s.add([
      { runId: 'a', key: 'valAccuracy', step: 2, value: 0.5 },
      { runId: 'a', key: 'valAccuracy', step: 0, value: 0.1 },
    ]),
    2,
  );
  const v = s.version;
  assert.equal(s.add([{ runId: 'a', key: 'valAccuracy', step: 2, value: 0.5 }]), 0);
  assert.equal(s.version, v, 'an unchanged point does not bump the version');
  s.add([
    { runId: 'a', key: 'valAccuracy', step: 2, value: 0.6 },
    { runId: 'a', key: 'valLoss', step: 0, value: 2 },
  ]);
  assert.deepEqual(s.series('a', 'valAccuracy'), [
    { step: 0, value: 0.1 },
    { step: 2, value: 0.6 },
  ]);
  assert.deepEqual(s.keys(), ['valAccuracy', 'valLoss']);
  assert.deepEqual(s.series('missing', 'x'), []);
  s.removeRun('a');
  assert.deepEqual(s.series('a', 'valAccuracy'), []);
});

test('best point: first maximum for accuracy, minimum for loss', () => {
  const pts = [
    { step: 0, value: 0.2 },
    { step: 1, value: 0.9 },
    { step: 2, value: 0.9 },
    { step: 3, value: 0.1 },
  ];
  assert.deepEqual(bestPoint(pts), { step: 1, value: 0.9 });
  assert.deepEqual(bestPoint(pts, false), { step: 3, value: 0.1 });
  assert.equal(bestPoint([]), null);
  assert.equal(higherIsBetter('valAccuracy'), true);
  assert.equal(higherIsBetter('valLoss'), false);
});

function twoExperiments() {
  const store = new MetricStore();
  const e1 = {
    id: 'e1',
    name: 'demo',
    runs: [
      run({
        id: 's1',
        kind: 'source',
        phase: 'source',
        method: null,
        targetIndex: null,
        label: 'seed 101',
        seconds: 4,
        final: 0.8,
        test: 0.79,
      }),
      run({
        id: 'g1',
        method: 'gmt',
        final: 0.7,
        best: 0.75,
        test: 0.69,
        seconds: 2,
        summary: {
          method: 'gmt',
          valAccuracy: [0.1, 0.75, 0.7],
          valLoss: [],
          testAccuracy: 0.69,
          bestStep: 1,
          testAccuracyAtBest: 0.7,
          seconds: 2,
          phases: {},
          gradientEvaluations: 30,
        },
      }),
      run({
        id: 'n1',
        phase: 'transfer:0:naive',
        method: 'naive',
        final: 0.3,
        best: 0.3,
        test: 0.31,
        seconds: 0.5,
      }),
    ],
  };
  const e2 = {
    id: 'e2',
    name: 'demo',
    runs: [
      run({ id: 'g2', experimentId: 'e2', method: 'gmt', final: 0.8, best: 0.85, test: 0.79, seconds: 4 }),
      run({ id: 'n2', experimentId: 'e2', phase: 'transfer:0:naive', method: 'naive', status: 'running' }),
    ],
  };
  store.add([
    { runId: 'g1', key: 'valAccuracy', step: 0, value: 0.1 },
    { runId: 'g1', key: 'valAccuracy', step: 1, value: 0.75 },
    { runId: 'g2', key: 'valAccuracy', step: 0, value: 0.2 },
    { runId: 'g2', key: 'valAccuracy', step: 1, value: 0.85 },
    { runId: 'n2', key: 'valAccuracy', step: 0, value: 0.15 },
    { runId: 'n2', key: 'valAccuracy', step: 1, value: 0.4 },
  ]);
  return { store, exps: [e1, e2] };
}

test('curves come from transfer runs, named by method and target', () => {
  const { store, exps } = twoExperiments();
  const curves = collectCurves(exps, store, 'valAccuracy');
  assert.deepEqual(
    curves.map((c) => c.runId),
    ['g1', 'n1', 'g2', 'n2'],
  );
  assert.equal(curves[0].method, 'gmt');
  assert.equal(curves[0].target, 'seed 102');
  assert.deepEqual(
    collectCurves(exps, store, 'valAccuracy', ['source']).map((c) => c.runId),
    ['s1'],
  );
  const names = distinctNames(exps);
  assert.deepEqual([...names.values()], ['demo', 'demo #2']);
  const pooled = computeBands(bandInputs(curves, true));
  assert.deepEqual(
    pooled.map((b) => b.group),
    ['gmt', 'naive'],
  );
  assert.deepEqual(pooled[0].n, [2, 2]);
  const split = computeBands(bandInputs(curves, false, names));
  assert.equal(split.length, 4);
  assert.equal(groupLabel(split[2].group), 'demo #2 · GMT');
  assert.equal(groupLabel('fgmt'), 'FGMT');
});

test('summary: mean ± std per method over experiments, training rows last, live values from curves', () => {
  const { store, exps } = twoExperiments();
  const curves = new Map(['g1', 'g2', 'n1', 'n2'].map((id) => [id, store.series(id, 'valAccuracy')]));
  const rows = summarize(exps, { pool: true, curves });
  assert.deepEqual(
    rows.map((r) => r.group),
    ['gmt', 'naive', 'source'],
  );
  const gmt = rows[0];
  assert.equal(gmt.runs, 2);
  assert.equal(gmt.done, 2);
  assert.ok(Math.abs(gmt.final!.mean - 0.75) < 1e-12);
  assert.ok(Math.abs(gmt.final!.std - Math.sqrt(0.005)) < 1e-12);
  assert.ok(Math.abs(gmt.best!.mean - 0.8) < 1e-12);
  assert.equal(gmt.gradientEvaluations!.n, 1);
  assert.equal(gmt.gradientEvaluations!.mean, 30);
  const naive = rows[1];
  // n2 is still running: its final/best come from its curve so far
  assert.equal(naive.final!.n, 2);
  assert.ok(Math.abs(naive.final!.mean - 0.35) < 1e-12);
  assert.equal(naive.test!.n, 1);
  assert.equal(naive.done, 1);
  const perExp = summarize(exps, { pool: false, names: distinctNames(exps) });
  assert.equal(perExp.filter((r) => r.kind === 'transfer').length, 4);
  assert.equal(groupLabel(perExp[1].group), 'demo #2 · GMT');
});

test('runValues falls back to the MethodResult when cached values are missing', () => {
  const r = run({
    id: 'x',
    summary: {
      method: 'gmt',
      valAccuracy: [0.1, 0.6, 0.5],
      valLoss: [],
      testAccuracy: 0.49,
      bestStep: 1,
      testAccuracyAtBest: 0.55,
      seconds: 3,
      phases: {},
      gradientEvaluations: 12,
    },
  });
  const v = runValues(r);
  assert.equal(v.final, 0.5);
  assert.equal(v.best, 0.6);
  assert.equal(v.bestStep, 1);
  assert.equal(v.test, 0.49);
  assert.equal(v.seconds, 3);
  assert.equal(v.gradients, 12);
  const empty = runValues(run({ id: 'y' }));
  assert.deepEqual(empty, {
    final: null,
    best: null,
    bestStep: null,
    test: null,
    seconds: null,
    gradients: null,
  });
});
