import type { TrainedCache } from '../../core/experiment.js';
import { type ExperimentSpec, initLabel, type TrainedSummary } from '../../shared/domain/index.js';
import type { Params } from '../../core/params.js';
import { decodePoints, encodePoints } from '../../core/params-io.js';
import type { LabStore } from './index.js';

/** What the cache cannot learn from the engine's calls but the records need. */
export interface TrainedCacheContext {
  /** the experiment's spec: its architecture is recorded with the parameters */
  spec: ExperimentSpec;
  /** links saved sets to the experiment, and records the source it used */
  experimentId?: string | null;
  /** input shape [h, w, c]; recorded as [] when not known */
  inputShape?: number[];
  /** number of classes; read from the classifier's bias when not given */
  classes?: number;
  datasetHash?: string | null;
}

/**
 * The engine's TrainedCache over the store: points are one safetensors file (encodePoints) in
 * the weights folder, the summary lives in the parameter set's row, found by training key.
 */
export function storeTrainedCache(store: LabStore, ctx: TrainedCacheContext): TrainedCache {
  const linkSource = (role: 'source' | 'target', paramSetId: string): void => {
    if (role === 'source' && ctx.experimentId)
      store.updateExperiment(ctx.experimentId, { sourceParamSetId: paramSetId });
  };

  return {
    async load(key: string): Promise<{ points: Params[]; summary: TrainedSummary } | null> {
      const found = store.findTrainedByKey(key);
      if (!found) return null;
      const what = `parameter set ${found.id} (${found.name})`;
      const { points, metadata } = decodePoints(await store.readWeights(found.sha256), what);
      if (points.length !== found.points) {
        for (const p of points) for (const t of Object.values(p)) t.dispose();
        throw new Error(`${what}: the file holds ${points.length} points, the record says ${found.points}`);
      }
      const summary: TrainedSummary = store.trainedSummary(found.id) ?? {
        label: metadata.label ?? found.name,
        valAccuracy: found.valAccuracy ?? Number.NaN,
        valLoss: Number.NaN,
        testAccuracy: found.testAccuracy ?? Number.NaN,
        seconds: 0,
      };
      // The engine does not say which role a load is for; the file remembers who saved it.
      if (metadata.role === 'source') linkSource('source', found.id);
      return { points, summary };
    },

    async save(
      key: string,
      role: 'source' | 'target',
      points: Params[],
      summary: TrainedSummary,
    ): Promise<void> {
      if (points.length === 0) throw new Error('trained cache: nothing to save (no points)');
      const buf = await encodePoints(points, { trainingKey: key, role, label: summary.label });
      const { sha256, bytes } = await store.putWeights(buf);
      const same = store.listTrainedByKey(key).find((p) => p.sha256 === sha256);
      const tensors = Object.values(points[0]);
      const { reused: _reused, ...kept } = summary;
      const record =
        same ??
        store.addParamSet({
          name: `${role} ${summary.label} (trained)`,
          arch: ctx.spec.model,
          inputShape: ctx.inputShape ?? [],
          classes: ctx.classes ?? tensors[tensors.length - 1].shape[0],
          origin: 'trained',
          seed:
            (role === 'source'
              ? ctx.spec.source.init.seed
              : ctx.spec.targets.find((t) => initLabel(t.init) === summary.label)?.init.seed) ?? null,
          trainingKey: key,
          sha256,
          bytes,
          points: points.length,
          summary: kept,
          datasetHash: ctx.datasetHash ?? null,
          experimentId: ctx.experimentId ?? null,
        });
      linkSource(role, record.id);
    },
  };
}
