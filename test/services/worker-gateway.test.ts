/**
 * The host's door for remote workers: the token is required; uploads are content-addressed,
 * resumable (HEAD says where to continue) and checked by sha256; lookups and artifacts reach the
 * task's observer; nothing listens beyond loopback unless asked.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FromWorker, ToWorker } from '../../src/shared/worker-protocol.js';
import { startGateway } from '../../src/services/jobs/remote/gateway.js';
import { tempDir } from '../helpers/lab.js';

test('worker gateway: token, resumable verified uploads, lookups routed to the task', async () => {
  const temp = await tempDir('tlab-gw-');
  const seen: FromWorker[] = [];
  const gw = await startGateway({
    token: 'secret-token',
    weightsDir: join(temp.dir, 'weights'),
    route: (key) =>
      key === 'task-1'
        ? (msg: FromWorker, reply: (m: ToWorker) => void) => {
            seen.push(msg);
            if (msg.type === 'cache-load') reply({ type: 'cache-reply', requestId: 0, hit: null });
            if (msg.type === 'artifact')
              reply({ type: 'artifact-saved', requestId: 0, paramSetId: 'p1', error: null });
          }
        : null,
  });
  const auth = { authorization: 'Bearer secret-token' };
  try {
    assert.match(gw.url, /^http:\/\/127\.0\.0\.1:/);
    assert.equal((await fetch(`${gw.url}/v1/cache-load`, { method: 'POST', body: '{}' })).status, 401);
    const wrong = await fetch(`${gw.url}/v1/cache-load`, {
      method: 'POST',
      body: '{}',
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(wrong.status, 401);

    const key = 'a'.repeat(64);
    const unknown = await fetch(`${gw.url}/v1/cache-load`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ taskKey: 'other', key }),
    });
    assert.equal(unknown.status, 503, 'a task the host does not follow (yet): the worker retries');
    const miss = await fetch(`${gw.url}/v1/cache-load`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ taskKey: 'task-1', key, phase: 'source' }),
    });
    assert.deepEqual(await miss.json(), { hit: null });
    assert.deepEqual(seen[0], { type: 'cache-load', requestId: 0, key, phase: 'source' });

    // An upload cut in two, continued where HEAD says.
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const sha = createHash('sha256').update(bytes).digest('hex');
    const put = (offset: number, chunk: Buffer): Promise<Response> =>
      fetch(`${gw.url}/v1/weights/${sha}?offset=${offset}&total=${bytes.length}`, {
        method: 'PUT',
        headers: auth,
        body: new Uint8Array(chunk),
      });
    assert.equal((await put(0, bytes.subarray(0, 2000))).status, 202);
    const head = await fetch(`${gw.url}/v1/weights/${sha}`, { method: 'HEAD', headers: auth });
    assert.equal(head.status, 404);
    assert.equal(head.headers.get('x-upload-offset'), '2000');
    const gap = await put(3000, bytes.subarray(3000));
    assert.equal(gap.status, 409, 'a chunk that does not continue the upload is refused');
    assert.equal(gap.headers.get('x-upload-offset'), '2000');
    assert.equal((await put(2000, bytes.subarray(2000))).status, 201);
    assert.deepEqual(await readFile(join(temp.dir, 'weights', `${sha}.safetensors`)), bytes);
    const got = await fetch(`${gw.url}/v1/weights/${sha}`, { headers: auth });
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);

    // Bytes that do not hash to their name are dropped.
    const liar = 'b'.repeat(64);
    const bad = await fetch(`${gw.url}/v1/weights/${liar}?offset=0&total=10`, {
      method: 'PUT',
      headers: auth,
      body: new Uint8Array(10),
    });
    assert.equal(bad.status, 422);
    const after = await fetch(`${gw.url}/v1/weights/${liar}`, { method: 'HEAD', headers: auth });
    assert.equal(after.headers.get('x-upload-offset'), '0');

    const artifact = await fetch(`${gw.url}/v1/artifact`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        taskKey: 'task-1',
        artifact: { type: 'artifact', key, role: 'source', phase: 'source', sha256: sha },
      }),
    });
    assert.deepEqual(await artifact.json(), { paramSetId: 'p1', error: null });
    const rec = seen.find((m) => m.type === 'artifact') as Extract<FromWorker, { type: 'artifact' }>;
    assert.equal(
      rec.path,
      join(temp.dir, 'weights', `${sha}.safetensors`),
      'recorded at the host’s own path',
    );

    await assert.rejects(
      startGateway({ token: 't', weightsDir: join(temp.dir, 'w2'), route: () => null, host: '0.0.0.0' }),
      /beyond loopback/,
    );
  } finally {
    await gw.close();
    await temp.cleanup();
  }
});
