import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, curvesToCsv, parseCsv, toCsv } from '../../src/renderer/src/lib/csv.js';

test('cells are quoted only when needed', () => {
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('two\nlines'), '"two\nlines"');
  assert.equal(csvCell(' padded'), '" padded"');
  assert.equal(csvCell(0.1 + 0.2), '0.30000000000000004');
  assert.equal(csvCell(NaN), 'NaN');
  assert.equal(csvCell(null), '');
  assert.equal(csvCell(undefined), '');
});

test('curves CSV has the documented header and round-trips', () => {
  const rows = [
    {
      experiment: 'quick, demo',
      run: 'r1',
      method: 'gmt',
      target: 'seed 102',
      key: 'valAccuracy',
      step: 0,
      value: 0.1,
    },
    {
      experiment: 'quick, demo',
      run: 'r1',
      method: 'gmt',
      target: 'seed 102',
      key: 'valAccuracy',
      step: 1,
      value: 0.734,
    },
    {
      experiment: 'name "quoted"',
      run: 'r2',
      method: 'naive',
      target: 'a\nb',
      key: 'valLoss',
      step: 5,
      value: 2.25,
    },
  ];
  const text = curvesToCsv(rows);
  assert.ok(text.startsWith('experiment,run,method,target,key,step,value\r\n'));
  const parsed = parseCsv(text);
  assert.equal(parsed.length, 4);
  assert.deepEqual(parsed[2], ['quick, demo', 'r1', 'gmt', 'seed 102', 'valAccuracy', '1', '0.734']);
  assert.deepEqual(parsed[3], ['name "quoted"', 'r2', 'naive', 'a\nb', 'valLoss', '5', '2.25']);
});

test('toCsv with no rows is just the header', () => {
  assert.equal(toCsv(['a', 'b'], []), 'a,b\r\n');
});
