/**
 * Issue 8, item 1: deleting an experiment deleted the trained parameter sets it made, even a
 * target another experiment had reused. Trained parameters now outlive the experiments that made
 * them; the user deletes them only by naming them, and only those no other experiment used.
 */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSpec } from '../../src/shared/domain/index.js';
import { createLabService } from '../../src/services/lab-service.js';
import { jobRecorder } from '../../src/services/jobs/recorder.js';
import { LabStore, MIGRATIONS } from '../../src/services/store/index.js';
import { migrate } from '../../src/services/store/migrations.js';
import type { DeletionPlan } from '../../src/shared/lab-api.js';
import type { ToWorker } from '../../src/shared/worker-protocol.js';
import { describeDeletion } from '../../src/renderer/src/lib/deletion.js';
import { tempDir, tinySpec } from '../helpers/lab.js';

/** What a worker reports after training: the weights file is already in the store. */
async function trained(
  store: LabStore,
  experimentId: string,
  role: 'source' | 'target',
  seed: number,
  phase: string,
): Promise<string> {
  const { sha256, bytes } = await store.putWeights(Buffer.from(`weights of ${role} ${seed}`.repeat(100)));
  const recorder = jobRecorder({ store, emit: () => undefined, experimentId });
  let id: string | null = null;
  recorder.message(
    {
      type: 'artifact',
      requestId: 1,
      key: `key-${role}-${seed}`,
      role,
      phase,
      path: store.weightsPath(sha256),
      sha256,
      bytes,
      points: 2,
      summary: { label: `seed ${seed}`, valAccuracy: 0.8, valLoss: 0.5, testAccuracy: 0.79, seconds: 1 },
      inputShape: [28, 28, 1],
      classes: 10,
      seed,
      datasetHash: 'd',
    },
    (m: ToWorker) => {
      if (m.type === 'artifact-saved') id = m.paramSetId;
    },
  );
  assert.ok(id, 'recorded');
  return id;
}

/** A worker of another experiment asking for trained parameters by key. */
function reuse(store: LabStore, experimentId: string, key: string): void {
  const recorder = jobRecorder({ store, emit: () => undefined, experimentId });
  let hit = false;
  recorder.message({ type: 'cache-load', requestId: 1, key }, (m) => {
    if (m.type === 'cache-reply') hit = m.hit !== null;
  });
  assert.ok(hit, `${key} is found`);
}

