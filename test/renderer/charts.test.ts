import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smoothEma, thinMinMax, parseXAxis } from '../../src/renderer/src/lib/chart-transform.js';
import { DASHES, spreadMarkers, type ChartSeries } from '../../src/renderer/src/lib/chart-series.js';
import {
  cliCommand,
  computeX,
  referenceLines,
  resultJson,
  reX,
  StickyEta,
  TARGET_COLORS,
  trainingSeries,
} from '../../src/renderer/src/lib/run-charts.js';
import { renderSvgChart } from '../../src/renderer/src/lib/svg-chart.js';
import { formatEta } from '../../src/renderer/src/lib/format.js';
import { run } from './fixtures.js';

test('debiased EMA: constant stays constant from the first point; weight 0 is the identity', () => {
  const pts = [1, 1, 1, 1].map((y, x) => ({ x, y }));
  for (const p of smoothEma(pts, 0.9)) assert.ok(Math.abs(p.y - 1) < 1e-12, 'no pull towards 0');
  const noisy = [0, 1, 0, 1, 0, 1].map((y, x) => ({ x, y }));
  assert.deepEqual(smoothEma(noisy, 0), noisy);
  const s = smoothEma(noisy, 0.6);
  assert.equal(s[0].y, 0);
  // TensorBoard's formula by hand for the second point: last = 0.4·1 = 0.4, debias 1 − 0.36
  assert.ok(Math.abs(s[1].y - 0.4 / (1 - 0.36)) < 1e-12);
  assert.ok(Math.max(...s.slice(2).map((p) => p.y)) < 1 && Math.min(...s.slice(2).map((p) => p.y)) > 0);
  // a NaN passes through without poisoning what follows
  const withNaN = smoothEma(
    [
      { x: 0, y: 1 },
      { x: 1, y: NaN },
      { x: 2, y: 1 },
    ],
    0.5,
  );
  assert.ok(Number.isNaN(withNaN[1].y));
  assert.equal(withNaN[2].y, 1);
});

test('min/max thinning keeps spikes, ends and order, and says it thinned', () => {
  const pts = Array.from({ length: 100_000 }, (_, x) => ({ x, y: Math.sin(x / 1000) }));
  pts[54_321].y = 9; // a spike
  pts[77_777].y = -9;
  const r = thinMinMax(pts, 2000);
  assert.equal(r.thinned, true);
  assert.ok(r.points.length <= 2000, `${r.points.length}`);
  assert.ok(r.points.some((p) => p.y === 9) && r.points.some((p) => p.y === -9), 'spikes kept');
  assert.deepEqual(r.points[0], pts[0]);
  assert.deepEqual(r.points[r.points.length - 1], pts[pts.length - 1]);
  for (let i = 1; i < r.points.length; i++) assert.ok(r.points[i].x > r.points[i - 1].x);
  const small = thinMinMax(pts.slice(0, 50), 2000);
  assert.equal(small.thinned, false);
  assert.equal(small.points.length, 50);
});

test('best-step markers at the same t are spread apart; others stay put', () => {
  const m = spreadMarkers(
    [{ x: 3, y: 0.8 }, null, { x: 3, y: 0.81 }, { x: 5, y: 0.7 }, { x: 3, y: 0.79 }],
    0.1,
  );
  assert.equal(m[1], null);
  assert.deepEqual(
    [m[0]!.x, m[2]!.x, m[4]!.x].map((x) => Number(x.toFixed(6))),
    [2.9, 3, 3.1],
  );
  assert.equal(m[3]!.x, 5);
  assert.equal(new Set([m[0]!.x, m[2]!.x, m[4]!.x]).size, 3);
});

