/**
 * The headless host: the token guards the API socket, only loopback binds unless allowed, static
 * files stay inside the renderer folder with security headers, and a host killed mid-run leaves
 * an interrupted experiment that resumes without retraining its source.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ExperimentDetail, LabError, ParamSetRecord } from '../../src/shared/lab-api.js';
import { connectLab, type LabWsClient } from '../../src/shared/lab-ws-client.js';
import { startHeadless } from '../../src/services/host/headless.js';
import { HostError, startHost } from '../../src/services/host/server.js';
import {
  alive,
  EventLog,
  isExperimentStatus,
  isRunUpdate,
  tempDir,
  tinySpec,
  waitUntil,
} from '../helpers/lab.js';

const HOST_PROCESS = fileURLToPath(new URL('../helpers/host-process.ts', import.meta.url));

function wsClient(url: string, token?: string): LabWsClient {
  return connectLab(url, {
    socket: (u) => new WebSocket(u) as never,
    reconnect: false,
    ...(token !== undefined ? { token } : {}),
  });
}

/** The HTTP status with which the server answers a WebSocket upgrade to `url`, or 101. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.on('error', (e) => reject(e));
  });
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    // A raw path (no URL normalisation), so traversal attempts reach the server as written.
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function labError(p: Promise<unknown>): Promise<LabError> {
  try {
    await p;
  } catch (e) {
    return (e as { error: LabError }).error;
  }
  assert.fail('the request should have been refused');
}

test('the API socket needs the token; requests with bad arguments are refused by validation', async () => {
  const data = await tempDir();
  const lab = await startHeadless({ dataDir: data.dir, probeBackend: false, rendererDir: data.dir });
  const { port, token } = lab.server;
  try {
    assert.match(lab.server.url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[A-Za-z0-9_-]{32}$`));
    const api = `ws://127.0.0.1:${port}/api`;
    assert.equal(await upgradeStatus(api), 401, 'no token');
    assert.equal(await upgradeStatus(`${api}?token=`), 401, 'empty token');
    assert.equal(await upgradeStatus(`${api}?token=${token.slice(0, -1)}x`), 401, 'wrong token');
    assert.equal(
      await upgradeStatus(`${api}?token=${token}`, { Origin: 'http://evil.example' }),
      403,
      'foreign origin',
    );
    assert.equal(await upgradeStatus(`${api}?token=${token}`), 101, 'right token');
    assert.equal((await get(port, '/api')).status, 401, 'plain HTTP to the API without a token');
    assert.equal((await get(port, `/api?token=${token}`)).status, 426);

    // The client rejects what it asked while the socket was refused.
    const refused = wsClient(lab.server.url, 'wrong');
    const err = await labError(refused.request('app.info', {}));
    assert.equal(err.code, 'internal');
    refused.close();

    const client = wsClient(lab.server.url);
    try {
      const info = (await client.request('app.info', {})) as { host: string; dataDir: string };
      assert.equal(info.host, 'headless');
      assert.equal(info.dataDir, data.dir);
      const bad = await labError(client.request('experiments.get', { id: 'not an id!' }));
      assert.deepEqual([bad.code, bad.field], ['invalid', 'id']);
      const unknown = await labError(client.request('nope.nothing' as never, {} as never));
      assert.equal(unknown.code, 'invalid');
      assert.match(unknown.message, /unknown request/);
      const spec = await labError(
        client.request('experiments.create', { spec: { ...tinySpec(), transfer: { T: 0 } }, name: 'x' }),
      );
      assert.deepEqual([spec.code, spec.field], ['invalid', 'spec.transfer.T']);
      const missing = await labError(client.request('experiments.get', { id: 'doesnotexist' }));
      assert.equal(missing.code, 'not-found');
      // Nothing was created by the refused requests.
      assert.deepEqual(await client.request('experiments.list', {}), { items: [], total: 0 });
    } finally {
      client.close();
    }
  } finally {
    await lab.close();
    await data.cleanup();
  }
});

test('a non-loopback bind is refused unless --allow-remote', async () => {
  const data = await tempDir();
  try {
    const service = { request: async () => null, onEvent: () => () => {} };
    await assert.rejects(startHost({ service, rendererDir: data.dir, host: '0.0.0.0' }), HostError);
    await assert.rejects(
      startHost({ service, rendererDir: data.dir, host: '192.168.1.10' }),
      /not a loopback address/,
    );
    const labDir = join(data.dir, 'lab');
    await assert.rejects(startHeadless({ dataDir: labDir, host: '0.0.0.0', probeBackend: false }), HostError);
    assert.equal(existsSync(labDir), false, 'refused before the data folder was touched');
    const allowed = await startHost({ service, rendererDir: data.dir, host: '0.0.0.0', allowRemote: true });
    await allowed.close();
    for (const host of ['127.0.0.1', '::1', 'localhost']) {
      const h = await startHost({ service, rendererDir: data.dir, host }).catch((e: NodeJS.ErrnoException) =>
        e.code === 'EADDRNOTAVAIL' ? null : Promise.reject(e),
      );
      await h?.close();
    }
  } finally {
    await data.cleanup();
  }
});

test('static files: only the renderer folder, with security headers; index.html is never cached', async () => {
  const data = await tempDir();
  const renderer = join(data.dir, 'renderer');
  await mkdir(join(renderer, 'assets'), { recursive: true });
  await writeFile(join(renderer, 'index.html'), '<!doctype html><title>lab</title>');
  await writeFile(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(join(data.dir, 'secret.txt'), 'secret');
  const service = { request: async () => null, onEvent: () => () => {} };
  const host = await startHost({ service, rendererDir: renderer });
  try {
    const index = await get(host.port, '/');
    assert.equal(index.status, 200);
    assert.match(index.body, /<title>lab/);
    assert.equal(index.headers['cache-control'], 'no-store');
    assert.match(String(index.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    assert.match(
      String(index.headers['content-security-policy']),
      new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${host.port}`),
    );
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal(index.headers['referrer-policy'], 'no-referrer');
    assert.equal(index.headers['x-frame-options'], 'DENY');
    const js = await get(host.port, '/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    // A route of the single-page app falls back to index.html; a missing file does not.
    assert.equal((await get(host.port, '/history')).status, 200);
    assert.equal((await get(host.port, '/assets/nope.js')).status, 404);
    for (const path of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..\\secret.txt',
      '/%00index.html',
    ]) {
      const r = await get(host.port, path);
      assert.notEqual(r.body, 'secret', `${path} must not leave the renderer folder`);
      assert.ok(
        r.status === 404 || (r.status === 200 && r.body.includes('<title>lab')),
        `${path}: ${r.status}`,
      );
    }
    // A rebinding attack arrives under a foreign host name.
    assert.equal((await get(host.port, '/', { Host: `evil.example:${host.port}` })).status, 421);
  } finally {
    await host.close();
    await data.cleanup();
  }
});

test('the browser client rejects requests in flight when the socket closes, and reconnects', async () => {
  const data = await tempDir();
  let answer = true;
  const service = {
    // While `answer` is false, requests hang: they are in flight when the host goes away.
    request: (name: string) => (answer ? Promise.resolve({ name }) : new Promise<never>(() => {})),
    onEvent: () => () => {},
  };
  let host = await startHost({ service, rendererDir: data.dir, token: 'fixed-token-for-this-test' });
  const port = host.port;
  const client = connectLab(host.url, {
    socket: (u) => new WebSocket(u) as never,
    retryMs: 50,
    maxRetryMs: 200,
  });
  const states: string[] = [];
  client.onState((s) => states.push(s));
  try {
    assert.deepEqual(await client.request('app.info', {}), { name: 'app.info' });
    answer = false;
    const pending = labError(client.request('jobs.list', {}));
    await new Promise((r) => setTimeout(r, 50));
    await host.close();
    const err = await pending;
    assert.equal(err.code, 'internal');
    assert.match(err.message, /lost/);
    answer = true;
    host = await startHost({ service, rendererDir: data.dir, port, token: 'fixed-token-for-this-test' });
    // Asked while reconnecting: waits for the socket instead of failing.
    assert.deepEqual(await client.request('jobs.list', {}), { name: 'jobs.list' });
    assert.equal(client.state, 'open');
    assert.ok(states.includes('closed') && states.at(-1) === 'open', states.join(' → '));
  } finally {
    client.close();
    await host.close();
    await data.cleanup();
  }
});

interface HostProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

async function spawnHost(dataDir: string): Promise<HostProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOST_PROCESS, dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`host exited with ${code}: ${stderr}`)));
  });
  return { child, url: (JSON.parse(line) as { url: string }).url, stderr: () => stderr };
}

test('a host killed mid-run leaves the run interrupted; resume finishes it without retraining the source', async () => {
  const data = await tempDir();
  let host = await spawnHost(data.dir);
  let client = wsClient(host.url);
  let events = new EventLog((l) => client.onEvent(l));
  try {
    const { id } = (await client.request('experiments.create', {
      spec: tinySpec({ methods: ['naive', 'gmt'] }),
      name: 'crash me',
    })) as { id: string };
    // Once the trained source is recorded (its run gets the summary), the host dies.
    const sourceDone = await events.wait<{ type: 'run.updated'; run: ExperimentDetail['runs'][number] }>(
      (e) =>
        e.type === 'run.updated' &&
        e.run.experimentId === id &&
        e.run.phase === 'source' &&
        e.run.status === 'done' &&
        e.run.summary !== null,
      'the trained source to be recorded',
    );
    host.child.kill('SIGKILL');
    const workerPid = events
      .of('jobs')
      .flatMap((e) => e.jobs)
      .find((j) => j.experimentId === id && j.pid !== null)!.pid!;
    await new Promise((r) => host.child.once('exit', r));
    client.close();
    // The orphaned worker notices its parent is gone and stops.
    await waitUntil(() => !alive(workerPid), 'the orphaned worker exits', 10_000);

    host = await spawnHost(data.dir);
    client = wsClient(host.url);
    events = new EventLog((l) => client.onEvent(l));
    const before = (await client.request('experiments.get', { id })) as ExperimentDetail;
    assert.equal(before.status, 'interrupted', JSON.stringify(before.runs.map((r) => [r.phase, r.status])));
    const source = before.runs.find((r) => r.phase === 'source')!;
    assert.equal(source.status, 'done');
    assert.ok(before.runs.some((r) => r.status === 'interrupted'));
    const setsBefore = (await client.request('params.list', {})) as ParamSetRecord[];
    assert.equal(setsBefore.length, 1);
    assert.equal(before.sourceParamSetId, setsBefore[0]!.id);
    assert.equal(sourceDone.run.id, source.id);

    assert.deepEqual(await client.request('experiments.resume', { id }), { id });
    await events.wait(
      isExperimentStatus(id, 'done', 'failed', 'cancelled'),
      'the resumed experiment to finish',
    );
    const after = (await client.request('experiments.get', { id })) as ExperimentDetail;
    assert.equal(after.status, 'done', JSON.stringify(after.runs.map((r) => [r.phase, r.status, r.error])));
    assert.ok(after.runs.every((r) => r.status === 'done' && r.summary));
    // Not retrained: the source's record is the one from before, no new parameter set, and the
    // worker said it reused the trained parameters.
    assert.deepEqual(
      after.runs.find((r) => r.phase === 'source'),
      source,
    );
    assert.deepEqual((await client.request('params.list', {})) as ParamSetRecord[], setsBefore);
    assert.ok(
      after.log.some((l) => /source .*reusing trained parameters/.test(l.message)),
      'the log says the source was reused',
    );
    assert.ok(
      !events.events.some((e) => isRunUpdate(id, 'source', 'running')(e.event)),
      'the source never ran again',
    );
    assert.ok(!events.of('progress').some((p) => p.phase === 'source'), 'no source training progress');
  } finally {
    client.close();
    host.child.kill('SIGTERM');
    await new Promise((r) => (host.child.exitCode !== null ? r(null) : host.child.once('exit', r)));
    await data.cleanup();
  }
});
