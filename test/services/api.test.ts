/**
 * The lab service's requests on a real store: validation before anything else, datasets,
 * parameter sets checked against their architecture, history edits, bundles between two labs,
 * and the CLI's `run --db` recording into the same store.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams } from '../../src/core/params.js';
import { encodeParams } from '../../src/core/params-io.js';
import type {
  DatasetPreview,
  DatasetRecord,
  ExperimentDetail,
  ImportReport,
  LabError,
  ParamSetRecord,
} from '../../src/shared/lab-api.js';
import { LabStore } from '../../src/services/store/index.js';
import { openTestLab, tempDir, tinySpec } from '../helpers/lab.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

async function refused(p: Promise<unknown>): Promise<LabError> {
  try {
    await p;
  } catch (e) {
    return (e as { error: LabError }).error;
  }
  assert.fail('the request should have been refused');
}

async function mlpFile(hidden: number, seed: number): Promise<string> {
  const model = buildModel({ arch: 'mlp', hidden: [hidden] }, [28, 28, 1], 10);
  const params = model.init(seed);
  const buf = await encodeParams(params, { seed: String(seed) });
  disposeParams(params);
  return buf.toString('base64');
}

test('requests with bad arguments are refused by validation, naming the field, before anything happens', async () => {
  const lab = await openTestLab();
  try {
    const cases: [string, unknown, string | undefined][] = [
      ['experiments.get', { id: '../etc' }, 'id'],
      ['experiments.get', {}, 'id'],
      ['experiments.list', { limit: 0 }, 'limit'],
      ['experiments.list', { sort: 'DROP TABLE' }, 'sort'],
      ['experiments.list', { status: ['weird'] }, 'status.0'],
      ['experiments.create', { spec: {}, name: '' }, 'name'],
      ['experiments.create', { spec: 'not an object', name: 'x' }, 'spec'],
      [
        'experiments.create',
        { spec: { ...tinySpec(), model: { arch: 'mlp', hidden: [] } }, name: 'x' },
        'spec.model.hidden',
      ],
      [
        'experiments.create',
        { spec: { ...tinySpec(), dataset: { format: 'idx', dir: 'relative/dir' } }, name: 'x' },
        'spec.dataset.dir',
      ],
      ['experiments.update', { id: 'abc', tags: [''] }, 'tags.0'],
      ['metrics.get', { experimentIds: [] }, 'experimentIds'],
      ['datasets.preview', { spec: { builtin: 'nope' } }, 'spec.builtin'],
      ['datasets.preview', { spec: { builtin: 'fashion-mnist-mini' }, perClass: 99 }, 'perClass'],
      [
        'params.import',
        {
          name: 'x',
          data: 'not base64!',
          arch: { arch: 'mlp', hidden: [4] },
          inputShape: [28, 28, 1],
          classes: 10,
        },
        'data',
      ],
      [
        'params.import',
        { name: 'x', data: '', arch: { arch: 'mlp', hidden: [4] }, inputShape: [28, 28], classes: 10 },
        'inputShape',
      ],
      ['bundles.export', { experimentIds: ['a'], includeWeights: 'yes' }, 'includeWeights'],
      ['no.such.request', {}, undefined],
    ];
    for (const [name, args, field] of cases) {
      const err = await refused(lab.service.request(name, args));
      assert.equal(err.code, 'invalid', `${name} ${JSON.stringify(args)}: ${err.message}`);
      assert.equal(err.field, field, `${name}: ${err.message}`);
    }
    assert.deepEqual(lab.store.counts(), {
      experiments: 0,
      runs: 0,
      metrics: 0,
      logs: 0,
      paramSets: 0,
      datasets: 0,
      artifacts: 0,
    });
  } finally {
    await lab.close();
  }
});

test('datasets: preview with base64 pixels, register once per content, delete', async () => {
  const lab = await openTestLab();
  try {
    const spec = { builtin: 'fashion-mnist-mini' };
    const p = (await lab.service.request('datasets.preview', { spec, perClass: 2 })) as DatasetPreview;
    assert.deepEqual(p.inputShape, [28, 28, 1]);
    assert.equal(p.classes, 10);
    assert.equal(p.samples.length, 20);
    assert.deepEqual(
      p.samples.map((s) => s.label),
      [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9],
    );
    for (const s of p.samples) assert.equal(Buffer.from(s.pixels, 'base64').length, 28 * 28);
    assert.equal(
      p.classCounts.reduce((a, b) => a + b, 0),
      p.trainCount,
    );

    const r1 = (await lab.service.request('datasets.register', { spec, name: 'mini' })) as DatasetRecord;
    const r2 = (await lab.service.request('datasets.register', { spec, name: 'again' })) as DatasetRecord;
    assert.equal(r2.id, r1.id, 'the same content is registered once');
    assert.equal(r1.contentHash, p.contentHash);
    assert.equal(((await lab.service.request('datasets.list', {})) as DatasetRecord[]).length, 1);

    const unreadable = await refused(
      lab.service.request('datasets.preview', { spec: { format: 'idx', dir: '/nonexistent/folder' } }),
    );
    assert.deepEqual([unreadable.code, unreadable.field], ['invalid', 'spec']);

    assert.deepEqual(await lab.service.request('datasets.delete', { id: r1.id }), { deleted: true });
    assert.equal((await refused(lab.service.request('datasets.delete', { id: r1.id }))).code, 'not-found');
  } finally {
    await lab.close();
  }
});

test('params: an import is checked against its architecture; check and delete', async () => {
  const lab = await openTestLab();
  const tensorsBefore = tf.memory().numTensors;
  try {
    const arch = { arch: 'mlp', hidden: [16] };
    const data = await mlpFile(16, 5);
    const set = (await lab.service.request('params.import', {
      name: 'mine',
      data,
      arch,
      inputShape: [28, 28, 1],
      classes: 10,
    })) as ParamSetRecord;
    assert.equal(set.origin, 'imported');
    assert.equal(set.seed, 5);
    assert.equal(set.points, 1);
    assert.deepEqual(set.inputShape, [28, 28, 1]);
    assert.ok(await lab.store.hasWeights(set.sha256));

    const wrong = await refused(
      lab.service.request('params.import', {
        name: 'wrong',
        data,
        arch: { arch: 'mlp', hidden: [32] },
        inputShape: [28, 28, 1],
        classes: 10,
      }),
    );
    assert.deepEqual([wrong.code, wrong.field], ['invalid', 'data']);
    assert.match(wrong.message, /MLP/);
    const garbage = await refused(
      lab.service.request('params.import', {
        name: 'g',
        data: Buffer.from('hello world, not safetensors').toString('base64'),
        arch,
        inputShape: [28, 28, 1],
        classes: 10,
      }),
    );
    assert.deepEqual([garbage.code, garbage.field], ['invalid', 'data']);
    const badArch = await refused(
      lab.service.request('params.import', {
        name: 'b',
        data,
        arch: { arch: 'resnet' },
        inputShape: [28, 28, 1],
        classes: 10,
      }),
    );
    assert.deepEqual([badArch.code, badArch.field], ['invalid', 'arch.arch']);

    assert.deepEqual(
      await lab.service.request('params.check', { id: set.id, arch, inputShape: [28, 28, 1], classes: 10 }),
      { fits: true, reason: null },
    );
    const misfit = (await lab.service.request('params.check', {
      id: set.id,
      arch,
      inputShape: [32, 32, 3],
      classes: 10,
    })) as { fits: boolean; reason: string };
    assert.equal(misfit.fits, false);
    assert.match(misfit.reason, /fc|kernel|needs/);
    assert.equal(((await lab.service.request('params.list', {})) as ParamSetRecord[]).length, 1);
    assert.deepEqual(await lab.service.request('params.delete', { id: set.id }), { deleted: true });
    assert.equal(
      (
        await refused(
          lab.service.request('params.check', { id: set.id, arch, inputShape: [28, 28, 1], classes: 10 }),
        )
      ).code,
      'not-found',
    );
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensors leaked by import/check');
  } finally {
    await lab.close();
  }
});

test('history edits and bundles: update, list, export from one lab and import into another', async () => {
  const a = await openTestLab();
  const b = await openTestLab();
  try {
    // Recorded experiments (as the CLI or an import would leave them), without running anything.
    const e = a.store.createExperiment({ spec: tinySpec(), name: 'first', origin: 'cli' });
    a.store.planRuns(e.id, e.spec);
    a.store.setRunsStatus(e.id, ['queued'], 'done');
    const updated = await a.service.request('experiments.update', {
      id: e.id,
      name: 'renamed',
      tags: ['x', 'y', 'x'],
      notes: 'n',
    });
    assert.deepEqual(
      [(updated as { name: string }).name, (updated as { tags: string[] }).tags],
      ['renamed', ['x', 'y']],
    );
    assert.ok(
      a.events
        .of('experiment.updated')
        .some((u) => u.experiment.id === e.id && u.experiment.name === 'renamed'),
    );
    const list = (await a.service.request('experiments.list', { tags: ['y'] })) as {
      items: { id: string }[];
      total: number;
    };
    assert.deepEqual([list.total, list.items[0]!.id], [1, e.id]);
    assert.equal((await refused(a.service.request('experiments.resume', { id: e.id }))).code, 'conflict');

    const bundle = (await a.service.request('bundles.export', { experimentIds: [e.id] })) as {
      fileName: string;
      data: string;
      bytes: number;
    };
    assert.match(bundle.fileName, /^trajectory-lab-renamed-.*\.zip$/);
    assert.equal(Buffer.from(bundle.data, 'base64').length, bundle.bytes);
    assert.equal(
      (await refused(a.service.request('bundles.export', { experimentIds: ['missing'] }))).code,
      'not-found',
    );

    const report = (await b.service.request('bundles.import', { data: bundle.data })) as ImportReport;
    assert.deepEqual(report.experimentIds, [e.id]);
    assert.equal(report.added.experiments, 1);
    const again = (await b.service.request('bundles.import', { data: bundle.data })) as ImportReport;
    assert.equal(again.added.experiments, 0, 'importing twice adds nothing');
    const imported = (await b.service.request('experiments.get', { id: e.id })) as ExperimentDetail;
    assert.equal(imported.name, 'renamed');
    assert.ok(b.events.of('experiment.updated').some((u) => u.experiment.id === e.id));

    assert.deepEqual(await a.service.request('experiments.delete', { id: e.id }), {
      deleted: true,
      paramSetsDeleted: [],
      bytesFreed: 0,
    });
    assert.ok(a.events.of('experiment.deleted').some((d) => d.id === e.id));
    assert.equal((await refused(a.service.request('experiments.get', { id: e.id }))).code, 'not-found');
  } finally {
    await a.close();
    await b.close();
  }
});

test('the CLI `run --db` records into the lab store and reuses its trained source', async () => {
  const data = await tempDir();
  try {
    const specPath = join(data.dir, 'tiny.json');
    await writeFile(specPath, JSON.stringify({ ...tinySpec({ methods: ['naive'] }), name: 'from the cli' }));
    const run = (): Promise<{ stdout: string }> =>
      promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          CLI,
          'run',
          specPath,
          '--out',
          join(data.dir, 'out'),
          '--db',
          join(data.dir, 'lab'),
        ],
        { timeout: 120_000 },
      );
    const first = await run();
    assert.match(first.stdout, /recorded as experiment/);
    const second = await run();
    assert.match(second.stdout, /recorded as experiment/);

    const store = LabStore.open(join(data.dir, 'lab'));
    try {
      const { items } = store.listExperiments({});
      assert.equal(items.length, 2);
      for (const s of items) {
        assert.equal(s.origin, 'cli');
        assert.equal(s.status, 'done');
        assert.equal(s.name, 'from the cli');
        const detail = store.getExperiment(s.id)!;
        assert.ok(
          detail.runs.every((r) => r.status === 'done' && r.summary),
          JSON.stringify(detail.runs.map((r) => [r.phase, r.status])),
        );
        assert.ok(store.metrics([s.id]).length > 0);
      }
      // The second run found the first one's trained source in the store.
      assert.equal(store.listParamSets().length, 1);
      const later = store.getExperiment(items[0]!.id)!;
      assert.ok(later.log.some((l) => /reusing trained parameters/.test(l.message)));
    } finally {
      store.close();
    }
  } finally {
    await data.cleanup();
  }
});
