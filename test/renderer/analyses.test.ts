import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MethodResult } from '../../src/shared/domain/index.js';
import {
  ANALYSIS_COLUMNS,
  formatCell,
  analysisRows,
  compareCsv,
  compareRows,
  compareSeries,
  meanCurve,
  ensemblesSvg,
  finetuneSeries,
  pathSeries,
  permutationSeries,
  planeCsv,
  planeSvg,
  seriesCsv,
} from '../../src/renderer/src/lib/analyses.js';
import { parseCsv } from '../../src/renderer/src/lib/csv.js';
import { contourSegments, renderSvgHeatmap, viridis } from '../../src/renderer/src/lib/svg-heatmap.js';

const palette = (k: string): string => ({ gmt: '#2563eb', fgmt: '#e8590c' })[k] ?? '#000000';
const path = (b: number) => ({
  alpha: [0, 0.5, 1],
  valLoss: [0.5, 0.5 + b, 0.5],
  valAccuracy: [0.8, 0.5, 0.8],
  barrier: b,
});

const gmt: MethodResult = {
  method: 'gmt',
  valAccuracy: [0.1, 0.7],
  valLoss: [2.3, 0.9],
  testAccuracy: 0.7,
  bestStep: 1,
  testAccuracyAtBest: 0.7,
  seconds: 1,
  phases: {},
  gradientEvaluations: 2,
  finetune: {
    fromStep: 1,
    valAccuracy: [0.7, 0.8, 0.85],
    valLoss: [0.9, 0.6, 0.5],
    testAccuracy: 0.84,
    epochsSaved: 1,
    reachesScratchAt: 1,
    seconds: 2,
    gradientEvaluations: 10,
  },
  paths: { toSource: path(0.1), toTrained: path(2), finetuned: { toSource: path(0.05) } },
  permutation: { changedFraction: [0.4, 0.5], agreementWithPrevious: [0.6, 0.9], objective: [3, 4] },
};

test('analysis series carry exactly the stored numbers', () => {
  const ft = finetuneSeries(
    { gmt },
    { valAccuracy: [0.1, 0.8], valLoss: [2, 1], testAccuracy: 0.79, seconds: 1, gradientEvaluations: 5 },
    palette,
  );
  assert.deepEqual(ft[0].points, [
    { x: 0, y: 0.7 },
    { x: 1, y: 0.8 },
    { x: 2, y: 0.85 },
  ]);
  assert.equal(ft[1].id, 'scratch');
  assert.ok(ft[1].dash && ft[1].dash.length > 0, 'scratch is dashed');
  const ps = pathSeries({ gmt }, 'toSource', palette, { finetuned: true });
  assert.deepEqual(
    ps.map((s) => s.id),
    ['path:toSource:gmt', 'path:toSource:gmt:ft'],
  );
  assert.equal(
    pathSeries({ gmt }, 'toTrained', palette, { finetuned: true }).length,
    1,
    'no fine-tuned leg stored',
  );
  assert.deepEqual(permutationSeries({ gmt }, 'changedFraction', palette)[0].points, [
    { x: 1, y: 0.4 },
    { x: 2, y: 0.5 },
  ]);
  assert.equal(permutationSeries({ gmt }, 'agreementWithOracle', palette).length, 0, 'absent without Oracle');
  const rows = analysisRows({ gmt });
  assert.equal(rows[0].barrierToTrained, 2);
  assert.equal(rows[0].finetunedVal, 0.85);
  const csv = parseCsv(seriesCsv(ps, 'alpha', 'valLoss'));
  assert.deepEqual(csv[0], ['series', 'alpha', 'valLoss']);
  assert.equal(csv.length, 1 + 6);
  const svg = ensemblesSvg(
    {
      from: 'best',
      entries: [
        {
          kind: 'gmt',
          method: 'gmt',
          finetuned: false,
          members: 3,
          valAccuracy: 0.8,
          testAccuracy: 0.81,
          memberTestAccuracy: 0.78,
          gradientEvaluations: 60,
          seconds: 3,
        },
        {
          kind: 'trained',
          finetuned: false,
          members: 3,
          valAccuracy: 0.8,
          testAccuracy: 0.85,
          memberTestAccuracy: 0.8,
          gradientEvaluations: 600,
          seconds: 30,
        },
      ],
    },
    palette,
  );
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 2, 'one bar per ensemble');
  assert.ok(svg.includes('81.0%') && svg.includes('60 grads') && svg.includes('Trained targets'));
});

test('contours: a plane z = x crosses level 0.5 on a vertical line', () => {
  const x = [0, 1, 2];
  const y = [0, 1];
  const z = [
    [0, 1, 2],
    [0, 1, 2],
  ];
  const segs = contourSegments(x, y, z, 0.5);
  assert.deepEqual(segs, [[0.5, 0, 0.5, 1]]);
  assert.equal(contourSegments(x, y, z, 5).length, 0);
  assert.equal(viridis(0), 'rgb(68,1,84)');
  assert.equal(viridis(1), 'rgb(253,231,37)');
});

