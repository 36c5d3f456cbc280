/**
 * src/main/utility-worker.ts under the Electron mock, and so the handle plumbing it shares with
 * node-worker.ts (src/services/jobs/worker-handle.ts): protocol messages only, sends after the exit
 * dropped, the worker's log records relayed into the stderr tail (readable) and the lab's log, the
 * exit reported once and only after the last of stderr, kills.
 */
import '../mocks/register-electron.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { LOG_JSON_ENV } from '../../src/services/log.js';
import type { WorkerExit } from '../../src/services/jobs/worker-process.js';

const mock = (await import('electron')) as unknown as typeof import('../mocks/electron.js');
const { utilityWorkerLauncher } = await import('../../src/main/utility-worker.js');

function launch(pid?: number) {
  mock.utilityProcess.nextPid = pid;
  const handle = utilityWorkerLauncher('/app/out/worker/index.js')({ A: '1' });
  const child = mock.utilityProcess.forked.at(-1)!;
  const exits: WorkerExit[] = [];
  handle.onExit((e) => exits.push(e));
  return { handle, child, exits };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

test('forks the entry with piped stdio, the env, and JSON logging for the parent to relay', () => {
  const { child } = launch();
  assert.equal(child.modulePath, '/app/out/worker/index.js');
  assert.equal(child.options.stdio, 'pipe');
  assert.equal(child.options.env!.A, '1');
  assert.equal(child.options.env![LOG_JSON_ENV], '1');
});

test('only protocol messages reach the listener; sends go to postMessage until the exit', async () => {
  const { handle, child } = launch(4242);
  assert.equal(handle.pid, 4242);
  const got: unknown[] = [];
  handle.onMessage((m) => got.push(m));
  child.emit('message', { type: 'ready', pid: 4242 });
  child.emit('message', { type: 'not-a-protocol-message' });
  child.emit('message', 'text');
  assert.deepEqual(got, [{ type: 'ready', pid: 4242 }]);
  handle.send({ type: 'cancel' } as never);
  assert.deepEqual(child.posted, [{ type: 'cancel' }]);
  child.finish(0);
  await tick();
  handle.send({ type: 'cancel' } as never);
  assert.equal(child.posted.length, 1);
});

test('stderr: log records become readable lines in the tail, raw text stays; split lines are joined', async () => {
  const { handle, child, exits } = launch();
  const rec = JSON.stringify({
    level: 30,
    time: Date.UTC(2026, 0, 1, 12, 0, 1),
    pid: 9,
    component: 'worker',
    msg: 'phase source started',
  });
  child.stderr.write(rec.slice(0, 20));
  child.stderr.write(`${rec.slice(20)}\nRangeError: out of memory\n    at train (x.js:1)`);
  child.finish(1);
  await tick();
  const tail = handle.stderrTail();
  assert.match(tail, /12:00:01 INFO worker: phase source started/);
  assert.match(tail, /RangeError: out of memory\n {4}at train \(x\.js:1\)/);
  assert.doesNotMatch(tail, /"level":30/);
  assert.deepEqual(exits, [{ code: 1, signal: null }]);
});

test('the exit waits for the end of stderr when it comes first, and is reported once', async () => {
  const { handle, child, exits } = launch();
  child.emit('exit', 3);
  await tick();
  assert.deepEqual(exits, [], 'stderr still open: the exit waits for its last words');
  child.stderr.end('last words\n');
  await tick();
  assert.deepEqual(exits, [{ code: 3, signal: null }]);
  child.emit('exit', 3);
  await tick();
  assert.equal(exits.length, 1);
  assert.match(handle.stderrTail(), /last words/);
  // A listener added after the exit hears it at once.
  let late: WorkerExit | null = null;
  handle.onExit((e) => (late = e));
  assert.deepEqual(late, { code: 3, signal: null });
});

test('the exit is reported within the grace period when stderr never ends', async () => {
  const { child, exits } = launch();
  child.emit('exit', 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(exits, [{ code: 0, signal: null }]);
});

test('kill: SIGTERM through Electron; SIGKILL to the pid; the exit reports the signal asked for', async () => {
  const a = launch();
  a.handle.kill('SIGTERM');
  assert.equal(a.child.killed, 1);
  a.child.finish(0);
  await tick();
  assert.deepEqual(a.exits, [{ code: 0, signal: 'SIGTERM' }]);
  a.handle.kill('SIGTERM');
  assert.equal(a.child.killed, 1, 'no kill after the exit');

  // A real process of our own stands in for the worker, so SIGKILL has something to kill.
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  const died = new Promise<NodeJS.Signals | null>((r) => sleeper.once('exit', (_c, s) => r(s)));
  const b = launch(sleeper.pid);
  b.handle.kill('SIGKILL');
  assert.equal(await died, 'SIGKILL');
  assert.equal(b.child.killed, 0, 'SIGKILL went to the pid, not through Electron');
  b.child.finish(137);
  await tick();
  assert.deepEqual(b.exits, [{ code: 137, signal: 'SIGKILL' }]);
});

test('a spawn error is noted in the tail', async () => {
  const { handle, child } = launch();
  child.emit('error', 'FatalError', 'worker.js');
  child.finish(1);
  await tick();
  assert.match(handle.stderrTail(), /utility process error: FatalError at worker\.js/);
});
