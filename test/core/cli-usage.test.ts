import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;

function lab(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('--help and -h print the usage, before or after a command', () => {
  for (const args of [['--help'], ['-h'], ['help'], ['run', '--help']]) {
    const r = lab(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^usage:/m, args.join(' '));
    assert.doesNotMatch(r.stderr, /unknown command/);
  }
  const bad = lab(['--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown option '--bogus'/);
});

test('a JSON syntax error in a spec names the line and column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlab-cli-'));
  const spec = join(dir, 'bad.json');
  writeFileSync(spec, '{\n  "model": {\n    "arch": "mlp",\n  }\n}\n');
  const r = lab(['check', spec]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not valid JSON: .* at line 4, column 3/);
  assert.doesNotMatch(r.stderr, /position \d+/);
  assert.match(r.stderr, /\n {4}}\n {4}\^/);
});

test('--out under a regular file is refused in words, not as a raw ENOTDIR', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlab-cli-'));
  writeFileSync(join(dir, 'afile'), 'x');
  const r = lab(['run', join(root, 'examples/quick.json'), '--out', join(dir, 'afile', 'sub')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--out .*afile\/sub: a file is in the way/);
  assert.doesNotMatch(r.stderr, /ENOTDIR/);
});
