import * as tf from '@tensorflow/tfjs';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Params } from '../../src/core/params.js';
import type { MethodResult, TrainedSummary } from '../../src/shared/domain/index.js';
import { parseSpec, type ExperimentSpec } from '../../src/shared/domain/index.js';
import {
  LabStore,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  ParamSetInUseError,
} from '../../src/services/store/index.js';
import { migrate } from '../../src/services/store/migrations.js';
import type { MetricPoint } from '../../src/shared/lab-api.js';

const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tlab-store-'));
  dirs.push(dir);
  return dir;
}

async function openTemp(): Promise<LabStore> {
  return LabStore.open(await tempDir());
}

before(async () => {
  await tf.setBackend('cpu');
});

after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function makeSpec(
  over: { methods?: string[]; targets?: number; arch?: unknown; dataset?: unknown; T?: number } = {},
): ExperimentSpec {
  return parseSpec({
    dataset: over.dataset ?? { builtin: 'fashion-mnist-mini' },
    model: over.arch ?? { arch: 'mlp', hidden: [16] },
    source: { init: { seed: 1 }, train: { epochs: 1, batchSize: 16 } },
    targets: Array.from({ length: over.targets ?? 1 }, (_, i) => ({ init: { seed: 10 + i } })),
    transfer: { T: over.T ?? 3, methods: over.methods ?? ['naive', 'gmt'] },
  });
}

function methodResult(method: MethodResult['method'], val: number[], test: number): MethodResult {
  return {
    method,
    valAccuracy: val,
    valLoss: val.map((v) => 1 - v),
    testAccuracy: test,
    bestStep: val.indexOf(Math.max(...val)),
    testAccuracyAtBest: test,
    seconds: 1,
    phases: {},
    gradientEvaluations: 0,
  };
}

