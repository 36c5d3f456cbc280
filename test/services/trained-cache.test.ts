/**
 * Trained parameters from the cache are used only when they fit: a file that does not decode, a
 * lookup main never answers, or points of another shape or count make the engine train again
 * (with a warning) instead of failing every experiment with that training key.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { previewDataset } from '../../src/core/data/load.js';
import { runExperiment } from '../../src/core/experiment.js';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams } from '../../src/core/params.js';
import { encodePoints } from '../../src/core/params-io.js';
import type { EngineEvent, TrainedSummary } from '../../src/shared/domain/index.js';
import { parseSpec } from '../../src/shared/domain/index.js';
import { LabStore } from '../../src/services/store/index.js';
import { sha256Hex } from '../../src/services/store/weights.js';
import { ipcTrainedCache, ParentRequests } from '../../src/worker/ipc-cache.js';
import { tempDir, tinySpec } from '../helpers/lab.js';

const SUMMARY: TrainedSummary = {
  label: 'seed 1',
  valAccuracy: 0.5,
  valLoss: 1,
  testAccuracy: 0.5,
  seconds: 1,
};

test('the worker cache: a lookup main never answers, and a file that does not decode, are misses with a warning', async () => {
  const data = await tempDir();
  try {
    const logs: string[] = [];
    const options = {
      weightsDir: data.dir,
      currentPhase: () => 'source',
      seedOf: () => 1,
      datasetFacts: async () => ({ inputShape: [28, 28, 1], classes: 10, contentHash: 'h' }),
      log: (level: string, message: string) => void logs.push(`${level}: ${message}`),
      replyTimeoutMs: 50,
    };
    const silent = new ParentRequests(async () => {});
    const t0 = Date.now();
    assert.equal(await ipcTrainedCache({ ...options, requests: silent }).load('some key'), null);
    assert.ok(Date.now() - t0 < 2_000);
    assert.match(
      logs.at(-1)!,
      /^warn: the lab did not answer a trained-parameters lookup within 0 s; training again/,
    );

    const bytes = Buffer.from('these bytes are not a safetensors file');
    const sha = sha256Hex(bytes);
    const path = join(data.dir, `${sha}.safetensors`);
    await writeFile(path, bytes);
    const answering: ParentRequests = new ParentRequests(async (m) => {
      if (m.type === 'cache-load')
        setImmediate(() =>
          answering.settle({
            type: 'cache-reply',
            requestId: m.requestId,
            hit: { path, sha256: sha, summary: SUMMARY },
          }),
        );
    });
    const tensors = tf.memory().numTensors;
    assert.equal(await ipcTrainedCache({ ...options, requests: answering }).load('some key'), null);
    assert.match(
      logs.at(-1)!,
      new RegExp(`^warn: trained parameters ${sha.slice(0, 12)} cannot be decoded \\(.*\\); training again`),
    );
    assert.equal(tf.memory().numTensors, tensors);
  } finally {
    await data.cleanup();
  }
});

test('cached points of another architecture or count are not used: the engine trains again, warns, and leaks nothing', async () => {
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  try {
    const spec = parseSpec({
      ...tinySpec({ methods: ['naive', 'oracle'], T: 2 }),
      datasetOptions: { trainLimit: 300 },
      evalLimit: 200,
    });
    const facts = await previewDataset(spec.dataset, 0);
    const cache = store.trainedCache({
      spec,
      inputShape: [...facts.inputShape],
      classes: facts.classes,
      datasetHash: facts.contentHash,
    });
    await runExperiment(spec, { cache });
    const sets = store.listParamSets();
    const keyOf = (role: string): string => sets.find((p) => p.name.startsWith(role))!.trainingKey!;
    const [sourceKey, targetKey] = [keyOf('source'), keyOf('target')];

    // Newer records under the same keys, as a bad import or a bug might leave them: the source's
    // points are shaped for a wider MLP, the target's are right in shape but three, not two.
    const wider = buildModel({ arch: 'mlp', hidden: [48] }, [...facts.inputShape], facts.classes);
    const right = buildModel(spec.model, [...facts.inputShape], facts.classes);
    const widePoints = [wider.init(1), wider.init(2)];
    const threePoints = [right.init(1), right.init(2), right.init(3)];
    const poison = async (key: string, points: typeof widePoints): Promise<string> => {
      const w = await store.putWeights(await encodePoints(points));
      store.addParamSet({
        name: 'poison',
        arch: spec.model,
        inputShape: [...facts.inputShape],
        classes: facts.classes,
        origin: 'trained',
        trainingKey: key,
        sha256: w.sha256,
        bytes: w.bytes,
        points: points.length,
        createdAt: '2999-01-01T00:00:00.000Z',
        summary: SUMMARY,
      });
      for (const p of points) disposeParams(p);
      return w.sha256;
    };
    const poisonedSource = await poison(sourceKey, widePoints);
    const poisonedTarget = await poison(targetKey, threePoints);
    assert.equal(store.findTrainedByKey(sourceKey)!.sha256, poisonedSource);
    assert.equal(store.findTrainedByKey(targetKey)!.sha256, poisonedTarget);

    const tensors = tf.memory().numTensors;
    const events: EngineEvent[] = [];
    const result = await runExperiment(spec, { cache, onEvent: (e) => events.push(e) });
    assert.equal(tf.memory().numTensors, tensors, 'the refused points were disposed');
    const phases = events.flatMap((e) => (e.type === 'phase' ? [`${e.phase} ${e.state}`] : []));
    assert.ok(phases.includes('source start') && !phases.includes('source reused'), phases.join(', '));
    assert.ok(phases.includes('target:0 start') && !phases.includes('target:0 reused'), phases.join(', '));
    const warnings = events.flatMap((e) => (e.type === 'log' && e.level === 'warn' ? [e.message] : []));
    assert.ok(
      warnings.some((m) =>
        /^source seed 1: the cached trained parameters \(point 0\) does not match MLP.*; training again$/.test(
          m,
        ),
      ),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((m) =>
        /^target seed 101: the cached trained parameters hold 3 points where this training keeps 2; training again$/.test(
          m,
        ),
      ),
      warnings.join('\n'),
    );
    assert.ok(result.targets[0]!.methods.naive && result.targets[0]!.methods.oracle);
    assert.ok(!result.source.reused);
  } finally {
    store.close();
    await data.cleanup();
  }
});
