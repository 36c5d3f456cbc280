/**
 * Compare's explorer: one row per experiment holding the spec fields that differ between the
 * experiments and their results (a method's best, final or test accuracy, mean over targets), the
 * axes of a parallel-coordinates plot over those fields, and the brushes (a range on each axis)
 * that select rows. Pure, so the selection logic is unit-tested without a browser.
 */
import type { RunRecord } from '../../../shared/lab-api.js';
import type { Scalar } from './diff.js';
import type { StepValue } from './metrics.js';
import { runValues } from './summary.js';

export type Cell = number | string | null;
export type ResultStat = 'best' | 'final' | 'test';
export const RESULT_STATS: readonly ResultStat[] = ['best', 'final', 'test'];

/** Numeric or string settings whose value is not the same in every document (`name` aside). */
export function differingFields(
  flats: readonly ReadonlyMap<string, Scalar>[],
  ignore: readonly string[] = ['name'],
): string[] {
  const paths = new Set<string>();
  for (const f of flats)
    for (const [k, v] of f) if (typeof v === 'number' || typeof v === 'string') paths.add(k);
  return [...paths]
    .filter((p) => {
      if (ignore.includes(p)) return false;
      const first = flats[0]?.get(p);
      return flats.some((f) => f.get(p) !== first);
    })
    .sort();
}

/** "best:gmt", "final:gmt", "test:gmt", … for each method. */
export function resultFields(
  methods: readonly string[],
  stats: readonly ResultStat[] = RESULT_STATS,
): string[] {
  return methods.flatMap((m) => stats.map((k) => `${k}:${m}`));
}

/** "final:gmt" → { stat: 'final', method: 'gmt' }; null for a spec field. */
export function parseResultField(field: string): { stat: ResultStat; method: string } | null {
  const m = /^(best|final|test):([a-z0-9_-]+)$/.exec(field);
  return m ? { stat: m[1] as ResultStat, method: m[2] } : null;
}

/**
 * An experiment's results as explorer cells: per method and stat, the mean over the method's
 * transfer runs that have the value (a run still going counts with what its curve shows so far).
 */
export function experimentResults(
  runs: readonly RunRecord[],
  curveOf: (runId: string) => readonly StepValue[],
): Record<string, number> {
  const sums = new Map<string, { sum: number; n: number }>();
  for (const r of runs) {
    if (r.kind !== 'transfer' || !r.method) continue;
    const v = runValues(r, () => curveOf(r.id));
    for (const stat of RESULT_STATS) {
      const x = v[stat];
      if (x === null) continue;
      const key = `${stat}:${r.method}`;
      const s = sums.get(key) ?? { sum: 0, n: 0 };
      s.sum += x;
      s.n++;
      sums.set(key, s);
    }
  }
  const out: Record<string, number> = {};
  for (const [k, s] of sums) out[k] = s.sum / s.n;
  return out;
}

/** "lr 0.01" < "lr 0.02", "[64]" < "[128]": runs of digits compare as numbers. */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+(?:\.\d+)?)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const nx = Number(x);
    const ny = Number(y);
    if (Number.isFinite(nx) && Number.isFinite(ny) && nx !== ny) return nx - ny;
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** An axis of the parallel-coordinates plot: a numeric range, or evenly spaced categories. */
export type Axis =
  | { field: string; kind: 'number'; lo: number; hi: number }
  | { field: string; kind: 'category'; categories: string[] };

/** The axis for a field from its values: numeric when every value present is a number. */
export function axisFor(field: string, values: readonly Cell[]): Axis {
  const present = values.filter((v): v is number | string => v !== null);
  if (present.every((v) => typeof v === 'number')) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of present as number[])
      if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    return Number.isFinite(lo) ? { field, kind: 'number', lo, hi } : { field, kind: 'number', lo: 0, hi: 1 };
  }
  return {
    field,
    kind: 'category',
    categories: [...new Set(present.map(String))].sort(naturalCompare),
  };
}

/** Where a value sits on its axis, 0 (bottom) to 1 (top); null when it has none. */
export function axisPosition(axis: Axis, v: Cell): number | null {
  if (v === null) return null;
  if (axis.kind === 'number') {
    if (typeof v !== 'number' || !Number.isFinite(v)) return null;
    return axis.hi > axis.lo ? (v - axis.lo) / (axis.hi - axis.lo) : 0.5;
  }
  const i = axis.categories.indexOf(String(v));
  if (i < 0) return null;
  return axis.categories.length > 1 ? i / (axis.categories.length - 1) : 0.5;
}

/** The value at a position on a numeric axis, the nearest category on a categorical one. */
export function axisValueAt(axis: Axis, pos: number): number | string {
  if (axis.kind === 'number') return axis.lo + pos * (axis.hi - axis.lo);
  const n = axis.categories.length;
  return axis.categories[Math.min(n - 1, Math.max(0, Math.round(pos * (n - 1))))] ?? '';
}

/** A brush per field: the part of its axis selected, as positions 0 (bottom) to 1 (top), lo ≤ hi. */
export type Brushes = ReadonlyMap<string, readonly [number, number]>;

/** The rows whose values lie inside every brush (a row with no value on a brushed axis is out). */
export function brushedRows<R extends { id: string; values: Readonly<Record<string, Cell>> }>(
  rows: readonly R[],
  axes: readonly Axis[],
  brushes: Brushes,
): R[] {
  const active = axes.filter((a) => brushes.has(a.field));
  if (active.length === 0) return [...rows];
  return rows.filter((r) =>
    active.every((a) => {
      const [lo, hi] = brushes.get(a.field)!;
      const p = axisPosition(a, r.values[a.field] ?? null);
      return p !== null && p >= lo - 1e-9 && p <= hi + 1e-9;
    }),
  );
}

/** Brushes in a URL: "source.train.lr~0~0.25|final:gmt~0.5~1". */
export function formatBrushes(b: Brushes): string {
  return [...b].map(([f, [lo, hi]]) => `${f}~${+lo.toFixed(4)}~${+hi.toFixed(4)}`).join('|');
}

export function parseBrushes(s: string | undefined): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const part of (s ?? '').split('|')) {
    const m = /^(.+)~(-?[\d.]+)~(-?[\d.]+)$/.exec(part);
    if (!m) continue;
    const lo = Math.max(0, Math.min(1, Number(m[2])));
    const hi = Math.max(0, Math.min(1, Number(m[3])));
    if (Number.isFinite(lo) && Number.isFinite(hi)) out.set(m[1], [Math.min(lo, hi), Math.max(lo, hi)]);
  }
  return out;
}
