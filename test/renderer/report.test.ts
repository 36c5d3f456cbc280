import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReport, summaryTable } from '../../src/renderer/src/lib/report.js';
import { renderSvgChart } from '../../src/renderer/src/lib/svg-chart.js';

test('the report is one self-contained HTML file: inline SVG charts, tables, exact specs, no scripts', () => {
  const svg = renderSvgChart(
    [
      {
        label: 'GMT',
        color: '#2563eb',
        points: [
          { x: 0, y: 0.1 },
          { x: 1, y: 0.7 },
        ],
      },
    ],
    {
      refLines: [{ label: 'Source 89%', y: 0.89, color: '#15803d' }],
    },
  );
  const html = renderReport({
    title: 'A <b>bold</b> name',
    charts: [{ title: 'Accuracy vs t', svg }],
    tables: [
      summaryTable('Summary', [
        {
          group: 'gmt',
          kind: 'transfer',
          runs: 2,
          done: 2,
          final: { mean: 0.8, std: 0.01, n: 2 },
          best: { mean: 0.81, std: 0.01, n: 2 },
          bestStep: { mean: 7, std: 0, n: 1 },
          test: { mean: 0.79, std: 0.01, n: 2 },
          seconds: { mean: 12, std: 0, n: 2 },
          gradientEvaluations: { mean: 110, std: 0, n: 2 },
        },
      ]),
    ],
    specs: [{ name: 'x', spec: { transfer: { T: 10, note: '</pre><script>' } } }],
    generatedAt: '2026-12-02T00:00:00Z',
  });
  assert.match(html, /^<!doctype html>/);
  assert.ok(!/<script/i.test(html), 'no scripts (the spec text is escaped)');
  assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'no external resources');
  assert.match(html, /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(!html.includes('<?xml'), 'the SVG is inlined without its XML declaration');
  assert.match(html, /class="ref"/);
  assert.match(html, /<td>GMT<\/td><td>2\/2<\/td><td>80\.0 ± 1\.0%<\/td>/);
  assert.match(html, /&quot;T&quot;: 10/);
  assert.match(html, /A &lt;b&gt;bold&lt;\/b&gt; name/);
  assert.match(html, /@media print/);
});
