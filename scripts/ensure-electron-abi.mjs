#!/usr/bin/env node
/**
 * better-sqlite3 for Electron, kept beside Node's build instead of replacing it.
 *
 * `npm install` builds better-sqlite3 for Node (the tests, the CLI, `npm run serve`). Electron has
 * its own ABI, so the desktop needs a second build. Rebuilding in place (electron-builder
 * install-app-deps) would break Node until `npm rebuild better-sqlite3`; instead this script
 * builds a copy of the package for Electron into
 *   node_modules/.cache/trajectory-lab/electron-native/better_sqlite3.node
 * and the desktop's main process loads that file through better-sqlite3's `nativeBinding` option
 * (src/main/native-sqlite.ts). A marker records the Electron and better-sqlite3 versions, so the
 * build runs only when one of them changes. `--force` rebuilds anyway.
 *
 * It needs the network once (Electron headers or a prebuilt binary); `npm start` runs it first.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = join(root, 'node_modules');
// Keep in sync with src/main/native-sqlite.ts.
const outDir = join(modules, '.cache', 'trajectory-lab', 'electron-native');
const outFile = join(outDir, 'better_sqlite3.node');
const markerFile = join(outDir, 'marker.json');
const force = process.argv.includes('--force');

function version(pkg) {
  return JSON.parse(readFileSync(join(modules, pkg, 'package.json'), 'utf8')).version;
}

function run(cmd, args, cwd) {
  console.log(`> ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', shell: process.platform === 'win32' });
  return r.status === 0;
}

const electron = version('electron');
const sqlite = version('better-sqlite3');
const want = { electron, betterSqlite3: sqlite, platform: process.platform, arch: process.arch };

if (!force && existsSync(outFile) && existsSync(markerFile)) {
  const have = JSON.parse(readFileSync(markerFile, 'utf8'));
  if (Object.entries(want).every(([k, v]) => have[k] === v)) {
    console.log(`better-sqlite3 ${sqlite} for Electron ${electron}: up to date`);
    process.exit(0);
  }
}

console.log(
  `building better-sqlite3 ${sqlite} for Electron ${electron} (${process.platform}-${process.arch}), beside Node's build`,
);
const work = join(outDir, 'build-tree');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
// A copy without Node's build, so nothing in node_modules/better-sqlite3 changes.
cpSync(join(modules, 'better-sqlite3'), work, {
  recursive: true,
  filter: (src) => !src.startsWith(join(modules, 'better-sqlite3', 'build')),
});

const bin = (name) => join(modules, '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
const target = ['--runtime=electron', `--target=${electron}`, `--arch=${process.arch}`];
const ok =
  run(bin('prebuild-install'), [...target, `--platform=${process.platform}`, '--verbose'], work) ||
  run(
    bin('node-gyp'),
    ['rebuild', '--release', ...target, '--dist-url=https://electronjs.org/headers'],
    work,
  );
const built = join(work, 'build', 'Release', 'better_sqlite3.node');
if (!ok || !existsSync(built)) {
  rmSync(work, { recursive: true, force: true });
  console.error(
    'could not build better-sqlite3 for Electron (no prebuilt binary and no compiler/headers?); see the output above',
  );
  process.exit(1);
}
copyFileSync(built, outFile);
writeFileSync(markerFile, JSON.stringify({ ...want, builtAt: new Date().toISOString() }, null, 2) + '\n');
rmSync(work, { recursive: true, force: true });
console.log(`wrote ${outFile}`);
