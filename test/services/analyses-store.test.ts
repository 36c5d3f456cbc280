import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  experimentAnalyses,
  type ExperimentAnalyses,
  type MethodResult,
  parseSpec,
} from '../../src/shared/domain/index.js';
import { exportBundle } from '../../src/services/bundles/export.js';
import { importBundle } from '../../src/services/bundles/import.js';
import { LabStore } from '../../src/services/store/index.js';

const dirs: string[] = [];
const stores: LabStore[] = [];
after(async () => {
  for (const s of stores) s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function openTemp(): Promise<LabStore> {
  const dir = await mkdtemp(join(tmpdir(), 'tlab-analyses-'));
  dirs.push(dir);
  const s = LabStore.open(dir);
  stores.push(s);
  return s;
}

const spec = parseSpec({
  dataset: { builtin: 'fashion-mnist-mini' },
  model: { arch: 'mlp', hidden: [8] },
  source: { init: { seed: 1 }, train: { epochs: 2 } },
  targets: [{ init: { seed: 2 } }, { init: { seed: 3 } }],
  transfer: { T: 2, methods: ['oracle', 'fgmt'] },
  analyses: { finetune: { epochs: 2 }, paths: { points: 3 }, plane: { grid: 2 }, ensembles: {} },
});

const path = { alpha: [0, 0.5, 1], valLoss: [0.5, 0.9, 0.4], valAccuracy: [0.8, 0.6, 0.85], barrier: 0.45 };
const analyses: ExperimentAnalyses = {
  targets: [
    {
      label: 'seed 2',
      scratch: {
        valAccuracy: [0.1, 0.5, 0.7],
        valLoss: [2.3, 1, 0.8],
        testAccuracy: 0.69,
        seconds: 3,
        gradientEvaluations: 20,
      },
      plane: {
        method: 'fgmt',
        from: 'transferred',
        u: [-1, 2],
        v: [-0.5, 3],
        valLoss: [
          [1, 2],
          [3, 4],
        ],
        valAccuracy: [
          [0.5, 0.4],
          [0.3, 0.2],
        ],
        points: { transferred: [0, 0], trained: [1.5, 0], source: [0.4, 2.5] },
      },
    },
    { label: 'seed 3' },
  ],
  ensembles: {
    from: 'best',
    entries: [
      {
        kind: 'trained',
        finetuned: false,
        members: 2,
        valAccuracy: 0.8,
        testAccuracy: 0.79,
        memberTestAccuracy: 0.75,
        gradientEvaluations: 40,
        seconds: 6,
      },
    ],
  },
};

test('experimentAnalyses picks the experiment-level analyses and is null without any', () => {
  assert.equal(experimentAnalyses({ targets: [{ label: 'a' }] }), null);
  const got = experimentAnalyses({ targets: analyses.targets, ensembles: analyses.ensembles });
  assert.deepEqual(got, analyses);
});

test('analyses are stored with the experiment and a bundle carries them (and per-method ones) unchanged', async () => {
  const a = await openTemp();
  const e = a.createExperiment({ spec, name: 'analyses' });
  const runs = a.planRuns(e.id, spec);
  const fgmt = runs.find((r) => r.method === 'fgmt' && r.targetIndex === 0)!;
  const summary: MethodResult = {
    method: 'fgmt',
    valAccuracy: [0.1, 0.6, 0.8],
    valLoss: [2.3, 1.2, 0.7],
    testAccuracy: 0.79,
    bestStep: 2,
    testAccuracyAtBest: 0.79,
    seconds: 1,
    phases: {},
    gradientEvaluations: 4,
    finetune: {
      fromStep: 2,
      valAccuracy: [0.8, 0.82, 0.83],
      valLoss: [0.7, 0.6, 0.55],
      testAccuracy: 0.82,
      epochsSaved: 2,
      reachesScratchAt: 0,
      seconds: 2,
      gradientEvaluations: 20,
    },
    paths: { toSource: path, toTrained: path },
    permutation: {
      changedFraction: [0.5, 0.6],
      agreementWithPrevious: [0.5, 0.9],
      objective: [1, 2],
      agreementWithOracle: [0.1, 0.2],
    },
  };
  a.updateRun(fgmt.id, { status: 'done', summary });
  a.setAnalyses(e.id, analyses);
  assert.deepEqual(a.getExperiment(e.id)?.analyses, analyses);

  const zip = await exportBundle(a, [e.id]);
  const b = await openTemp();
  await importBundle(b, zip);
  const back = b.getExperiment(e.id)!;
  assert.deepEqual(back.analyses, analyses);
  const run = back.runs.find((r) => r.method === 'fgmt' && r.targetIndex === 0)!;
  assert.deepEqual(run.summary, summary);

  const without = a.createExperiment({ spec, name: 'none yet' });
  assert.equal(a.getExperiment(without.id)?.analyses, null);
});
