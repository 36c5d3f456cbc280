import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, niceTicks, renderSvgChart } from '../../src/renderer/src/lib/svg-chart.js';

test('nice ticks are round and cover the range', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 10, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const t = niceTicks(0.1234, 0.8765, 5);
  assert.ok(t[0] >= 0.1234 - 1e-12 && t[t.length - 1] <= 0.8765 + 1e-12);
  assert.ok(t.length >= 3 && t.length <= 9);
  assert.ok(niceTicks(5, 5).length > 0, 'a flat range still gets ticks');
  assert.deepEqual(niceTicks(NaN, 1), []);
});

test('escapes XML in labels', () => {
  assert.equal(escapeXml(`a<b & "c" 'd'>`), 'a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;');
});

test('renders lines, bands, markers and legend as a standalone SVG document', () => {
  const svg = renderSvgChart(
    [
      {
        label: 'GMT <mean>',
        color: '#1f77b4',
        points: [
          { x: 0, y: 0.1 },
          { x: 1, y: 0.6 },
          { x: 2, y: 0.8 },
        ],
        band: [
          { x: 0, lo: 0.05, hi: 0.15 },
          { x: 1, lo: 0.5, hi: 0.7 },
          { x: 2, lo: 0.75, hi: 0.85 },
        ],
        marker: { x: 2, y: 0.8 },
      },
      {
        label: 'Naive',
        color: '#888',
        points: [
          { x: 0, y: 0.1 },
          { x: 2, y: 0.3 },
        ],
        dash: [6, 4],
      },
    ],
    {
      title: 'Accuracy vs t',
      xLabel: 't',
      yLabel: 'validation accuracy',
      background: '#fff',
      yFormat: (v) => `${Math.round(v * 100)}%`,
    },
  );
  assert.ok(svg.startsWith('<?xml'));
  assert.ok(svg.includes('xmlns="http://www.w3.org/2000/svg"'));
  assert.equal((svg.match(/class="line"/g) ?? []).length, 2);
  assert.equal((svg.match(/class="band"/g) ?? []).length, 1);
  assert.equal((svg.match(/class="marker"/g) ?? []).length, 1);
  assert.ok(svg.includes('GMT &lt;mean&gt;'));
  assert.ok(!svg.includes('GMT <mean>'));
  assert.ok(svg.includes('stroke-dasharray="6 4"'));
  assert.ok(svg.includes('>Accuracy vs t<'));
  assert.ok(svg.includes('>80%<'));
  assert.ok(!/NaN|undefined|Infinity/.test(svg));
  // balanced tags: every opened <g> is closed
  assert.equal((svg.match(/<g[ >]/g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length);
});

test('empty data says so instead of drawing garbage', () => {
  const svg = renderSvgChart([], { title: 'nothing' });
  assert.ok(svg.includes('no data'));
  assert.ok(!/NaN|Infinity/.test(svg));
  const flat = renderSvgChart([{ label: 'one', color: 'red', points: [{ x: 3, y: 0.5 }] }]);
  assert.ok(!/NaN|Infinity/.test(flat));
  assert.ok(flat.includes('<circle'));
});
