import type { RunKind, RunRecord } from '../../../shared/lab-api.js';
import type { BandInput } from './bands.js';
import type { MetricStore, StepValue } from './metrics.js';
import { methodLabel, runGroup } from './status.js';

export interface ExperimentRuns {
  id: string;
  name: string;
  runs: readonly RunRecord[];
}

/** One run's series of one metric, with what a table or CSV needs to name it. */
export interface Curve {
  experimentId: string;
  experimentName: string;
  runId: string;
  /** method, or 'source' / 'target' for training runs */
  method: string;
  /** the initialisation's label (seed or parameter set) */
  target: string;
  targetIndex: number | null;
  key: string;
  points: StepValue[];
}

/** Every curve of `key` for the runs of the given kinds (transfer runs by default), in run order. */
export function collectCurves(
  experiments: readonly ExperimentRuns[],
  store: MetricStore,
  key: string,
  kinds: readonly RunKind[] = ['transfer'],
): Curve[] {
  const out: Curve[] = [];
  for (const e of experiments) {
    for (const r of e.runs) {
      if (!kinds.includes(r.kind)) continue;
      out.push({
        experimentId: e.id,
        experimentName: e.name,
        runId: r.id,
        method: runGroup(r),
        target: r.label,
        targetIndex: r.targetIndex,
        key,
        points: store.series(r.id, key),
      });
    }
  }
  return out;
}

/**
 * Band inputs from curves: grouped by method only (pooling the selected experiments), or by
 * experiment and method (one band per experiment's method, across its targets).
 */
export function bandInputs(
  curves: readonly Curve[],
  pool: boolean,
  names?: ReadonlyMap<string, string>,
): BandInput[] {
  return curves.map((c) => ({ group: groupKey(c, pool, names), points: c.points }));
}

export function groupKey(
  c: Pick<Curve, 'method' | 'experimentId' | 'experimentName'>,
  pool: boolean,
  names?: ReadonlyMap<string, string>,
): string {
  return pool ? c.method : `${names?.get(c.experimentId) ?? c.experimentName}\u0001${c.method}`;
}

/** "GMT" or "exp name · GMT" for a group key made by groupKey. */
export function groupLabel(group: string): string {
  const i = group.indexOf('\u0001');
  return i < 0 ? methodLabel(group) : `${group.slice(0, i)} · ${methodLabel(group.slice(i + 1))}`;
}

export function groupMethod(group: string): string {
  const i = group.indexOf('\u0001');
  return i < 0 ? group : group.slice(i + 1);
}

/** Short, distinct display names for experiments that share a name ("quick demo", "quick demo #2"). */
export function distinctNames(experiments: readonly { id: string; name: string }[]): Map<string, string> {
  const seen = new Map<string, number>();
  const out = new Map<string, string>();
  for (const e of experiments) {
    const k = seen.get(e.name) ?? 0;
    seen.set(e.name, k + 1);
    out.set(e.id, k === 0 ? e.name : `${e.name} #${k + 1}`);
  }
  return out;
}
