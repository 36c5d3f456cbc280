import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const root = new URL('../', import.meta.url).pathname;

/** The whole tree type-checks: engine, services, CLI, tests (tsc) and the Vue renderer (vue-tsc). */
for (const [name, bin, project] of [
  ['node side (engine, services, CLI, tests)', 'node_modules/typescript/bin/tsc', 'tsconfig.node.json'],
  ['renderer (Vue)', 'node_modules/vue-tsc/bin/vue-tsc.js', 'tsconfig.web.json'],
] as const) {
  test(`types check: ${name}`, { timeout: 5 * 60_000 }, () => {
    const r = spawnSync(process.execPath, [bin, '-p', project, '--noEmit'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `${project}:\n${r.stdout}${r.stderr}`);
  });
}
