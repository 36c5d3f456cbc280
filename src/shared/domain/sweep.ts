/**
 * Sweeps: a spec with a `sweep` section of lists expands into one experiment per grid point,
 *   "sweep": { "model.hidden": [[512],[1024]], "pairs": [[101,102],[201,202]], "transfer.T": [5,10] }
 * Keys are dotted paths into the spec (`source.train.lr`, `transfer.methods`); `pairs` sets the
 * source seed and the target seed(s) of each point, and defaults to the paper's three pairs
 * (101→102, 201→202, 301→302), so a sweep is averaged over seeds unless it says otherwise. Points
 * that differ only in their seeds form one group, reported as mean ± std over the seeds.
 * Dependency-free: the CLI, the host and the renderer all read it.
 */

export const PAPER_PAIRS: number[][] = [
  [101, 102],
  [201, 202],
  [301, 302],
];

/** Grids larger than this are refused: a typo in a list should not queue a million experiments. */
export const MAX_SWEEP_POINTS = 2000;

export type SweepValues = Record<string, unknown>;

export interface SweepPoint {
  index: number;
  /** this point's value of every swept key, in the sweep's key order */
  values: SweepValues;
  /** e.g. `model.hidden=[1024] pairs=201→202 transfer.T=5` */
  label: string;
  /** the points of one group differ only in their seeds */
  group: string;
  /** the group's number, in order of first appearance */
  groupIndex: number;
  /** the spec of this point (no `sweep` section) */
  spec: Record<string, unknown>;
}

export class SweepError extends Error {}

export function hasSweep(json: unknown): boolean {
  return typeof json === 'object' && json !== null && 'sweep' in json;
}

function formatValue(key: string, v: unknown): string {
  if (key === 'pairs' && Array.isArray(v)) return `${v[0]}→${v.slice(1).join(',')}`;
  return JSON.stringify(v);
}

/** Seeds are what a group averages over. */
function isSeedKey(key: string): boolean {
  return key === 'pairs' || /(^|\.)seed$/.test(key) || /init\.seed$/.test(key);
}

function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let at: Record<string, unknown> = doc;
  for (const p of parts.slice(0, -1)) {
    const next = at[p];
    if (next === undefined) at[p] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next))
      throw new SweepError(`sweep key "${path}": "${p}" is not a section of the spec`);
    at = at[p] as Record<string, unknown>;
  }
  at[parts[parts.length - 1]!] = structuredClone(value);
}

function applyPair(doc: Record<string, unknown>, pair: unknown): void {
  if (!Array.isArray(pair) || pair.length < 2 || !pair.every((s) => Number.isInteger(s)))
    throw new SweepError(
      `sweep "pairs": each entry is [source seed, target seed, …] (integers), got ${JSON.stringify(pair)}`,
    );
  const source = (doc.source ??= {}) as Record<string, unknown>;
  source.init = { seed: pair[0] };
  doc.targets = pair.slice(1).map((seed) => ({ init: { seed } }));
}

