/**
 * `downloads.save` in the desktop app: the lab service makes the file, main asks where to put it
 * with a save dialog (attached to the lab window), in the user's Downloads folder by default.
 */
import { app, dialog, type BrowserWindow } from 'electron';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { SaveFile } from '../services/handlers/downloads.js';

export function dialogSaveFile(window: () => BrowserWindow | null): SaveFile {
  return async (fileName, bytes) => {
    // the name is the service's, but never a path
    const options = { defaultPath: join(app.getPath('downloads'), basename(fileName)) };
    const w = window();
    const r =
      w && !w.isDestroyed() ? await dialog.showSaveDialog(w, options) : await dialog.showSaveDialog(options);
    if (r.canceled || !r.filePath) return null;
    await writeFile(r.filePath, bytes);
    return r.filePath;
  };
}
