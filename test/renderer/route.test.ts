import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHash, parseHash } from '../../src/renderer/src/lib/route.js';
import { seriesFromBands, toSvgSeries, withAlpha } from '../../src/renderer/src/lib/chart-series.js';
import { computeBands } from '../../src/renderer/src/lib/bands.js';

test('hash routes parse and format symmetrically', () => {
  assert.deepEqual(parseHash(''), { name: 'home', id: null, query: {} });
  assert.deepEqual(parseHash('#/'), { name: 'home', id: null, query: {} });
  assert.deepEqual(parseHash('#/run/abc_1'), { name: 'run', id: 'abc_1', query: {} });
  assert.deepEqual(parseHash('#/compare?ids=a,b&pool=0'), {
    name: 'compare',
    id: null,
    query: { ids: 'a,b', pool: '0' },
  });
  assert.equal(parseHash('#/run').name, 'not-found', 'run needs an id');
  assert.equal(parseHash('#/history/x').name, 'not-found');
  assert.equal(parseHash('#/nope').name, 'not-found');
  assert.equal(formatHash('home'), '#/');
  assert.equal(formatHash('run', 'a b'), '#/run/a%20b');
  assert.deepEqual(parseHash(formatHash('run', 'a b')), { name: 'run', id: 'a b', query: {} });
  assert.equal(
    formatHash('compare', null, { ids: 'x,y', empty: '', none: undefined }),
    '#/compare?ids=x%2Cy',
  );
  assert.deepEqual(parseHash(formatHash('compare', null, { ids: 'x,y' })).query, { ids: 'x,y' });
});

test('chart series: mean line, band only where several members, best marker', () => {
  const bands = computeBands([
    {
      group: 'gmt',
      points: [
        { step: 0, value: 0.1 },
        { step: 1, value: 0.8 },
        { step: 2, value: 0.7 },
      ],
    },
    {
      group: 'gmt',
      points: [
        { step: 0, value: 0.3 },
        { step: 1, value: 0.6 },
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
  const series = seriesFromBands(bands, {
    label: (g) => g.toUpperCase(),
    color: () => '#123456',
    dash: (g) => (g === 'naive' ? [4, 4] : undefined),
  });
  const [gmt, naive] = series;
  assert.deepEqual(
    gmt.points.map((p) => p.x),
    [0, 1, 2],
  );
  assert.ok(Math.abs(gmt.points[1].y - 0.7) < 1e-12);
  assert.equal(gmt.band?.length, 3);
  assert.deepEqual(gmt.marker, { x: 1, y: gmt.points[1].y });
  assert.equal(naive.band, undefined, 'a single member has no band');
  assert.deepEqual(naive.dash, [4, 4]);
  assert.equal(gmt.label, 'GMT');
  const noBands = seriesFromBands(
    bands,
    { label: String, color: () => 'red' },
    { bands: false, markBest: false },
  );
  assert.equal(noBands[0].band, undefined);
  assert.equal(noBands[0].marker, null);
  const lossBest = seriesFromBands(bands, { label: String, color: () => 'red' }, { higherIsBetter: false });
  assert.equal(lossBest[0].marker?.x, 0);
  assert.equal(toSvgSeries(series)[0].band?.length, 3);
});

test('withAlpha converts hex colours and leaves others alone', () => {
  assert.equal(withAlpha('#2563eb', 0.2), 'rgba(37, 99, 235, 0.2)');
  assert.equal(withAlpha('#fff', 0.5), 'rgba(255, 255, 255, 0.5)');
  assert.equal(withAlpha('rgb(1,2,3)', 0.5), 'rgb(1,2,3)');
});
