/**
 * Issue 8, items 2, 5 and 6: one request must not freeze the server (thousands of targets,
 * a 10,000-run bundle), absurd specs are refused naming the field and the estimate (a soft limit
 * can be accepted knowingly), and huge strings are bounded with short echoes.
 */
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSpec, SpecError } from '../../src/shared/domain/index.js';
import { exportBundle } from '../../src/services/bundles/export.js';
import { importBundle } from '../../src/services/bundles/import.js';
import { createLabService, type LabService } from '../../src/services/lab-service.js';
import type { WorkerExit, WorkerLauncher } from '../../src/services/jobs/worker-process.js';
import { LabStore } from '../../src/services/store/index.js';
import { estimateResources, LIMITS } from '../../src/shared/domain/resource-estimate.js';
import { LabRequestError } from '../../src/shared/lab-api.js';
import { tempDir, tinySpec } from '../helpers/lab.js';

/** A worker that starts and waits, doing nothing, until it is killed. */
const idleLauncher: WorkerLauncher = () => {
  let exit: ((e: WorkerExit) => void) | null = null;
  return {
    pid: null,
    send: () => undefined,
    onMessage: () => undefined,
    onExit: (l) => void (exit = l),
    stderrTail: () => '',
    kill: () => setImmediate(() => exit?.({ code: null, signal: 'SIGTERM' })),
  };
};

function labOn(store: LabStore): LabService {
  return createLabService({ store, host: 'headless', appVersion: 'test', launcher: idleLauncher });
}

/** Runs `work` while another client asks app.info every 5 ms; the slowest answer, in ms. */
async function worstLatency(service: LabService, work: () => Promise<unknown>): Promise<number> {
  let worst = 0;
  let stop = false;
  const pinger = (async () => {
    while (!stop) {
      // Measured from when the ping was due: a blocked event loop delays the timer itself.
      const due = performance.now() + 5;
      await new Promise((r) => setTimeout(r, 5));
      await service.request('app.info', {});
      worst = Math.max(worst, performance.now() - due);
    }
  })();
  // Let the pinger start so the measurement covers the whole request.
  await new Promise((r) => setTimeout(r, 20));
  try {
    await work();
  } finally {
    stop = true;
    await pinger;
  }
  return worst;
}

function refusal(e: unknown): { code: string; message: string; field?: string } {
  assert.ok(e instanceof LabRequestError, `a LabRequestError, got ${String(e)}`);
  return e.error;
}

test('creating and deleting an experiment of 1000 targets keeps other clients answered', async () => {
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  const service = labOn(store);
  try {
    const spec = tinySpec({ targets: LIMITS.maxTargets, methods: ['naive', 'oracle', 'gmt', 'fgmt'] });
    let id = '';
    const t0 = performance.now();
    const createLatency = await worstLatency(service, async () => {
      id = (
        (await service.request('experiments.create', { spec, name: 'many', allowLarge: true })) as {
          id: string;
        }
      ).id;
    });
    const createMs = performance.now() - t0;
    assert.equal(store.listRuns(id).length, 1 + LIMITS.maxTargets * 5);
    assert.equal(store.getExperimentSummary(id)?.status, 'queued');
    const t1 = performance.now();
    const deleteLatency = await worstLatency(service, () => service.request('experiments.delete', { id }));
    const deleteMs = performance.now() - t1;
    process.stdout.write(
      `# ${LIMITS.maxTargets} targets: create ${createMs.toFixed(0)} ms, delete ${deleteMs.toFixed(0)} ms; app.info worst ${createLatency.toFixed(0)} / ${deleteLatency.toFixed(0)} ms\n`,
    );
    // Before: 43.6 s / 85.6 s for 2,000 targets, every other request waiting all along. The bound
    // is 20× what this takes on a loaded 2-core machine: it catches a freeze, not a slow machine.
    assert.ok(createLatency < 2000, `app.info waited ${createLatency} ms during create`);
    assert.ok(deleteLatency < 2000, `app.info waited ${deleteLatency} ms during delete`);
    assert.equal(store.counts().runs, 0);
    assert.deepEqual(store.integrityCheck(), ['ok']);

    // More targets than an experiment takes: refused at once, naming the field.
    const e = refusal(
      await service
        .request('experiments.create', {
          spec: tinySpec({ targets: LIMITS.maxTargets + 1 }),
          name: 'too many',
          allowLarge: true,
        })
        .catch((x) => x),
    );
    assert.equal(e.field, 'spec.targets');
    assert.match(e.message, /1001 targets; an experiment takes at most 1000/);
  } finally {
    await service.close();
    await data.cleanup();
  }
});

