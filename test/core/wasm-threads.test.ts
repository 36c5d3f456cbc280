import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

/**
 * The threaded wasm backend (src/core/wasm-threads.ts) must compute what one thread computes and
 * must let the process exit by itself. Each thread count runs in its own process (a backend's
 * thread pool is fixed when it starts); the child never calls process.exit.
 */

const CHILD = fileURLToPath(new URL('../helpers/wasm-threads-child.ts', import.meta.url));
const EXIT_LIMIT_MS = 90_000;

interface ChildOut {
  threads: number;
  notes: string[];
  leaked: number;
  values: number[][];
}

function runChild(threads: number): Promise<{ out: ChildOut; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: { ...process.env, TRAJECTORY_LAB_WASM_THREADS: String(threads) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${threads} threads: the process did not exit within ${EXIT_LIMIT_MS} ms\n${stdout}`));
    }, EXIT_LIMIT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${threads} threads: exit code ${code}\n${stderr}`));
      resolve({ out: JSON.parse(stdout.trim().split('\n').pop()!) as ChildOut, ms: Date.now() - t0 });
    });
  });
}

test('wasm with 2 threads: same numbers as 1 thread, no leak, and the process exits', async () => {
  const one = await runChild(1);
  const two = await runChild(2);
  assert.equal(one.out.threads, 1);
  assert.equal(two.out.threads, 2, `notes: ${two.out.notes.join(' | ')}`);
  assert.ok(
    two.out.notes.some((n) => n.includes('threaded SIMD binary')),
    `the backend info says it is threaded: ${two.out.notes.join(' | ')}`,
  );
  assert.equal(one.out.leaked, 0);
  assert.equal(two.out.leaked, 0);
  assert.equal(two.out.values.length, one.out.values.length);
  two.out.values.forEach((v, i) => {
    const ref = one.out.values[i];
    assert.equal(v.length, ref.length);
    const scale = ref.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    let worst = 0;
    for (let j = 0; j < v.length; j++) worst = Math.max(worst, Math.abs(v[j] - ref[j]));
    assert.ok(worst <= 1e-5 * scale, `output ${i}: max |2 threads − 1 thread| = ${worst} (scale ${scale})`);
  });
});

test('an invalid thread count is refused with the variable named', async () => {
  await assert.rejects(runChild(0), /TRAJECTORY_LAB_WASM_THREADS/);
});
