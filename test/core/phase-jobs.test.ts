/**
 * An experiment split into phase jobs (source, Oracle target, one job per method) gives exactly the
 * numbers of the whole experiment run in one go, whatever order the jobs run in: the jobs share
 * trained parameters only through a cache of encoded files, as worker processes do. Trained
 * endpoints given as files (`source.trained`, `targets[].trained`) are read, not trained, either way.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import { runExperiment, type TrainedCache } from '../../src/core/experiment.js';
import { buildModel } from '../../src/core/models/index.js';
import { decodePoints, encodeParams, encodePoints } from '../../src/core/params-io.js';
import { disposeParams } from '../../src/core/params.js';
import { assembleResult, runPhase } from '../../src/core/phase-jobs.js';
import { tempDir, tinySpec } from '../helpers/lab.js';
import {
  type ExperimentResult,
  type TrainedSummary,
  parseSpec,
  planPhases,
  type PhaseOutput,
} from '../../src/shared/domain/index.js';

function fileCache(): TrainedCache & { saves: number } {
  const files = new Map<string, { bytes: Buffer; summary: TrainedSummary }>();
  const cache = {
    saves: 0,
    async load(key: string) {
      const f = files.get(key);
      return f ? { points: decodePoints(f.bytes, key).points, summary: f.summary } : null;
    },
    async save(key: string, role: 'source' | 'target', points: tf.NamedTensorMap[], summary: TrainedSummary) {
      cache.saves++;
      files.set(key, { bytes: await encodePoints(points, { role }), summary });
    },
  };
  return cache;
}

/** The numbers (not the timings) of a result. */
function numbers(r: ExperimentResult): unknown {
  return {
    source: [r.source.valAccuracy, r.source.valLoss, r.source.testAccuracy],
    targets: r.targets.map((t) => ({
      initial: t.initial,
      trained: t.trained && [t.trained.valAccuracy, t.trained.testAccuracy],
      methods: Object.fromEntries(
        Object.entries(t.methods).map(([m, x]) => [
          m,
          [x!.valAccuracy, x!.valLoss, x!.testAccuracy, x!.bestStep, x!.gradientEvaluations],
        ]),
      ),
    })),
    dataset: r.dataset,
    model: r.model,
  };
}

test(
  'phase jobs in any order give the numbers of the whole experiment; no tensors left',
  { timeout: 300_000 },
  async () => {
    await initBackend('auto');
    const spec = parseSpec(tinySpec({ methods: ['naive', 'oracle', 'gmt', 'fgmt'], targets: 2, T: 2 }));
    const whole = await runExperiment(spec);

    const plan = planPhases(spec);
    assert.deepEqual(
      plan.map((p) => [p.phase, p.after]),
      [
        ['source', []],
        ['target:0', []],
        ['transfer:0:naive', ['source']],
        ['transfer:0:oracle', ['source', 'target:0']],
        ['transfer:0:gmt', ['source']],
        ['transfer:0:fgmt', ['source']],
        ['target:1', []],
        ['transfer:1:naive', ['source']],
        ['transfer:1:oracle', ['source', 'target:1']],
        ['transfer:1:gmt', ['source']],
        ['transfer:1:fgmt', ['source']],
      ],
    );
    const before = tf.memory().numTensors;
    const cache = fileCache();
    // Targets first, methods last-to-first: an order the sequential run never takes.
    const order = [
      ...plan.filter((p) => p.job.kind === 'target'),
      ...plan.filter((p) => p.job.kind === 'source'),
      ...plan.filter((p) => p.job.kind === 'transfer').reverse(),
    ];
    const outputs: PhaseOutput[] = [];
    for (const p of order) outputs.push(await runPhase(spec, p.job, { cache }));
    assert.equal(tf.memory().numTensors, before, 'phase jobs leave no tensors behind');
    assert.equal(cache.saves, 3, 'the source and each Oracle target are trained once, then shared');
    const parts = assembleResult(spec, outputs, { startedAt: new Date() });
    assert.deepEqual(numbers(parts), numbers(whole));

    // Resume: finished methods are not planned again and come back from the earlier attempt.
    const done = (i: number, m: string): boolean => i === 0 && (m === 'oracle' || m === 'gmt');
    assert.deepEqual(
      planPhases(spec, done).map((p) => p.phase),
      [
        'source',
        'transfer:0:naive',
        'transfer:0:fgmt',
        'target:1',
        'transfer:1:naive',
        'transfer:1:oracle',
        'transfer:1:gmt',
        'transfer:1:fgmt',
      ],
    );
  },
);

test('trained endpoints from files: phase jobs read them as the whole experiment does, and train nothing', async () => {
  await initBackend('auto');
  const tmp = await tempDir('tlab-phase-files-');
  try {
    const model = buildModel({ arch: 'mlp', hidden: [32] }, [28, 28, 1], 10);
    const [s, t] = [model.init(21), model.init(22)];
    const src = join(tmp.dir, 'source.safetensors');
    const tgt = join(tmp.dir, 'target.safetensors');
    await writeFile(src, await encodeParams(s));
    await writeFile(tgt, await encodeParams(t));
    [s, t].forEach(disposeParams);
    const base = tinySpec({ methods: ['naive', 'oracle', 'gmt'], T: 2 }) as {
      source: object;
      targets: object[];
    };
    const spec = parseSpec({
      ...base,
      source: { ...base.source, trained: { file: src } },
      targets: [{ ...base.targets[0], trained: { file: tgt } }],
    });
    const whole = await runExperiment(spec);
    const cache = fileCache();
    const outputs: PhaseOutput[] = [];
    for (const p of planPhases(spec)) outputs.push(await runPhase(spec, p.job, { cache }));
    assert.equal(cache.saves, 0, 'nothing was trained');
    const parts = assembleResult(spec, outputs, { startedAt: new Date() });
    assert.deepEqual(numbers(parts), numbers(whole));
    assert.equal(parts.source.fromFile, src);
    assert.equal(parts.targets[0]!.trained!.fromFile, tgt);
  } finally {
    await tmp.cleanup();
  }
});
