/**
 * The API over IPC: one handler for IPC.request, events out on IPC.event, and the lab-host
 * setting's three. A request is answered only when it comes from our window's top frame showing
 * our page; its arguments are then validated (by the service, or by the router for a lab host).
 * Replies are { ok, value } / { ok: false, error } so a LabError keeps its fields.
 */
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { IPC, LabRequestError, parseArgs, remoteHostSchemas, type LabError } from '../shared/lab-api.js';
import { toLabError } from '../services/errors.js';
import type { LabRouter, LabTarget } from './lab-router.js';
import {
  connectHost,
  hostState,
  parseHostUrl,
  testHost,
  type RemoteHostSetting,
  type SavedHost,
} from './remote-host.js';
import { isTrustedSender } from './security.js';
import { logger } from '../services/log.js';

const log = logger('main');

type Answer = { ok: true; value: unknown } | { ok: false; error: LabError };

const FORBIDDEN: Answer = {
  ok: false,
  error: { code: 'forbidden', message: 'requests are accepted from the lab window only' },
};

/** A handler answered only for our window's top frame showing our page, with errors as LabErrors. */
function handleTrusted(
  channel: string,
  window: () => BrowserWindow | null,
  appOrigin: string,
  fn: (...args: unknown[]) => Promise<unknown>,
): void {
  ipcMain.handle(channel, async (event: IpcMainInvokeEvent, ...args: unknown[]): Promise<Answer> => {
    if (!isTrustedSender(event.senderFrame, window(), appOrigin)) return FORBIDDEN;
    try {
      return { ok: true, value: (await fn(...args)) ?? null };
    } catch (e) {
      return { ok: false, error: toLabError(e) };
    }
  });
}

export function registerLabIpc(
  service: LabTarget,
  window: () => BrowserWindow | null,
  appOrigin: string,
): () => void {
  handleTrusted(IPC.request, window, appOrigin, async (name, args) => {
    if (typeof name !== 'string')
      throw new LabRequestError({ code: 'invalid', message: 'the request name must be a string' });
    return service.request(name, args);
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

export interface RemoteHostIpc {
  router: LabRouter;
  setting: RemoteHostSetting;
  window: () => BrowserWindow | null;
  appOrigin: string;
}

/**
 * Settings → Lab host: read the setting (never the token), change it (main validates the address
 * and token, saves them, and switches the API to that host or back to this app's lab), and test
 * values once without saving. Same sender check and reply envelope as the API.
 */
export async function registerRemoteHostIpc(o: RemoteHostIpc): Promise<() => void> {
  let saved: SavedHost | null = null;
  try {
    saved = await o.setting.load();
  } catch (e) {
    // A damaged setting must not keep the app from starting on its own lab; Settings can replace it.
    log.error({ err: e }, 'the lab host setting could not be used; using this machine’s lab');
  }
  if (saved) o.router.use(connectHost(saved.url, saved.token));

  /** url and token from the form, the token from `?token=` in the address or the saved one for the same host */
  const resolve = (input: { url: string; token?: string }): { url: string; token: string } => {
    const { url, token: inUrl } = parseHostUrl(input.url);
    const token = input.token ?? inUrl ?? (saved?.url === url ? saved.token : null);
    if (!token)
      throw new LabRequestError({
        code: 'invalid',
        message: 'the lab host needs its token (`npm run serve` prints it in the address, as ?token=…)',
        field: 'token',
      });
    return { url, token };
  };

  const handle = (channel: string, fn: (args: unknown) => Promise<unknown>): void =>
    handleTrusted(channel, o.window, o.appOrigin, fn);

  handle(IPC.remoteHostGet, async () => hostState(saved, o.router.remote));
  handle(IPC.remoteHostSet, async (args) => {
    const input = parseArgs(remoteHostSchemas.set, args, 'lab host');
    if (input === null) {
      await o.setting.clear();
      saved = null;
      o.router.use(null);
    } else {
      const { url, token } = resolve(input);
      saved = await o.setting.save(url, token);
      o.router.use(connectHost(url, token));
    }
    return hostState(saved, o.router.remote);
  });
  handle(IPC.remoteHostTest, async (args) => {
    const { url, token } = resolve(parseArgs(remoteHostSchemas.test, args, 'lab host'));
    return testHost(url, token);
  });
  return () => {
    for (const c of [IPC.remoteHostGet, IPC.remoteHostSet, IPC.remoteHostTest]) ipcMain.removeHandler(c);
  };
}
