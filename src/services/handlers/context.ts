/** What every request handler may use: the store, the job queue, and the event bus. */
import type { BackendInfo } from '../../shared/domain/index.js';
import type { LabEvent, ParsedArgs, ReplyTypes, RequestName } from '../../shared/lab-api.js';
import type { FinishedMethod } from '../../shared/worker-protocol.js';
import type { JobQueue } from '../jobs/queue.js';
import type { LabStore } from '../store/index.js';

export interface ServiceContext {
  store: LabStore;
  queue: JobQueue;
  emit(e: LabEvent): void;
  /** puts an experiment's job in the queue (its runs must be planned and queued) */
  enqueue(experimentId: string, finished?: FinishedMethod[]): void;
  host: 'electron' | 'headless';
  appVersion: string;
  backend(): BackendInfo | null;
}

export type Handler<N extends RequestName> = (args: ParsedArgs<N>) => Promise<ReplyTypes[N]> | ReplyTypes[N];
export type HandlerTable<K extends RequestName> = { [N in K]: Handler<N> };
