/**
 * The job recorder when the store fails under it: a trained-parameters lookup that throws still
 * answers the worker (a miss), and metric writes that fail on the timer neither crash main nor
 * lose the points.
 */
import type Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpec } from '../../src/shared/domain/index.js';
import { MetricBuffer } from '../../src/services/jobs/metric-buffer.js';
import { jobRecorder } from '../../src/services/jobs/recorder.js';
import { LabStore } from '../../src/services/store/index.js';
import type { LabEvent, MetricPoint } from '../../src/shared/lab-api.js';
import type { ToWorker } from '../../src/shared/worker-protocol.js';
import { tempDir, tinySpec, waitUntil } from '../helpers/lab.js';

const rawDb = (store: LabStore): Database.Database => (store as unknown as { db: Database.Database }).db;

async function withStore(fn: (store: LabStore, experimentId: string) => Promise<void>): Promise<void> {
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  try {
    const spec = parseSpec(tinySpec());
    const e = store.createExperiment({ spec, name: 'recorded' });
    store.planRuns(e.id, spec);
    await fn(store, e.id);
  } finally {
    store.close();
    await data.cleanup();
  }
}

test('a trained-parameters lookup that fails in main still answers the worker, as a miss, with a warning', async () => {
  await withStore(async (store, experimentId) => {
    // A damaged record: its sha256 is not one, so finding its file throws.
    rawDb(store)
      .prepare(
        `INSERT INTO param_sets (id, name, arch, input_shape, classes, origin, training_key, sha256, bytes, points, created_at)
        VALUES ('ps_damaged_00001', 'damaged', '{"arch":"mlp","hidden":[32]}', '[]', 10, 'trained', 'key-damaged', 'not a sha256', 1, 2, '2025-01-01T00:00:00.000Z')`,
      )
      .run();
    assert.throws(() => store.findTrainedByKey('key-damaged'), /not a sha256/);
    const events: LabEvent[] = [];
    const recorder = jobRecorder({ store, emit: (e) => events.push(e), experimentId });
    const replies: ToWorker[] = [];
    recorder.message({ type: 'cache-load', requestId: 7, key: 'key-damaged' }, (m) => replies.push(m));
    recorder.message({ type: 'cache-load', requestId: 8, key: 'key-unknown' }, (m) => replies.push(m));
    assert.deepEqual(replies, [
      { type: 'cache-reply', requestId: 7, hit: null },
      { type: 'cache-reply', requestId: 8, hit: null },
    ]);
    const warnings = store.getLog(experimentId).filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!.message,
      /looking up trained parameters failed \(.*not a sha256.*\); training again/,
    );
    assert.ok(events.some((e) => e.type === 'log' && e.level === 'warn'));
  });
});

test('metric writes failing on the timer are reported, kept and written once the store recovers', async () => {
  await withStore(async (store, experimentId) => {
    const db = rawDb(store);
    db.exec(
      `CREATE TEMP TRIGGER fail_metrics BEFORE INSERT ON metrics BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END`,
    );
    const events: LabEvent[] = [];
    const recorder = jobRecorder({
      store,
      emit: (e) => events.push(e),
      experimentId,
      flushMs: 20,
      flushPoints: 1000,
    });
    for (let step = 1; step <= 3; step++)
      recorder.message(
        {
          type: 'metric',
          phase: 'source',
          key: 'valAccuracy',
          step,
          value: step / 10,
          wallTime: 1_700_000_000_000 + step,
        },
        () => {},
      );
    // Without a catch, the timer's flush would throw in main (an uncaught exception).
    await waitUntil(
      () => store.getLog(experimentId).some((l) => /writing metrics failed/.test(l.message)),
      'the failure to be logged',
      2_000,
    );
    assert.match(
      store.getLog(experimentId).at(-1)!.message,
      /writing metrics failed \(simulated disk full\); they are kept for the next try/,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(
      store.getLog(experimentId).filter((l) => /writing metrics failed/.test(l.message)).length,
      1,
      'one warning for a run of failures',
    );
    assert.equal(store.metrics([experimentId]).length, 0);

    db.exec('DROP TRIGGER temp.fail_metrics');
    await waitUntil(() => store.metrics([experimentId]).length === 3, 'the kept points to be written', 2_000);
    assert.deepEqual(
      store.metrics([experimentId]).map((p) => p.step),
      [1, 2, 3],
    );
    const pushed = events.flatMap((e) => (e.type === 'metrics' ? e.points : []));
    assert.deepEqual(
      pushed.map((p) => p.step),
      [1, 2, 3],
      'subscribers get what was written, once',
    );
    recorder.ended({ kind: 'interrupted', reason: 'test over' });
  });
});

test('a metric buffer whose writes keep failing drops a backlog past its limit, and says so', async () => {
  const failures: { error: string; dropped: number }[] = [];
  let broken = true;
  const written: MetricPoint[] = [];
  const buffer = new MetricBuffer({
    intervalMs: 5,
    maxPoints: 2,
    maxBacklog: 3,
    write: (points) => {
      if (broken) throw new Error('still broken');
      written.push(...points);
    },
    onError: (e, dropped) => failures.push({ error: (e as Error).message, dropped }),
  });
  const point = (step: number): MetricPoint => ({ runId: 'r', key: 'k', step, value: step, wallTime: step });
  buffer.push(point(1));
  buffer.push(point(2)); // reaches maxPoints: written now, fails, kept
  assert.deepEqual(failures, [{ error: 'still broken', dropped: 0 }]);
  buffer.push(point(3));
  buffer.push(point(4)); // while failing, only the timer retries
  assert.equal(failures.length, 1);
  await waitUntil(() => failures.length === 2, 'the backlog to be dropped', 1_000);
  assert.deepEqual(failures[1], { error: 'still broken', dropped: 4 });
  assert.equal(buffer.pending, 0);
  broken = false;
  buffer.push(point(5));
  buffer.flush();
  assert.deepEqual(
    written.map((p) => p.step),
    [5],
  );
});
