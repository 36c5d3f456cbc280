/**
 * What every BullMQ sweep test checks after its fault: the numbers equal the embedded queue's,
 * each phase job completed exactly once in Redis (none failed, none left), and the store holds
 * each run once and each metric point once.
 */
import assert from 'node:assert/strict';
import { Queue, type Job } from 'bullmq';
import { connectRedis, QUEUE_NAME } from '../../src/services/jobs/remote/redis-connection.js';
import type { LabStore } from '../../src/services/store/index.js';
import type { ExperimentResult } from '../../src/shared/domain/index.js';

/** Everything a run measured (nothing about where or when it ran). */
export function resultNumbers(r: ExperimentResult): unknown {
  return {
    source: [r.source.valAccuracy, r.source.testAccuracy],
    targets: r.targets.map((t) => ({
      initial: t.initial,
      methods: Object.values(t.methods).map((m) => [m!.method, m!.valAccuracy, m!.valLoss, m!.testAccuracy]),
    })),
  };
}

/** Asserts the queue finished `expected` phase jobs, each once, none failed or left; returns them. */
export async function assertEachJobOnce(url: string, expected: number): Promise<Job[]> {
  const connection = connectRedis(url);
  const queue = new Queue(QUEUE_NAME, { connection });
  try {
    const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed');
    assert.deepEqual(counts, { completed: expected, failed: 0, active: 0, wait: 0, delayed: 0 });
    const jobs = await queue.getJobs(['completed']);
    assert.equal(new Set(jobs.map((j) => j.id)).size, expected, 'one job per phase');
    return jobs;
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

export interface StoredPoint {
  experimentId: string;
  label: string;
  /** the point's transfer.T */
  T: number;
}

/**
 * Each point's runs are source, transfer:0:naive, transfer:0:gmt, all done, each once; each
 * metric point is stored once, and each run has its whole validation curve.
 */
export function assertStoredOnce(store: LabStore, points: readonly StoredPoint[]): void {
  for (const p of points) {
    const runs = store.listRuns(p.experimentId);
    assert.deepEqual(
      runs.map((r) => [r.phase, r.status]),
      [
        ['source', 'done'],
        ['transfer:0:naive', 'done'],
        ['transfer:0:gmt', 'done'],
      ],
      p.label,
    );
    const metrics = store.metrics([p.experimentId]);
    for (const r of runs) {
      const mine = metrics.filter((x) => x.runId === r.id);
      const keys = mine.map((x) => `${x.key}@${x.step}`);
      assert.equal(new Set(keys).size, keys.length, `${p.label} ${r.phase}: each point once`);
      // Validation curves (training also records its loss per step). A source reused from another
      // point has no curve of its own.
      const want = r.kind === 'source' ? ((r.summary as { reused?: boolean }).reused ? 0 : 2) : 2 * (p.T + 1);
      const validation = mine.filter((x) => x.key.startsWith('val'));
      assert.equal(validation.length, want, `${p.label} ${r.phase}: validation points`);
    }
  }
}
