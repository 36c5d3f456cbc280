/**
 * An experiment run in this very process (the CLI's `run --db`), recorded into the lab's store
 * exactly as a worker's job would be: the same recorder turns engine events into runs, metrics
 * and logs, and the store's own trained cache stands in for the worker's round trips.
 */
import { previewDataset } from '../../core/data/load.js';
import { runExperiment } from '../../core/experiment.js';
import type { EngineEvent, ExperimentResult, ExperimentSpec } from '../../shared/domain/index.js';
import type { LabEvent } from '../../shared/lab-api.js';
import type { FromWorker } from '../../shared/worker-protocol.js';
import type { LabStore } from '../store/index.js';
import { paramSetResolver, resolveParamSets } from '../param-set-refs.js';
import { jobRecorder } from './recorder.js';

export interface RecordedRunOptions {
  store: LabStore;
  spec: ExperimentSpec;
  name: string;
  origin?: 'cli' | 'lab';
  tags?: string[];
  onEvent?: (e: EngineEvent) => void;
  onLabEvent?: (e: LabEvent) => void;
  signal?: AbortSignal;
}

/** The engine event as the worker would have forwarded it. */
function asWorkerMessage(e: EngineEvent): FromWorker {
  if (e.type === 'metric') return { ...e, wallTime: e.wallTime ?? Date.now() };
  return e;
}

export async function runRecorded(
  o: RecordedRunOptions,
): Promise<{ experimentId: string; result: ExperimentResult }> {
  const { store, spec } = o;
  const paramSets = resolveParamSets(store, spec);
  const experimentId = store.transaction(() => {
    const e = store.createExperiment({ spec, name: o.name, tags: o.tags, origin: o.origin ?? 'cli' });
    store.planRuns(e.id, e.spec);
    return e.id;
  });
  const recorder = jobRecorder({ store, experimentId, emit: o.onLabEvent ?? (() => {}) });
  recorder.started(process.pid);
  const facts = await previewDataset(spec.dataset, 0);
  const cache = store.trainedCache({
    spec,
    experimentId,
    inputShape: [...facts.inputShape],
    classes: facts.classes,
    datasetHash: facts.contentHash,
  });
  try {
    const result = await runExperiment(spec, {
      signal: o.signal,
      cache,
      resolveParamSet: paramSetResolver(paramSets),
      onEvent: (e) => {
        o.onEvent?.(e);
        recorder.message(asWorkerMessage(e), () => {});
      },
    });
    recorder.ended({ kind: 'done', result });
    return { experimentId, result };
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    recorder.ended(
      o.signal?.aborted ? { kind: 'cancelled', reason: message } : { kind: 'failed', error: message },
    );
    throw e;
  }
}
