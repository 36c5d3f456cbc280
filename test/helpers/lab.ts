/**
 * Shared helpers for the services tests: a tiny real experiment on the bundled mini dataset, temp
 * data folders, a lab service over a real store, and waiting for events.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabEvent, RunStatus } from '../../src/shared/lab-api.js';
import { nodeWorkerLauncher } from '../../src/services/jobs/node-worker.js';
import { createLabService, type LabService, type LabServiceOptions } from '../../src/services/lab-service.js';
import { LabStore } from '../../src/services/store/index.js';

/**
 * A spec that runs in a few seconds on two cores: 1000 training examples, a 32-unit MLP, one
 * epoch, T = 3, evaluation on 500 validation examples.
 */
export function tinySpec(
  overrides: {
    methods?: string[];
    seed?: number;
    hidden?: number[];
    epochs?: number;
    T?: number;
    targets?: number;
  } = {},
): Record<string, unknown> {
  const seed = overrides.seed ?? 1;
  return {
    dataset: { builtin: 'fashion-mnist-mini' },
    datasetOptions: { trainLimit: 1000 },
    model: { arch: 'mlp', hidden: overrides.hidden ?? [32] },
    source: {
      init: { seed },
      train: { epochs: overrides.epochs ?? 1, batchSize: 100, lr: 0.05, momentum: 0.9 },
    },
    targets: Array.from({ length: overrides.targets ?? 1 }, (_, i) => ({ init: { seed: seed + 100 + i } })),
    transfer: { T: overrides.T ?? 3, methods: overrides.methods ?? ['naive', 'gmt'], batchSize: 100 },
    evalLimit: 500,
  };
}

export async function tempDir(prefix = 'tlab-svc-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true, maxRetries: 3 }) };
}

/** Records every event a service emits, and waits for the ones a test cares about. */
export class EventLog {
  readonly events: { at: number; event: LabEvent }[] = [];
  private waiters: { match: (e: LabEvent) => boolean; resolve: (e: LabEvent) => void }[] = [];
  readonly stop: () => void;

  constructor(subscribe: (l: (e: LabEvent) => void) => () => void) {
    this.stop = subscribe((event) => {
      this.events.push({ at: Date.now(), event });
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(event)) return true;
        w.resolve(event);
        return false;
      });
    });
  }

  of<T extends LabEvent['type']>(type: T): Extract<LabEvent, { type: T }>[] {
    return this.events
      .filter((e) => e.event.type === type)
      .map((e) => e.event as Extract<LabEvent, { type: T }>);
  }

  /** The first event (already seen or still to come) that matches. */
  wait<E extends LabEvent = LabEvent>(
    match: (e: LabEvent) => boolean,
    what: string,
    timeoutMs = 120_000,
  ): Promise<E> {
    const seen = this.events.find((e) => match(e.event));
    if (seen) return Promise.resolve(seen.event as E);
    return new Promise<E>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e as E);
        },
      });
    });
  }
}

export const isExperimentStatus =
  (id: string, ...statuses: RunStatus[]) =>
  (e: LabEvent): boolean =>
    e.type === 'experiment.updated' && e.experiment.id === id && statuses.includes(e.experiment.status);

export const isRunUpdate =
  (experimentId: string, phase: string, ...statuses: RunStatus[]) =>
  (e: LabEvent): boolean =>
    e.type === 'run.updated' &&
    e.run.experimentId === experimentId &&
    e.run.phase === phase &&
    statuses.includes(e.run.status);

export interface TestLab {
  service: LabService;
  store: LabStore;
  events: EventLog;
  dataDir: string;
  close(): Promise<void>;
}

/** A lab service over a real store in a temp folder, with real worker processes. */
export async function openTestLab(
  options: Partial<Omit<LabServiceOptions, 'store'>> & { dataDir?: string } = {},
): Promise<TestLab> {
  const temp = options.dataDir ? null : await tempDir();
  const dataDir = options.dataDir ?? temp!.dir;
  const store = LabStore.open(dataDir);
  const service = createLabService({
    launcher: nodeWorkerLauncher(),
    host: 'headless',
    appVersion: 'test',
    ...options,
    store,
  });
  const events = new EventLog((l) => service.onEvent(l));
  return {
    service,
    store,
    events,
    dataDir,
    async close() {
      events.stop();
      await service.close();
      await temp?.cleanup();
    },
  };
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function waitUntil(
  cond: () => boolean,
  what: string,
  timeoutMs = 30_000,
  stepMs = 25,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
