/**
 * Where the desktop finds better-sqlite3's Electron build. In a source checkout it sits beside
 * Node's build (scripts/ensure-electron-abi.mjs puts it there; `npm start` runs that script), so
 * the tests and the CLI keep Node's build and nobody has to rebuild back and forth. A packaged app
 * was rebuilt for Electron by electron-builder and uses the package's own build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Keep in sync with scripts/ensure-electron-abi.mjs.
const ELECTRON_NATIVE_DIR = join('node_modules', '.cache', 'trajectory-lab', 'electron-native');

export function electronSqliteBinding(appPath: string, isPackaged: boolean): string | undefined {
  if (isPackaged) return undefined;
  const dir = join(appPath, ELECTRON_NATIVE_DIR);
  const file = join(dir, 'better_sqlite3.node');
  if (!existsSync(file)) {
    throw new Error(
      `better-sqlite3 has no Electron build yet (${file}); run "node scripts/ensure-electron-abi.mjs" (npm start does it for you)`,
    );
  }
  try {
    const marker = JSON.parse(readFileSync(join(dir, 'marker.json'), 'utf8')) as { electron?: string };
    if (marker.electron && marker.electron !== process.versions.electron) {
      throw new Error(
        `better-sqlite3 was built for Electron ${marker.electron}, this is Electron ${process.versions.electron}; run "node scripts/ensure-electron-abi.mjs"`,
      );
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && !(e instanceof SyntaxError)) throw e;
  }
  return file;
}
