/**
 * The job system on real worker processes and a real database file: a tiny transfer runs in a
 * worker while its metrics reach the store and a subscriber; a worker killed with SIGKILL fails
 * its run (with its stderr tail) without harming the database or the next job; cancel.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MethodResult } from '../../src/shared/domain/index.js';
import type { LabEvent } from '../../src/shared/lab-api.js';
import { alive, isExperimentStatus, isRunUpdate, openTestLab, tinySpec, waitUntil } from '../helpers/lab.js';

test('a job runs a real transfer in a worker; metrics reach the store and a subscriber while it runs', async () => {
  const lab = await openTestLab();
  try {
    const { service, store, events } = lab;
    const { id } = (await service.request('experiments.create', {
      spec: tinySpec(),
      name: 'tiny',
      tags: ['t'],
    })) as { id: string };

    // The first metrics push arrives while the experiment is still running.
    const firstMetrics = await events.wait<Extract<LabEvent, { type: 'metrics' }>>(
      (e) => e.type === 'metrics' && e.experimentId === id,
      'live metrics',
    );
    assert.ok(firstMetrics.points.length > 0);
    const whileRunning = store.getExperimentSummary(id)!.status;
    assert.ok(
      ['running', 'queued'].includes(whileRunning),
      `status when the first metrics arrived: ${whileRunning}`,
    );
    // …and they are already in the database when pushed.
    const stored = store.metrics([id]);
    for (const p of firstMetrics.points)
      assert.ok(
        stored.some((s) => s.runId === p.runId && s.key === p.key && s.step === p.step),
        `point ${p.key}@${p.step} is stored`,
      );

    await events.wait(
      isExperimentStatus(id, 'done', 'failed', 'cancelled', 'interrupted'),
      'the experiment to end',
    );
    await service.queue.idle();
    const detail = store.getExperiment(id)!;
    assert.equal(detail.status, 'done', JSON.stringify(detail.runs.map((r) => [r.phase, r.status, r.error])));
    assert.deepEqual(
      detail.runs.map((r) => r.phase),
      ['source', 'transfer:0:naive', 'transfer:0:gmt'],
    );
    for (const r of detail.runs) {
      assert.equal(r.status, 'done');
      assert.ok(r.summary, `${r.phase} has a summary`);
      assert.ok(r.startedAt && r.finishedAt, `${r.phase} has times`);
      assert.ok(r.backend, `${r.phase} has a backend`);
    }
    for (const m of ['naive', 'gmt']) {
      const run = detail.runs.find((r) => r.method === m)!;
      const curve = store.metrics([id]).filter((p) => p.runId === run.id && p.key === 'valAccuracy');
      assert.deepEqual(
        curve.map((p) => p.step),
        [0, 1, 2, 3],
        `${m}: one validation point per step t = 0..T`,
      );
      const summary = run.summary as MethodResult;
      assert.equal(summary.valAccuracy.length, 4);
      assert.ok(
        Math.abs(curve[3]!.value - summary.valAccuracy[3]!) < 1e-9,
        `${m}: the stored curve ends where the result does`,
      );
      assert.equal(run.best, Math.max(...summary.valAccuracy));
    }
    // Every live metric point was stored, and nothing was stored that was not pushed.
    const pushed = events.of('metrics').flatMap((e) => e.points);
    assert.equal(pushed.length, store.metrics([id]).length);

    // The trained source became a parameter set with its file, linked as the experiment's source.
    const sets = store.listParamSets();
    assert.equal(sets.length, 1);
    assert.equal(sets[0]!.origin, 'trained');
    assert.equal(sets[0]!.points, 2);
    assert.deepEqual(sets[0]!.inputShape, [28, 28, 1]);
    assert.equal(sets[0]!.classes, 10);
    assert.equal(detail.sourceParamSetId, sets[0]!.id);
    assert.ok(await store.hasWeights(sets[0]!.sha256));

    // Progress came with an ETA once there was a pace to go by; the queue announced itself.
    const progress = events.of('progress').filter((e) => e.experimentId === id);
    assert.ok(progress.length > 0);
    assert.ok(
      progress.some((p) => p.etaSeconds !== null),
      'some progress events carry an ETA',
    );
    assert.ok(progress.every((p) => p.done <= p.total));
    assert.ok(
      events
        .of('jobs')
        .some((e) => e.jobs.some((j) => j.experimentId === id && j.state === 'running' && j.pid !== null)),
    );
    assert.ok(
      detail.log.some((l) => l.message.startsWith('backend:')),
      'the backend is logged',
    );
    assert.deepEqual(await service.request('jobs.list', {}), []);
  } finally {
    await lab.close();
  }
});

test('a worker killed with SIGKILL fails its run with its stderr tail; the database is intact and the next job completes', async () => {
  const lab = await openTestLab({ concurrency: 1 });
  try {
    const { service, store, events } = lab;
    const first = (
      (await service.request('experiments.create', {
        spec: tinySpec({ methods: ['naive', 'gmt', 'fgmt'], epochs: 2 }),
        name: 'victim',
      })) as { id: string }
    ).id;
    const second = (
      (await service.request('experiments.create', {
        spec: tinySpec({ methods: ['naive'], seed: 7 }),
        name: 'next',
      })) as { id: string }
    ).id;
    const jobs = (await service.request('jobs.list', {})) as { experimentId: string; state: string }[];
    assert.deepEqual(
      jobs.map((j) => [j.experimentId, j.state]),
      [
        [first, 'running'],
        [second, 'queued'],
      ],
    );

    // Kill it in the middle of training the source.
    await events.wait(
      (e) => e.type === 'progress' && e.experimentId === first && e.phase === 'source',
      'source training progress',
    );
    const pid = (
      (await service.request('jobs.list', {})) as { experimentId: string; pid: number | null }[]
    ).find((j) => j.experimentId === first)!.pid!;
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');

    await events.wait(isExperimentStatus(first, 'failed'), 'the killed experiment to fail', 30_000);
    const victim = store.getExperiment(first)!;
    const failed = victim.runs.find((r) => r.status === 'failed')!;
    assert.equal(failed.phase, 'source');
    assert.match(failed.error!, /killed by SIGKILL/);
    assert.match(failed.error!, /worker stderr/);
    assert.match(failed.error!, /phase source start/, 'the tail shows what the worker was doing');
    assert.ok(victim.runs.filter((r) => r !== failed).every((r) => r.status === 'cancelled'));
    assert.ok(!alive(pid));

    await events.wait(isExperimentStatus(second, 'done', 'failed'), 'the next job to finish');
    assert.equal(store.getExperimentSummary(second)!.status, 'done');
    assert.deepEqual(store.integrityCheck(), ['ok']);
  } finally {
    await lab.close();
  }
});

test('cancel stops a running worker and a queued job; their runs become cancelled', async () => {
  const lab = await openTestLab({ concurrency: 1, cancelGraceMs: 500 });
  try {
    const { service, store, events } = lab;
    const running = (
      (await service.request('experiments.create', { spec: tinySpec({ epochs: 3 }), name: 'running' })) as {
        id: string;
      }
    ).id;
    const queued = (
      (await service.request('experiments.create', { spec: tinySpec({ seed: 3 }), name: 'queued' })) as {
        id: string;
      }
    ).id;
    await events.wait(isRunUpdate(running, 'source', 'running'), 'the source to start');
    const pid = (
      (await service.request('jobs.list', {})) as { experimentId: string; pid: number | null }[]
    )[0]!.pid!;

    assert.deepEqual(await service.request('experiments.cancel', { id: queued }), { cancelled: true });
    assert.deepEqual(await service.request('experiments.cancel', { id: running }), { cancelled: true });
    await events.wait(isExperimentStatus(running, 'cancelled'), 'the running one to be cancelled', 15_000);
    await waitUntil(() => !alive(pid), 'the worker is gone', 5000);
    for (const id of [running, queued]) {
      const e = store.getExperiment(id)!;
      assert.equal(e.status, 'cancelled');
      assert.ok(
        e.runs.every((r) => r.status === 'cancelled'),
        JSON.stringify(e.runs.map((r) => r.status)),
      );
    }
    assert.deepEqual(await service.request('experiments.cancel', { id: running }), { cancelled: false });
    assert.deepEqual(await service.request('jobs.list', {}), []);
  } finally {
    await lab.close();
  }
});
