/**
 * Where main's IPC handlers send the API: the lab in this process, or — when Settings names a lab
 * host — that host over its WebSocket API. Arguments are validated here either way (the host
 * checks them again); events come from whichever lab is in use, never from both.
 */
import { validateRequest, type LabEvent, type RequestName } from '../shared/lab-api.js';
import { LabRequestError } from '../shared/lab-errors.js';
import type { LabWsClient } from '../shared/lab-ws-client.js';
import { REFUSED_TOKEN } from './remote-host.js';
import { logger } from '../services/log.js';

const log = logger('main');

const refusedBy = (c: LabWsClient): boolean => c.state === 'unauthorized';

/** What the IPC handlers need of a lab. */
export interface LabTarget {
  request(name: string, args: unknown): Promise<unknown>;
  onEvent(listener: (e: LabEvent) => void): () => void;
}

export class LabRouter implements LabTarget {
  private remoteClient: LabWsClient | null = null;
  private offRemote: (() => void) | null = null;
  private readonly listeners = new Set<(e: LabEvent) => void>();
  private readonly offLocal: () => void;

  constructor(private readonly local: LabTarget) {
    this.offLocal = local.onEvent((e) => {
      if (!this.remoteClient) this.emit(e);
    });
  }

  /** the host's client while one is in use */
  get remote(): LabWsClient | null {
    return this.remoteClient;
  }

  /** Switches to a host (its client, connected by the caller) or back to this process's lab (null). */
  use(client: LabWsClient | null): void {
    this.offRemote?.();
    this.offRemote = null;
    this.remoteClient?.close();
    this.remoteClient = client;
    if (client) this.offRemote = client.onEvent((e) => this.emit(e));
  }

  async request(name: string, args: unknown): Promise<unknown> {
    const client = this.remoteClient;
    if (!client) return this.local.request(name, args);
    validateRequest(name, args);
    const refused = (): LabRequestError => new LabRequestError({ code: 'forbidden', message: REFUSED_TOKEN });
    if (refusedBy(client)) throw refused();
    try {
      return await client.request(name as RequestName, args as never);
    } catch (e) {
      // The client words this for a browser page; the desktop's fix is in Settings.
      throw refusedBy(client) ? refused() : e;
    }
  }

  onEvent(listener: (e: LabEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    this.use(null);
    this.offLocal();
    this.listeners.clear();
  }

  private emit(e: LabEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        log.error({ err }, 'lab event listener failed');
      }
    }
  }
}
