/**
 * The run page's services (issue 12): the transferred parameters at any step, rebuilt in a worker
 * from the run's stored π_s, equal what the engine computes (θ2^T: the run's final parameters, bit
 * for bit) and are valid safetensors; they come over `serve`'s HTTP download (token required) and
 * through `downloads.save`. Parameter sets link to the experiments that made and used them, and
 * back. Source training records loss and accuracy per SGD step.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { loadDataset } from '../../src/core/data/load.js';
import {
  initialParams,
  sourceTrainSpec,
  sourceTrajectory,
  trainedOrCached,
} from '../../src/core/experiment.js';
import { transferredForEval, type TransferContext } from '../../src/core/methods/context.js';
import { METHODS, runMethod } from '../../src/core/methods/index.js';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams, type Params } from '../../src/core/params.js';
import { decodeParams } from '../../src/core/params-io.js';
import { decodePermSteps } from '../../src/core/perm-steps.js';
import { parseSpec, type ExperimentSpec } from '../../src/shared/domain/index.js';
import { createLabService } from '../../src/services/lab-service.js';
import { nodeWorkerLauncher } from '../../src/services/jobs/node-worker.js';
import { startHost, type RunningHost } from '../../src/services/host/server.js';
import type { ExperimentDetail, ParamSetListItem } from '../../src/shared/lab-api.js';
import { downloadPath } from '../../src/shared/download-paths.js';
import { isExperimentStatus, openTestLab, tinySpec, type TestLab } from '../helpers/lab.js';

const T = 3;
let lab: TestLab;
let host: RunningHost;
let spec: ExperimentSpec;
let first: ExperimentDetail;

async function runToEnd(specIn: Record<string, unknown>, name: string): Promise<ExperimentDetail> {
  const { id } = (await lab.service.request('experiments.create', { spec: specIn, name })) as { id: string };
  await lab.events.wait(isExperimentStatus(id, 'done', 'failed'), `${name} to finish`);
  const d = (await lab.service.request('experiments.get', { id })) as ExperimentDetail;
  assert.equal(d.status, 'done', JSON.stringify(d.log.slice(-5)));
  return d;
}

const runOf = (d: ExperimentDetail, method: string) => d.runs.find((r) => r.method === method)!;

before(async () => {
  lab = await openTestLab();
  const raw = tinySpec({ methods: ['naive', 'oracle', 'gmt'], epochs: 2, T });
  spec = parseSpec(raw);
  first = await runToEnd(raw, 'first');
  host = await startHost({ service: lab.service, rendererDir: lab.dataDir, token: 'tok-run-page' });
});
after(async () => {
  await host?.close();
  await lab?.close();
});

/** max |a − b| over every tensor; both must have the same names and shapes. */
function maxDiff(a: Params, b: Params): number {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  let m = 0;
  for (const k of Object.keys(a)) {
    assert.deepEqual(a[k]!.shape, b[k]!.shape, k);
    m = Math.max(
      m,
      tf.tidy(() => tf.max(tf.abs(tf.sub(a[k]!, b[k]!))).dataSync()[0]!),
    );
  }
  return m;
}

