/**
 * The worker's line to its parent, whichever kind of process it is: an Electron utility process
 * (process.parentPort, structured clone) or a Node child_process fork (process.send, JSON).
 */
import { isToWorker, type FromWorker, type ToWorker } from '../shared/worker-protocol.js';

export interface ParentLine {
  send(msg: FromWorker): Promise<void>;
  onMessage(listener: (msg: ToWorker) => void): void;
  /** called once when the parent goes away (Node only: Electron kills utility processes itself) */
  onParentGone(listener: () => void): void;
}

interface ElectronParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

export function parentLine(): ParentLine {
  const electronPort = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (electronPort) {
    return {
      send: async (msg) => electronPort.postMessage(msg),
      onMessage: (listener) =>
        electronPort.on('message', (e) => {
          if (isToWorker(e.data)) listener(e.data);
        }),
      onParentGone: () => {},
    };
  }
  if (typeof process.send === 'function') {
    return {
      send: (msg) =>
        new Promise<void>((resolve) => {
          // A closed channel means the parent is gone; there is no one left to tell.
          if (!process.connected) return resolve();
          process.send!(msg, undefined, undefined, () => resolve());
        }),
      onMessage: (listener) =>
        process.on('message', (m: unknown) => {
          if (isToWorker(m)) listener(m);
        }),
      onParentGone: (listener) => process.once('disconnect', listener),
    };
  }
  throw new Error(
    'the worker must be started by the lab (utilityProcess.fork or child_process.fork), not run directly',
  );
}