/** The grid's points, the last key varying fastest. Each point's spec is still to be validated. */
export function expandSweep(json: Record<string, unknown>): SweepPoint[] {
  const sweep = json.sweep;
  if (typeof sweep !== 'object' || sweep === null || Array.isArray(sweep))
    throw new SweepError('spec field "sweep": must be an object of lists');
  const axes: [string, unknown[]][] = Object.entries(sweep as Record<string, unknown>).map(([k, v]) => {
    if (!Array.isArray(v) || v.length === 0)
      throw new SweepError(`sweep key "${k}": must be a non-empty list, got ${JSON.stringify(v)}`);
    if (k === 'sweep' || k === 'name') throw new SweepError(`sweep key "${k}" cannot be swept`);
    return [k, v];
  });
  if (!axes.some(([k]) => k === 'pairs')) axes.push(['pairs', PAPER_PAIRS]);
  const total = axes.reduce((n, [, v]) => n * v.length, 1);
  if (total > MAX_SWEEP_POINTS)
    throw new SweepError(`the sweep has ${total} points; at most ${MAX_SWEEP_POINTS} are allowed`);
  const { sweep: _sweep, ...base } = json;
  const points: SweepPoint[] = [];
  const groups = new Map<string, number>();
  for (let index = 0; index < total; index++) {
    const values: SweepValues = {};
    let rest = index;
    for (let a = axes.length - 1; a >= 0; a--) {
      const [k, list] = axes[a]!;
      values[k] = list[rest % list.length];
      rest = Math.floor(rest / list.length);
    }
    const ordered: SweepValues = {};
    for (const [k] of axes) ordered[k] = values[k];
    const spec = structuredClone(base);
    for (const [k, v] of Object.entries(ordered)) {
      if (k === 'pairs') applyPair(spec, v);
      else setPath(spec, k, v);
    }
    const label = Object.entries(ordered)
      .map(([k, v]) => `${k}=${formatValue(k, v)}`)
      .join(' ');
    const group = Object.entries(ordered)
      .filter(([k]) => !isSeedKey(k))
      .map(([k, v]) => `${k}=${formatValue(k, v)}`)
      .join(' ');
    const g = group || 'all';
    if (!groups.has(g)) groups.set(g, groups.size);
    points.push({ index, values: ordered, label, group: g, groupIndex: groups.get(g)!, spec });
  }
  return points;
}

export interface MeanStd {
  mean: number;
  std: number;
  n: number;
}

/** Mean and sample standard deviation (0 for a single value); NaNs are left out. */
export function meanStd(xs: readonly number[]): MeanStd {
  const v = xs.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/** One method's numbers at one point (averaged over the point's targets). */
export interface PointMethodRow {
  point: number;
  group: string;
  label: string;
  method: string;
  valAccuracyAtT: number;
  testAccuracyAtT: number;
  bestValAccuracy: number;
  testAccuracyAtBest: number;
}

export interface GroupRow {
  group: string;
  method: string;
  valAccuracyAtT: MeanStd;
  testAccuracyAtT: MeanStd;
}

/** Groups per-point rows by group and method, in first-seen order. */
export function groupRows(rows: readonly PointMethodRow[]): GroupRow[] {
  const by = new Map<string, PointMethodRow[]>();
  for (const r of rows) {
    const k = JSON.stringify([r.group, r.method]);
    by.set(k, [...(by.get(k) ?? []), r]);
  }
  return [...by.values()].map((rs) => ({
    group: rs[0]!.group,
    method: rs[0]!.method,
    valAccuracyAtT: meanStd(rs.map((r) => r.valAccuracyAtT)),
    testAccuracyAtT: meanStd(rs.map((r) => r.testAccuracyAtT)),
  }));
}

/** Tags that mark an experiment as a sweep's point, so History and Compare can group it. */
export const sweepTag = (sweepId: string): string => `sweep:${sweepId}`;
export const pointTag = (index: number): string => `sweep-point:${index}`;

/** The point's group (same values but the seeds), so Compare can pool a group's seeds. Tags stay short. */
export const groupTag = (sweepId: string, groupIndex: number): string =>
  `sweep-group:${sweepId}.${groupIndex}`;

/** The sweep group an experiment belongs to ("<sweep id>.<group>"), from its tags, or null. */
export function sweepGroupOf(tags: readonly string[]): string | null {
  const t = tags.find((x) => x.startsWith('sweep-group:'));
  return t ? t.slice('sweep-group:'.length) : null;
}

/** A sweep point's name without its seeds: how Compare names the group's pooled band. */
export function withoutSeeds(pointName: string): string {
  return pointName
    .replace(/ ?pairs=\S+/g, '')
    .replace(/ ?[\w.]*seed=\S+/g, '')
    .replace(/\[\s*\]$/, '')
    .trim();
}

/** The sweep an experiment belongs to, from its tags. */
export function sweepOf(tags: readonly string[]): string | null {
  const t = tags.find((x) => x.startsWith('sweep:'));
  return t ? t.slice('sweep:'.length) : null;
}
