/**
 * The preload: exposes exactly LabApi as `window.lab`, over the two IPC channels of the contract.
 * The renderer never sees ipcRenderer itself, an event object, or any other channel.
 * Built as CommonJS (a sandboxed preload cannot load ES modules) with its imports bundled in.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC } from '../shared/ipc-channels.js';
import type { LabApi, LabError, LabEvent, Reply, RequestArgs, RequestName } from '../shared/lab-api.js';

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

const lab: LabApi = {
  transport: 'electron',
  async request<N extends RequestName>(name: N, args: RequestArgs<N>): Promise<Reply<N>> {
    const answer = (await ipcRenderer.invoke(IPC.request, name, args)) as Answer;
    if (answer.ok) return answer.value as Reply<N>;
    // The context bridge copies an Error's message only, but a plain object whole: reject with
    // the same shape as LabRequestError ({ name, message, error }) so `.error.code/.field` survive.
    // eslint-disable-next-line no-throw-literal -- an Error would lose `.error` crossing the bridge
    throw { name: 'LabRequestError', message: answer.error.message, error: answer.error } satisfies {
      name: string;
      message: string;
      error: LabError;
    };
  },
  onEvent(listener: (e: LabEvent) => void): () => void {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  },
};

contextBridge.exposeInMainWorld('lab', lab);
