/**
 * The engine's TrainedCache inside a worker. Main owns the database, so lookups are a round trip
 * (cache-load → cache-reply); the weights themselves are files the worker reads and writes
 * directly through the store's WeightsDir (`<sha256>.safetensors`, written to a temporary name,
 * synced and renamed, so a worker killed mid-write never leaves a half file under a real name).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { TrainedCache } from '../core/experiment.js';
import type { Params } from '../core/params.js';
import { decodePoints, encodePoints } from '../core/params-io.js';
import type { TrainedSummary } from '../shared/domain/index.js';
import type {
  ArtifactMessage,
  ArtifactSavedMessage,
  CacheReplyMessage,
  FromWorker,
} from '../shared/worker-protocol.js';
import { WeightsDir } from '../services/store/weights.js';

type Reply = CacheReplyMessage | ArtifactSavedMessage;

/** How long a worker waits for main to answer before it carries on without the answer. */
export const PARENT_REPLY_TIMEOUT_MS = 60_000;

export interface AskOptions<R> {
  timeoutMs: number;
  /** the answer to go on with when main has not replied in time (a late reply is dropped) */
  onTimeout: (requestId: number) => R;
}

/** Matches replies from main to the requests that asked for them. */
export class ParentRequests {
  private next = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  constructor(private readonly send: (msg: FromWorker) => Promise<void>) {}

  ask<R extends Reply>(build: (requestId: number) => FromWorker, timeout?: AskOptions<R>): Promise<R> {
    const requestId = this.next++;
    return new Promise<R>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      if (timeout) {
        timer = setTimeout(() => {
          if (!this.pending.delete(requestId)) return;
          try {
            resolve(timeout.onTimeout(requestId));
          } catch (e) {
            reject(e);
          }
        }, timeout.timeoutMs);
      }
      this.pending.set(requestId, (reply) => {
        if (timer) clearTimeout(timer);
        resolve(reply as R);
      });
      this.send(build(requestId)).catch((e: unknown) => {
        if (timer) clearTimeout(timer);
        this.pending.delete(requestId);
        reject(e);
      });
    });
  }

  settle(reply: Reply): void {
    const resolve = this.pending.get(reply.requestId);
    if (!resolve) return;
    this.pending.delete(reply.requestId);
    resolve(reply);
  }
}

export interface DatasetFacts {
  inputShape: number[];
  classes: number;
  contentHash: string;
}

export interface IpcCacheOptions {
  weightsDir: string;
  requests: ParentRequests;
  /** the engine phase that produced the points being saved ('source', 'target:0') */
  currentPhase: () => string;
  /** seed of the init being trained, when the phase's init is seeded */
  seedOf: (phase: string) => number | null;
  /** shapes and hash of the experiment's dataset, for the parameter-set record */
  datasetFacts: () => Promise<DatasetFacts>;
  log: (level: 'info' | 'warn', message: string) => void;
  /** how long to wait for main's answers (default PARENT_REPLY_TIMEOUT_MS) */
  replyTimeoutMs?: number;
}

export function ipcTrainedCache(o: IpcCacheOptions): TrainedCache {
  let weights: WeightsDir | null = null;
  const timeoutMs = o.replyTimeoutMs ?? PARENT_REPLY_TIMEOUT_MS;
  return {
    async load(key: string): Promise<{ points: Params[]; summary: TrainedSummary } | null> {
      const reply = await o.requests.ask<CacheReplyMessage>(
        (requestId) => ({ type: 'cache-load', requestId, key }),
        {
          timeoutMs,
          onTimeout: (requestId) => {
            o.log(
              'warn',
              `the lab did not answer a trained-parameters lookup within ${Math.round(timeoutMs / 1000)} s; training again`,
            );
            return { type: 'cache-reply', requestId, hit: null };
          },
        },
      );
      if (!reply.hit) return null;
      let bytes: Buffer;
      try {
        bytes = await readFile(reply.hit.path);
      } catch (e) {
        o.log(
          'warn',
          `trained parameters ${reply.hit.sha256.slice(0, 12)} are recorded but their file is unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); training again`,
        );
        return null;
      }
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (sha !== reply.hit.sha256) {
        o.log(
          'warn',
          `trained parameters file ${reply.hit.path} does not match its recorded hash; training again`,
        );
        return null;
      }
      try {
        const { points } = decodePoints(bytes, `trained parameters ${reply.hit.path}`);
        return { points, summary: reply.hit.summary };
      } catch (e) {
        o.log(
          'warn',
          `trained parameters ${reply.hit.sha256.slice(0, 12)} cannot be decoded (${(e as Error).message}); training again`,
        );
        return null;
      }
    },

    async save(
      key: string,
      role: 'source' | 'target',
      points: Params[],
      summary: TrainedSummary,
    ): Promise<void> {
      const phase = o.currentPhase();
      const facts = await o.datasetFacts();
      const bytes = await encodePoints(points, {
        trainingKey: key,
        role,
        label: summary.label,
        dataset: facts.contentHash,
      });
      weights ??= new WeightsDir(o.weightsDir);
      const { sha256 } = await weights.put(bytes);
      const path = weights.path(sha256);
      const msg: Omit<ArtifactMessage, 'requestId'> = {
        type: 'artifact',
        key,
        role,
        phase,
        path,
        sha256,
        bytes: bytes.length,
        points: points.length,
        summary,
        inputShape: facts.inputShape,
        classes: facts.classes,
        seed: o.seedOf(phase),
        datasetHash: facts.contentHash,
      };
      const reply = await o.requests.ask<ArtifactSavedMessage>((requestId) => ({ ...msg, requestId }), {
        timeoutMs,
        onTimeout: (requestId) => ({
          type: 'artifact-saved',
          requestId,
          paramSetId: null,
          error: `the lab did not answer within ${Math.round(timeoutMs / 1000)} s`,
        }),
      });
      if (reply.error)
        o.log('warn', `trained ${role} parameters were written but not recorded: ${reply.error}`);
    },
  };
}
