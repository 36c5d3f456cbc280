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

/**
 * The parts of a spec's keys, each serialised once: a key is its parts' JSON joined by "|" (JSON
 * values are self-delimiting, so different parts never make the same key). Compare keys a
 * thousand specs; serialising the shared parts once per target made that the page's longest task.
 */
export function identityParts(spec: Spec): {
  source: string;
  target: (string | null)[];
  transfer: (string | null)[];
  /** the source's pre-trained start, then each target's */
  pretrain: string[];
} {
  let p = keyParts.get(spec);
  if (p) return p;
  const base = stableJson({
    dataset: spec.dataset,
    options: spec.datasetOptions,
    model: spec.model,
    evalLimit: spec.evalLimit,
    // A pre-trained start is part of every key: the same seed pre-trained or not is another network.
    pretrain: spec.pretrain,
  });
  const train = stableJson(spec.source.train);
  const source = `${base}|${stableJson(spec.source.init)}|${train}`;
  const { methods: _m, ...settings } = spec.transfer;
  const transfer = stableJson(settings);
  const inits = spec.targets.map((t) => {
    const { label: _l, ...init } = t.init as typeof t.init & { label?: string };
    return stableJson(init);
  });
  p = {
    source,
    target: inits.map((init) => `${base}|${init}|${train}`),
    transfer: inits.map((init) => `${source}|${init}|${transfer}`),
    pretrain: [stableJson(spec.source.init), ...inits].map((init) => `${base}|${init}`),
  };
  keyParts.set(spec, p);
  return p;
}

/** A run's key as (what it is, the parts it depends on): see identityParts. */
function identityOf(
  spec: Spec,
  run: Pick<RunRecord, 'kind' | 'method' | 'targetIndex'>,
): { what: string; parts: string } | null {
  const p = identityParts(spec);
  if (run.kind === 'source') return { what: 'source', parts: p.source };
  if (run.kind === 'pretrain') {
    const parts = p.pretrain[run.targetIndex === null ? 0 : run.targetIndex + 1];
    return parts === undefined ? null : { what: 'pretrain', parts };
  }
  if (run.targetIndex === null || run.targetIndex >= p.target.length) return null;
  if (run.kind === 'target') return { what: 'target', parts: p.target[run.targetIndex]! };
  return { what: `transfer:${run.method}`, parts: p.transfer[run.targetIndex]! };
}

export function runIdentity(
  spec: Spec,
  run: Pick<RunRecord, 'kind' | 'method' | 'targetIndex'>,
): string | null {
  const k = identityOf(spec, run);
  return k && `${k.what}:${k.parts}`;
}

export interface Deduped {
  experiments: ExperimentRuns[];
  /** runs left out, each with the run it repeats */
  duplicates: { runId: string; experimentId: string; sameAs: string }[];
}

/**
 * Each distinct computation once: the first run of a key is kept, preferring a finished one.
 * Runs whose key cannot be formed are kept. Keys are looked up in two steps — what the run is,
 * then its parts' string, which is the same string object for every run of a spec — so the long
 * strings are hashed once per spec, not once per run.
 */
export function dedupeRuns(experiments: readonly (ExperimentRuns & { spec: Spec })[]): Deduped {
  const keep = new Map<string, Map<string, RunRecord>>();
  const keys = new Map<string, { what: string; parts: string } | null>();
  for (const e of experiments)
    for (const r of e.runs) {
      const k = identityOf(e.spec, r);
      keys.set(r.id, k);
      if (k === null) continue;
      let byParts = keep.get(k.what);
      if (!byParts) keep.set(k.what, (byParts = new Map()));
      const prev = byParts.get(k.parts);
      if (!prev || (prev.status !== 'done' && r.status === 'done')) byParts.set(k.parts, r);
    }
  const duplicates: Deduped['duplicates'] = [];
  const out = experiments.map((e) => ({
    id: e.id,
    name: e.name,
    runs: e.runs.filter((r) => {
      const k = keys.get(r.id) ?? null;
      if (k === null) return true;
      const kept = keep.get(k.what)!.get(k.parts)!;
      if (kept.id === r.id) return true;
      duplicates.push({ runId: r.id, experimentId: e.id, sameAs: kept.id });
      return false;
    }),
  }));
  return { experiments: out, duplicates };
}
