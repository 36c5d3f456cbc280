/**
 * Issue 8, items 7 and 8: a deeply nested frame is refused before parsing (the event loop stays
 * free), and tokens work like a well-kept local server's: URL once, then an HttpOnly SameSite
 * cookie or an `Authorization: token …` header; `serve -- list` recovers the address; a page with
 * a wrong token is told so and stops retrying.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { frameProblem, MAX_FRAME_DEPTH } from '../../src/services/host/frame-guard.js';
import { startHeadless } from '../../src/services/host/headless.js';
import { readServerFile, runningServer } from '../../src/services/host/server-file.js';
import { connectLab, type ConnectionState } from '../../src/shared/lab-ws-client.js';
import { tempDir, waitUntil } from '../helpers/lab.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
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
    ws.on('error', reject);
  });
}

async function withLab(fn: (lab: Awaited<ReturnType<typeof startHeadless>>, dir: string) => Promise<void>) {
  const data = await tempDir();
  await writeFile(join(data.dir, 'index.html'), '<!doctype html><title>lab</title>');
  const lab = await startHeadless({ dataDir: data.dir, probeBackend: false, rendererDir: data.dir });
  try {
    await fn(lab, data.dir);
  } finally {
    await lab.close();
    await data.cleanup();
  }
}

test('a frame nested a million levels deep is refused before parsing; the lab stays responsive', async () => {
  assert.match(frameProblem(Buffer.from('['.repeat(1_000_000) + ']'.repeat(1_000_000)))!, /deeper than 64/);
  assert.equal(
    frameProblem(Buffer.from(JSON.stringify({ a: '[[[[['.repeat(100) }))),
    null,
    'brackets in strings',
  );
  assert.equal(frameProblem(Buffer.from('"\\"[[[['.repeat(100) + '"')), null, 'escaped quotes');
  const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
  assert.equal(frameProblem(Buffer.from(nested(MAX_FRAME_DEPTH))), null);
  assert.match(frameProblem(Buffer.from(nested(MAX_FRAME_DEPTH + 1)))!, /nested deeper/);
  const bigSmall = Buffer.from(
    JSON.stringify({ kind: 'request', id: 1, name: 'app.info', args: { x: 'a'.repeat(5e6) } }),
  );
  assert.match(frameProblem(bigSmall)!, /only bundles.import and params.import may exceed/);
  const upload = Buffer.from(
    JSON.stringify({ kind: 'request', id: 1, name: 'bundles.import', args: { data: 'a'.repeat(5e6) } }),
  );
  assert.equal(frameProblem(upload), null);

  await withLab(async (lab) => {
    const { port, token } = lab.server;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api?token=${token}`);
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    const client = connectLab(lab.server.url, { socket: (u) => new WebSocket(u) as never, reconnect: false });
    await client.request('app.info', {});
    const frame = `{"kind":"request","id":1,"name":"app.info","args":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`;
    const t = performance.now();
    ws.send(frame);
    const code = await closed;
    await client.request('app.info', {});
    const ms = performance.now() - t;
    process.stdout.write(
      `# 2 MB frame nested 1,000,000 deep: refused (close ${code}), next app.info after ${ms.toFixed(0)} ms\n`,
    );
    assert.equal(code, 1008);
    assert.ok(ms < 1500, `the lab answered only after ${ms} ms`);
    client.close();
  });
});

test('tokens: URL once, then an HttpOnly SameSite=Strict cookie or an Authorization header', async () => {
  await withLab(async (lab, dir) => {
    const { port, token } = lab.server;
    const page = await get(port, `/?token=${token}`);
    assert.equal(page.status, 200);
    const cookie = String(page.headers['set-cookie']);
    assert.match(cookie, new RegExp(`^tlab-token-${port}=${token}; Path=/; HttpOnly; SameSite=Strict$`));
    assert.equal(
      (await get(port, `/?token=wrong`)).headers['set-cookie'],
      undefined,
      'no cookie for a wrong token',
    );
    assert.equal((await get(port, '/')).headers['set-cookie'], undefined);

    const jar = cookie.split(';')[0];
    const api = `ws://127.0.0.1:${port}/api`;
    assert.equal(await upgradeStatus(api, { Cookie: jar }), 101, 'the cookie alone');
    assert.equal(await upgradeStatus(api, { Authorization: `token ${token}` }), 101, 'the header alone');
    assert.equal(await upgradeStatus(api, { Authorization: `token nope` }), 401);
    assert.equal(await upgradeStatus(api, { Cookie: `tlab-token-${port}=nope` }), 401);
    assert.equal((await get(port, '/api/session', { Cookie: jar })).status, 200);
    assert.equal((await get(port, '/api/session', { Authorization: `token ${token}` })).status, 200);
    const refused = await get(port, '/api/session');
    assert.equal(refused.status, 401);
    assert.match(refused.body, /npm run serve -- list/);

    // A page with a wrong token is told so, and stops retrying.
    const states: ConnectionState[] = [];
    let attempts = 0;
    const client = connectLab(`http://127.0.0.1:${port}/?token=wrong`, {
      socket: (u) => {
        attempts++;
        return new WebSocket(u) as never;
      },
      retryMs: 20,
    });
    client.onState((s) => states.push(s));
    await assert.rejects(client.request('app.info', {}), /no valid token.*npm run serve -- list/);
    await waitUntil(() => client.state === 'unauthorized', 'the unauthorized state', 5000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(attempts, 1, 'no retry after a refused token');
    assert.equal(states.at(-1), 'unauthorized');
    client.close();

    // serve -- list: a file in the data folder readable only by the user.
    const info = readServerFile(dir)!;
    assert.equal(info.url, lab.server.url);
    assert.equal((await stat(join(dir, 'server.json'))).mode & 0o777, 0o600);
    assert.equal(runningServer(dir)?.pid, process.pid);
    const out = await promisify(execFile)(TSX, [CLI, 'serve', 'list', '--data', dir]);
    assert.ok(out.stdout.startsWith(`${lab.server.url}  (pid ${process.pid}`), out.stdout);
  });
});

test('serve -- list says so when no lab serves the folder, and the file goes with the lab', async () => {
  const data = await tempDir();
  try {
    await writeFile(join(data.dir, 'server.json'), JSON.stringify({ url: 'http://x', pid: 2 ** 22 + 12345 }));
    assert.equal(runningServer(data.dir), null, 'a dead pid is not listed');
    const lab = await startHeadless({ dataDir: data.dir, probeBackend: false, rendererDir: data.dir });
    assert.ok(runningServer(data.dir));
    await lab.close();
    assert.equal(readServerFile(data.dir), null);
    const r = await promisify(execFile)(TSX, [CLI, 'serve', 'list', '--data', data.dir]).catch((e) => e);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no lab is serving/);
  } finally {
    await data.cleanup();
  }
});
