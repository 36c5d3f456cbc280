import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;

function lab(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const tiny = {
  dataset: { builtin: 'fashion-mnist-mini' },
  datasetOptions: { trainLimit: 1500 },
  evalLimit: 500,
  model: { arch: 'mlp', hidden: [32] },
  source: { init: { seed: 101 }, train: { epochs: 1, batchSize: 128, lr: 0.01, momentum: 0.9 } },
  targets: [{ init: { seed: 102 } }],
  transfer: { T: 3, methods: ['naive', 'fgmt'] },
};

test(
  'lab run writes result.json with the documented fields and prints a summary',
  { timeout: 10 * 60_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlab-cli-'));
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify(tiny));
    const out = join(dir, 'out');
    const r = lab(['run', spec, '--out', out, '--backend', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /naive/);
    assert.match(r.stdout, /fgmt/);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.equal(result.backend.name, 'cpu');
    assert.ok(
      typeof result.source.valAccuracy === 'number' && typeof result.source.testAccuracy === 'number',
    );
    for (const m of ['naive', 'fgmt']) {
      const x = result.targets[0].methods[m];
      assert.equal(x.valAccuracy.length, 4);
      assert.equal(x.valLoss.length, 4);
      for (const k of ['testAccuracy', 'bestStep', 'seconds'])
        assert.equal(typeof x[k], 'number', `${m}.${k}`);
    }
  },
);

test('a target initialisation can be a saved parameter file', { timeout: 10 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlab-cli-'));
  const spec = join(dir, 'spec.json');
  writeFileSync(spec, JSON.stringify(tiny));
  const init = lab(['init-params', spec, '--seed', '7', '--out', join(dir, 'init7.safetensors')]);
  assert.equal(init.code, 0, init.stderr);
  writeFileSync(
    spec,
    JSON.stringify({
      ...tiny,
      targets: [{ init: { file: 'init7.safetensors' } }],
      transfer: { T: 2, methods: ['naive'] },
    }),
  );
  const r = lab(['run', spec, '--out', join(dir, 'out'), '--backend', 'cpu']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(readFileSync(join(dir, 'out', 'result.json'), 'utf8'));
  assert.equal(result.targets[0].label, 'init7.safetensors');

  // and a file made for another architecture is refused, saying why
  writeFileSync(
    spec,
    JSON.stringify({
      ...tiny,
      model: { arch: 'mlp', hidden: [16] },
      targets: [{ init: { file: 'init7.safetensors' } }],
      transfer: { T: 2, methods: ['naive'] },
    }),
  );
  const bad = lab(['run', spec, '--out', join(dir, 'out2'), '--backend', 'cpu']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /init7\.safetensors does not match MLP 784-16-10/);
});

test('a bad spec is refused with a message naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlab-cli-'));
  const spec = join(dir, 'spec.json');
  writeFileSync(spec, JSON.stringify({ ...tiny, transfer: { T: 0 } }));
  const r = lab(['run', spec, '--out', join(dir, 'out')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /spec field "transfer\.T": must be ≥ 1, got 0/);
});
