/**
 * The BullMQ queue's failures, each on a real redis-server with `lab worker` processes and the
 * smallest sweep that shows it (2 points, 6 phase jobs): Redis crashes (SIGKILL) mid-sweep and
 * comes back on the same port and append-only file; the host is killed (SIGKILL) mid-sweep and
 * the same `lab sweep` command is run again. Each time every point completes, every phase job
 * completed exactly once, the store holds each run and metric point once, and the numbers are
 * the embedded queue's.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { connectRedis, QUEUE_NAME } from '../../src/services/jobs/remote/redis-connection.js';
import { startRemoteQueue } from '../../src/services/jobs/remote/remote-queue.js';
import { runSweep, type SweepPointOutcome } from '../../src/services/jobs/sweep-runner.js';
import { LabStore } from '../../src/services/store/index.js';
import { expandSweep, parseSpec, planPhases, type ExperimentResult } from '../../src/shared/domain/index.js';
import { openTestLab, tempDir, waitUntil, type TestLab } from '../helpers/lab.js';
import {
  redisMissing,
  startLabCli,
  startLabWorker,
  startRedis,
  stopAll,
  type LabProcess,
} from '../helpers/redis.js';
import { assertEachJobOnce, assertStoredOnce, resultNumbers } from '../helpers/sweep-checks.js';

const TINY = JSON.parse(
  await readFile(new URL('../../examples/sweep-tiny.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
/** examples/sweep-tiny.json cut to two seed pairs at one width and one T: 2 points, 6 phase jobs. */
const SWEEP = {
  ...TINY,
  name: 'fault sweep',
  sweep: {
    pairs: [
      [101, 102],
      [201, 202],
    ],
  },
};
const POINTS = expandSweep(SWEEP);
const JOBS = POINTS.reduce((n, p) => n + planPhases(parseSpec(p.spec)).length, 0);
const T = (TINY.transfer as { T: number }).T;

async function sweepOn(lab: TestLab): Promise<SweepPointOutcome[]> {
  const { points } = await runSweep({ service: lab.service, json: SWEEP, name: 'faults', toSpec: parseSpec });
  return points;
}

/** The same sweep on the embedded queue, once for the file. */
let embedded: Promise<unknown[]> | null = null;
function embeddedNumbers(): Promise<unknown[]> {
  return (embedded ??= (async () => {
    const lab = await openTestLab({ concurrency: 2 });
    try {
      const points = await sweepOn(lab);
      assert.ok(points.every((p) => p.status === 'done'));
      return points.map((p) => resultNumbers(p.result!));
    } finally {
      await lab.close();
    }
  })());
}

const holding = (w: LabProcess): boolean => {
  const started = w.log.filter((l) => / started$/.test(l)).length;
  const ended = w.log.filter((l) => /: \S+ (done|error|lost)/.test(l)).length;
  return started > ended;
};