test('a new store migrates from empty to the latest schema with WAL, NORMAL sync and foreign keys', async () => {
  const dir = await tempDir();
  const store = LabStore.open(dir);
  assert.equal(store.schemaVersion, LATEST_SCHEMA_VERSION);
  assert.ok(LATEST_SCHEMA_VERSION >= 2);
  assert.deepEqual(store.integrityCheck(), ['ok']);
  store.close();

  const db = new Database(join(dir, 'lab.db'), { readonly: true });
  assert.equal(db.pragma('user_version', { simple: true }), LATEST_SCHEMA_VERSION);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  const rows = db.prepare('SELECT version, name FROM migrations ORDER BY version').all();
  assert.deepEqual(
    rows,
    MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
  );
  const tables = (
    db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all() as {
      name: string;
    }[]
  ).map((r) => r.name);
  for (const t of [
    'artifacts',
    'datasets',
    'experiments',
    'logs',
    'metrics',
    'migrations',
    'param_sets',
    'runs',
  ])
    assert.ok(tables.includes(t), `table ${t} exists`);
  db.close();

  // Reopening applies nothing twice, and a connection has the pragmas set.
  const again = LabStore.open(dir);
  const raw = (again as unknown as { db: Database.Database }).db;
  assert.equal(raw.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(raw.pragma('synchronous', { simple: true }), 1); // NORMAL
  assert.equal(
    (raw.prepare('SELECT COUNT(*) AS n FROM migrations').get() as { n: number }).n,
    MIGRATIONS.length,
  );
  again.close();
});

test('a version-1 database (fixture dump) migrates to the latest schema and keeps its data', async () => {
  const dir = await tempDir();
  const dump = await readFile(new URL('../fixtures/store-v1/dump.sql', import.meta.url), 'utf8');
  const v1 = new Database(join(dir, 'lab.db'));
  v1.exec(dump);
  assert.equal(v1.pragma('user_version', { simple: true }), 1);
  const before = {
    experiments: (v1.prepare('SELECT COUNT(*) AS n FROM experiments').get() as { n: number }).n,
    runs: (v1.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n,
    metrics: (v1.prepare('SELECT COUNT(*) AS n FROM metrics').get() as { n: number }).n,
    logs: (v1.prepare('SELECT COUNT(*) AS n FROM logs').get() as { n: number }).n,
    paramSets: (v1.prepare('SELECT COUNT(*) AS n FROM param_sets').get() as { n: number }).n,
    datasets: (v1.prepare('SELECT COUNT(*) AS n FROM datasets').get() as { n: number }).n,
  };
  v1.close();
  assert.ok(before.experiments >= 2 && before.metrics > 10, 'the fixture has rows');

  const store = LabStore.open(dir);
  assert.equal(store.schemaVersion, LATEST_SCHEMA_VERSION);
  assert.deepEqual(store.counts(), { ...before, artifacts: 0 });
  assert.deepEqual(store.integrityCheck(), ['ok']);

  const done = store.getExperiment('exp_v1_done_0001');
  assert.ok(done);
  assert.equal(done.name, 'mini mlp');
  assert.deepEqual(done.tags, ['baseline', 'v1']);
  assert.equal(done.notes, 'made by schema 1');
  assert.equal(done.status, 'done');
  assert.equal(done.sourceParamSetId, 'ps_v1_source_001');
  assert.deepEqual(done.spec.model, { arch: 'mlp', hidden: [32] });
  assert.equal(done.log.length, 2);
  // Migration 002 filled the cached columns from the summaries it found.
  const byPhase = Object.fromEntries(done.runs.map((r) => [r.phase, r]));
  assert.deepEqual(
    [byPhase['transfer:0:gmt'].best, byPhase['transfer:0:gmt'].final, byPhase['transfer:0:gmt'].test],
    [0.72, 0.72, 0.7],
  );
  assert.deepEqual(
    [byPhase['transfer:0:naive'].best, byPhase['transfer:0:naive'].final, byPhase['transfer:0:naive'].test],
    [0.5, 0.4, 0.41],
  );
  assert.deepEqual([byPhase.source.best, byPhase.source.final, byPhase.source.test], [0.8, 0.8, 0.79]);
  assert.deepEqual(done.bestByMethod, { naive: 0.5, gmt: 0.72 });
  assert.equal(done.seconds, 3.5 + 1.25 + 2.5);
  assert.equal(done.backend, 'wasm 4.22.0');

  const intr = store.getExperiment('exp_v1_intr_0002')!;
  assert.equal(intr.status, 'interrupted');
  assert.equal(intr.origin, 'cli');
  assert.deepEqual(
    intr.runs.map((r) => r.phase),
    ['source', 'target:0', 'transfer:0:oracle', 'transfer:0:fgmt'],
  );
  const nan = store.metrics(['exp_v1_intr_0002']);
  assert.equal(nan.length, 1);
  assert.ok(Number.isNaN(nan[0].value), 'a NULL metric reads back as NaN');

  const gmtCurve = store
    .metrics(['exp_v1_done_0001'], ['valAccuracy'])
    .filter((p) => p.runId === 'run_v1_gmt_00003');
  assert.deepEqual(
    gmtCurve.map((p) => p.value),
    [0.1, 0.4, 0.6, 0.7, 0.72],
  );
  assert.equal(store.getParamSet('ps_v1_source_001')?.trainingKey, 'key-v1-source');
  assert.equal(store.getDatasetByHash('hash-fmnist-mini')?.classNames.length, 10);

  // The migrated store works like a new one.
  const created = store.createExperiment({ spec: makeSpec(), name: 'after migration' });
  assert.equal(store.planRuns(created.id, created.spec).length, 3);
  store.close();

  const db = new Database(join(dir, 'lab.db'));
  assert.deepEqual(
    (db.prepare('SELECT name FROM migrations ORDER BY version').all() as { name: string }[]).map(
      (r) => r.name,
    ),
    MIGRATIONS.map((m) => m.name),
  );
  db.pragma('user_version = 99');
  db.close();
  assert.throws(() => LabStore.open(dir), /schema version 99.*newer app/);
});

test('experiments, runs, metrics and logs round-trip', async () => {
  const store = await openTemp();
  const spec = makeSpec({ methods: ['naive', 'oracle', 'gmt'], targets: 2 });
  const e = store.createExperiment({
    spec,
    name: 'round trip',
    tags: ['a', 'b', 'a'],
    notes: 'n',
    origin: 'cli',
  });
  assert.match(e.id, /^[A-Za-z0-9_-]{16}$/);
  assert.deepEqual(e.tags, ['a', 'b']);
  // Nothing planned yet: nothing would run it (migration 003); planning runs makes it queued.
  assert.equal(e.status, 'interrupted');
  assert.equal(e.dataset, 'fashion-mnist-mini');
  assert.equal(e.arch, 'MLP 16');
  assert.deepEqual(e.methods, ['naive', 'oracle', 'gmt']);
  assert.equal(e.targets, 2);
  assert.equal(e.T, 3);
  assert.deepEqual(e.spec, spec);

  const runs = store.planRuns(e.id, spec);
  assert.deepEqual(
    runs.map((r) => r.phase),
    [
      'source',
      'target:0',
      'transfer:0:naive',
      'transfer:0:oracle',
      'transfer:0:gmt',
      'target:1',
      'transfer:1:naive',
      'transfer:1:oracle',
      'transfer:1:gmt',
    ],
  );
  assert.deepEqual(
    runs.map((r) => r.label),
    ['seed 1', ...Array(4).fill('seed 10'), ...Array(4).fill('seed 11')],
  );
  assert.ok(runs.every((r) => r.status === 'queued'));
  assert.equal(store.getExperimentSummary(e.id)!.status, 'queued');
  assert.equal(runs[2].method, 'naive');
  assert.equal(runs[6].targetIndex, 1);
  assert.equal(runs[1].kind, 'target');
  // Planning again keeps the runs (and their ids).
  assert.deepEqual(
    store.planRuns(e.id, spec).map((r) => r.id),
    runs.map((r) => r.id),
  );

  const source = store.runByPhase(e.id, 'source')!;
  store.updateRun(source.id, {
    status: 'running',
    startedAt: '2025-02-01T10:00:00.000Z',
    backend: 'cpu 4.22.0',
  });
  assert.equal(store.getExperiment(e.id)!.status, 'running');
  const trained: TrainedSummary = {
    label: 'seed 1',
    valAccuracy: 0.6,
    valLoss: 1.1,
    testAccuracy: 0.58,
    seconds: 2,
  };
  const doneSource = store.updateRun(source.id, {
    status: 'done',
    finishedAt: '2025-02-01T10:00:02.000Z',
    seconds: 2,
    summary: trained,
  })!;
  assert.deepEqual([doneSource.best, doneSource.final, doneSource.test], [0.6, 0.6, 0.58]);
  assert.deepEqual(doneSource.summary, trained);

  const gmt0 = store.runByPhase(e.id, 'transfer:0:gmt')!;
  const result = methodResult('gmt', [0.1, 0.5, 0.7, 0.65], 0.63);
  const updated = store.updateRun(gmt0.id, { status: 'done', seconds: 3, summary: result })!;
  assert.deepEqual([updated.best, updated.final, updated.test], [0.7, 0.65, 0.63]);
  assert.deepEqual(updated.summary, result);
  store.updateRun(store.runByPhase(e.id, 'transfer:1:gmt')!.id, {
    status: 'done',
    summary: methodResult('gmt', [0.2, 0.5], 0.5),
  });
  assert.ok(
    Math.abs(store.getExperimentSummary(e.id)!.bestByMethod.gmt - 0.6) < 1e-12,
    "mean of the two targets' best",
  );
  assert.equal(store.getExperiment(e.id)!.status, 'queued');
  store.updateRun(store.runByPhase(e.id, 'target:0')!.id, { status: 'failed', error: 'boom' });
  store.setRunsStatus(e.id, ['queued'], 'cancelled');
  assert.equal(store.getExperiment(e.id)!.status, 'failed');
  assert.equal(store.getRun(store.runByPhase(e.id, 'target:0')!.id)!.error, 'boom');

  // metrics: one batch, read back ordered, filtered, NaN kept, rewritten steps replaced
  const points: MetricPoint[] = [];
  for (const r of runs.slice(0, 3)) {
    for (let step = 10; step >= 0; step--) {
      points.push({
        runId: r.id,
        key: 'valLoss',
        step,
        value: step === 5 ? Number.NaN : 1 / (step + 1),
        wallTime: 1_700_000_000_000 + step,
      });
      points.push({
        runId: r.id,
        key: 'valAccuracy',
        step,
        value: step / 10,
        wallTime: 1_700_000_000_000 + step,
      });
    }
  }
  assert.equal(store.appendMetrics(points), points.length);
  const all = store.metrics([e.id]);
  assert.equal(all.length, points.length);
  const sorted = [...points].sort((a, b) =>
    a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : a.step - b.step,
  );
  assert.deepEqual(
    all.map((p) => [p.runId, p.key, p.step]),
    sorted.map((p) => [p.runId, p.key, p.step]),
  );
  assert.ok(Number.isNaN(all.find((p) => p.key === 'valLoss' && p.step === 5)!.value));
  const acc = store.metrics([e.id], ['valAccuracy']);
  assert.equal(acc.length, points.length / 2);
  assert.ok(acc.every((p) => p.key === 'valAccuracy'));
  store.appendMetrics([{ runId: runs[0].id, key: 'valAccuracy', step: 3, value: 0.99, wallTime: 5 }]);
  const rewritten = store
    .metrics([e.id], ['valAccuracy'])
    .filter((p) => p.runId === runs[0].id && p.step === 3);
  assert.deepEqual(rewritten, [{ runId: runs[0].id, key: 'valAccuracy', step: 3, value: 0.99, wallTime: 5 }]);

  store.appendLog(e.id, 'info', 'first');
  store.appendLog(e.id, 'warn', 'second', '2025-02-01T10:00:03.000Z');
  store.appendLog(e.id, 'error', 'third');
  assert.deepEqual(
    store.getLog(e.id).map((l) => l.message),
    ['first', 'second', 'third'],
  );
  assert.deepEqual(
    store.getLog(e.id, 2).map((l) => l.message),
    ['second', 'third'],
  );
  assert.equal(store.getExperiment(e.id)!.log[1].level, 'warn');

  const renamed = store.updateExperiment(e.id, { name: 'renamed', tags: ['x'], notes: 'new notes' })!;
  assert.deepEqual([renamed.name, renamed.tags, renamed.notes], ['renamed', ['x'], 'new notes']);
  assert.equal(store.updateExperiment('nope', { name: 'x' }), null);
  assert.throws(() => store.planRuns('nope', spec), /experiment nope not found/);
  assert.throws(
    () => store.updateExperiment(e.id, { sourceParamSetId: 'missing' }),
    /parameter set missing not found/,
  );
  assert.throws(
    () => store.createExperiment({ spec: { ...spec, targets: [] }, name: 'bad' }),
    /spec field "targets"/,
  );

  // deleting cascades to runs, metrics and logs; trained sets stay unless named (issue 8, item 1)
  const other = store.createExperiment({ spec, name: 'other' });
  const sha = (await store.putWeights(Buffer.from('weights-1'))).sha256;
  const own = store.addParamSet({
    name: 'own',
    arch: spec.model,
    inputShape: [28, 28, 1],
    classes: 10,
    origin: 'trained',
    sha256: sha,
    bytes: 9,
    points: 2,
    experimentId: e.id,
  });
  const shared = store.addParamSet({
    name: 'shared',
    arch: spec.model,
    inputShape: [28, 28, 1],
    classes: 10,
    origin: 'trained',
    sha256: sha,
    bytes: 9,
    points: 2,
    experimentId: e.id,
  });
  store.updateExperiment(e.id, { sourceParamSetId: own.id });
  store.updateExperiment(other.id, { sourceParamSetId: shared.id });
  assert.throws(() => store.deleteExperiment(e.id, [shared.id]), /also used by "other"/);
  assert.equal(store.deleteExperiment(e.id, [own.id]), true);
  assert.equal(store.deleteExperiment(e.id), false);
  assert.equal(store.getExperiment(e.id), null);
  assert.equal(store.getParamSet(own.id), null);
  assert.equal(store.getParamSet(shared.id)?.experimentId, null);
  const c = store.counts();
  assert.deepEqual([c.experiments, c.runs, c.metrics, c.logs, c.paramSets], [1, 0, 0, 0, 1]);
  assert.deepEqual(await store.listWeightFiles(), [sha], 'the file stays for gcWeights');
  assert.deepEqual(store.integrityCheck(), ['ok']);
  store.close();
});

test('listExperiments searches, filters, sorts and pages', async () => {
  const store = await openTemp();
  const mk = (
    name: string,
    o: Parameters<typeof makeSpec>[0],
    tags: string[],
    notes: string,
    createdAt: string,
  ) => store.createExperiment({ spec: makeSpec(o), name, tags, notes, createdAt });
  const a = mk(
    'Alpha MLP baseline',
    { methods: ['naive', 'gmt'] },
    ['baseline'],
    'first try',
    '2025-01-01T00:00:00.000Z',
  );
  const b = mk(
    'beta conv',
    { arch: { arch: 'conv8', width: 4 }, methods: ['fgmt'] },
    ['conv', 'baseline'],
    '',
    '2025-01-02T00:00:00.000Z',
  );
  const c = mk(
    'Gamma on mnist',
    { dataset: { format: 'idx', dir: '/data/mnist-files', name: 'mnist' }, methods: ['oracle', 'gmt'] },
    [],
    'uses 100% of data_set',
    '2025-01-03T00:00:00.000Z',
  );
  const d = mk('delta', { methods: ['naive'] }, ['later'], '', '2025-01-04T00:00:00.000Z');
  for (const x of [a, b, c, d]) store.planRuns(x.id, x.spec);
  // a: done in 10 s, b: running, c: failed, d: queued
  for (const r of store.listRuns(a.id)) store.updateRun(r.id, { status: 'done', seconds: 5 });
  store.updateRun(store.runByPhase(b.id, 'source')!.id, { status: 'running' });
  store.updateRun(store.runByPhase(c.id, 'source')!.id, { status: 'failed', seconds: 1 });
  store.setRunsStatus(c.id, ['queued'], 'cancelled');

  const names = (q: Parameters<LabStore['listExperiments']>[0]) =>
    store.listExperiments(q).items.map((e) => e.name);
  assert.deepEqual(names({}), ['delta', 'Gamma on mnist', 'beta conv', 'Alpha MLP baseline']);
  assert.equal(store.listExperiments({}).total, 4);
  assert.deepEqual(
    names({ search: 'mlp' }),
    ['delta', 'Gamma on mnist', 'Alpha MLP baseline'],
    'name or arch "MLP 16"',
  );
  assert.deepEqual(names({ search: 'conv' }), ['beta conv']);
  assert.deepEqual(
    names({ search: 'mnist' }),
    ['delta', 'Gamma on mnist', 'beta conv', 'Alpha MLP baseline'],
    'fashion-mnist-mini matches too',
  );
  assert.deepEqual(names({ search: 'mnist gamma' }), ['Gamma on mnist'], 'every word must match');
  assert.deepEqual(names({ search: '100%' }), ['Gamma on mnist'], 'LIKE wildcards are literal');
  assert.deepEqual(names({ search: 'data_set' }), ['Gamma on mnist']);
  assert.deepEqual(names({ search: 'first try' }), ['Alpha MLP baseline'], 'notes');
  assert.deepEqual(names({ search: 'later' }), ['delta'], 'tags');
  assert.deepEqual(names({ search: c.id }), ['Gamma on mnist'], 'id');
  assert.deepEqual(names({ tags: ['baseline'] }), ['beta conv', 'Alpha MLP baseline']);
  assert.deepEqual(names({ tags: ['baseline', 'conv'] }), ['beta conv']);
  assert.deepEqual(names({ status: ['running', 'failed'] }), ['Gamma on mnist', 'beta conv']);
  assert.deepEqual(names({ status: ['done'] }), ['Alpha MLP baseline']);
  assert.deepEqual(names({ dataset: 'MNIST' }), ['Gamma on mnist']);
  assert.deepEqual(names({ arch: 'conv8' }), ['beta conv']);
  assert.deepEqual(names({ arch: 'mlp 16' }), ['delta', 'Gamma on mnist', 'Alpha MLP baseline']);
  assert.deepEqual(names({ method: 'gmt' }), ['Gamma on mnist', 'Alpha MLP baseline']);
  assert.deepEqual(names({ sort: 'name', order: 'asc' }), [
    'Alpha MLP baseline',
    'beta conv',
    'delta',
    'Gamma on mnist',
  ]);
  assert.deepEqual(names({ sort: 'status', order: 'asc' }), [
    'beta conv',
    'delta',
    'Gamma on mnist',
    'Alpha MLP baseline',
  ]);
  assert.deepEqual(
    names({ sort: 'seconds', order: 'desc' }),
    ['Alpha MLP baseline', 'Gamma on mnist', 'delta', 'beta conv'],
    'unknown seconds last',
  );
  assert.deepEqual(names({ sort: 'createdAt', order: 'asc', limit: 2, offset: 1 }), [
    'beta conv',
    'Gamma on mnist',
  ]);
  const page = store.listExperiments({ status: ['queued', 'running', 'failed'], limit: 1 });
  assert.deepEqual([page.items.length, page.total], [1, 3]);
  const alpha = store.listExperiments({ search: 'alpha' }).items[0];
  assert.deepEqual([alpha.status, alpha.seconds, alpha.methods], ['done', 15, ['naive', 'gmt']]);
  store.close();
});

test('listExperiments stays fast with 400 experiments × 21 runs', async () => {
  const store = await openTemp();
  const spec = makeSpec({ methods: ['naive', 'oracle', 'gmt', 'fgmt'], targets: 4 });
  const statuses = ['done', 'failed', 'cancelled', 'interrupted'] as const;
  store.transaction(() => {
    for (let i = 0; i < 400; i++) {
      const e = store.createExperiment({ spec, name: `exp ${i}`, tags: [i % 2 ? 'odd' : 'even'] });
      for (const [k, r] of store.planRuns(e.id, spec).entries()) {
        store.updateRun(r.id, {
          status: statuses[(i + k) % 4],
          seconds: 1,
          backend: 'wasm',
          summary:
            r.kind === 'transfer' ? methodResult(r.method as 'gmt', [0.1, 0.2 + (i % 7) / 10], 0.3) : null,
        });
      }
    }
  });
  assert.equal(store.counts().runs, 400 * 21);
  store.listExperiments({});
  const t0 = performance.now();
  const reps = 5;
  let res = store.listExperiments({});
  for (let i = 1; i < reps; i++)
    res = store.listExperiments({ search: 'exp 1', tags: ['odd'], sort: i % 2 ? 'status' : 'seconds' });
  const ms = (performance.now() - t0) / reps;
  res = store.listExperiments({ limit: 200 });
  assert.equal(res.total, 400);
  assert.equal(res.items.length, 200);
  assert.ok(Object.keys(res.items[0].bestByMethod).length === 4);
  const t1 = performance.now();
  store.getExperiment(res.items[0].id);
  const getMs = performance.now() - t1;
  console.log(
    `# listExperiments over 400 experiments / 8400 runs: ${ms.toFixed(1)} ms per page of 200; getExperiment ${getMs.toFixed(1)} ms`,
  );
  assert.ok(ms < 250, `listing took ${ms.toFixed(1)} ms`);
  store.close();
});

test('interruptOpenRuns turns every queued or running run into interrupted, in one pass', async () => {
  const store = await openTemp();
  const spec = makeSpec();
  const running = store.createExperiment({ spec, name: 'running' });
  const waiting = store.createExperiment({ spec, name: 'waiting' });
  const finished = store.createExperiment({ spec, name: 'finished' });
  const empty = store.createExperiment({ spec, name: 'no runs' });
  for (const e of [running, waiting, finished]) store.planRuns(e.id, spec);
  store.updateRun(store.runByPhase(running.id, 'source')!.id, { status: 'running' });
  store.setRunsStatus(finished.id, ['queued'], 'done');

  assert.deepEqual(store.interruptOpenRuns(), [running.id, waiting.id].sort());
  for (const e of [running, waiting]) {
    assert.ok(store.listRuns(e.id).every((r) => r.status === 'interrupted'));
    assert.equal(store.getExperimentSummary(e.id)!.status, 'interrupted');
  }
  assert.equal(store.getExperimentSummary(finished.id)!.status, 'done');
  assert.equal(
    store.getExperimentSummary(empty.id)!.status,
    'interrupted',
    'an experiment without runs is not queued',
  );
  assert.deepEqual(store.listExperiments({ status: ['queued', 'running'] }).total, 0);
  assert.deepEqual(store.interruptOpenRuns(), [], 'nothing left to mark');
  store.close();
});

test('migration 003: a version-2 experiment without runs (rolled up as queued) becomes interrupted, and stays so without runs', async () => {
  const dir = await tempDir();
  const v2 = new Database(join(dir, 'lab.db'));
  migrate(
    v2,
    MIGRATIONS.filter((m) => m.version <= 2),
  );
  const insert =
    v2.prepare(`INSERT INTO experiments (id, name, spec, created_at, origin, dataset, arch, methods, targets, t_steps)
    VALUES (?, ?, ?, '2025-01-01T00:00:00.000Z', 'import', 'fashion-mnist-mini', 'MLP 16', '["naive","gmt"]', 1, 3)`);
  insert.run('exp_norun_00001', 'imported without runs', JSON.stringify(makeSpec()));
  insert.run('exp_withruns_001', 'with runs', JSON.stringify(makeSpec()));
  v2.prepare(
    `INSERT INTO runs (id, experiment_id, ordinal, kind, phase, label, status) VALUES ('run_a_0000000001', 'exp_withruns_001', 0, 'source', 'source', 'seed 1', 'done')`,
  ).run();
  const statusOf = (db: Database.Database, id: string): string =>
    (db.prepare('SELECT status FROM experiments WHERE id = ?').get(id) as { status: string }).status;
  assert.equal(statusOf(v2, 'exp_norun_00001'), 'queued', 'what 002 made of it');
  v2.close();

  const store = LabStore.open(dir);
  assert.equal(store.getExperimentSummary('exp_norun_00001')!.status, 'interrupted');
  assert.equal(store.getExperimentSummary('exp_withruns_001')!.status, 'done');
  // The redefined roll-up still follows the runs, and falls back to interrupted when none are left.
  const raw = (store as unknown as { db: Database.Database }).db;
  raw.prepare(`UPDATE runs SET status = 'running' WHERE id = 'run_a_0000000001'`).run();
  assert.equal(store.getExperimentSummary('exp_withruns_001')!.status, 'running');
  raw.prepare(`DELETE FROM runs WHERE id = 'run_a_0000000001'`).run();
  assert.equal(store.getExperimentSummary('exp_withruns_001')!.status, 'interrupted');
  assert.deepEqual(store.integrityCheck(), ['ok']);
  store.close();
});

test('migration 006: runs may be pre-trainings; the rebuilt table keeps its rows, references, indexes and triggers', async () => {
  const dir = await tempDir();
  const v5 = new Database(join(dir, 'lab.db'));
  v5.pragma('foreign_keys = ON');
  migrate(
    v5,
    MIGRATIONS.filter((m) => m.version <= 5),
  );
  v5.prepare(
    `INSERT INTO experiments (id, name, spec, created_at, origin, dataset, arch, methods, targets, t_steps)
    VALUES ('exp_v5_000000001', 'v5', ?, '2025-01-01T00:00:00.000Z', 'lab', 'fashion-mnist-mini', 'MLP 16', '["naive"]', 1, 3)`,
  ).run(JSON.stringify(makeSpec({ methods: ['naive'] })));
  const run = v5.prepare(
    `INSERT INTO runs (id, experiment_id, ordinal, kind, phase, method, target_index, label, status, seconds, best_val)
    VALUES (?, 'exp_v5_000000001', ?, ?, ?, ?, ?, 'seed 1', 'done', ?, ?)`,
  );
  run.run('run_v5_source_001', 0, 'source', 'source', null, null, 2, null);
  run.run('run_v5_naive_0001', 1, 'transfer', 'transfer:0:naive', 'naive', 0, 1, 0.5);
  const metric = v5.prepare(
    `INSERT INTO metrics (run_id, key, step, value, wall_time) VALUES (?, 'valAccuracy', ?, ?, 0)`,
  );
  for (let step = 0; step < 4; step++) metric.run('run_v5_naive_0001', step, step / 10);
  v5.prepare(
    `INSERT INTO artifacts (id, experiment_id, run_id, kind, created_at) VALUES ('art_v5_00000001', 'exp_v5_000000001', 'run_v5_naive_0001', 'note', '2025-01-01T00:00:00.000Z')`,
  ).run();
  assert.throws(
    () => run.run('run_v5_pretrain_1', 2, 'pretrain', 'pretrain:source', null, null, 1, null),
    /CHECK constraint failed/,
    'version 5 knows three kinds',
  );
  const schema = (db: Database.Database) =>
    db
      .prepare(
        `SELECT type, name, tbl_name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`,
      )
      .all();
  const before = schema(v5);
  v5.close();

  const store = LabStore.open(dir);
  const db = (store as unknown as { db: Database.Database }).db;
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys are enforced again');
  assert.deepEqual(db.pragma('foreign_key_check'), []);
  assert.deepEqual(store.integrityCheck(), ['ok']);
  assert.deepEqual(schema(db), before, 'the same tables, indexes, triggers, on the same tables');
  const e = store.getExperiment('exp_v5_000000001')!;
  assert.deepEqual(
    e.runs.map((r) => [r.id, r.kind, r.status]),
    [
      ['run_v5_source_001', 'source', 'done'],
      ['run_v5_naive_0001', 'transfer', 'done'],
    ],
  );
  assert.equal(store.metrics(['exp_v5_000000001']).length, 4, 'metrics kept (no cascade on the rebuild)');
  assert.equal(store.listArtifacts('exp_v5_000000001').length, 1, 'artifacts kept');
  assert.equal(e.seconds, 3);
  assert.deepEqual(e.bestByMethod, { naive: 0.5 });

  // A pre-training run, planned and rolled up like any other.
  db.prepare(
    `INSERT INTO runs (id, experiment_id, ordinal, kind, phase, label, status, seconds) VALUES ('run_v6_pretrain_1', 'exp_v5_000000001', 2, 'pretrain', 'pretrain:source', 'seed 1', 'running', 4)`,
  ).run();
  const s = store.getExperimentSummary('exp_v5_000000001')!;
  assert.equal(s.status, 'running', 'the roll-up triggers follow the new row');
  assert.equal(s.seconds, 7);
  // The metrics still reference the rebuilt table: deleting a run takes its points.
  db.prepare(`DELETE FROM runs WHERE id = 'run_v5_naive_0001'`).run();
  assert.equal(store.metrics(['exp_v5_000000001']).length, 0);
  store.close();
});

test('parameter sets: weights stored once per content, refused deletion while used, gc of orphans', async () => {
  const store = await openTemp();
  const spec = makeSpec();
  const bytes = Buffer.from('pretend safetensors bytes');
  const w1 = await store.putWeights(bytes);
  const w2 = await store.putWeights(Buffer.from(bytes));
  assert.deepEqual(w1, w2);
  assert.equal(w1.bytes, bytes.length);
  assert.deepEqual(await store.listWeightFiles(), [w1.sha256]);
  assert.ok(
    (await readdir(join(store.dataDir, 'weights'))).every((n) => !n.startsWith('.tmp')),
    'no temp file left',
  );
  assert.deepEqual(await store.readWeights(w1.sha256), bytes);
  assert.equal(store.weightsPath(w1.sha256), join(store.dataDir, 'weights', `${w1.sha256}.safetensors`));

  const a = store.addParamSet({
    name: 'pretrained A',
    arch: spec.model,
    inputShape: [28, 28, 1],
    classes: 10,
    origin: 'pretrained',
    sha256: w1.sha256,
    bytes: w1.bytes,
    points: 1,
  });
  const b = store.addParamSet({
    name: 'trained B',
    arch: spec.model,
    inputShape: [28, 28, 1],
    classes: 10,
    origin: 'trained',
    trainingKey: 'k1',
    sha256: w1.sha256,
    bytes: w1.bytes,
    points: 2,
    valAccuracy: 0.5,
    seed: 3,
  });
  assert.deepEqual(store.getParamSet(a.id), a);
  assert.equal(store.listParamSets().length, 2);
  assert.equal(store.findTrainedByKey('k1')?.id, b.id);
  assert.equal(store.findTrainedByKey('k2'), null);
  assert.equal(store.findTrainedByKey('k1')?.seed, 3);
  assert.throws(() => store.addParamSet({ ...a, id: undefined, sha256: 'xyz' }), /not a hex sha256/);
  assert.throws(() => store.addParamSet({ ...a, id: undefined, arch: { arch: 'resnet' } as never }), /arch/);

  const e = store.createExperiment({ spec, name: 'uses A', sourceParamSetId: a.id });
  assert.throws(
    () => store.deleteParamSet(a.id),
    (err: unknown) =>
      err instanceof ParamSetInUseError &&
      /source of experiment .*delete it first/.test(err.message) &&
      err.code === 'conflict',
  );
  assert.ok(store.getParamSet(a.id), 'still there');
  assert.equal(store.deleteParamSet(b.id), true);
  store.deleteExperiment(e.id);
  assert.equal(store.deleteParamSet(a.id), true);
  assert.equal(store.deleteParamSet(a.id), false);

  const other = await store.putWeights(Buffer.from('other weights'));
  store.addParamSet({
    name: 'keeps other',
    arch: spec.model,
    inputShape: [28, 28, 1],
    classes: 10,
    origin: 'imported',
    sha256: other.sha256,
    bytes: other.bytes,
    points: 1,
  });
  assert.deepEqual((await store.gcWeights()).removed, [], 'fresh files are spared by the grace period');
  const gc = await store.gcWeights(0);
  assert.deepEqual(gc.removed, [w1.sha256]);
  assert.equal(gc.bytes, bytes.length);
  assert.deepEqual(await store.listWeightFiles(), [other.sha256]);
  await assert.rejects(store.readWeights(w1.sha256), /not in this lab's data folder/);
  store.close();
});

test('a damaged weights file is reported, not decoded', async () => {
  const store = await openTemp();
  const w = await store.putWeights(Buffer.from('good bytes'));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(store.weightsPath(w.sha256), 'bad bytes!');
  await assert.rejects(store.readWeights(w.sha256), /damaged/);
  store.close();
});

test('the trained cache saves and loads points and summary without leaking tensors', async () => {
  const store = await openTemp();
  const spec = makeSpec();
  const e = store.createExperiment({ spec, name: 'cache' });
  const cache = store.trainedCache({ spec, experimentId: e.id, inputShape: [28, 28, 1], datasetHash: 'dh' });
  const start = tf.memory().numTensors;
  const make = (s: number): Params => ({
    'fc1.kernel': tf.tensor([s, s + 1, s + 2, s + 3, s + 4, s + 5], [3, 2]),
    'fc1.bias': tf.tensor([s * 2, -s], [2]),
    'fc2.kernel': tf.tensor([0.5, 0.25, -1, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], [2, 10]),
    'fc2.bias': tf.zeros([10]),
  });
  const points = [make(1), make(2)];
  const summary: TrainedSummary = {
    label: 'seed 1',
    valAccuracy: 0.75,
    valLoss: 0.7,
    testAccuracy: 0.74,
    seconds: 1.5,
  };
  assert.equal(await cache.load('key-1'), null);
  await cache.save('key-1', 'source', points, summary);
  await cache.save('key-1', 'source', points, { ...summary, reused: true });
  assert.equal(store.listParamSets().length, 1, 'saving the same points again adds nothing');
  const ps = store.findTrainedByKey('key-1')!;
  assert.deepEqual(
    [
      ps.origin,
      ps.points,
      ps.classes,
      ps.valAccuracy,
      ps.testAccuracy,
      ps.datasetHash,
      ps.experimentId,
      ps.seed,
    ],
    ['trained', 2, 10, 0.75, 0.74, 'dh', e.id, 1],
  );
  assert.deepEqual(ps.inputShape, [28, 28, 1]);
  assert.equal(store.getExperiment(e.id)!.sourceParamSetId, ps.id);

  const loaded = await cache.load('key-1');
  assert.ok(loaded);
  assert.deepEqual(loaded.summary, summary);
  assert.equal(loaded.points.length, 2);
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(Object.keys(loaded.points[i]), Object.keys(points[i]));
    for (const k of Object.keys(points[i])) {
      assert.deepEqual(loaded.points[i][k].shape, points[i][k].shape);
      assert.deepEqual(
        Array.from(loaded.points[i][k].dataSync()),
        Array.from(points[i][k].dataSync()),
        `${k} of point ${i}`,
      );
    }
  }
  for (const p of [...points, ...loaded.points]) for (const t of Object.values(p)) t.dispose();
  assert.equal(tf.memory().numTensors, start, `leaked ${tf.memory().numTensors - start} tensors`);

  // A target's saved set is found by key too, and a second experiment links the source it reuses.
  const e2 = store.createExperiment({ spec, name: 'reuses' });
  const again = await store.trainedCache({ spec, experimentId: e2.id }).load('key-1');
  for (const p of again!.points) for (const t of Object.values(p)) t.dispose();
  assert.equal(store.getExperiment(e2.id)!.sourceParamSetId, ps.id);
  assert.equal(tf.memory().numTensors, start);
  store.close();
});

test('datasets register once per content hash, list, get and delete', async () => {
  const store = await openTemp();
  const d = store.addDataset({
    spec: { format: 'idx', dir: '/data/fashion' },
    contentHash: 'h1',
    inputShape: [28, 28, 1],
    classes: 10,
    classNames: ['a', 'b'],
    trainCount: 60000,
    testCount: 10000,
  });
  assert.equal(d.name, 'fashion');
  assert.deepEqual(d.spec, { format: 'idx', dir: '/data/fashion' });
  assert.deepEqual(
    store.addDataset({ spec: { format: 'idx', dir: '/elsewhere' }, contentHash: 'h1', name: 'copy' }),
    d,
  );
  const builtin = store.addDataset({ spec: { builtin: 'fashion-mnist-mini' }, contentHash: null });
  assert.equal(builtin.name, 'fashion-mnist-mini');
  assert.deepEqual(
    store.listDatasets().map((x) => x.id),
    [d.id, builtin.id],
    'by name',
  );
  assert.deepEqual(store.getDataset(d.id), d);
  assert.deepEqual(store.getDatasetByHash('h1'), d);
  assert.equal(store.deleteDataset(d.id), true);
  assert.equal(store.getDatasetByHash('h1'), null);
  assert.equal(store.deleteDataset(d.id), false);
  store.close();
});
