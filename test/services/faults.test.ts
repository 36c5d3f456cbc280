/**
 * Fault injection (issue 8): kills the worker or the whole server at seeded random points of a
 * running experiment, N times, and checks after each kill that the database is intact
 * (integrity_check 'ok'), that no phase which had finished is lost or changed, and that resuming
 * finishes the experiment. `npm test -- faults`; TLAB_FAULTS_N (default 20) and TLAB_FAULTS_SEED
 * (default 8) vary it. The experiments are tiny so the suite stays within a few minutes.
 */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import type { ExperimentDetail, JobInfo, LabEvent } from '../../src/shared/lab-api.js';
import { connectLab, type LabWsClient } from '../../src/shared/lab-ws-client.js';
import { alive, EventLog, isExperimentStatus, tempDir, tinySpec, waitUntil } from '../helpers/lab.js';
import { spawnHost } from '../helpers/spawn-host.js';

const N = Number(process.env.TLAB_FAULTS_N ?? 20);
const SEED = Number(process.env.TLAB_FAULTS_SEED ?? 8);

/** mulberry32: a small seeded generator, so a failing run can be repeated exactly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Host {
  child: ChildProcess;
  client: LabWsClient;
  events: EventLog;
}

async function startHost(dataDir: string): Promise<Host> {
  const { child, url } = await spawnHost(dataDir);
  const client = connectLab(url, {
    socket: (u) => new WebSocket(u) as never,
    reconnect: false,
  });
  return { child, client, events: new EventLog((l) => client.onEvent(l)) };
}

async function stopHost(h: Host, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  h.events.stop();
  h.client.close();
  if (h.child.exitCode !== null || h.child.signalCode !== null) return;
  const exited = new Promise((r) => h.child.once('exit', r));
  h.child.kill(signal);
  await exited;
}

function integrity(dataDir: string): string[] {
  const db = new Database(join(dataDir, 'lab.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  } finally {
    db.close();
  }
}

/** Waits for an event that arrives after `mark` (the log's length then); older ones do not count. */
async function waitAfter(
  h: Host,
  mark: number,
  match: (e: LabEvent) => boolean,
  what: string,
  timeoutMs: number,
): Promise<void> {
  await waitUntil(() => h.events.events.slice(mark).some((e) => match(e.event)), what, timeoutMs);
}

/** Finished phases and what they found (the part of a result that must never change). */
function finished(e: ExperimentDetail): Map<string, string> {
  return new Map(
    e.runs
      .filter((r) => r.status === 'done' && r.summary)
      .map((r) => [r.phase, JSON.stringify((r.summary as { valAccuracy?: unknown }).valAccuracy ?? null)]),
  );
}

test(
  `fault injection: ${N} seeded kills of workers and the server mid-experiment`,
  { timeout: Number(process.env.TLAB_FAULTS_TIMEOUT_MS ?? 15 * 60_000) },
  async () => {
    const data = await tempDir('tlab-faults-');
    const random = rng(SEED);
    const counts = {
      workerKills: 0,
      serverKills: 0,
      finishedBeforeKill: 0,
      phasesKept: 0,
      resumed: 0,
      integrityOk: 0,
    };
    let host = await startHost(data.dir);
    try {
      for (let i = 0; i < N; i++) {
        const mode = random() < 0.35 ? 'server' : 'worker';
        // The kill point: once `phasesDone` of the 5 phases (source, target, 3 methods) finished,
        // then `delayMs` more; so kills land before, between and inside phases.
        const phasesDone = Math.floor(random() * 5);
        const delayMs = Math.round(random() * 1500);
        const spec = {
          ...tinySpec({ seed: 1000 + i, hidden: [16], T: 2, methods: ['naive', 'oracle', 'fgmt'] }),
          datasetOptions: { trainLimit: 400 },
          evalLimit: 200,
        };
        const { id } = (await host.client.request('experiments.create', { spec, name: `fault ${i}` })) as {
          id: string;
        };
        // A random point: after the worker started, some delay in, unless it finished first.
        await host.events.wait(
          (e) => e.type === 'jobs' && e.jobs.some((j) => j.experimentId === id && j.pid !== null),
          'the worker',
          60_000,
        );
        const ended = host.events.wait(
          isExperimentStatus(id, 'done', 'failed', 'cancelled'),
          'the end',
          120_000,
        );
        const mark = host.events.events.length;
        const doneCount = (): number =>
          new Set(
            host.events.events
              .slice(mark)
              .map((e) => e.event)
              .filter((e) => e.type === 'run.updated' && e.run.experimentId === id && e.run.status === 'done')
              .map((e) => (e as { run: { phase: string } }).run.phase),
          ).size;
        const endedFirst = await Promise.race([
          ended.then(() => true),
          waitUntil(() => doneCount() >= phasesDone, 'phases to finish', 180_000)
            .then(() => new Promise((r) => setTimeout(r, delayMs)))
            .then(() => false),
        ]);
        ended.catch(() => undefined);
        const jobs = (await host.client.request('jobs.list', {})) as JobInfo[];
        const pid = jobs.find((j) => j.experimentId === id)?.pid ?? null;
        const before = finished((await host.client.request('experiments.get', { id })) as ExperimentDetail);
        if (endedFirst || pid === null) counts.finishedBeforeKill++;

        if (mode === 'server') {
          await stopHost(host, 'SIGKILL');
          if (pid !== null) await waitUntil(() => !alive(pid), 'the orphaned worker to exit', 20_000);
          host = await startHost(data.dir);
          counts.serverKills++;
        } else {
          if (pid !== null && alive(pid)) process.kill(pid, 'SIGKILL');
          // The job may have ended just before the kill (no further event comes): poll its status.
          for (let t = 0; t < 300; t++) {
            const { status } = (await host.client.request('experiments.get', { id })) as ExperimentDetail;
            if (status !== 'running' && status !== 'queued') break;
            await new Promise((r) => setTimeout(r, 200));
          }
          counts.workerKills++;
        }

        const checked = integrity(data.dir);
        assert.deepEqual(checked, ['ok'], `kill ${i} (${mode}): integrity_check`);
        counts.integrityOk++;
        const after = (await host.client.request('experiments.get', { id })) as ExperimentDetail;
        const afterDone = finished(after);
        for (const [phase, value] of before) {
          assert.equal(
            afterDone.get(phase),
            value,
            `kill ${i} (${mode}): the finished phase ${phase} was lost or changed`,
          );
          counts.phasesKept++;
        }

        if (after.status !== 'done') {
          const mark = host.events.events.length;
          await host.client.request('experiments.resume', { id });
          await waitAfter(
            host,
            mark,
            isExperimentStatus(id, 'done', 'failed', 'cancelled'),
            'the resumed experiment',
            180_000,
          );
          const resumed = (await host.client.request('experiments.get', { id })) as ExperimentDetail;
          assert.equal(
            resumed.status,
            'done',
            `kill ${i} (${mode}): ${JSON.stringify(resumed.runs.map((r) => [r.phase, r.status, r.error]))}`,
          );
          for (const [phase, value] of before) assert.equal(finished(resumed).get(phase), value);
          counts.resumed++;
        }
        process.stdout.write(
          `# fault ${i + 1}/${N}: ${mode} kill ${delayMs} ms after ${phasesDone} phases ${JSON.stringify(counts)}\n`,
        );
      }
    } finally {
      await stopHost(host, 'SIGTERM');
      process.stdout.write(`# faults (seed ${SEED}, N ${N}): ${JSON.stringify(counts)}\n`);
      await data.cleanup();
    }
    assert.equal(counts.integrityOk, N);
  },
);
