/**
 * What a remote worker cannot read from the host's disk reaches it through BullMQ and the gateway:
 * a parameter set named by id (`init.paramSet`) and trained endpoints from files
 * (`source.trained`, `targets[].trained`) are listed in the job by sha256 and downloaded by the
 * worker into its own folder (verified), and what it reports names the host's files again. A
 * whole-experiment task (a spec with `analyses`) runs through BullMQ too. Both give the numbers
 * the embedded queue gives. The host is the headless one, as `serve --queue redis://…` starts it.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import { buildModel } from '../../src/core/models/index.js';
import { disposeParams } from '../../src/core/params.js';
import { encodeParams, encodePoints } from '../../src/core/params-io.js';
import { nodeWorkerLauncher } from '../../src/services/jobs/node-worker.js';
import { Queue } from 'bullmq';
import { connectRedis, QUEUE_NAME } from '../../src/services/jobs/remote/redis-connection.js';
import { specHash } from '../../src/services/jobs/remote/redis-runner.js';
import { startRemoteQueue } from '../../src/services/jobs/remote/remote-queue.js';
import { WORKER_PROTOCOL_VERSION } from '../../src/shared/worker-protocol.js';
import { startWorkerAgent } from '../../src/services/jobs/remote/worker-agent.js';
import { sha256Hex } from '../../src/services/store/weights.js';
import { parseSpec, runsWhole, type ExperimentResult } from '../../src/shared/domain/index.js';
import { startHeadless } from '../../src/services/host/headless.js';
import type { AppInfo } from '../../src/shared/lab-api.js';
import {
  EventLog,
  isExperimentStatus,
  openTestLab,
  tempDir,
  tinySpec,
  waitUntil,
  type TestLab,
} from '../helpers/lab.js';
import { failedJob, redisMissing, refusingAgent, sourceTask, startRedis } from '../helpers/redis.js';

type Lab = Pick<TestLab, 'service' | 'store' | 'events'>;

async function runOn(lab: Lab, spec: Record<string, unknown>, name: string): Promise<ExperimentResult> {
  const { id } = (await lab.service.request('experiments.create', { spec, name })) as { id: string };
  await lab.events.wait(isExperimentStatus(id, 'done', 'failed', 'cancelled'), `${name} to end`, 120_000);
  // The result is recorded as the job leaves the queue, just after its last run is done.
  await waitUntil(() => !lab.service.queue.has(id), `${name} to leave the queue`);
  const s = lab.store.getExperimentSummary(id)!;
  const log = lab.store
    .getLog(id)
    .map((l) => l.message)
    .join('\n');
  assert.equal(s.status, 'done', `${name}: ${log}`);
  return lab.store.listArtifacts(id).find((a) => a.kind === 'result')!.meta as unknown as ExperimentResult;
}

/** The numbers of a result (everything a run measured, nothing about where or when). */
function numbers(r: ExperimentResult): unknown {
  return {
    source: [r.source.valAccuracy, r.source.testAccuracy, r.source.fromFile],
    targets: r.targets.map((t) => ({
      initial: t.initial,
      trained: t.trained && [t.trained.valAccuracy, t.trained.testAccuracy, t.trained.fromFile],
      methods: Object.values(t.methods).map((m) => [
        m!.method,
        m!.valAccuracy,
        m!.valLoss,
        m!.testAccuracy,
        m!.paths ?? null,
      ]),
    })),
  };
}

