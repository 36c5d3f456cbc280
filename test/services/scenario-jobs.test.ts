/**
 * The issue-11 scenarios through the lab service and its embedded queue: a spec whose endpoints
 * come from files and whose target starts from a stored parameter set runs as phase jobs with the
 * in-process engine's numbers (and a run from seeds' numbers, given the same endpoints); a
 * pre-trained spec records its pre-trainings as rows of the run table, reused on a rerun.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { runExperiment } from '../../src/core/experiment.js';
import { disposeParams } from '../../src/core/params.js';
import { decodePoints, encodeParams } from '../../src/core/params-io.js';
import { buildModel } from '../../src/core/models/index.js';
import { encodeTorchParams } from '../../src/core/torch-import.js';
import {
  parseSpec,
  runsWhole,
  type ExperimentResult,
  type MethodName,
  type TrainedSummary,
} from '../../src/shared/domain/index.js';
import type { ParamSetRecord } from '../../src/shared/lab-api.js';
import { isExperimentStatus, openTestLab, tempDir, tinySpec, type TestLab } from '../helpers/lab.js';

const methods: MethodName[] = ['naive', 'oracle', 'fgmt'];

async function runToEnd(lab: TestLab, spec: unknown, name: string): Promise<string> {
  const { id } = (await lab.service.request('experiments.create', { spec, name, tags: [] })) as {
    id: string;
  };
  await lab.events.wait(isExperimentStatus(id, 'done', 'failed', 'cancelled'), `${name} to end`, 200_000);
  await lab.service.queue.idle();
  const d = lab.store.getExperiment(id)!;
  assert.equal(d.status, 'done', JSON.stringify(d.runs.map((r) => [r.phase, r.status, r.error])));
  return id;
}

function resultOf(lab: TestLab, id: string): ExperimentResult {
  return lab.store.listArtifacts(id).find((x) => x.kind === 'result')!.meta as unknown as ExperimentResult;
}

/** The numbers two results must share to be the same run. */
function numbers(r: ExperimentResult): unknown {
  const t = r.targets[0]!;
  return {
    source: [r.source.valAccuracy, r.source.testAccuracy],
    initial: t.initial,
    trained: t.trained && [t.trained.valAccuracy, t.trained.testAccuracy],
    methods: methods.map((m) => {
      const x = t.methods[m]!;
      return [m, x.valAccuracy, x.valLoss, x.testAccuracy];
    }),
  };
}

test(
  'endpoints from files and a stored initialisation run as phase jobs with the engine’s numbers, and reproduce the run from seeds',
  { timeout: 300_000 },
  async () => {
    const lab = await openTestLab({ concurrency: 2 });
    const files = await tempDir('tlab-endpoints-');
    try {
      const { service, store } = lab;
      const seeds = tinySpec({ methods, T: 2 });
      const fromSeeds = resultOf(lab, await runToEnd(lab, seeds, 'from seeds'));

      // The endpoints that run trained, as files a PyTorch user would bring (θ^T in PyTorch's layout).
      const model = buildModel({ arch: 'mlp', hidden: [32] }, [28, 28, 1], 10);
      const trainedSet = (role: string): ParamSetRecord =>
        store.listParamSets().find((p) => p.name.startsWith(`${role} `) && p.origin === 'trained')!;
      const points = async (role: string) =>
        decodePoints(await readFile(store.weightsPath(trainedSet(role).sha256))).points;
      const [src0, srcT] = await points('source');
      const [tgt0, tgtT] = await points('target');
      const f = (n: string) => join(files.dir, n);
      await writeFile(f('source-final.safetensors'), await encodeTorchParams(model, srcT!));
      await writeFile(f('target-final.safetensors'), await encodeParams(tgtT!));
      // θ2^0 goes into the lab as a parameter set; the spec names it by id.
      const imported = (await service.request('params.import', {
        name: 'target init',
        data: Buffer.from(await encodeParams(tgt0!)).toString('base64'),
        origin: 'imported',
        arch: { arch: 'mlp', hidden: [32] },
        inputShape: [28, 28, 1],
        classes: 10,
      })) as ParamSetRecord;
      [src0!, srcT!, tgt0!, tgtT!].forEach(disposeParams);

      const fromFilesSpec = {
        ...seeds,
        source: { ...(seeds.source as object), trained: { file: f('source-final.safetensors') } },
        targets: [{ init: { paramSet: imported.id }, trained: { file: f('target-final.safetensors') } }],
      };
      assert.equal(runsWhole(parseSpec(fromFilesSpec)), false, 'no analyses, no pretrain: phase jobs');
      const id = await runToEnd(lab, fromFilesSpec, 'from files');
      const fromFiles = resultOf(lab, id);

      // Nothing was trained for it: the endpoints are the files'.
      assert.equal(fromFiles.source.fromFile, f('source-final.safetensors'));
      assert.equal(fromFiles.targets[0]!.trained!.fromFile, f('target-final.safetensors'));
      const runs = store.getExperiment(id)!.runs;
      const source = runs.find((r) => r.phase === 'source')!;
      assert.equal(source.status, 'done');
      assert.equal((source.summary as TrainedSummary).fromFile, f('source-final.safetensors'));
      assert.equal(
        store.listParamSets().filter((p) => p.origin === 'trained').length,
        2,
        'no new trained parameter sets',
      );

      // The same endpoints give the run from seeds' numbers …
      assert.deepEqual(numbers(fromFiles), numbers(fromSeeds));
      // … and the in-process engine's, given the same parameter set.
      await initBackend('auto');
      const before = tf.memory().numTensors;
      const whole = await runExperiment(parseSpec(fromFilesSpec), {
        resolveParamSet: async (psId) => store.weightsPath(store.getParamSet(psId)!.sha256),
      });
      assert.equal(tf.memory().numTensors, before, 'the engine run leaks no tensors');
      assert.deepEqual(numbers(fromFiles), numbers(whole));
    } finally {
      await lab.close();
      await files.cleanup();
    }
  },
);

