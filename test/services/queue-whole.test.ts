/**
 * A spec with an analysis (or a pretrain stage) runs through the job queue as ONE whole-experiment
 * task: one worker runs runExperiment, the result is recorded and its analyses stored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isExperimentStatus, openTestLab, tinySpec } from '../helpers/lab.js';
import {
  runsWhole,
  parseSpec,
  type ExperimentResult,
  type MethodResult,
} from '../../src/shared/domain/index.js';

test(
  'a spec with a tiny analysis runs as one whole-experiment task; its analyses are stored',
  { timeout: 240_000 },
  async () => {
    const lab = await openTestLab({ concurrency: 2 });
    try {
      const { service, store, events } = lab;
      const spec = { ...tinySpec({ methods: ['naive'], T: 2 }), analyses: { paths: { points: 3 } } };
      assert.equal(runsWhole(parseSpec(spec)), true);
      assert.equal(runsWhole(parseSpec(tinySpec({ methods: ['naive'], T: 2 }))), false);
      const e = (await service.request('experiments.create', { spec, name: 'whole', tags: [] })) as {
        id: string;
      };
      await events.wait(
        isExperimentStatus(e.id, 'done', 'failed', 'cancelled'),
        'the experiment to end',
        200_000,
      );
      await service.queue.idle();
      const d = store.getExperiment(e.id)!;
      assert.equal(d.status, 'done', JSON.stringify(d.runs.map((r) => [r.phase, r.status, r.error])));
      const result = store.listArtifacts(e.id).find((x) => x.kind === 'result')!
        .meta as unknown as ExperimentResult;
      const paths = result.targets[0]!.methods.naive!.paths;
      assert.ok(paths, 'the method result carries its paths analysis');
      assert.equal(paths.toSource.alpha.length, 3);
      const run = d.runs.find((r) => r.method === 'naive')!;
      assert.deepEqual((run.summary as MethodResult).paths, paths, 'the recorded run stores it too');
    } finally {
      await lab.close();
    }
  },
);
