/**
 * Electron main: one hardened window, the lab service in this process, one utility process per
 * running job. The renderer reaches the service only through the preload's window.lab (IPC).
 *
 * Data folder: `--data <dir>` or TRAJECTORY_LAB_DATA, else ~/.config/trajectory-lab (Linux) —
 * the same folder `npm run serve` uses by default. Chromium's own profile lives there too.
 */
import { app, dialog, type BrowserWindow } from 'electron';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appDataRoot, defaultDataDir } from '../services/data-dir.js';
import { openLab, type LabService } from '../services/lab-service.js';
import { APP_INDEX_URL, APP_ORIGIN, registerAppScheme, serveRenderer } from './app-protocol.js';
import { registerLabIpc, registerRemoteHostIpc } from './ipc.js';
import { LabRouter } from './lab-router.js';
import { electronVault, RemoteHostSetting } from './remote-host.js';
import { dialogSaveFile } from './save-file.js';
import { electronSqliteBinding } from './native-sqlite.js';
import { desktopCsp, installCsp, originOf } from './security.js';
import { utilityWorkerLauncher } from './utility-worker.js';
import { createMainWindow } from './window.js';
import { logger } from '../services/log.js';

const log = logger('main');

const here = dirname(fileURLToPath(import.meta.url)); // out/main
const devServerUrl =
  !app.isPackaged && process.env.ELECTRON_RENDERER_URL ? process.env.ELECTRON_RENDERER_URL : null;

function argValue(name: string): string | null {
  const argv = process.argv;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name && i + 1 < argv.length) return argv[i + 1]!;
    if (argv[i]!.startsWith(`${name}=`)) return argv[i]!.slice(name.length + 1);
  }
  return null;
}

const dataDir = resolve(argValue('--data') ?? defaultDataDir(app.getPath('appData') || appDataRoot()));
mkdirSync(dataDir, { recursive: true });
// Before 'ready', so Chromium's profile and the single-instance lock use this folder too.
app.setPath('userData', dataDir);
registerAppScheme();

let service: LabService | null = null;
let router: LabRouter | null = null;
let mainWindow: BrowserWindow | null = null;
let closedCleanly = false;

function showWindow(): void {
  if (!mainWindow || mainWindow.isDestroyed()) return;
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.focus();
}

async function start(): Promise<void> {
  const csp = desktopCsp(devServerUrl);
  installCsp(csp);
  serveRenderer(join(here, '..', 'renderer'), csp);

  service = openLab({
    dataDir,
    launcher: utilityWorkerLauncher(join(here, 'worker.js')),
    host: 'electron',
    appVersion: app.getVersion(),
    // Phase jobs at once; default: the cores (the queue decides).
    concurrency: Number(process.env.TRAJECTORY_LAB_CONCURRENCY) || undefined,
    probeBackend: true,
    nativeBinding: electronSqliteBinding(app.getAppPath(), app.isPackaged),
    saveFile: dialogSaveFile(() => mainWindow),
  });

  const url = devServerUrl ?? APP_INDEX_URL;
  const appOrigin = devServerUrl ? originOf(devServerUrl)! : APP_ORIGIN;
  // The API goes to this lab, or to the lab host Settings names (another machine's `serve`).
  router = new LabRouter(service);
  registerLabIpc(router, () => mainWindow, appOrigin);
  await registerRemoteHostIpc({
    router,
    setting: new RemoteHostSetting(join(dataDir, 'remote-host.json'), electronVault()),
    window: () => mainWindow,
    appOrigin,
  });
  mainWindow = createMainWindow({ preload: join(here, '..', 'preload', 'index.cjs'), url, appOrigin });
  mainWindow.on('closed', () => (mainWindow = null));
}

if (!app.requestSingleInstanceLock()) {
  // Another lab already has this data folder open: hand over to it.
  app.quit();
} else {
  app.on('second-instance', showWindow);
  app.on('window-all-closed', () => app.quit());
  // Workers first, then the database (checkpointing the WAL), then really quit.
  app.on('before-quit', (event) => {
    if (closedCleanly || !service) return;
    event.preventDefault();
    const s = service;
    service = null;
    router?.close();
    s.close()
      .catch((e: unknown) => log.error({ err: e }, 'closing the lab failed'))
      .finally(() => {
        closedCleanly = true;
        app.quit();
      });
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => app.quit());
  app
    .whenReady()
    .then(start)
    .catch(async (e: unknown) => {
      log.fatal({ err: e }, 'Trajectory Lab could not start');
      // app.exit() skips before-quit: close what start() opened (workers, database, data-folder lock) first.
      const s = service;
      service = null;
      await s?.close().catch((err: unknown) => log.error({ err }, 'closing the lab failed'));
      dialog.showErrorBox('Trajectory Lab could not start', (e as Error).message ?? String(e));
      app.exit(1);
    });
}