test('deleting an experiment keeps every trained parameter set; reuse is counted, sizes are shown', async () => {
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  const service = createLabService({
    store,
    host: 'headless',
    appVersion: 'test',
    launcher: () => {
      throw new Error('no jobs in this test');
    },
  });
  try {
    const spec = parseSpec(tinySpec());
    const a = store.createExperiment({ spec, name: 'A' });
    const b = store.createExperiment({ spec, name: 'B' });
    const src201 = await trained(store, a.id, 'source', 201, 'source');
    const tgt202 = await trained(store, a.id, 'target', 202, 'target:0');
    const tgt102 = await trained(store, a.id, 'target', 102, 'target:1');
    reuse(store, b.id, 'key-target-102');

    // The old failure: all three went with A.
    const plan = (await service.request('experiments.deletePlan', { id: a.id })) as DeletionPlan;
    assert.deepEqual(plan.paramSets.map((p) => p.id).sort(), [src201, tgt202, tgt102].sort());
    const p102 = plan.paramSets.find((p) => p.id === tgt102)!;
    assert.equal(p102.deletable, false);
    assert.deepEqual(
      p102.usedBy.map((u) => [u.name, u.role]),
      [['B', 'target']],
    );
    assert.ok(plan.paramSets.every((p) => p.bytes > 0 && (p.id === tgt102 || p.freesBytes === p.bytes)));

    // The dialog says exactly what goes and what stays, with sizes.
    const words = describeDeletion(plan);
    assert.match(words.message, /“A” goes with its/);
    assert.ok(
      words.details.some((l) => /^Stays: target seed 102 \(trained\) \(\d+\.\d KB\), used by “B”/.test(l)),
    );
    assert.match(words.choice ?? '', /Also delete these 2 parameter sets \(frees \d/);
    assert.deepEqual(words.deletable.sort(), [src201, tgt202].sort());

    // A plain delete (what the dialog sends unticked) keeps them all.
    const r = (await service.request('experiments.delete', { id: b.id })) as { deleted: boolean };
    assert.equal(r.deleted, true);
    const c = store.createExperiment({ spec, name: 'C' });
    reuse(store, c.id, 'key-target-102');
    assert.deepEqual((await service.request('experiments.delete', { id: a.id })) as unknown, {
      deleted: true,
      paramSetsDeleted: [],
      bytesFreed: 0,
    });
    for (const id of [src201, tgt202, tgt102]) assert.ok(store.getParamSet(id), `${id} stays`);
    assert.equal(store.getParamSet(tgt102)?.experimentId, null);
    assert.deepEqual(store.integrityCheck(), ['ok']);
  } finally {
    await service.close();
    await data.cleanup();
  }
});

test('named parameter sets go with the experiment only when no other experiment used them', async () => {
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  try {
    const spec = parseSpec(tinySpec());
    const a = store.createExperiment({ spec, name: 'A' });
    const b = store.createExperiment({ spec, name: 'B' });
    const src = await trained(store, a.id, 'source', 201, 'source');
    const shared = await trained(store, a.id, 'target', 102, 'target:0');
    reuse(store, b.id, 'key-target-102');
    store.updateExperiment(b.id, { sourceParamSetId: src });

    // Naming one B uses refuses the whole deletion.
    assert.throws(
      () => store.deleteExperiment(a.id, [shared]),
      /also used by "B" \(target\); nothing was deleted/,
    );
    assert.throws(() => store.deleteExperiment(a.id, [src]), /also used by "B" \(source\)/);
    assert.throws(
      () => store.deleteExperiment(a.id, ['zzzzzzzzzzzzzzzz']),
      /not one experiment .* produced or used/,
    );
    assert.ok(store.hasExperiment(a.id));

    store.updateExperiment(b.id, { sourceParamSetId: null });
    store.deleteExperiment(b.id);
    // B is gone, so its uses went with it: now A's sets are A's alone.
    const plan = store.deletePlan(a.id)!;
    assert.ok(plan.paramSets.every((p) => p.deletable));
    const sha = store.getParamSet(shared)!.sha256;
    const old = new Date(Date.now() - 3600_000);
    await utimes(store.weightsPath(sha), old, old);
    await utimes(store.weightsPath(store.getParamSet(src)!.sha256), old, old);
    const r = await store.deleteExperimentAndWeights(a.id, [src, shared]);
    assert.deepEqual(r.paramSetsDeleted.sort(), [src, shared].sort());
    assert.equal(
      r.bytesFreed,
      plan.paramSets.reduce((s, p) => s + p.freesBytes, 0),
    );
    assert.equal(await store.hasWeights(sha), false, 'the file is removed at once');
    assert.equal(store.counts().paramSets, 0);
    assert.deepEqual(store.integrityCheck(), ['ok']);
  } finally {
    store.close();
    await data.cleanup();
  }
});

test('migration 004 backfills uses from producers and sources', async () => {
  const data = await tempDir();
  const db = new Database(join(data.dir, 'lab.db'));
  migrate(db, MIGRATIONS.slice(0, 3));
  const at = '2025-01-01T00:00:00.000Z';
  const sha = 'a'.repeat(64);
  db.exec(`INSERT INTO experiments (id, name, spec, created_at, origin, dataset, arch, methods, targets, t_steps)
    VALUES ('exp_a', 'A', '{}', '${at}', 'lab', 'd', 'a', '[]', 1, 3), ('exp_b', 'B', '{}', '${at}', 'lab', 'd', 'a', '[]', 1, 3);
    INSERT INTO param_sets (id, name, arch, input_shape, classes, origin, sha256, bytes, points, experiment_id, created_at)
    VALUES ('ps_src', 'source seed 1 (trained)', '{}', '[]', 10, 'trained', '${sha}', 1, 2, 'exp_a', '${at}'),
           ('ps_tgt', 'target seed 2 (trained)', '{}', '[]', 10, 'trained', '${sha}', 1, 2, 'exp_a', '${at}');
    UPDATE experiments SET source_param_set_id = 'ps_src' WHERE id = 'exp_b';`);
  db.close();
  const store = LabStore.open(data.dir);
  try {
    assert.deepEqual(store.paramSetUses('ps_src'), [
      { experimentId: 'exp_a', name: 'A', role: 'source' },
      { experimentId: 'exp_b', name: 'B', role: 'source' },
    ]);
    assert.deepEqual(store.paramSetUses('ps_tgt'), [{ experimentId: 'exp_a', name: 'A', role: 'target' }]);
    assert.equal(store.deletePlan('exp_a')!.paramSets.find((p) => p.id === 'ps_src')!.deletable, false);
  } finally {
    store.close();
    await data.cleanup();
  }
});
