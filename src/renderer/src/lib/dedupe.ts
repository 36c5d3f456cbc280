/**
 * Runs that repeat the same computation — the same data, model, initialisations and settings —
 * must not be pooled as independent samples (two experiments that reuse the seed-102 target from
 * one source are one sample, not two). The key mirrors the engine's training key (dataset, split
 * options, model, initialisation, training settings), extended for transfers by the source's key,
 * the transfer settings and the method. The renderer sees a dataset by its spec, not its content
 * hash, and an init file by its path.
 */
import type { ExperimentDetail, RunRecord } from '../../../shared/lab-api.js';
import type { ExperimentRuns } from './curves.js';

type Spec = ExperimentDetail['spec'];

/** JSON with sorted keys, so key order in a spec does not matter. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v as Record<string, unknown>)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** Per spec, the parts of every key that do not depend on the run (computed once per spec). */
interface KeyParts {
  source: string;
  target: (string | null)[];
  transfer: (string | null)[];
  /** the pre-trainings: the source's, then each target's */
  pretrain: string[];
}
const keyParts = new WeakMap<object, KeyParts>();

function partsOf(spec: Spec): KeyParts {
  let p = keyParts.get(spec);
  if (p) return p;
  // A pre-trained start is part of every key: the same seed pre-trained or not is another network.
  const base = {
    dataset: spec.dataset,
    options: spec.datasetOptions,
    model: spec.model,
    evalLimit: spec.evalLimit,
    pretrain: spec.pretrain,
  };
  const train = spec.source.train;
  const source = stableJson({ ...base, init: spec.source.init, train });
  const { methods: _m, ...transfer } = spec.transfer;
  const inits = spec.targets.map((t) => {
    const { label: _l, ...init } = t.init as typeof t.init & { label?: string };
    return init;
  });
  p = {
    source,
    target: inits.map((init) => stableJson({ ...base, init, train })),
    transfer: inits.map((init) => stableJson({ source, init, transfer })),
    pretrain: [spec.source.init, ...inits].map((init) => stableJson({ ...base, init })),
  };
  keyParts.set(spec, p);
  return p;
}

export function runIdentity(
  spec: Spec,
  run: Pick<RunRecord, 'kind' | 'method' | 'targetIndex'>,
): string | null {
  const p = partsOf(spec);
  if (run.kind === 'source') return `source:${p.source}`;
  if (run.kind === 'pretrain') {
    const k = p.pretrain[run.targetIndex === null ? 0 : run.targetIndex + 1];
    return k === undefined ? null : `pretrain:${k}`;
  }
  if (run.targetIndex === null || run.targetIndex >= p.target.length) return null;
  if (run.kind === 'target') return `target:${p.target[run.targetIndex]}`;
  return `transfer:${run.method}:${p.transfer[run.targetIndex]}`;
}

export interface Deduped {
  experiments: ExperimentRuns[];
  /** runs left out, each with the run it repeats */
  duplicates: { runId: string; experimentId: string; sameAs: string }[];
}

/**
 * Each distinct computation once: the first run of a key is kept, preferring a finished one.
 * Runs whose key cannot be formed are kept.
 */
export function dedupeRuns(experiments: readonly (ExperimentRuns & { spec: Spec })[]): Deduped {
  const keep = new Map<string, RunRecord>();
  const keys = new Map<string, string | null>();
  for (const e of experiments)
    for (const r of e.runs) {
      const k = runIdentity(e.spec, r);
      keys.set(r.id, k);
      if (k === null) continue;
      const prev = keep.get(k);
      if (!prev || (prev.status !== 'done' && r.status === 'done')) keep.set(k, r);
    }
  const duplicates: Deduped['duplicates'] = [];
  const out = experiments.map((e) => ({
    id: e.id,
    name: e.name,
    runs: e.runs.filter((r) => {
      const k = keys.get(r.id) ?? null;
      if (k === null) return true;
      const kept = keep.get(k)!;
      if (kept.id === r.id) return true;
      duplicates.push({ runId: r.id, experimentId: e.id, sameAs: kept.id });
      return false;
    }),
  }));
  return { experiments: out, duplicates };
}