test('reference lines: the source and the mean of the directly trained targets', () => {
  const runs = [
    run({
      id: 's',
      kind: 'source',
      phase: 'source',
      method: null,
      targetIndex: null,
      summary: { label: 'seed 101', valAccuracy: 0.892, valLoss: 0.3, testAccuracy: 0.88, seconds: 3 },
    }),
    run({
      id: 't0',
      kind: 'target',
      phase: 'target:0',
      method: null,
      summary: { label: 'a', valAccuracy: 0.9, valLoss: 0.28, testAccuracy: 0.89, seconds: 3 },
    }),
    run({
      id: 't1',
      kind: 'target',
      phase: 'target:1',
      method: null,
      targetIndex: 1,
      summary: { label: 'b', valAccuracy: 0.88, valLoss: 0.3, testAccuracy: 0.89, seconds: 3 },
    }),
    run({ id: 'g', summary: null }),
  ];
  const lines = referenceLines(
    runs,
    'valAccuracy',
    (k) => (k === 'source' ? 'green' : 'teal'),
    (v) => `${(v * 100).toFixed(1)}%`,
  );
  assert.deepEqual(
    lines.map((l) => [l.id, Number(l.y.toFixed(6)), l.label]),
    [
      ['source', 0.892, 'Source 89.2%'],
      ['target', 0.89, 'Target trained directly 89.0% (mean of 2)'],
    ],
  );
  assert.equal(referenceLines(runs, 'valLoss', () => 'c', String)[0].y, 0.3);
  assert.deepEqual(
    referenceLines(runs, 'trainLoss', () => 'c', String),
    [],
  );
});

test('compute x-axis: gradient evaluations per method, Naive as a single point at 0, seconds from wall time', () => {
  const curve = (method: string, runId: string, walls?: number[]) => ({
    experimentId: 'e1',
    experimentName: 'e',
    runId,
    method,
    target: 'seed 102',
    targetIndex: 0,
    key: 'valAccuracy',
    points: [0, 1, 2, 3].map((step) => ({ step, value: 0.1 * step, wall: walls?.[step] })),
  });
  const curves = [curve('gmt', 'g'), curve('fgmt', 'f'), curve('naive', 'n')];
  const series: ChartSeries[] = ['gmt', 'fgmt', 'naive'].map((id) => ({
    id,
    label: id,
    color: '#000',
    points: [0, 1, 2, 3].map((x) => ({ x, y: 0.1 * x })),
    marker: { x: 3, y: 0.3 },
  }));
  const xOf = computeX(
    curves,
    new Map(),
    () => ({ transfer: { gradBatches: 2 } }) as never,
    'gradients',
    true,
  );
  const [g, f, n] = reX(series, xOf);
  assert.deepEqual(
    g.points.map((p) => p.x),
    [0, 4, 12, 24],
  ); // t(t+1)·b
  assert.deepEqual(
    f.points.map((p) => p.x),
    [0, 4, 8, 12],
  ); // 2t·b
  assert.deepEqual(n.points, [{ x: 0, y: 0.30000000000000004 }]);
  assert.equal(n.marker, null);
  assert.equal(g.marker!.x, 24);

  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const timed = [curve('gmt', 'g', [t0 + 500, t0 + 1500, t0 + 2500, t0 + 4000])];
  const xs = computeX(
    timed,
    new Map([['g', { startedAt: '2026-01-01T00:00:00.000Z' }]]),
    () => undefined,
    'seconds',
    true,
  );
  assert.deepEqual(
    reX(series.slice(0, 1), xs)[0].points.map((p) => p.x),
    [0.5, 1.5, 2.5, 4],
  );
  assert.equal(parseXAxis('gradients'), 'gradients');
  assert.equal(parseXAxis('bogus'), 't');
});

test('training chart: each directly trained target has its own hue (not only a dash); train loss on the epoch axis', () => {
  const c = (method: string, runId: string, targetIndex: number | null) => ({
    experimentId: 'e',
    experimentName: 'e',
    runId,
    method,
    target: runId,
    targetIndex,
    key: 'valLoss',
    points: [
      { step: 1, value: 0.5 },
      { step: 2, value: 0.4 },
    ],
  });
  const s = trainingSeries(
    [c('source', 's', null), c('target', 'a', 0), c('target', 'b', 1)],
    new Map([
      [
        's',
        {
          points: [
            { step: 25, value: 0.9 },
            { step: 50, value: 0.6 },
          ],
          stepsPerEpoch: 50,
        },
      ],
    ]),
    '#15803d',
    DASHES as number[][],
  );
  const lines = s.filter((x) => !x.id.endsWith('|train'));
  assert.equal(new Set(lines.map((x) => x.color)).size, 3, 'three distinct colours');
  assert.ok(!TARGET_COLORS.includes('#15803d'));
  const tl = s.find((x) => x.id === 's|train')!;
  assert.deepEqual(
    tl.points.map((p) => p.x),
    [0.5, 1],
  );
  assert.match(tl.label, /training \(per step\)/);
});