test('the roll-up stays what it was: status, seconds, backend, best by method', async () => {
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  try {
    const spec = parseSpec(tinySpec({ targets: 2, methods: ['naive', 'gmt'] }));
    const e = store.createExperiment({ spec, name: 'r' });
    const runs = store.planRuns(e.id, spec);
    assert.equal(store.getExperimentSummary(e.id)?.status, 'queued');
    const transfer = runs.filter((r) => r.kind === 'transfer');
    const val = (best: number) => ({
      method: 'gmt',
      valAccuracy: [0.1, best],
      valLoss: [1, 1],
      testAccuracy: 0.5,
      bestStep: 1,
      testAccuracyAtBest: 0.5,
      seconds: 1,
      phases: {},
      gradientEvaluations: 0,
    });
    store.updateRun(runs[0].id, {
      status: 'running',
      startedAt: '2025-01-01T00:00:00.000Z',
      backend: 'wasm',
    });
    assert.equal(store.getExperimentSummary(e.id)?.status, 'running');
    store.updateRun(runs[0].id, { status: 'done', seconds: 2.5 });
    for (const [i, r] of transfer.entries())
      store.updateRun(r.id, {
        status: 'done',
        seconds: 1,
        summary: val(0.5 + i / 10) as never,
        startedAt: `2025-01-01T00:00:0${i + 1}.000Z`,
        backend: i === transfer.length - 1 ? 'cpu' : 'wasm',
      });
    const s = store.getExperimentSummary(e.id)!;
    assert.equal(s.status, 'done');
    assert.equal(s.seconds, 2.5 + transfer.length);
    assert.equal(s.backend, 'cpu');
    // naive runs are transfer[0] (target 0) and transfer[2] (target 1)
    assert.ok(
      Math.abs(s.bestByMethod.naive - 0.6) < 1e-12 && Math.abs(s.bestByMethod.gmt - 0.7) < 1e-12,
      JSON.stringify(s.bestByMethod),
    );
    store.updateRun(transfer[3].id, { status: 'failed' });
    assert.equal(store.getExperimentSummary(e.id)?.status, 'failed');
    store.setRunsStatus(e.id, ['failed'], 'interrupted');
    assert.equal(store.getExperimentSummary(e.id)?.status, 'interrupted');
  } finally {
    store.close();
    await data.cleanup();
  }
});

test('a bundle of 10,000 runs imports in chunks: others stay answered; until it ends, or after a crash, none of it shows', async () => {
  const a = await tempDir();
  const b = await tempDir();
  const crashed = await tempDir();
  const from = LabStore.open(a.dir);
  const to = LabStore.open(b.dir);
  const service = labOn(to);
  try {
    const spec = parseSpec(tinySpec({ targets: 2000, methods: ['naive', 'oracle', 'gmt', 'fgmt'] }));
    const e = from.createExperiment({ spec, name: 'big' });
    await from.planRunsInChunks(e.id, spec);
    assert.equal(from.listRuns(e.id).length, 10_001);
    const zip = await exportBundle(from, [e.id]);

    // Half-way through, between two of the import's transactions, the store is looked at as other
    // clients see it, and its files are copied: the copy is what a crash at that moment would leave.
    let midway: { runs: number; visible: boolean; listed: number } | null = null;
    let importing = true;
    const watcher = (async () => {
      while (importing && !midway) {
        await new Promise((r) => setTimeout(r, 10));
        const runs = to.counts().runs;
        if (runs < 2500 || runs >= 10_001) continue;
        midway = { runs, visible: to.hasExperiment(e.id), listed: to.listExperiments().total };
        for (const f of ['lab.db', 'lab.db-wal'])
          if (existsSync(join(b.dir, f))) copyFileSync(join(b.dir, f), join(crashed.dir, f));
        cpSync(join(b.dir, 'import-staging'), join(crashed.dir, 'import-staging'), { recursive: true });
      }
    })();
    const t0 = performance.now();
    const worst = await worstLatency(service, async () => {
      try {
        await service.request('bundles.import', { data: zip.toString('base64') });
      } finally {
        importing = false;
      }
    });
    const ms = performance.now() - t0;
    await watcher;
    process.stdout.write(
      `# import of 10,001 runs: ${ms.toFixed(0)} ms, app.info worst ${worst.toFixed(0)} ms (load ${loadavg()[0].toFixed(2)})\n`,
    );
    assert.equal(to.listRuns(e.id).length, 10_001);
    assert.equal(to.getExperimentSummary(e.id)?.status, 'interrupted');
    // Before: one transaction, 2.9–5.7 s with every other request waiting. Now each transaction
    // writes 250 runs; the worst waits measured here were 0.13–0.39 s with the 2 cores under a load
    // of 12–15 (other work), where the 1000-target create above waited 0.39–0.73 s: 1 s catches a
    // freeze with room for a busy CI machine.
    assert.ok(worst < 1000, `app.info waited ${worst.toFixed(0)} ms during the import`);
    // The same bundle again adds nothing.
    const again = await importBundle(to, zip);
    assert.equal(again.added.runs, 0);

    assert.ok(midway, 'the import was seen half-way');
    const seen = midway as { runs: number; visible: boolean; listed: number };
    assert.deepEqual([seen.visible, seen.listed], [false, 0], `hidden with ${seen.runs} runs written`);
    // The crashed copy starts as a lab does: the half-imported experiment and its files are gone.
    const after = LabStore.open(crashed.dir);
    assert.equal(after.counts().runs, seen.runs, 'the copy holds the half-written import');
    const restarted = labOn(after);
    try {
      assert.deepEqual([after.counts().experiments, after.counts().runs], [0, 0]);
      assert.equal(existsSync(join(crashed.dir, 'import-staging')), false);
      assert.deepEqual(after.integrityCheck(), ['ok']);
      // …and the bundle imports there in full.
      assert.equal((await importBundle(after, zip)).added.runs, 10_001);
    } finally {
      await restarted.close();
    }
  } finally {
    from.close();
    await service.close();
    await a.cleanup();
    await b.cleanup();
    await crashed.cleanup();
  }
});

