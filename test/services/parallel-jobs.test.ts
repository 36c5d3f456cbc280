/**
 * The embedded queue runs an experiment's independent phases (the source's training, the Oracle
 * target's training; then the methods) in parallel worker processes, with the very numbers of the
 * whole experiment run in one process; two queued experiments that share a source train it once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import { runExperiment } from '../../src/core/experiment.js';
import { nodeWorkerLauncher } from '../../src/services/jobs/node-worker.js';
import type { WorkerLauncher } from '../../src/services/jobs/worker-process.js';
import { isExperimentStatus, openTestLab, tinySpec } from '../helpers/lab.js';
import { type ExperimentResult, type MethodResult, parseSpec } from '../../src/shared/domain/index.js';

/** Worker processes as usual, counted: how many lived at once, how many were started. */
function countingLauncher(): WorkerLauncher & { maxAlive: number; started: number } {
  const inner = nodeWorkerLauncher();
  let alive = 0;
  const launcher = Object.assign(
    (env: Record<string, string>) => {
      const w = inner(env);
      launcher.started++;
      launcher.maxAlive = Math.max(launcher.maxAlive, ++alive);
      w.onExit(() => alive--);
      return w;
    },
    { maxAlive: 0, started: 0 },
  );
  return launcher;
}

const methods = ['naive', 'oracle', 'gmt'];

test(
  'phases run in parallel worker processes with the numbers of the sequential run; shared sources train once',
  { timeout: 240_000 },
  async () => {
    const launcher = countingLauncher();
    const lab = await openTestLab({ concurrency: 2, launcher });
    try {
      const { service, store, events } = lab;
      const spec = tinySpec({ methods, T: 2 });
      const a = (await service.request('experiments.create', { spec, name: 'a', tags: [] })) as {
        id: string;
      };
      // Same source, other target: its source waits for a's and is reused.
      const b = (await service.request('experiments.create', {
        spec: { ...spec, targets: [{ init: { seed: 500 } }] },
        name: 'b',
        tags: [],
      })) as { id: string };
      await events.wait(isExperimentStatus(a.id, 'done', 'failed', 'cancelled'), 'a to end', 200_000);
      await events.wait(isExperimentStatus(b.id, 'done', 'failed', 'cancelled'), 'b to end', 200_000);
      await service.queue.idle();

      // The source and the Oracle target start together; finished workers take the next phase job.
      assert.equal(launcher.maxAlive, 2, 'two worker processes at once (the concurrency)');
      assert.ok(launcher.started < 10, `${launcher.started} processes for 10 phase jobs: workers are reused`);

      for (const id of [a.id, b.id]) {
        const d = store.getExperiment(id)!;
        assert.equal(d.status, 'done', JSON.stringify(d.runs.map((r) => [r.phase, r.status, r.error])));
      }
      const sources = store.listParamSets().filter((p) => p.name.startsWith('source'));
      assert.equal(sources.length, 1, 'the shared source was trained once');
      const bSource = store.getExperiment(b.id)!.runs.find((r) => r.phase === 'source')!;
      assert.equal((bSource.summary as { reused?: boolean }).reused, true, "b reused a's source");

      // Same seeds → same numbers as the whole experiment in this process.
      await initBackend('auto');
      const whole = await runExperiment(parseSpec(spec));
      const result = store.listArtifacts(a.id).find((x) => x.kind === 'result')!
        .meta as unknown as ExperimentResult;
      assert.deepEqual(result.source.valAccuracy, whole.source.valAccuracy);
      assert.deepEqual(result.targets[0]!.initial, whole.targets[0]!.initial);
      for (const m of methods) {
        const got = result.targets[0]!.methods[m as 'naive']!;
        const want = whole.targets[0]!.methods[m as 'naive']!;
        assert.deepEqual(
          [got.valAccuracy, got.valLoss, got.testAccuracy],
          [want.valAccuracy, want.valLoss, want.testAccuracy],
          m,
        );
        const run = store.getExperiment(a.id)!.runs.find((r) => r.method === m)!;
        assert.deepEqual(
          (run.summary as MethodResult).valAccuracy,
          want.valAccuracy,
          `${m}: the recorded run`,
        );
      }
    } finally {
      await lab.close();
    }
  },
);
