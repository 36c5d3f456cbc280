/**
 * Issue 8, items 3 and 11: a job that runs out of disk ends as failed with that cause (in its run,
 * its log and the experiment's status), leaves no partial weights file, and the lab starts again
 * on the full disk and says why. A finished job is checkpointed. Needs a small tmpfs, so root;
 * skipped with the reason otherwise.
 */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSpec } from '../../src/shared/domain/index.js';
import { jobRecorder } from '../../src/services/jobs/recorder.js';
import type { WorkerExit, WorkerLauncher } from '../../src/services/jobs/worker-process.js';
import { LabStore } from '../../src/services/store/index.js';
import { openLab } from '../../src/services/lab-service.js';
import { describeFree, isDiskFull, RESERVE_FILE } from '../../src/services/store/disk-space.js';
import { WeightsDir } from '../../src/services/store/weights.js';
import type { AppInfo, ExperimentDetail } from '../../src/shared/lab-api.js';
import type { FromWorker, ToWorker } from '../../src/shared/worker-protocol.js';
import { tempDir, tinySpec, waitUntil } from '../helpers/lab.js';

function mountTmpfs(sizeMiB: number): { dir: string; unmount: () => void } | string {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs';
  const dir = mkdtempSync(join(tmpdir(), 'tlab-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${(e as Error).message.split('\n')[0]})`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the disk holding `dir` to the last byte. */
function fill(dir: string): void {
  const chunk = Buffer.alloc(256 * 1024, 1);
  for (let i = 0; ; i++) {
    try {
      writeFileSync(join(dir, `filler-${i}`), chunk);
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      for (const size of [65536, 4096, 512, 1])
        try {
          for (let j = 0; ; j++) writeFileSync(join(dir, `filler-${i}-${size}-${j}`), Buffer.alloc(size, 1));
        } catch {
          /* smaller */
        }
      return;
    }
  }
}

/**
 * A worker that starts the source phase, fills the disk, then saves trained weights as the real
 * worker does (WeightsDir.put) and reports the error it gets.
 */
function fillingLauncher(dataDir: string): WorkerLauncher {
  return () => {
    let onMsg: (m: FromWorker) => void = () => undefined;
    let onExit: (e: WorkerExit) => void = () => undefined;
    setImmediate(() => onMsg({ type: 'ready', protocol: 1, pid: 1 }));
    return {
      pid: null,
      send: (m: ToWorker) => {
        if (m.type !== 'start') return;
        void (async () => {
          onMsg({ type: 'phase', phase: 'source', state: 'start' });
          fill(dataDir);
          try {
            await new WeightsDir(m.weightsDir).put(Buffer.alloc(1024 * 1024, 7));
            onMsg({ type: 'error', message: 'the disk did not fill', cancelled: false });
          } catch (e) {
            onMsg({ type: 'error', message: (e as Error).message, cancelled: false });
          }
          onExit({ code: 1, signal: null });
        })();
      },
      onMessage: (l) => void (onMsg = l),
      onExit: (l) => void (onExit = l),
      stderrTail: () => '',
      kill: () => undefined,
    };
  };
}

const mount = mountTmpfs(16);

test(
  'a job that runs out of disk ends failed with the cause; the lab restarts on the full disk',
  { skip: typeof mount === 'string' ? mount : false },
  async () => {
    const { dir, unmount } = mount as { dir: string; unmount: () => void };
    try {
      const dataDir = join(dir, 'lab');
      let lab = openLab({ dataDir, host: 'headless', appVersion: 'test', launcher: fillingLauncher(dir) });
      assert.ok(readdirSync(dataDir).includes(RESERVE_FILE), 'the reserve is made at start');
      const { id } = (await lab.request('experiments.create', {
        spec: tinySpec(),
        name: 'fills the disk',
      })) as { id: string };
      await waitUntil(
        () => ['failed', 'done'].includes(lab.store.getExperimentSummary(id)!.status),
        'the job ends',
        20_000,
      );
      const e = (await lab.request('experiments.get', { id })) as ExperimentDetail;
      assert.equal(e.status, 'failed');
      const source = e.runs.find((r) => r.phase === 'source')!;
      assert.equal(source.status, 'failed');
      assert.match(
        source.error ?? '',
        /^out of disk space: the disk holding .* is full \(.*ENOSPC.*\)\. Free some space, then resume$/,
      );
      assert.ok(
        e.log.some((l) => l.level === 'error' && /out of disk space/.test(l.message)),
        'in the log',
      );
      assert.deepEqual(
        readdirSync(join(dataDir, 'weights')).filter((n) => n.startsWith('.tmp-')),
        [],
        'no partial file',
      );
      assert.deepEqual(lab.store.integrityCheck(), ['ok']);
      await lab.close();

      // Full to the last byte (the reserve went into recording the failure, and something else
      // took it): the lab starts, says why, and its records are intact.
      fill(dir);
      process.stdout.write(`# after fill: ${describeFree(dir)}\n`);
      lab = openLab({ dataDir, host: 'headless', appVersion: 'test', launcher: fillingLauncher(dir) });
      const info = (await lab.request('app.info', {})) as AppInfo;
      process.stdout.write(`# storage warning: ${info.storageWarning}\n`);
      assert.match(info.storageWarning ?? '', /disk holding .* is (nearly )?full/);
      assert.equal(((await lab.request('experiments.get', { id })) as ExperimentDetail).status, 'failed');
      assert.deepEqual(lab.store.integrityCheck(), ['ok']);
      await lab.close();
    } finally {
      unmount();
    }
  },
);

test('a job that ends is checkpointed: lab.db alone, without its WAL, holds the outcome', async () => {
  const data = await tempDir();
  const store = LabStore.open(data.dir);
  try {
    const spec = parseSpec(tinySpec());
    const e = store.createExperiment({ spec, name: 'durable' });
    store.planRuns(e.id, spec);
    const recorder = jobRecorder({ store, emit: () => undefined, experimentId: e.id });
    recorder.ended({ kind: 'cancelled', reason: 'stopped by the test' });
    // What a power loss leaves when the WAL's last frames were never synced: the main file only.
    const copy = join(data.dir, 'copy.db');
    copyFileSync(join(data.dir, 'lab.db'), copy);
    const db = new Database(copy, { readonly: true });
    const statuses = db.prepare('SELECT DISTINCT status FROM runs WHERE experiment_id = ?').all(e.id);
    db.close();
    assert.deepEqual(statuses, [{ status: 'cancelled' }]);
  } finally {
    store.close();
    await data.cleanup();
  }
});