test('absurd specs are refused naming the field and the estimate; soft limits can be accepted', async () => {
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  const service = labOn(store);
  const create = (spec: unknown, allowLarge = false) =>
    service.request('experiments.create', { spec, name: 'x', allowLarge }).then(
      () => null,
      (x) => refusal(x),
    );
  try {
    const huge = await create(tinySpec({ hidden: [65536, 65536, 65536] }), true);
    assert.equal(huge?.field, 'spec.model.hidden[1]');
    assert.match(huge!.message, /one array of 17 GB/);
    assert.match(huge!.message, /8\.6 G parameters/);

    const cnn = {
      ...tinySpec(),
      model: {
        arch: 'cnn',
        layers: [{ type: 'conv', filters: 8192 }, { type: 'conv', filters: 8192 }, { type: 'flatten' }],
      },
    };
    const conv = await create(cnn, true);
    assert.match(conv!.field!, /^spec\.model\.layers\[\d\]\.filters$/);
    assert.match(conv!.message, /activations|parameters/);

    const deep = await create(tinySpec({ hidden: Array(1000).fill(8) }));
    assert.equal(deep?.field, 'spec.model.hidden');
    assert.match(deep!.message, /1000 layers.*soft limit 64.*allowLarge: true/);
    assert.equal(await create(tinySpec({ hidden: Array(100).fill(8) }), true), null, 'accepted knowingly');

    const long = await create({
      ...tinySpec({ epochs: 10000, T: 1000, hidden: [1024] }),
      dataset: { format: 'idx', dir: '/data/fashion-mnist' },
      datasetOptions: {},
    });
    assert.equal(long?.field, 'spec.source.train.epochs', long?.message);
    assert.match(long!.message, /PFLOP of work/);
    assert.equal(long?.code, 'invalid');

    // The engine's own numbers for a small spec are in line: parameters exactly.
    const est = estimateResources(parseSpec(tinySpec()), { memoryBytes: 8e9 });
    assert.equal(est.parameters, 784 * 32 + 32 + 32 * 10 + 10);
    assert.deepEqual(est.findings, []);
  } finally {
    await service.close();
    await data.cleanup();
  }
});

test('huge names and labels are refused with a short echo', async () => {
  const big = 'x'.repeat(10 * 1024 * 1024);
  assert.throws(
    () => parseSpec({ ...tinySpec(), name: big }),
    (e: unknown) =>
      e instanceof SpecError &&
      e.field === 'name' &&
      e.message.length < 200 &&
      /at most 200 characters, got 10485760/.test(e.message),
  );
  assert.throws(
    () => parseSpec({ ...tinySpec(), targets: [{ init: { seed: 1, label: big } }] }),
    (e: unknown) => e instanceof SpecError && e.field === 'targets[0].init.label' && e.message.length < 200,
  );
  // A wrong value is echoed cut short.
  assert.throws(
    () => parseSpec({ ...tinySpec(), backend: big }),
    (e: unknown) =>
      e instanceof SpecError && e.message.length < 300 && /\(10485760 characters\)/.test(e.message),
  );
  assert.throws(
    () => parseSpec({ ...tinySpec(), [big]: 1 }),
    (e: unknown) => e instanceof SpecError && e.message.length < 400,
  );
});
