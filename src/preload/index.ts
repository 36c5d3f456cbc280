/**
 * The preload: exposes exactly LabApi as `window.lab`, over the IPC channels of the contract (the
 * API's two, and the lab-host setting's three as purpose-built functions). The renderer never
 * sees ipcRenderer itself, an event object, or any other channel.
 * Built as CommonJS (a sandboxed preload cannot load ES modules) with its imports bundled in.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC } from '../shared/ipc-channels.js';
import type {
  LabApi,
  LabError,
  LabEvent,
  RemoteHostApi,
  RemoteHostState,
  RemoteHostTest,
  Reply,
  RequestArgs,
  RequestName,
} from '../shared/lab-api.js';

/** Main answers with { ok, value | error } instead of throwing: a thrown error loses its fields on the way. */
type Answer = { ok: true; value: unknown } | { ok: false; error: LabError };

const listeners = new Set<(e: LabEvent) => void>();
ipcRenderer.on(IPC.event, (_e: IpcRendererEvent, event: LabEvent) => {
  for (const l of listeners) {
    try {
      l(event);
    } catch (err) {
      console.error('lab event listener failed', err);
    }
  }
});

/** Main's answer as a value, or a rejection keeping the LabError's fields. */
async function invoke(channel: string, ...args: unknown[]): Promise<unknown> {
  const answer = (await ipcRenderer.invoke(channel, ...args)) as Answer;
  if (answer.ok) return answer.value;
  // The context bridge copies an Error's message only, but a plain object whole: reject with
  // the same shape as LabRequestError ({ name, message, error }) so `.error.code/.field` survive.
  // eslint-disable-next-line no-throw-literal -- an Error would lose `.error` crossing the bridge
  throw { name: 'LabRequestError', message: answer.error.message, error: answer.error } satisfies {
    name: string;
    message: string;
    error: LabError;
  };
}

/** Settings → Lab host: three purpose-built calls; the token goes in, never out. */
const remoteHost: RemoteHostApi = {
  get: () => invoke(IPC.remoteHostGet) as Promise<RemoteHostState>,
  set: (input) => invoke(IPC.remoteHostSet, input) as Promise<RemoteHostState>,
  test: (input) => invoke(IPC.remoteHostTest, input) as Promise<RemoteHostTest>,
};

const lab: LabApi = {
  transport: 'electron',
  request<N extends RequestName>(name: N, args: RequestArgs<N>): Promise<Reply<N>> {
    return invoke(IPC.request, name, args) as Promise<Reply<N>>;
  },
  onEvent(listener: (e: LabEvent) => void): () => void {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  },
  remoteHost,
};

contextBridge.exposeInMainWorld('lab', lab);