test('ETA does not flip back to "estimating" between estimates; it counts down', () => {
  const eta = new StickyEta();
  assert.equal(formatEta(eta.value(0)), 'estimating…');
  eta.update(30, 1000);
  eta.update(null, 2000);
  eta.update(undefined, 3000);
  assert.equal(eta.value(11_000), 20);
  assert.notEqual(formatEta(eta.value(11_000)), 'estimating…');
  assert.equal(eta.value(100_000), 0);
});

test('result.json from stored runs has the CLI layout; the CLI command runs the same spec', () => {
  const r = resultJson({
    spec: { transfer: { T: 2 } },
    backend: 'wasm',
    createdAt: '2026-01-01T00:00:00Z',
    seconds: 12,
    runs: [
      run({
        id: 's',
        kind: 'source',
        phase: 'source',
        method: null,
        targetIndex: null,
        summary: { label: 's', valAccuracy: 0.8, valLoss: 1, testAccuracy: 0.8, seconds: 1 },
      }),
      run({ id: 'g', summary: { method: 'gmt', valAccuracy: [0.1, 0.5, 0.7] } as never }),
      run({
        id: 'n',
        method: 'naive',
        phase: 'transfer:0:naive',
        summary: { method: 'naive', valAccuracy: [0.1, 0.2, 0.3] } as never,
      }),
    ],
  }) as {
    formatVersion: number;
    targets: { label: string; methods: Record<string, { valAccuracy: number[] }> }[];
  };
  assert.equal(r.formatVersion, 1);
  assert.deepEqual(Object.keys(r.targets[0].methods).sort(), ['gmt', 'naive']);
  assert.deepEqual(r.targets[0].methods.gmt.valAccuracy, [0.1, 0.5, 0.7]);
  const cmd = cliCommand({ transfer: { T: 2 } }, 'Quick demo A');
  assert.match(cmd, /^cat > Quick-demo-A\.json <<'JSON'\n\{/);
  assert.match(cmd, /npm run lab -- run Quick-demo-A\.json --out runs\/Quick-demo-A\n$/);
});

test('SVG export draws reference lines (in range and legend) and a log y-axis', () => {
  const svg = renderSvgChart(
    [
      {
        label: 'GMT',
        color: '#00f',
        points: [
          { x: 0, y: 0.1 },
          { x: 1, y: 0.5 },
        ],
      },
    ],
    { refLines: [{ label: 'Source 90%', y: 0.9, color: '#0a0' }] },
  );
  assert.equal((svg.match(/class="ref"/g) ?? []).length, 1);
  assert.match(svg, /Source 90%/);
  const log = renderSvgChart(
    [
      {
        label: 'loss',
        color: '#00f',
        points: [
          { x: 0, y: 2 },
          { x: 1, y: 0.02 },
        ],
      },
    ],
    { logY: true, yLabel: 'loss' },
  );
  assert.match(log, /loss \(log scale\)/);
});

test('cost: an honest ratio against direct training (over 100 % when it costs more), and measured speed', async () => {
  const { costRatio, secondsPerGradient } = await import('../../src/renderer/src/lib/cost-ratio.js');
  // GMT at T = 1000 on a 5-epoch, 32-step-per-epoch training: 1000·1001 / 160
  const gmt = costRatio(1000 * 1001, 160)!;
  assert.equal(gmt.cheaper, false);
  assert.ok(gmt.ratio > 6000);
  assert.match(gmt.text, /costs 6,256× the training \(625,625 %\)/);
  assert.doesNotMatch(gmt.text, /0 % saved/);
  const fgmt = costRatio(20, 1760)!;
  assert.equal(fgmt.cheaper, true);
  assert.match(fgmt.text, /saves 98\.9 %/);
  assert.equal(costRatio(10, 0), null);
  const speed = secondsPerGradient([
    { summary: { phases: { gradients: 2 }, gradientEvaluations: 20 } },
    { summary: { phases: { gradients: 9 }, gradientEvaluations: 90 } },
    { summary: { phases: {}, gradientEvaluations: 0 } },
  ])!;
  assert.equal(speed.samples, 2);
  assert.ok(Math.abs(speed.seconds - 0.1) < 1e-12);
});
