import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregateStatus,
  canResume,
  experimentProgress,
  methodLabel,
  phaseLabel,
  runGroup,
  statusCounts,
} from '../../src/renderer/src/lib/status.js';
import {
  formatAgo,
  formatBytes,
  formatDuration,
  formatEta,
  formatMeanStd,
  formatPercent,
} from '../../src/renderer/src/lib/format.js';
import { run } from './fixtures.js';

test('experiment status is the worst of its runs', () => {
  assert.equal(aggregateStatus(['done', 'done']), 'done');
  assert.equal(aggregateStatus(['done', 'cancelled', 'interrupted']), 'interrupted');
  assert.equal(aggregateStatus(['failed', 'queued']), 'queued');
  assert.equal(aggregateStatus(['queued', 'running', 'failed']), 'running');
  assert.equal(aggregateStatus([]), null);
  assert.deepEqual(statusCounts([{ status: 'done' }, { status: 'done' }, { status: 'failed' }]), {
    running: 0,
    queued: 0,
    failed: 1,
    interrupted: 0,
    cancelled: 0,
    done: 2,
  });
  assert.equal(canResume('interrupted'), true);
  assert.equal(canResume('done'), false);
});

test('progress counts finished runs and the live share of running ones', () => {
  const runs = [
    run({ id: 'a', status: 'done' }),
    run({ id: 'b', status: 'running' }),
    run({ id: 'c', status: 'queued' }),
    run({ id: 'd', status: 'running' }),
  ];
  const live = new Map([
    ['b', { done: 1, total: 4 }],
    ['d', { done: 9, total: 3 }],
  ]);
  assert.equal(experimentProgress(runs, live), (1 + 0.25 + 0 + 1) / 4);
  assert.equal(experimentProgress([], live), 0);
});

test('phase labels and groups', () => {
  assert.equal(runGroup(run({ id: 'a', kind: 'source', method: null, phase: 'source' })), 'source');
  assert.equal(runGroup(run({ id: 'a', method: null, phase: 'transfer:1:fgmt' })), 'fgmt');
  assert.equal(phaseLabel(run({ id: 'a', targetIndex: 1, label: 'seed 5' })), 'GMT · target 2 (seed 5)');
  assert.equal(
    phaseLabel(run({ id: 'a', kind: 'target', phase: 'target:0', method: null })),
    'Training target 1 for Oracle (seed 102)',
  );
  const pre = (targetIndex: number | null) =>
    run({ id: 'a', kind: 'pretrain', phase: 'pretrain:x', method: null, targetIndex, label: 'seed 7' });
  assert.equal(phaseLabel(pre(null)), 'Pre-training source (seed 7)');
  assert.equal(phaseLabel(pre(0)), 'Pre-training target 1 (seed 7)');
  assert.equal(runGroup(pre(0)), 'pretrain');
  assert.equal(methodLabel('pretrain'), 'Pre-training');
});

test('durations and ETAs read well and never show NaN', () => {
  assert.equal(formatDuration(0), '0 s');
  assert.equal(formatDuration(0.25), '0.3 s');
  assert.equal(formatDuration(42.4), '42 s');
  assert.equal(formatDuration(185), '3 min 05 s');
  assert.equal(formatDuration(3725), '1 h 02 min');
  assert.equal(formatDuration(3 * 86400 + 7200), '3 d 2 h');
  assert.equal(formatDuration(NaN), '—');
  assert.equal(formatDuration(null), '—');
  assert.equal(formatEta(null), 'estimating…');
  assert.equal(formatEta(3), 'a few seconds left');
  assert.equal(formatEta(41), 'about 45 s left');
  assert.equal(formatEta(150), 'about 3 min left');
  assert.equal(formatEta(3600 * 2 + 60 * 20), 'about 2 h 20 min left');
  assert.equal(formatEta(3600 * 2 + 59.9 * 60), 'about 3 h left');
  assert.equal(formatEta(-1), 'estimating…');
});

test('percentages, bytes, relative times', () => {
  assert.equal(formatPercent(0.87345), '87.3%');
  assert.equal(formatPercent(null), '—');
  assert.equal(formatMeanStd(0.8, 0.0123, 3), '80.0 ± 1.2%');
  assert.equal(formatMeanStd(0.8, 0, 1), '80.0%');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MB');
  const now = Date.parse('2025-01-01T12:00:00Z');
  assert.equal(formatAgo('2025-01-01T11:59:50Z', now), 'just now');
  assert.equal(formatAgo('2025-01-01T11:30:00Z', now), '30 min ago');
  assert.equal(formatAgo('2025-01-01T09:00:00Z', now), '3 h ago');
});
