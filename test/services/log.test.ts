/**
 * src/services/log.ts: levels from the environment, the size-capped lab.log, readable stderr lines,
 * and a worker's records reaching the parent's lab.log through its stderr (node-worker.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { nodeWorkerLauncher } from '../../src/services/jobs/node-worker.js';
import {
  attachLogFile,
  formatRecord,
  levelFromEnv,
  log,
  logFilePath,
  logger,
  LOG_LEVEL_ENV,
  relayWorkerLine,
  RotatingFile,
} from '../../src/services/log.js';
import { tempDir } from '../helpers/lab.js';

test('the level comes from TRAJECTORY_LAB_LOG_LEVEL; info by default, warn under the tests', () => {
  assert.equal(levelFromEnv({ [LOG_LEVEL_ENV]: 'DEBUG' }), 'debug');
  assert.equal(levelFromEnv({ [LOG_LEVEL_ENV]: 'silent' }), 'silent');
  assert.equal(levelFromEnv({ [LOG_LEVEL_ENV]: 'loud' }), 'info');
  assert.equal(levelFromEnv({}), 'info');
  assert.equal(levelFromEnv({ TRAJECTORY_LAB_TEST: '1' }), 'warn');
});

test('records go to <data>/logs/lab.log while attached, as JSON lines with the component and error', async () => {
  const t = await tempDir('tlab-log-');
  const saved = log.level;
  try {
    log.level = 'info';
    const detach = attachLogFile(t.dir);
    const q = logger('queue');
    q.info({ experimentId: 'e1' }, 'job started');
    q.debug('not at this level');
    q.error({ err: new Error('disk full') }, 'writing metrics failed');
    detach();
    q.error('after detach');
    const lines = readFileSync(logFilePath(t.dir), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.level, l.component, l.msg]),
      [
        [30, 'queue', 'job started'],
        [50, 'queue', 'writing metrics failed'],
      ],
    );
    assert.equal(lines[0].experimentId, 'e1');
    assert.match(lines[1].err.stack, /Error: disk full/);
  } finally {
    log.level = saved;
    await t.cleanup();
  }
});

test('the file rotates past its cap and keeps the set number of old files', async () => {
  const t = await tempDir('tlab-log-');
  try {
    const path = join(t.dir, 'lab.log');
    const f = new RotatingFile(path, { maxBytes: 100, keep: 2 });
    for (let i = 0; i < 10; i++) f.write(`${String(i).repeat(39)}\n`); // 40 bytes each
    f.close();
    // 10 lines of 40 bytes, 2 a file: lab.log holds the last two, .1 and .2 the two pairs before.
    assert.equal(readFileSync(path, 'utf8'), `${'8'.repeat(39)}\n${'9'.repeat(39)}\n`);
    assert.match(readFileSync(`${path}.1`, 'utf8'), /^6{39}\n7{39}\n$/);
    assert.match(readFileSync(`${path}.2`, 'utf8'), /^4{39}\n5{39}\n$/);
    assert.equal(existsSync(`${path}.3`), false);
    // Reopening continues the file and its size.
    const g = new RotatingFile(path, { maxBytes: 100, keep: 2 });
    g.write('x\n');
    g.close();
    assert.match(readFileSync(path, 'utf8'), /9{39}\nx\n$/);
  } finally {
    await t.cleanup();
  }
});

test('formatRecord makes a person-readable line; other text passes unchanged', () => {
  const line = JSON.stringify({
    level: 40,
    time: Date.UTC(2026, 0, 1, 8, 5, 3),
    pid: 1,
    component: 'host',
    msg: 'slow request',
    url: '/x',
  });
  assert.equal(formatRecord(line), '08:05:03 WARN host: slow request {"url":"/x"}\n');
  assert.equal(formatRecord('plain text'), 'plain text\n');
});

test('relayWorkerLine logs a worker record at its level with its fields, and raw text as a warning', () => {
  const seen: [string, Record<string, unknown>, string][] = [];
  const into = Object.fromEntries(
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => [
      l,
      (o: Record<string, unknown>, m: string) => seen.push([l, o, m]),
    ]),
  ) as never;
  const rec = JSON.stringify({
    level: 50,
    time: 0,
    pid: 77,
    hostname: 'h',
    component: 'worker',
    msg: 'boom',
  });
  assert.match(relayWorkerLine(rec, into), /ERROR worker: boom/);
  assert.equal(relayWorkerLine('Segmentation fault', into), 'Segmentation fault\n');
  assert.equal(relayWorkerLine('', into), '');
  assert.deepEqual(seen, [
    ['error', { component: 'worker', workerPid: 77 }, 'boom'],
    ['warn', { stream: 'stderr' }, 'Segmentation fault'],
  ]);
});

test("a worker's log records reach the parent's lab.log and its stderr tail", async () => {
  const t = await tempDir('tlab-log-');
  const saved = log.level;
  try {
    const entry = join(t.dir, 'fake-worker.ts');
    const logModule = pathToFileURL(join(import.meta.dirname, '../../src/services/log.ts')).href;
    writeFileSync(
      entry,
      `import { logger } from ${JSON.stringify(logModule)};\n` +
        `const log = logger('worker');\n` +
        `log.info({ experimentId: 'e9' }, 'phase source started');\n` +
        `log.error({ err: new Error('nan loss') }, 'training failed');\n` +
        `process.stderr.write('a raw line from a library\\n');\n`,
    );
    log.level = 'info';
    const detach = attachLogFile(t.dir);
    const handle = nodeWorkerLauncher({ entry })({
      ...process.env,
      TRAJECTORY_LAB_LOG_LEVEL: 'warn',
    } as never);
    const exit = await new Promise((r) => handle.onExit(r));
    detach();
    assert.deepEqual(exit, { code: 0, signal: null });
    const records = readFileSync(logFilePath(t.dir), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const phase = records.find((r) => r.msg === 'phase source started');
    assert.ok(phase, 'a worker logs info for its parent even at warn: the parent decides what to keep');
    assert.equal(phase.experimentId, 'e9');
    assert.equal(typeof phase.workerPid, 'number');
    assert.notEqual(phase.workerPid, process.pid);
    assert.match(records.find((r) => r.msg === 'training failed').err.stack, /nan loss/);
    assert.ok(records.some((r) => r.msg === 'a raw line from a library' && r.level === 40));
    const tail = handle.stderrTail();
    assert.match(tail, /INFO worker: phase source started/);
    assert.match(tail, /ERROR worker: training failed[^\n]*\n\s+Error: nan loss/);
  } finally {
    log.level = saved;
    await t.cleanup();
  }
});
