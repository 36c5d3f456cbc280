#!/usr/bin/env node
// Runs every test file with Node's test runner and tsx. Node 20's runner has no glob support,
// so the files are found here. `npm test -- core` runs only files whose path contains "core".
// A full run (no filter) lints first (`npm run lint`: ESLint + Prettier); a lint failure fails the
// run, but the tests still run so one pass shows both. `npm test -- lint` runs the lint alone.
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

function lint() {
  console.log('# npm run lint (ESLint + prettier --check)');
  const r = spawnSync('npm', ['run', '--silent', 'lint'], { cwd: root, stdio: 'inherit' });
  if (r.status === 0) console.log('# lint: ok');
  return r.status === 0;
}

const lintOnly = filters.length === 1 && filters[0] === 'lint';
const lintOk = filters.length === 0 || lintOnly ? lint() : true;
if (lintOnly) process.exit(lintOk ? 0 : 1);

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
  env: { ...process.env, TRAJECTORY_LAB_TEST: '1' },
});
if (!lintOk) {
  console.error('\n# LINT FAILED: see the ESLint/Prettier output at the start of this run (`npm run lint`).');
  process.exit(1);
}
process.exit(r.status ?? 1);
