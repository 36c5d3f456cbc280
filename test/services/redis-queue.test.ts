/**
 * Sweeps across machines, on one machine: the 12-point example sweep runs through BullMQ on a real
 * redis-server with 3 `lab worker` processes, one of which is killed (SIGKILL) mid-job. All 12
 * points complete; BullMQ re-queued the stalled job and every phase job completed exactly once;
 * every run and metric point is in the store once; the numbers are those of the same sweep on
 * the embedded queue (same seeds → same numbers). A worker of another version refuses its job.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { connectRedis, QUEUE_NAME } from '../../src/services/jobs/remote/redis-connection.js';
import { startRemoteQueue } from '../../src/services/jobs/remote/remote-queue.js';
import { specHash } from '../../src/services/jobs/remote/redis-runner.js';
import { runSweep, type SweepPointOutcome } from '../../src/services/jobs/sweep-runner.js';
import { WORKER_PROTOCOL_VERSION } from '../../src/shared/worker-protocol.js';
import { openTestLab, tempDir, waitUntil } from '../helpers/lab.js';
import { assertEachJobOnce, assertStoredOnce, resultNumbers } from '../helpers/sweep-checks.js';
import {
  failedJob,
  redisMissing,
  refusingAgent,
  sourceTask,
  startLabWorker,
  startRedis,
  stopAll,
  type LabProcess,
} from '../helpers/redis.js';
import { type ExperimentResult, parseSpec, planPhases, expandSweep } from '../../src/shared/domain/index.js';

const ROOT = new URL('../../', import.meta.url);
const SWEEP = JSON.parse(readFileSync(new URL('examples/sweep-tiny.json', ROOT), 'utf8')) as Record<
  string,
  unknown
>;

const SWEEP_POINT = expandSweep(SWEEP)[0]!.spec;

function numbers(o: SweepPointOutcome): unknown {
  return { label: o.point.label, ...(resultNumbers(o.result as ExperimentResult) as object) };
}

async function sweepOn(lab: Awaited<ReturnType<typeof openTestLab>>): Promise<SweepPointOutcome[]> {
  const { points } = await runSweep({
    service: lab.service,
    json: SWEEP,
    name: 'tiny',
    toSpec: (doc) => parseSpec(doc),
  });
  return points;
}

test(
  'a 12-point sweep through BullMQ on 3 workers, one killed mid-job: all complete, each phase once, same numbers as embedded',
  { skip: redisMissing(), timeout: 420_000 },
  async () => {
    const redis = await startRedis();
    const temp = await tempDir('tlab-redis-sweep-');
    const workers: LabProcess[] = [];
    try {
      // The reference: the same sweep on the embedded queue.
      const embeddedLab = await openTestLab({ concurrency: 2 });
      let embedded: SweepPointOutcome[];
      try {
        embedded = await sweepOn(embeddedLab);
      } finally {
        await embeddedLab.close();
      }
      assert.equal(embedded.length, 12);
      assert.ok(embedded.every((p) => p.status === 'done'));

      const dataDir = join(temp.dir, 'host');
      const remote = await startRemoteQueue({ url: redis.url, weightsDir: join(dataDir, 'weights') });
      assert.match(remote.gateway.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'the gateway listens on loopback');
      const lab = await openTestLab({ dataDir, runner: remote.runner });
      for (let i = 0; i < 3; i++)
        workers.push(startLabWorker(redis.url, remote.token, join(temp.dir, `w${i}`)));

      // Kill worker 0 as soon as it holds a job.
      const victim = workers[0]!;
      const killed = waitUntil(
        () => victim.log.some((l) => / started$/.test(l)),
        'worker 0 to take a job',
        240_000,
        50,
      ).then(() => {
        victim.proc.kill('SIGKILL');
        return victim.log.find((l) => / started$/.test(l))!;
      });
      let outcomes: SweepPointOutcome[];
      try {
        outcomes = await sweepOn(lab);
        const victimJob = await killed;
        assert.ok(victimJob, 'worker 0 was killed holding a job');

        assert.deepEqual(
          outcomes.map((p) => p.status),
          Array(12).fill('done'),
        );
        assert.deepEqual(outcomes.map(numbers), embedded.map(numbers), 'same seeds, same numbers');

        // Each phase job completed exactly once, none failed; the killed one was re-queued as stalled.
        const expected = outcomes.reduce((n, p) => n + planPhases(parseSpec(p.point.spec)).length, 0);
        const jobs = await assertEachJobOnce(redis.url, expected);
        assert.ok(
          jobs.some((j) => j.stalledCounter > 0),
          'the killed worker’s job was taken back as stalled and finished by another',
        );

        // The store holds each run once, each metric point once, each distinct training once.
        const { store } = lab;
        assertStoredOnce(
          store,
          outcomes.map((p) => ({
            experimentId: p.experimentId,
            label: p.point.label,
            T: p.point.values['transfer.T'] as number,
          })),
        );
        const trained = store.listParamSets();
        assert.equal(trained.length, 6, 'one source per width and seed pair, trained once and shared');
        assert.equal(new Set(trained.map((t) => t.sha256)).size, 6);
      } finally {
        await lab.close();
        await remote.close();
      }
    } finally {
      await stopAll(workers);
      await redis.close();
      await temp.cleanup();
    }
  },
);

test(
  'a worker of another version refuses the job cleanly, before starting anything',
  { skip: redisMissing(), timeout: 60_000 },
  async () => {
    const redis = await startRedis();
    const temp = await tempDir('tlab-redis-refuse-');
    const connection = connectRedis(redis.url);
    const queue = new Queue(QUEUE_NAME, { connection });
    const { agent, launched } = await refusingAgent(redis.url, 't', join(temp.dir, 'weights'));
    try {
      const spec = parseSpec(SWEEP_POINT);
      const task = sourceTask(spec);
      const other = await queue.add(
        'phase',
        { protocol: WORKER_PROTOCOL_VERSION, specHash: '0'.repeat(64), gateway: 'http://127.0.0.1:9', task },
        { jobId: 'v1' },
      );
      const older = await queue.add(
        'phase',
        {
          protocol: WORKER_PROTOCOL_VERSION - 1,
          specHash: specHash(spec),
          gateway: 'http://127.0.0.1:9',
          task,
        },
        { jobId: 'v2' },
      );
      for (const [job, why] of [
        [other, /another version.*spec hash differs/],
        [older, /worker protocol/],
      ] as const) {
        const fresh = await failedJob(queue, job.id!);
        assert.match(fresh.failedReason, why);
        assert.equal(fresh.attemptsMade, 1, 'not retried: another attempt would be refused the same way');
      }
      assert.equal(launched(), 0);
    } finally {
      await agent.close();
      await queue.close();
      connection.disconnect();
      await redis.close();
      await temp.cleanup();
    }
  },
);
