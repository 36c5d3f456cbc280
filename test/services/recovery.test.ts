/**
 * Start-up: whatever was queued or running when the lab stopped becomes interrupted in one pass
 * (an experiment without runs once made this loop forever), such an experiment can be resumed,
 * and weights files nobody references are collected.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import { test } from 'node:test';
import { parseSpec } from '../../src/shared/domain/index.js';
import { LabStore, plannedRuns } from '../../src/services/store/index.js';
import type { ExperimentDetail } from '../../src/shared/lab-api.js';
import { openTestLab, tempDir, tinySpec, waitUntil } from '../helpers/lab.js';

test('start-up recovery interrupts every open run in one pass, an experiment without runs included, and it resumes', async () => {
  const data = await tempDir();
  const spec = parseSpec(tinySpec({ methods: ['naive'] }));
  const store = LabStore.open(data.dir);
  const bare = store.createExperiment({ spec, name: 'imported without runs', origin: 'import' });
  const running = store.createExperiment({ spec, name: 'was running' });
  const waiting = store.createExperiment({ spec, name: 'was waiting' });
  const finished = store.createExperiment({ spec, name: 'finished' });
  for (const e of [running, waiting, finished]) store.planRuns(e.id, spec);
  store.updateRun(store.runByPhase(running.id, 'source')!.id, { status: 'running' });
  store.setRunsStatus(finished.id, ['queued'], 'done');
  // What schema 002 made of an experiment without runs, which start-up used to chase forever.
  (store as unknown as { db: import('better-sqlite3').Database }).db
    .prepare(`UPDATE experiments SET status = 'queued' WHERE id = ?`)
    .run(bare.id);
  store.close();

  const t0 = Date.now();
  const lab = await openTestLab({ dataDir: data.dir });
  try {
    assert.ok(Date.now() - t0 < 5_000, 'the service opened');
    for (const e of [running, waiting]) {
      const d = lab.store.getExperiment(e.id)!;
      assert.equal(d.status, 'interrupted');
      assert.ok(
        d.runs.every((r) => r.status === 'interrupted'),
        JSON.stringify(d.runs.map((r) => r.status)),
      );
      assert.ok(d.log.some((l) => l.level === 'warn' && /interrupted: the lab stopped/.test(l.message)));
    }
    assert.equal(lab.store.getExperiment(finished.id)!.status, 'done');
    assert.equal(lab.store.getExperiment(finished.id)!.log.length, 0, 'a finished experiment is not touched');
    assert.deepEqual(lab.store.listRuns(bare.id), []);

    // Resuming the one without runs plans them and queues it.
    assert.deepEqual(await lab.service.request('experiments.resume', { id: bare.id }), { id: bare.id });
    const resumed = (await lab.service.request('experiments.get', { id: bare.id })) as ExperimentDetail;
    assert.deepEqual(
      resumed.runs.map((r) => r.phase),
      plannedRuns(spec).map((p) => p.phase),
    );
    assert.ok(
      resumed.runs.every((r) => r.status === 'queued' || r.status === 'running'),
      JSON.stringify(resumed.runs.map((r) => r.status)),
    );
    assert.ok(lab.service.queue.has(bare.id));
  } finally {
    await lab.close();
    await data.cleanup();
  }
});

test('start-up collects weights files no parameter set references (old ones only)', async () => {
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  const spec = parseSpec(tinySpec());
  const kept = await store.putWeights(Buffer.from('referenced weights'));
  const orphan = await store.putWeights(Buffer.from('weights nobody references'));
  const fresh = await store.putWeights(Buffer.from('weights written a moment ago'));
  store.addParamSet({
    name: 'kept',
    arch: spec.model,
    inputShape: [28, 28, 1],
    classes: 10,
    origin: 'imported',
    sha256: kept.sha256,
    bytes: kept.bytes,
    points: 1,
  });
  const hourAgo = new Date(Date.now() - 3_600_000);
  for (const w of [kept, orphan]) await utimes(store.weightsPath(w.sha256), hourAgo, hourAgo);
  store.close();

  const lab = await openTestLab({ dataDir: data.dir });
  try {
    await waitUntil(
      () => !existsSync(lab.store.weightsPath(orphan.sha256)),
      'the orphaned weights file is removed',
      5_000,
    );
    assert.ok(existsSync(lab.store.weightsPath(kept.sha256)), 'a referenced file stays');
    assert.ok(
      existsSync(lab.store.weightsPath(fresh.sha256)),
      'a file just written stays (its record may be on its way)',
    );
  } finally {
    await lab.close();
    await data.cleanup();
  }
});