test(
  'Redis crashes mid-sweep and restarts on its append-only file: host and workers reconnect, nothing lost or duplicated',
  { skip: redisMissing(), timeout: 180_000 },
  async () => {
    const want = await embeddedNumbers();
    const redis = await startRedis();
    const temp = await tempDir('tlab-redis-restart-');
    const workers: LabProcess[] = [];
    try {
      const dataDir = join(temp.dir, 'host');
      const remote = await startRemoteQueue({ url: redis.url, weightsDir: join(dataDir, 'weights') });
      const lab = await openTestLab({ dataDir, runner: remote.runner });
      for (let i = 0; i < 2; i++)
        workers.push(startLabWorker(redis.url, remote.token, join(temp.dir, `w${i}`)));
      let crashedWhileHeld = false;
      const crash = waitUntil(() => workers.some(holding), 'a worker to hold a job', 120_000, 20).then(
        async () => {
          const pid = redis.pid;
          crashedWhileHeld = workers.some(holding);
          await redis.stop('SIGKILL');
          // Long enough for the workers' 3 s job locks to lapse while Redis is away.
          await new Promise((r) => setTimeout(r, 4000));
          await redis.restart();
          assert.notEqual(redis.pid, pid, 'a new redis-server');
        },
      );
      try {
        const outcomes = await sweepOn(lab);
        await crash;
        assert.ok(crashedWhileHeld, 'Redis went away while a worker held a job');
        assert.deepEqual(
          outcomes.map((p) => p.status),
          POINTS.map(() => 'done'),
        );
        assert.deepEqual(
          outcomes.map((p) => resultNumbers(p.result!)),
          want,
          'same numbers as the embedded queue',
        );
        await assertEachJobOnce(redis.url, JOBS);
        assertStoredOnce(
          lab.store,
          outcomes.map((p) => ({ experimentId: p.experimentId, label: p.point.label, T })),
        );
        assert.ok(
          workers.every((w) => w.proc.exitCode === null),
          'the workers rode it out (they reconnect; none exited)',
        );
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
  'the host is killed mid-sweep: workers keep their jobs, and the same sweep command run again records them once',
  { skip: redisMissing(), timeout: 180_000 },
  async () => {
    const want = await embeddedNumbers();
    const redis = await startRedis();
    const temp = await tempDir('tlab-redis-host-');
    const workers: LabProcess[] = [];
    const hosts: LabProcess[] = [];
    try {
      const specFile = join(temp.dir, 'sweep.json');
      await writeFile(specFile, JSON.stringify(SWEEP));
      const out = join(temp.dir, 'out');
      const sweep = (): LabProcess => startLabCli(['sweep', specFile, '--out', out, '--queue', redis.url]);
      const banner = async (h: LabProcess): Promise<{ token: string; gateway: string }> => {
        await waitUntil(
          () => h.log.some((l) => /TRAJECTORY_LAB_WORKER_TOKEN=/.test(l)),
          'the host to start',
          60_000,
        );
        const token = /TRAJECTORY_LAB_WORKER_TOKEN=(\S+)/.exec(h.log.join('\n'))![1]!;
        const gateway = /workers reach this host at (\S+)/.exec(h.log.join('\n'))![1]!;
        return { token, gateway };
      };

      const first = sweep();
      hosts.push(first);
      const one = await banner(first);
      for (let i = 0; i < 2; i++) workers.push(startLabWorker(redis.url, one.token, join(temp.dir, `w${i}`)));
      await waitUntil(() => workers.some(holding), 'a worker to hold a job', 120_000, 20);
      first.proc.kill('SIGKILL');
      assert.equal(await first.exited, null, 'the host died by the signal');
      const held = workers.filter(holding).length;

      // While the host is away the jobs in hand stay with their workers: none fails, none is taken back.
      await new Promise((r) => setTimeout(r, 2000));
      const connection = connectRedis(redis.url);
      const queue = new Queue(QUEUE_NAME, { connection });
      try {
        assert.equal(await queue.getJobCountByTypes('failed'), 0);
        assert.ok((await queue.getJobCountByTypes('active', 'completed')) >= held);
      } finally {
        await queue.close();
        connection.disconnect();
      }

      const second = sweep();
      hosts.push(second);
      const two = await banner(second);
      assert.equal(two.token, one.token, 'the token is kept in the data folder: the workers still hold it');
      assert.notEqual(two.gateway, one.gateway, 'a new gateway port, which the workers learn from Redis');
      assert.equal(await second.exited, 0, second.log.join('\n'));

      const summary = JSON.parse(await readFile(join(out, 'sweep.json'), 'utf8')) as {
        points: { index: number; label: string; status: string; experimentId: string }[];
      };
      assert.deepEqual(
        summary.points.map((p) => p.status),
        POINTS.map(() => 'done'),
      );
      const results = await Promise.all(
        summary.points.map(
          async (p) =>
            JSON.parse(
              await readFile(join(out, 'points', String(p.index).padStart(3, '0'), 'result.json'), 'utf8'),
            ) as ExperimentResult,
        ),
      );
      assert.deepEqual(results.map(resultNumbers), want, 'same numbers as the embedded queue');
      const jobs = await assertEachJobOnce(redis.url, JOBS);
      assert.ok(
        jobs.every((j) => j.stalledCounter === 0),
        'no job was taken from its worker: the ones in hand when the host died finished where they were',
      );
      const store = LabStore.open(join(out, 'lab'));
      try {
        assertStoredOnce(
          store,
          summary.points.map((p) => ({ experimentId: p.experimentId, label: p.label, T })),
        );
      } finally {
        store.close();
      }
    } finally {
      await stopAll([...hosts, ...workers]);
      await redis.close();
      await temp.cleanup();
    }
  },
);
