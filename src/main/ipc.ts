/**
 * The API over IPC: one handler for IPC.request, events out on IPC.event. A request is answered
 * only when it comes from our window's top frame showing our page; the service then validates
 * its arguments. Replies are { ok, value } / { ok: false, error } so a LabError keeps its fields.
 */
import { ipcMain, type BrowserWindow } from 'electron';
import { IPC, type LabError } from '../shared/lab-api.js';
import { toLabError } from '../services/errors.js';
import type { LabService } from '../services/lab-service.js';
import { isTrustedSender } from './security.js';

type Answer = { ok: true; value: unknown } | { ok: false; error: LabError };

export function registerLabIpc(
  service: LabService,
  window: () => BrowserWindow | null,
  appOrigin: string,
): () => void {
  ipcMain.handle(IPC.request, async (event, name: unknown, args: unknown): Promise<Answer> => {
    if (!isTrustedSender(event.senderFrame, window(), appOrigin)) {
      return {
        ok: false,
        error: { code: 'forbidden', message: 'requests are accepted from the lab window only' },
      };
    }
    if (typeof name !== 'string')
      return { ok: false, error: { code: 'invalid', message: 'the request name must be a string' } };
    try {
      return { ok: true, value: (await service.request(name, args)) ?? null };
    } catch (e) {
      return { ok: false, error: toLabError(e) };
    }
  });
  const unsubscribe = service.onEvent((e) => {
    const w = window();
    if (w && !w.isDestroyed()) w.webContents.send(IPC.event, e);
  });
  return () => {
    unsubscribe();
    ipcMain.removeHandler(IPC.request);
  };
}
