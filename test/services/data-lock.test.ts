/**
 * One process per data folder: a second lab or a CLI `run --db` on a folder in use is refused
 * with the holder's pid, a lock left by a dead process is taken over, and closing unlocks.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireDataLock, DataDirInUseError, LOCK_FILE } from '../../src/services/data-lock.js';
import { startHeadless } from '../../src/services/host/headless.js';
import { nodeWorkerLauncher } from '../../src/services/jobs/node-worker.js';
import { openLab } from '../../src/services/lab-service.js';
import { tempDir, tinySpec } from '../helpers/lab.js';
import { spawnHost } from '../helpers/spawn-host.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()),
  );
}

/** A pid that was alive a moment ago and is not any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await exited(child);
  return child.pid!;
}

test('a folder in use by a lab in another process is refused to a second lab and to the CLI; a killed holder leaves a lock that is taken over', async () => {
  const data = await tempDir();
  const host = await spawnHost(data.dir);
  try {
    const lock = JSON.parse(await readFile(join(data.dir, LOCK_FILE), 'utf8')) as {
      pid: number;
      role: string;
    };
    assert.deepEqual([lock.pid, lock.role], [host.pid, 'npm run serve']);

    const inUse = new RegExp(
      `the lab data folder ${data.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by process ${host.pid} \\(npm run serve\\); stop it`,
    );
    await assert.rejects(
      startHeadless({ dataDir: data.dir, probeBackend: false, rendererDir: data.dir }),
      (e: unknown) => {
        assert.ok(e instanceof DataDirInUseError);
        assert.equal(e.pid, host.pid);
        assert.match(e.message, inUse);
        return true;
      },
    );
    assert.throws(
      () =>
        openLab({ dataDir: data.dir, launcher: nodeWorkerLauncher(), host: 'electron', appVersion: 'test' }),
      inUse,
    );

    // The CLI would record into the same store: refused before it trains anything.
    const specPath = join(data.dir, 'spec.json');
    await writeFile(specPath, JSON.stringify(tinySpec({ methods: ['naive'] })));
    const cli = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', CLI, 'run', specPath, '--out', join(data.dir, 'out'), '--db', data.dir],
        { timeout: 60_000 },
        (err, _stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      ),
    );
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(
      cli.stderr,
      new RegExp(
        `in use by process ${host.pid} \\(npm run serve\\); stop it, or record into another folder with --db`,
      ),
    );
    assert.equal(existsSync(join(data.dir, 'out', 'result.json')), false);

    // kill -9: the lock file stays behind, naming a dead process.
    host.child.kill('SIGKILL');
    await exited(host.child);
    assert.ok(existsSync(join(data.dir, LOCK_FILE)));
    const lab = await startHeadless({ dataDir: data.dir, probeBackend: false, rendererDir: data.dir });
    try {
      const mine = JSON.parse(await readFile(join(data.dir, LOCK_FILE), 'utf8')) as { pid: number };
      assert.equal(mine.pid, process.pid);
      // Opened twice by one process is just as wrong.
      assert.throws(
        () =>
          openLab({
            dataDir: data.dir,
            launcher: nodeWorkerLauncher(),
            host: 'headless',
            appVersion: 'test',
          }),
        /in use by process \d+ \(this one\) \(npm run serve\)/,
      );
    } finally {
      await lab.close();
    }
    assert.equal(existsSync(join(data.dir, LOCK_FILE)), false, 'closing the lab unlocks the folder');
  } finally {
    host.child.kill('SIGKILL');
    await exited(host.child);
    await data.cleanup();
  }
});

test("the lock: a dead or unreadable holder is replaced, another machine's holder is respected, release removes only our own lock", async () => {
  const data = await tempDir();
  const path = join(data.dir, LOCK_FILE);
  try {
    await writeFile(
      path,
      JSON.stringify({
        pid: await deadPid(),
        role: 'npm run serve',
        host: hostname(),
        nonce: 'x',
        startedAt: '',
      }),
    );
    const a = acquireDataLock(data.dir, { role: 'test' });
    assert.equal((JSON.parse(await readFile(path, 'utf8')) as { pid: number }).pid, process.pid);
    assert.throws(
      () => acquireDataLock(data.dir, { role: 'again', hint: 'go away' }),
      /in use by process \d+ \(this one\) \(test\); go away/,
    );
    a.release();
    assert.equal(existsSync(path), false);

    await writeFile(path, '{"pid": 12');
    const b = acquireDataLock(data.dir, { role: 'test' });
    // Someone else's lock written over ours (not ours to remove any more).
    const foreign = JSON.stringify({
      pid: 1,
      role: 'the desktop app',
      host: 'another-machine.example',
      nonce: 'y',
      startedAt: '',
    });
    await writeFile(path, foreign);
    b.release();
    assert.equal(await readFile(path, 'utf8'), foreign, 'release left the lock it does not own');
    assert.throws(
      () => acquireDataLock(data.dir, { role: 'test' }),
      /in use by process 1 \(the desktop app\) on another-machine\.example; .*; if it is not running there any more, delete .*lab\.lock$/,
    );
  } finally {
    await data.cleanup();
  }
});
