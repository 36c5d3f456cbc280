import type { RunKind, RunRecord } from '../../../shared/lab-api.js';
import { meanStd } from './bands.js';
import type { ExperimentRuns } from './curves.js';
import { groupKey } from './curves.js';
import { bestPoint, type StepValue } from './metrics.js';
import { compareMethods, runGroup } from './status.js';

export interface Stat {
  mean: number;
  std: number;
  n: number;
}

export interface SummaryRow {
  group: string;
  kind: RunKind;
  /** runs in the group, and how many of them have finished */
  runs: number;
  done: number;
  /** validation accuracy at the last step */
  final: Stat | null;
  /** highest validation accuracy over the steps (early stopping) */
  best: Stat | null;
  bestStep: Stat | null;
  /** test accuracy (at t = T for transfers, after training for training runs) */
  test: Stat | null;
  seconds: Stat | null;
  gradientEvaluations: Stat | null;
}

function stat(values: readonly (number | null | undefined)[]): Stat | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return null;
  const { mean, std } = meanStd(v);
  return { mean, std, n: v.length };
}

interface RunValues {
  final: number | null;
  best: number | null;
  bestStep: number | null;
  test: number | null;
  seconds: number | null;
  gradients: number | null;
}

/**
 * A run's summary values: the store's cached ones when the run has finished, else what its
 * validation curve shows so far (so the table fills in live). The curve may be given as a
 * function: it is then read only when a cached value is missing.
 */
export function runValues(
  run: RunRecord,
  curve?: readonly StepValue[] | (() => readonly StepValue[]),
): RunValues {
  const s = run.summary as Record<string, unknown> | null;
  let fromCurve: { final: number; best: StepValue | null } | null | undefined;
  const curveValues = (): { final: number; best: StepValue | null } | null => {
    if (fromCurve === undefined) {
      const c = typeof curve === 'function' ? curve() : curve;
      fromCurve = c && c.length ? { final: c[c.length - 1].value, best: bestPoint(c) } : null;
    }
    return fromCurve;
  };
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const va = s && Array.isArray(s.valAccuracy) ? (s.valAccuracy as number[]) : null;
  return {
    final: run.final ?? (va ? num(va[va.length - 1]) : num(s?.valAccuracy)) ?? curveValues()?.final ?? null,
    best: run.best ?? (va && va.length ? Math.max(...va) : null) ?? curveValues()?.best?.value ?? null,
    bestStep: num(s?.bestStep) ?? curveValues()?.best?.step ?? null,
    test: run.test ?? num(s?.testAccuracy),
    seconds: run.seconds ?? num(s?.seconds),
    gradients: num(s?.gradientEvaluations),
  };
}

/**
 * One row per method (pooled over the experiments) or per experiment and method, with mean ±
 * std over targets; training runs get rows of their own after the methods.
 */
export function summarize(
  experiments: readonly ExperimentRuns[],
  opts: {
    pool: boolean;
    names?: ReadonlyMap<string, string>;
    /** each run's validation curve (a function is asked only for runs with no cached values) */
    curves?: ReadonlyMap<string, readonly StepValue[]> | ((runId: string) => readonly StepValue[]);
    kinds?: readonly RunKind[];
  },
): SummaryRow[] {
  const kinds = opts.kinds ?? ['transfer', 'source', 'target'];
  const groups = new Map<string, { kind: RunKind; runs: RunRecord[] }>();
  for (const e of experiments) {
    for (const r of e.runs) {
      if (!kinds.includes(r.kind)) continue;
      const g = groupKey(
        { method: runGroup(r), experimentId: e.id, experimentName: e.name },
        opts.pool,
        opts.names,
      );
      let entry = groups.get(g);
      if (!entry) groups.set(g, (entry = { kind: r.kind, runs: [] }));
      entry.runs.push(r);
    }
  }
  const rows: SummaryRow[] = [];
  for (const [group, { kind, runs }] of groups) {
    const curves = opts.curves;
    const vals = runs.map((r) =>
      runValues(r, typeof curves === 'function' ? () => curves(r.id) : curves?.get(r.id)),
    );
    rows.push({
      group,
      kind,
      runs: runs.length,
      done: runs.filter((r) => r.status === 'done').length,
      final: stat(vals.map((v) => v.final)),
      best: stat(vals.map((v) => v.best)),
      bestStep: stat(vals.map((v) => v.bestStep)),
      test: stat(vals.map((v) => v.test)),
      seconds: stat(vals.map((v) => v.seconds)),
      gradientEvaluations: stat(vals.map((v) => v.gradients)),
    });
  }
  const kindRank = (k: RunKind): number => (k === 'transfer' ? 0 : k === 'source' ? 1 : 2);
  const method = (g: string): string => g.slice(g.indexOf('\u0001') + 1);
  const exp = (g: string): string => (g.includes('\u0001') ? g.slice(0, g.indexOf('\u0001')) : '');
  rows.sort(
    (a, b) =>
      kindRank(a.kind) - kindRank(b.kind) ||
      compareMethods(method(a.group), method(b.group)) ||
      exp(a.group).localeCompare(exp(b.group)),
  );
  return rows;
}
