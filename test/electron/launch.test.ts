/**
 * The desktop app, launched for real with Playwright's Electron driver: the window opens with
 * context isolation and the sandbox, window.lab is the LabApi and answers, nothing of Node leaks
 * into the page. Needs an Electron binary (node_modules/electron/dist, or ELECTRON_OVERRIDE_DIST_PATH),
 * a display, and better-sqlite3 built for Electron; where one is missing the test reports itself
 * skipped with the reason — it never passes without having run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The Electron executable, found the way node_modules/electron/index.js finds it but without
 * requiring that module: requiring it starts a download when the binary is missing.
 */
function electronExecutable(): { path: string } | { missing: string } {
  const pkg = join(ROOT, 'node_modules', 'electron');
  const pathTxt = join(pkg, 'path.txt');
  const rel = existsSync(pathTxt) ? readFileSync(pathTxt, 'utf8').trim() : null;
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const exe = override ? join(override, rel ?? 'electron') : rel ? join(pkg, 'dist', rel) : null;
  if (!exe)
    return {
      missing:
        'no Electron binary: node_modules/electron was installed with ELECTRON_SKIP_BINARY_DOWNLOAD (no path.txt) and ELECTRON_OVERRIDE_DIST_PATH is not set',
    };
  try {
    accessSync(exe, constants.X_OK);
  } catch {
    return { missing: `no executable Electron binary at ${exe}` };
  }
  return { path: exe };
}

function run(cmd: string, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

test('the desktop window opens hardened, with window.lab', async (t) => {
  const exe = electronExecutable();
  if ('missing' in exe) {
    t.skip(exe.missing);
    return;
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    t.skip('no display for Electron (run the tests under xvfb-run)');
    return;
  }
  const native = run(process.execPath, [join(ROOT, 'scripts', 'ensure-electron-abi.mjs')]);
  if (!native.ok) {
    t.skip(
      `better-sqlite3 has no Electron build and none could be made here:\n${native.output.slice(-2000)}`,
    );
    return;
  }
  const build = run(process.execPath, [
    join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'),
    'build',
  ]);
  assert.ok(build.ok, `electron-vite build failed:\n${build.output.slice(-4000)}`);

  const { _electron } = await import('playwright-core');
  const dataDir = await mkdtemp(join(tmpdir(), 'tlab-electron-'));
  const app = await _electron.launch({
    executablePath: exe.path,
    args: [ROOT, '--data', dataDir],
    cwd: ROOT,
    timeout: 60_000,
  });
  try {
    const page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
    assert.match(page.url(), /^app:\/\/lab\//);

    const prefs = await app.evaluate(({ BrowserWindow }) => {
      const w = BrowserWindow.getAllWindows()[0]!;
      // Runtime API (Electron's own IPC uses it) that its typings do not list.
      const p = (
        w.webContents as unknown as {
          getLastWebPreferences(): {
            contextIsolation?: boolean;
            sandbox?: boolean;
            nodeIntegration?: boolean;
            webSecurity?: boolean;
          };
        }
      ).getLastWebPreferences();
      return {
        contextIsolation: p.contextIsolation,
        sandbox: p.sandbox,
        nodeIntegration: p.nodeIntegration,
        webSecurity: p.webSecurity,
      };
    });
    assert.deepEqual(prefs, {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    });

    const page_ = await page.evaluate(() => {
      const w = window as unknown as {
        lab?: { transport: string; request: unknown; onEvent: unknown };
        require?: unknown;
        process?: unknown;
      };
      return {
        lab: typeof w.lab,
        transport: w.lab?.transport,
        request: typeof w.lab?.request,
        onEvent: typeof w.lab?.onEvent,
        require: typeof w.require,
        process: typeof w.process,
      };
    });
    assert.deepEqual(page_, {
      lab: 'object',
      transport: 'electron',
      request: 'function',
      onEvent: 'function',
      require: 'undefined',
      process: 'undefined',
    });

    const info = await page.evaluate(() =>
      (
        window as unknown as {
          lab: { request(n: string, a: unknown): Promise<{ host: string; dataDir: string }> };
        }
      ).lab.request('app.info', {}),
    );
    assert.equal(info.host, 'electron');
    assert.equal(info.dataDir, dataDir);
    const refused = await page.evaluate(() =>
      (window as unknown as { lab: { request(n: string, a: unknown): Promise<unknown> } }).lab
        .request('experiments.get', { id: 'not valid!' })
        .then(
          () => null,
          (e: { error?: { code: string; field?: string } }) => e.error ?? null,
        ),
    );
    assert.deepEqual([refused?.code, refused?.field], ['invalid', 'id']);
    // No new windows.
    await page.evaluate(() => window.open('https://example.com'));
    assert.equal(app.windows().length, 1);
  } finally {
    await app.close();
    // Quitting checkpointed and closed the database; Node's own build reads it back intact.
    const { LabStore } = await import('../../src/services/store/index.js');
    const store = LabStore.open(dataDir);
    try {
      assert.deepEqual(store.integrityCheck(), ['ok']);
    } finally {
      store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
});
