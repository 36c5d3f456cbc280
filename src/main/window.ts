/** The lab's one window, with every web preference that matters spelled out. */
import { app, BrowserWindow } from 'electron';
import { lockNavigation } from './security.js';

export interface WindowOptions {
  preload: string;
  url: string;
  appOrigin: string;
}

export function createMainWindow(o: WindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Trajectory Lab',
    backgroundColor: '#ffffff',
    webPreferences: {
      preload: o.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      spellcheck: false,
      // No DevTools in a packaged app (issue 8, item 10); development keeps them.
      devTools: !app.isPackaged,
    },
  });
  lockNavigation(win.webContents, o.appOrigin);
  win.once('ready-to-show', () => win.show());
  void win.loadURL(o.url);
  return win;
}
