#!/usr/bin/env node
// Runs every test file with Node's test runner and tsx. Node 20's runner has no glob support,
// so the files are found here. `npm test -- core` runs only files whose path contains "core".
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.test\.ts$/.test(name)) out.push(relative(root, p));
  }
  return out;
}

const files = walk(join(root, 'test'))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  cwd: root,
  stdio: 'inherit',
  // One wasm thread unless asked: test processes start often and the CI machine is small; the
  // threaded backend has its own test (test/core/wasm-threads.test.ts).
  env: { TRAJECTORY_LAB_WASM_THREADS: '1', ...process.env, TRAJECTORY_LAB_TEST: '1' },
});
process.exit(r.status ?? 1);