test(
  'a pre-trained spec records each pre-training as a run: dataset task accuracy, time, and reused on a rerun',
  { timeout: 300_000 },
  async () => {
    const lab = await openTestLab({ concurrency: 2 });
    try {
      const { service, store } = lab;
      const spec = {
        ...tinySpec({ methods: ['naive', 'fgmt'], T: 2 }),
        dataset: { builtin: 'fashion-mnist-mini', classes: 'upper-half' },
        pretrain: { classes: 'lower-half', train: { epochs: 1, batchSize: 100, lr: 0.05, momentum: 0.9 } },
      };
      const id = await runToEnd(lab, spec, 'pretrained');
      const d = store.getExperiment(id)!;
      assert.deepEqual(
        d.runs.slice(0, 3).map((r) => [r.phase, r.kind, r.targetIndex, r.label]),
        [
          ['pretrain:source', 'pretrain', null, 'seed 1'],
          ['pretrain:0', 'pretrain', 0, 'seed 101'],
          ['source', 'source', null, 'seed 1'],
        ],
      );
      const result = resultOf(lab, id);
      for (const [phase, want] of [
        ['pretrain:source', result.pretrain!.source],
        ['pretrain:0', result.pretrain!.targets[0]!],
      ] as const) {
        const run = d.runs.find((r) => r.phase === phase)!;
        assert.equal(run.status, 'done', phase);
        assert.ok(run.seconds! > 0, `${phase} took time`);
        assert.ok(run.startedAt && run.finishedAt && run.backend, `${phase} has its times and backend`);
        const summary = run.summary as TrainedSummary;
        assert.equal(summary.valAccuracy, want.valAccuracy, `${phase}: accuracy on the pre-training classes`);
        assert.ok(summary.valAccuracy > 0.5, `${phase} learns classes 0–4 (${summary.valAccuracy})`);
        assert.equal(run.final, summary.valAccuracy);
        assert.equal(run.test, summary.testAccuracy);
        const curve = store.metrics([id], ['valAccuracy']).filter((p) => p.runId === run.id);
        assert.deepEqual(
          curve.map((p) => p.step),
          [1],
          `${phase}: its validation curve is stored`,
        );
      }

      // The pre-trained models are stored, named for whose start they are.
      assert.deepEqual(
        store
          .listParamSets()
          .map((p) => p.name)
          .filter((n) => n.startsWith('pre-trained'))
          .sort(),
        ['pre-trained source seed 1', 'pre-trained target 1 seed 101'],
      );

      // Run again: the pre-trained models come from the store.
      const again = (await service.request('experiments.rerun', { id })) as { id: string };
      await lab.events.wait(
        isExperimentStatus(again.id, 'done', 'failed', 'cancelled'),
        'the rerun to end',
        200_000,
      );
      await service.queue.idle();
      const d2 = store.getExperiment(again.id)!;
      assert.equal(d2.status, 'done');
      for (const phase of ['pretrain:source', 'pretrain:0']) {
        const run = d2.runs.find((r) => r.phase === phase)!;
        assert.equal(run.status, 'done');
        assert.equal((run.summary as TrainedSummary).reused, true, `${phase} is reused`);
        assert.equal(run.seconds, 0);
        assert.equal(
          (run.summary as TrainedSummary).valAccuracy,
          (d.runs.find((r) => r.phase === phase)!.summary as TrainedSummary).valAccuracy,
        );
      }
    } finally {
      await lab.close();
    }
  },
);