test('θ2^s downloaded at s = T is the run’s final transferred parameters, at every s what the engine computes', async () => {
  const gmt = runOf(first, 'gmt');
  const got = new Map<number, Params>();
  for (const step of [0, 1, T]) {
    const file = await lab.service.download('params-at', { runId: gmt.id, step: String(step) });
    assert.match(file.fileName, new RegExp(`^first\\.gmt\\.target1\\.step${step}\\.safetensors$`));
    // valid safetensors, read back by the engine's own reader
    const decoded = decodeParams(Buffer.from(file.bytes), file.fileName);
    assert.equal(decoded.metadata.step, String(step));
    assert.equal(decoded.metadata.method, 'gmt');
    assert.equal(decoded.metadata.trajectory, 'linear');
    got.set(step, decoded.params);
  }

  // The engine, in this process, from scratch: the same source training, θ2^0 and GMT run.
  await initBackend(spec.backend);
  const data = await loadDataset(spec.dataset, spec.datasetOptions);
  const model = buildModel(spec.model, data.inputShape, data.classes);
  const src = await trainedOrCached(
    model,
    data,
    spec,
    spec.source.init,
    sourceTrainSpec(spec),
    'source',
    'source',
    {},
  );
  const trajectory = sourceTrajectory(spec, src.points);
  const { params: theta20 } = await initialParams(model, spec.targets[0]!.init);
  const options = {
    batchSize: spec.transfer.batchSize,
    gradBatches: spec.transfer.gradBatches,
    seed: spec.transfer.seed,
    matchTolerance: spec.transfer.matchTolerance,
    matchMaxIter: spec.transfer.matchMaxIter,
    evalLimit: spec.evalLimit,
    bnBatches: spec.transfer.bnBatches,
  };
  const run = await runMethod(METHODS.gmt, { model, data, trajectory, theta20, options });
  try {
    // the stored permutations are the run's
    const stored = decodePermSteps(Buffer.from(lab.store.runPermutations(gmt.id)!, 'base64'));
    assert.deepEqual(
      stored.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, [...v]]))),
      run.perms.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, [...v]]))),
    );
    assert.equal(maxDiff(got.get(T)!, run.final), 0, 'θ2^T bit for bit');
    assert.equal(maxDiff(got.get(0)!, theta20), 0, 'θ2^0');
    const ctx = { model, data, trajectory, theta20, options, time: (_p: string, f: () => unknown) => f() };
    const at1 = transferredForEval(ctx as unknown as TransferContext, 1, run.perms[0]!);
    assert.equal(maxDiff(got.get(1)!, at1), 0, 'θ2^1');
    disposeParams(at1);
    assert.ok(maxDiff(got.get(1)!, got.get(T)!) > 0, 'different steps, different parameters');
  } finally {
    disposeParams(run.final);
    disposeParams(theta20);
    for (const p of src.points) disposeParams(p);
    for (const p of got.values()) disposeParams(p);
    data.dispose();
  }
});

test('serve: GET /api/download/params-at needs the token, names the file, and says what is wrong as JSON', async () => {
  const gmt = runOf(first, 'gmt');
  const base = `http://127.0.0.1:${host.port}`;
  const path = downloadPath('params-at', { runId: gmt.id, step: 2 });
  assert.equal((await fetch(base + path)).status, 401);
  const ok = await fetch(base + path, { headers: { authorization: 'token tok-run-page' } });
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.match(
    ok.headers.get('content-disposition')!,
    /attachment; filename="first\.gmt\.target1\.step2\.safetensors"/,
  );
  const bytes = Buffer.from(await ok.arrayBuffer());
  disposeParams(decodeParams(bytes, 'downloaded').params);

  const bad = async (args: Record<string, string | number>, status: number, field?: string) => {
    const r = await fetch(base + downloadPath('params-at', args), {
      headers: { authorization: 'token tok-run-page' },
    });
    assert.equal(r.status, status);
    const { error } = (await r.json()) as { error: { code: string; field?: string; message: string } };
    if (field) assert.equal(error.field, field, error.message);
    return error.message;
  };
  await bad({ runId: gmt.id, step: T + 1 }, 400, 'step');
  await bad({ runId: gmt.id, step: -1 }, 400, 'step');
  await bad({ runId: 'nope', step: 1 }, 404);
  const source = first.runs.find((r) => r.kind === 'source')!;
  assert.match(await bad({ runId: source.id, step: 1 }, 400, 'runId'), /not a method/);
});

test('downloads.save: the desktop’s save dialog gets the file; without one the lab says where to get it', async () => {
  const gmt = runOf(first, 'gmt');
  await assert.rejects(
    lab.service.request('downloads.save', { name: 'params-at', args: { runId: gmt.id, step: 1 } }),
    (e: { error: { code: string } }) => e.error.code === 'unavailable',
  );
  const saved: [string, number][] = [];
  const desktop = createLabService({
    store: lab.store,
    ownsStore: false,
    launcher: nodeWorkerLauncher(),
    host: 'electron',
    appVersion: 'test',
    saveFile: async (name, bytes) => {
      saved.push([name, bytes.byteLength]);
      return `/picked/${name}`;
    },
  });
  try {
    const r = (await desktop.request('downloads.save', {
      name: 'params-at',
      args: { runId: gmt.id, step: 1 },
    })) as { savedTo: string; fileName: string; bytes: number };
    assert.equal(r.savedTo, '/picked/first.gmt.target1.step1.safetensors');
    assert.deepEqual(saved, [[r.fileName, r.bytes]]);
  } finally {
    await desktop.close();
  }
});