test('plane SVG: one cell per grid point, the three points marked, CSV with every value', () => {
  const plane = {
    method: 'gmt' as const,
    from: 'transferred' as const,
    u: [-1, 0, 1],
    v: [0, 1],
    valLoss: [
      [1, 0.5, 2],
      [3, 0.7, 9],
    ],
    valAccuracy: [
      [0.5, 0.8, 0.3],
      [0.2, 0.7, 0.1],
    ],
    points: {
      transferred: [0, 0] as [number, number],
      trained: [1, 0] as [number, number],
      source: [-0.5, 1] as [number, number],
    },
  };
  const svg = planeSvg(plane, palette);
  assert.equal((svg.match(/<rect x=/g) ?? []).length - 1 - 40, 6, 'six cells (plus frame and colour bar)');
  assert.equal((svg.match(/<circle /g) ?? []).length, 3);
  assert.ok(svg.includes('Source*'));
  const rows = parseCsv(planeCsv(plane));
  assert.equal(rows.length, 1 + 6 + 3);
  assert.deepEqual(rows[1], ['grid', '-1', '0', '1', '0.5']);
  assert.ok(renderSvgHeatmap([0], [0], [[1]]).startsWith('<?xml'));
});

test('compare: per experiment and method, means over targets; curves averaged point by point', () => {
  const other: MethodResult = {
    ...gmt,
    finetune: { ...gmt.finetune!, valAccuracy: [0.5, 0.6, 0.75], testAccuracy: 0.74, epochsSaved: null },
    paths: { toSource: path(0.3) },
  };
  const exps = [
    { id: 'a', name: 'A', targets: [{ gmt }, { gmt: other }], analyses: null },
    {
      id: 'b',
      name: 'B',
      targets: [{ gmt: { ...gmt, finetune: undefined, paths: undefined, permutation: undefined } }],
      analyses: null,
    },
  ];
  const rows = compareRows(exps);
  assert.equal(rows.length, 1, 'B has no analyses to show');
  assert.ok(Math.abs(rows[0].finetunedVal! - 0.8) < 1e-12);
  assert.equal(rows[0].epochsSaved, 1, 'a target that never reached scratch is left out of the mean');
  assert.ok(Math.abs(rows[0].barrierToSource! - 0.2) < 1e-12);
  assert.equal(rows[0].barrierToTrained, 2);
  const series = compareSeries(exps, (r) => r.finetune?.valAccuracy.map((y, x) => ({ x, y })), palette);
  assert.equal(series.length, 1);
  assert.deepEqual(
    series[0].points.map((p) => Number(p.y.toFixed(6))),
    [0.6, 0.7, 0.8],
  );
  assert.deepEqual(meanCurve([[1, 2], [3]]), [2, 2]);
  const csv = parseCsv(compareCsv(rows));
  assert.equal(csv[0][0], 'experiment');
  assert.equal(csv.length, 2);
});

test('wizard: analyses are off by default; the preset builds a spec the domain parser accepts', async () => {
  const { buildSpec, emptyState, presetState, stepOfField, VALIDATION_BUILD } =
    await import('../../src/renderer/src/lib/wizard.js');
  const { validateSpec } = await import('../../src/shared/domain/index.js');
  assert.equal(buildSpec(emptyState(), VALIDATION_BUILD).analyses, undefined);
  const s = presetState('analyses');
  const { spec, issues } = validateSpec(buildSpec(s, VALIDATION_BUILD));
  assert.deepEqual(issues, []);
  assert.deepEqual(spec.analyses?.assumptionP, { widths: [32, 128, 512] });
  assert.equal(spec.analyses?.plane?.method, 'fgmt');
  assert.equal(spec.analyses?.finetune?.lr, 1e-4);
  s.analyses.assumptionP.widths = '32, x';
  const bad = validateSpec(buildSpec(s, VALIDATION_BUILD)).issues;
  assert.ok(bad.some((i) => i.field.startsWith('analyses.assumptionP.widths')));
  assert.equal(stepOfField('spec.analyses.plane.grid'), 'analyses');
});

test('analyses table cells: percent, whole counts on one target, means to one decimal, dashes for missing', () => {
  const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
  assert.equal(formatCell(0.8123, 'percent', pct), '81.2%');
  assert.equal(formatCell(null, 'percent', pct), '—');
  assert.equal(formatCell(4, 'count', pct), '4');
  assert.equal(formatCell(2.5, 'count', pct), '2.5');
  assert.equal(formatCell(NaN, 'barrier', pct), '—');
  assert.equal(formatCell(0.06412, 'barrier', pct), '0.064');
  assert.equal(formatCell('gmt', 'method', pct), 'gmt');
  for (const [k, c] of Object.entries(ANALYSIS_COLUMNS)) assert.equal(c.key, k);
});
