/**
 * Sweeps across machines, on one machine: the 12-point example sweep runs through BullMQ on a real
 * redis-server with 3 `lab worker` processes, one of which is killed (SIGKILL) mid-job. All 12
 * points complete; BullMQ re-queued the stalled job and every phase job completed exactly once;
 * every run and metric point is in the store once; the numbers are those of the same sweep on
 * the embedded queue (same seeds → same numbers). A worker of another version refuses its job.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Queue } from 'bullmq';
import { connectRedis, QUEUE_NAME } from '../../src/services/jobs/remote/redis-connection.js';
import { startRemoteQueue } from '../../src/services/jobs/remote/remote-queue.js';
import { specHash } from '../../src/services/jobs/remote/redis-runner.js';
import { startWorkerAgent } from '../../src/services/jobs/remote/worker-agent.js';
import { runSweep, type SweepPointOutcome } from '../../src/services/jobs/sweep-runner.js';
import { WORKER_PROTOCOL_VERSION } from '../../src/shared/worker-protocol.js';
import { openTestLab, tempDir, waitUntil } from '../helpers/lab.js';
import { redisMissing, startRedis } from '../helpers/redis.js';
import { type ExperimentResult, parseSpec, planPhases, expandSweep } from '../../src/shared/domain/index.js';

const ROOT = new URL('../../', import.meta.url);
const CLI = new URL('src/cli/main.ts', ROOT).pathname;
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const SWEEP = JSON.parse(readFileSync(new URL('examples/sweep-tiny.json', ROOT), 'utf8')) as Record<
  string,
  unknown
>;

const SWEEP_POINT = expandSweep(SWEEP)[0]!.spec;

interface Worker {
  proc: ChildProcess;
  log: string[];
}

function startWorker(url: string, token: string, dir: string): Worker {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      CLI,
      'worker',
      '--queue',
      url,
      '--concurrency',
      '1',
      '--lock-ms',
      '3000',
      '--data',
      dir,
    ],
    { env: { ...process.env, TRAJECTORY_LAB_WORKER_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const w: Worker = { proc, log: [] };
  const take = (c: Buffer): void => void w.log.push(...c.toString().split('\n').filter(Boolean));
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  return w;
}

function numbers(o: SweepPointOutcome): unknown {
  const r = o.result as ExperimentResult;
  return {
    label: o.point.label,
    source: [r.source.valAccuracy, r.source.testAccuracy],
    targets: r.targets.map((t) => ({
      initial: t.initial,
      methods: Object.values(t.methods).map((m) => [m!.method, m!.valAccuracy, m!.valLoss, m!.testAccuracy]),
    })),
  };
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
    const workers: Worker[] = [];
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
      for (let i = 0; i < 3; i++) workers.push(startWorker(redis.url, remote.token, join(temp.dir, `w${i}`)));

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
        const connection = connectRedis(redis.url);
        const queue = new Queue(QUEUE_NAME, { connection });
        try {
          const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait');
          assert.deepEqual(counts, { completed: expected, failed: 0, active: 0, wait: 0 });
          const jobs = await queue.getJobs(['completed']);
          assert.ok(
            jobs.some((j) => j.stalledCounter > 0),
            'the killed worker’s job was taken back as stalled and finished by another',
          );
        } finally {
          await queue.close();
          connection.disconnect();
        }

        // The store holds each run once, each metric point once, each distinct training once.
        const { store } = lab;
        for (const p of outcomes) {
          const runs = store.listRuns(p.experimentId);
          assert.deepEqual(
            runs.map((r) => [r.phase, r.status]),
            [
              ['source', 'done'],
              ['transfer:0:naive', 'done'],
              ['transfer:0:gmt', 'done'],
            ],
          );
          const T = (p.point.values['transfer.T'] as number) + 1;
          const points = store.metrics([p.experimentId]);
          for (const r of runs) {
            const mine = points.filter((x) => x.runId === r.id);
            const keys = mine.map((x) => `${x.key}@${x.step}`);
            assert.equal(new Set(keys).size, keys.length, `${p.point.label} ${r.phase}: each point once`);
            // Validation curves (training also records its loss per step). A source reused from the
            // point with the other T has no curve of its own.
            const want = r.kind === 'source' ? ((r.summary as { reused?: boolean }).reused ? 0 : 2) : 2 * T;
            const validation = mine.filter((x) => x.key.startsWith('val'));
            assert.equal(validation.length, want, `${p.point.label} ${r.phase}: validation points`);
          }
        }
        const trained = store.listParamSets();
        assert.equal(trained.length, 6, 'one source per width and seed pair, trained once and shared');
        assert.equal(new Set(trained.map((t) => t.sha256)).size, 6);
      } finally {
        await lab.close();
        await remote.close();
      }
    } finally {
      for (const w of workers) w.proc.kill('SIGTERM');
      await Promise.all(
        workers.map((w): Promise<unknown> =>
          w.proc.exitCode !== null || w.proc.signalCode !== null
            ? Promise.resolve()
            : new Promise((r) => w.proc.once('exit', r)),
        ),
      );
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
    let launched = 0;
    const agent = await startWorkerAgent({
      url: redis.url,
      concurrency: 1,
      token: 't',
      weightsDir: join(temp.dir, 'weights'),
      launcher: () => {
        launched++;
        throw new Error('no worker should start');
      },
      log: () => {},
    });
    try {
      const spec = parseSpec(SWEEP_POINT);
      const task = {
        experimentId: 'e1',
        taskKey: 'e1.source',
        phase: 'source',
        job: { kind: 'source' as const },
        spec,
        finished: [],
      };
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
        const end = Date.now() + 30_000;
        let state = '';
        while (Date.now() < end && (state = await job.getState()) !== 'failed')
          await new Promise((r) => setTimeout(r, 100));
        assert.equal(state, 'failed');
        const fresh = await queue.getJob(job.id!);
        assert.match(fresh!.failedReason, why);
        assert.equal(fresh!.attemptsMade, 1, 'not retried: another attempt would be refused the same way');
      }
      assert.equal(launched, 0);
    } finally {
      await agent.close();
      await queue.close();
      connection.disconnect();
      await redis.close();
      await temp.cleanup();
    }
  },
);