test('parameter sets link to the experiments that made and used them; the run page links back', async () => {
  // the same source, another target: the source is reused, not trained again
  const raw = tinySpec({ methods: ['naive'], epochs: 2, T });
  (raw.targets as { init: object }[])[0] = { init: { seed: 777 } };
  const second = await runToEnd(raw, 'second');
  const list = (await lab.service.request('params.list', {})) as ParamSetListItem[];
  const source = list.find((p) => p.name.startsWith('source '))!;
  assert.deepEqual(source.madeBy, { experimentId: first.id, name: 'first' });
  assert.deepEqual(source.usedBy, [{ experimentId: second.id, name: 'second', role: 'source' }]);
  const target = list.find((p) => p.name.startsWith('target '))!;
  assert.equal(target.madeBy?.experimentId, first.id);
  assert.deepEqual(target.usedBy, []);

  const firstSets = (await lab.service.request('experiments.get', { id: first.id })) as ExperimentDetail;
  assert.deepEqual(
    firstSets.paramSets!.map((p) => [p.id, p.made, p.roles]).sort(),
    [
      [source.id, true, ['source']],
      [target.id, true, ['target']],
    ].sort(),
  );
  const secondSets = (await lab.service.request('experiments.get', { id: second.id })) as ExperimentDetail;
  assert.deepEqual(
    secondSets.paramSets!.map((p) => [p.id, p.made, p.roles]),
    [[source.id, false, ['source']]],
  );

  // a set named by a spec (init.paramSet) is used from the moment the experiment exists
  const third = (await lab.service.request('experiments.create', {
    spec: { ...raw, targets: [{ init: { paramSet: target.id } }] },
    name: 'third',
  })) as { id: string };
  const again = ((await lab.service.request('params.list', {})) as ParamSetListItem[]).find(
    (p) => p.id === target.id,
  )!;
  assert.deepEqual(again.usedBy, [{ experimentId: third.id, name: 'third', role: 'init' }]);
  await lab.events.wait(isExperimentStatus(third.id, 'done', 'failed'), 'third to finish');
});

test('training records loss and accuracy per SGD step, every step', () => {
  const source = first.runs.find((r) => r.kind === 'source')!;
  const points = lab.store.metrics([first.id]).filter((p) => p.runId === source.id);
  const of = (key: string) => points.filter((p) => p.key === key).sort((a, b) => a.step - b.step);
  const spe = of('stepsPerEpoch')[0]!.value;
  const loss = of('trainLoss');
  const acc = of('trainAccuracy');
  assert.equal(loss.length, spe * 2, 'two epochs, every step');
  assert.deepEqual(
    loss.map((p) => p.step),
    Array.from({ length: spe * 2 }, (_, i) => i + 1),
  );
  assert.equal(acc.length, loss.length);
  assert.ok(acc.every((p) => p.value >= 0 && p.value <= 1));
  assert.equal(of('trainStride').length, 0, 'nothing thinned');
  // measured as they happened (per step), not when a batch of them was reported
  assert.ok(new Set(loss.map((p) => p.wallTime)).size > 2);
});

test('a run whose source weights are gone is refused with the reason; nothing is trained behind the user’s back', async () => {
  const gmt = runOf(first, 'gmt');
  const sourceSet = lab.store.getParamSet(first.paramSets!.find((p) => p.roles.includes('source'))!.id)!;
  await rm(lab.store.weightsPath(sourceSet.sha256));
  await assert.rejects(
    lab.service.download('params-at', { runId: gmt.id, step: 1 }),
    (e: { error: { code: string; message: string } }) =>
      e.error.code === 'unavailable' && /no longer in the lab/.test(e.error.message),
  );
});