test(
  'parameter sets by id, trained endpoints from files and a whole-experiment task run through BullMQ with the embedded numbers',
  { skip: redisMissing(), timeout: 240_000 },
  async () => {
    await initBackend('cpu');
    const temp = await tempDir('tlab-redis-files-');
    // Endpoints trained "elsewhere" and a stored initialisation: any parameters of the right shape do.
    const model = buildModel({ arch: 'mlp', hidden: [32] }, [28, 28, 1], 10);
    const [s1, t1, init] = [model.init(11), model.init(12), model.init(13)];
    const srcFile = join(temp.dir, 'source-trained.safetensors');
    const tgtFile = join(temp.dir, 'target-trained.safetensors');
    await writeFile(srcFile, await encodeParams(s1));
    await writeFile(tgtFile, await encodeParams(t1));
    const setBytes = await encodePoints([init]);
    [s1, t1, init].forEach(disposeParams);

    const addSet = async (lab: Lab): Promise<string> => {
      const w = await lab.store.putWeights(setBytes);
      return lab.store.addParamSet({
        name: 'init 13',
        arch: { arch: 'mlp', hidden: [32] },
        inputShape: [28, 28, 1],
        classes: 10,
        origin: 'imported',
        sha256: w.sha256,
        bytes: w.bytes,
        points: 1,
      }).id;
    };
    const base = tinySpec({ methods: ['naive', 'oracle', 'gmt'], T: 2 }) as { source: object };
    const fromFiles = (setId: string): Record<string, unknown> => ({
      ...base,
      source: { ...base.source, trained: { file: srcFile } },
      targets: [{ init: { paramSet: setId }, trained: { file: tgtFile } }],
    });
    const whole = (setId: string): Record<string, unknown> => ({
      ...tinySpec({ methods: ['naive', 'gmt'], T: 2 }),
      targets: [{ init: { paramSet: setId } }],
      analyses: { paths: { points: 3 } },
    });
    assert.equal(runsWhole(parseSpec(whole('x'))), true, 'the analyses make it one whole-experiment task');
    assert.equal(runsWhole(parseSpec(fromFiles('x'))), false);

    const redis = await startRedis();
    try {
      const embeddedLab = await openTestLab({ concurrency: 2 });
      let embedded: ExperimentResult[];
      try {
        const id = await addSet(embeddedLab);
        embedded = [
          await runOn(embeddedLab, fromFiles(id), 'files'),
          await runOn(embeddedLab, whole(id), 'whole'),
        ];
      } finally {
        await embeddedLab.close();
      }

      const hostDir = join(temp.dir, 'host');
      const workerDir = join(temp.dir, 'worker');
      // The headless host as `npm run serve -- --queue redis://…` starts it.
      const host = await startHeadless({
        dataDir: hostDir,
        rendererDir: hostDir,
        probeBackend: false,
        appVersion: 'test',
        queue: { url: redis.url },
      });
      const remote = host.remote!;
      const lab: Lab = {
        service: host.service,
        store: host.service.store,
        events: new EventLog((l) => host.service.onEvent(l)),
      };
      const info = (await host.service.request('app.info', {})) as AppInfo;
      assert.equal(info.queue, redis.url, 'app.info names the queue');
      assert.match(remote.gatewayUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'the gateway listens on loopback');
      const kept = await stat(join(hostDir, 'worker-token'));
      assert.equal(kept.mode & 0o777, 0o600, 'the workers’ token is kept readable only by its owner');
      assert.equal((await readFile(join(hostDir, 'worker-token'), 'utf8')).trim(), remote.token);
      const agent = await startWorkerAgent({
        url: redis.url,
        concurrency: 2,
        token: remote.token,
        weightsDir: join(workerDir, 'weights'),
        launcher: nodeWorkerLauncher(),
        log: () => {},
      });
      try {
        const id = await addSet(lab);
        const viaRedis = [await runOn(lab, fromFiles(id), 'files'), await runOn(lab, whole(id), 'whole')];
        assert.deepEqual(viaRedis.map(numbers), embedded.map(numbers), 'same numbers as the embedded queue');
        // What the worker read came through the gateway, by content, into its own folder...
        const fetched = (await readdir(join(workerDir, 'files'))).sort();
        const want = [await readFile(srcFile), await readFile(tgtFile), setBytes].map((b) => sha256Hex(b));
        assert.deepEqual(fetched, [...new Set(want)].sort());
        // ...and the results name the host's files, not the worker's copies.
        assert.equal(viaRedis[0]!.source.fromFile, srcFile);
        assert.equal(viaRedis[0]!.targets[0]!.trained!.fromFile, tgtFile);
        assert.ok(!JSON.stringify(viaRedis).includes(workerDir), 'no worker path in the results');
        assert.ok(viaRedis[1]!.targets[0]!.methods.gmt!.paths, 'the whole task ran its analysis');
      } finally {
        lab.events.stop();
        await agent.close();
        await host.close();
      }
    } finally {
      await redis.close();
      await temp.cleanup();
    }
  },
);

test(
  'a file that changed after the host offered it is refused by the worker (sha256), before anything starts',
  { skip: redisMissing(), timeout: 60_000 },
  async () => {
    const redis = await startRedis();
    const temp = await tempDir('tlab-redis-sha-');
    const file = join(temp.dir, 'trained.safetensors');
    await writeFile(file, 'the bytes the host hashed');
    const remote = await startRemoteQueue({ url: redis.url, weightsDir: join(temp.dir, 'host', 'weights') });
    const sha = await remote.gateway.publish(file);
    await writeFile(file, 'other bytes on the disk now');
    const connection = connectRedis(redis.url);
    const queue = new Queue(QUEUE_NAME, { connection });
    const { agent, launched } = await refusingAgent(
      redis.url,
      remote.token,
      join(temp.dir, 'worker', 'weights'),
    );
    try {
      const spec = parseSpec({
        ...tinySpec(),
        source: { ...(tinySpec() as { source: object }).source, trained: { file } },
      });
      const job = await queue.add(
        'phase',
        {
          protocol: WORKER_PROTOCOL_VERSION,
          specHash: specHash(spec),
          gateway: remote.gatewayUrl,
          task: sourceTask(spec),
          files: { [file]: sha },
        },
        { jobId: 'e1.source' },
      );
      assert.match((await failedJob(queue, job.id!)).failedReason, /does not match its sha256/);
      assert.equal(launched(), 0);
      assert.deepEqual(await readdir(join(temp.dir, 'worker', 'files')), [], 'nothing kept');
    } finally {
      await agent.close();
      await queue.close();
      connection.disconnect();
      await remote.close();
      await redis.close();
      await temp.cleanup();
    }
  },
);
