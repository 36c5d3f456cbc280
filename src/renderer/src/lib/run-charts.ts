/**
 * What the run page and Compare draw besides the curves themselves: reference lines for the
 * source's and the trained target's accuracy, and curves moved onto a compute axis.
 */
import type { ExperimentDetail, RunRecord } from '../../../shared/lab-api.js';
type ExperimentSpec = ExperimentDetail['spec'];
import { meanStd } from './bands.js';
import type { ChartSeries, RefLine } from './chart-series.js';
import type { XAxisKind } from './chart-transform.js';
import { gradientEvaluations } from '../../../shared/domain/index.js';
import type { Curve } from './curves.js';
import type { StepValue } from './metrics.js';
import { groupKey } from './curves.js';

function summaryValue(run: RunRecord, key: string): number | null {
  const s = run.summary as Record<string, unknown> | null;
  const v = s?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * "Source 89.2 %" and "Target trained directly 89.6 %": where transferring should get to, and
 * what training from scratch would reach. Values are the trained runs' final validation metric
 * (mean over targets); only keys the trained summaries carry (valAccuracy, valLoss) get lines.
 */
export function referenceLines(
  runs: readonly RunRecord[],
  key: string,
  color: (kind: 'source' | 'target') => string,
  fmt: (v: number) => string,
): RefLine[] {
  const out: RefLine[] = [];
  const of = (kind: 'source' | 'target'): number[] =>
    runs
      .filter((r) => r.kind === kind && r.status === 'done')
      .map((r) => summaryValue(r, key))
      .filter((v): v is number => v !== null);
  const src = of('source');
  if (src.length) {
    const m = meanStd(src).mean;
    out.push({ id: 'source', label: `Source ${fmt(m)}`, y: m, color: color('source'), dash: [6, 4] });
  }
  const tgt = of('target');
  if (tgt.length) {
    const m = meanStd(tgt).mean;
    const n = tgt.length > 1 ? ` (mean of ${tgt.length})` : '';
    out.push({
      id: 'target',
      label: `Target trained directly ${fmt(m)}${n}`,
      y: m,
      color: color('target'),
      dash: [2, 3],
    });
  }
  return out;
}

/**
 * Where each (group, step) lies on a compute axis. Gradient evaluations are the method's
 * cumulative count after step t for one target (GMT t(t+1)·b, FGMT 2t·b); seconds are the mean
 * over the group's runs of the point's wall time since its run started.
 */
export function computeX(
  curves: readonly Curve[],
  runs: ReadonlyMap<string, Pick<RunRecord, 'startedAt'>>,
  specOf: (experimentId: string) => Pick<ExperimentSpec, 'transfer'> | undefined,
  kind: XAxisKind,
  pool: boolean,
  names?: ReadonlyMap<string, string>,
): (group: string, step: number) => number | null {
  if (kind === 't') return (_g, step) => step;
  if (kind === 'gradients') {
    const gb = new Map<string, number>();
    for (const c of curves)
      gb.set(groupKey(c, pool, names), specOf(c.experimentId)?.transfer.gradBatches ?? 1);
    const method = new Map(curves.map((c) => [groupKey(c, pool, names), c.method]));
    return (g, step) => gradientEvaluations(method.get(g) ?? '', step, gb.get(g) ?? 1);
  }
  const acc = new Map<string, Map<number, number[]>>();
  for (const c of curves) {
    const start = Date.parse(runs.get(c.runId)?.startedAt ?? '');
    const first = c.points.find((p) => Number.isFinite(p.wall))?.wall;
    const t0 = Number.isFinite(start) ? start : first;
    if (t0 === undefined) continue;
    const g = groupKey(c, pool, names);
    let m = acc.get(g);
    if (!m) acc.set(g, (m = new Map()));
    for (const p of c.points) {
      if (!Number.isFinite(p.wall)) continue;
      let v = m.get(p.step);
      if (!v) m.set(p.step, (v = []));
      v.push(Math.max(0, (p.wall! - t0) / 1000));
    }
  }
  return (g, step) => {
    const v = acc.get(g)?.get(step);
    return v && v.length ? meanStd(v).mean : null;
  };
}

/**
 * The series with x = xOf(series id, step). A series whose x does not grow with t (Naive costs
 * no gradients; a method without wall times) keeps only its last point, so it shows as one
 * point at its cost rather than a vertical line.
 */
export function reX(
  series: readonly ChartSeries[],
  xOf: (group: string, step: number) => number | null,
): ChartSeries[] {
  return series.map((s) => {
    const idx = s.points.map((p, i) => ({ i, x: xOf(s.id, p.x) })).filter((p) => p.x !== null) as {
      i: number;
      x: number;
    }[];
    let keep = idx;
    if (idx.length > 1 && idx.every((p) => p.x === idx[0].x)) keep = [idx[idx.length - 1]];
    const mx = s.marker ? xOf(s.id, s.marker.x) : null;
    return {
      ...s,
      points: keep.map((p) => ({ x: p.x, y: s.points[p.i].y })),
      band: s.band ? keep.map((p) => ({ x: p.x, lo: s.band![p.i].lo, hi: s.band![p.i].hi })) : undefined,
      std: s.std ? keep.map((p) => s.std![p.i]) : undefined,
      n: s.n ? keep.map((p) => s.n![p.i]) : undefined,
      marker: s.marker && mx !== null && keep.length > 1 ? { x: mx, y: s.marker.y } : null,
    };
  });
}

/** Colours for directly trained targets: none of them green or teal-green like the source. */
export const TARGET_COLORS = ['#0e7490', '#b45309', '#9333ea', '#be123c', '#1d4ed8', '#4d7c0f'];
export const TARGET_POINTS = ['rect', 'triangle', 'rectRot', 'star', 'crossRot', 'circle'];

/** The training chart's x-axis: epochs (validation's own steps), SGD steps, or seconds since the run began. */
export type TrainXKind = 'epoch' | 'step' | 'seconds';
export const TRAIN_X_LABELS: Record<TrainXKind, string> = {
  epoch: 'epoch',
  step: 'SGD step',
  seconds: 'seconds since the training started',
};

export function parseTrainX(v: string | undefined): TrainXKind {
  return v === 'step' || v === 'seconds' ? v : 'epoch';
}

/** A run's training curve per SGD step: its points, the steps per epoch, and the recording stride. */
export interface StepCurve {
  points: readonly StepValue[];
  stepsPerEpoch: number;
  /** > 1: each point is the mean of this many steps (the engine thinned it when recording) */
  stride?: number;
}

/**
 * The training chart's series: the source and each directly trained target in a hue of its own
 * (not only a dash), validation per epoch, and the training metric per SGD step drawn thinner
 * (dotted) in the same hue. x in epochs (a step at step / steps per epoch), steps (an epoch's
 * validation at its last step) or seconds since the run started (from the points' wall times).
 */
export function trainingSeries(
  curves: readonly Curve[],
  perStep: ReadonlyMap<string, StepCurve>,
  sourceColor: string,
  dashes: readonly number[][],
  o: { x?: TrainXKind; startOf?: (runId: string) => number | null } = {},
): ChartSeries[] {
  const x = o.x ?? 'epoch';
  const out: ChartSeries[] = [];
  let k = 0;
  for (const c of curves) {
    const isSource = c.method === 'source';
    const color = isSource ? sourceColor : TARGET_COLORS[k % TARGET_COLORS.length];
    const dash = isSource ? undefined : dashes[1 + (k % (dashes.length - 1))];
    if (!isSource) k++;
    const name = isSource ? `Source (${c.target})` : `Target ${(c.targetIndex ?? 0) + 1} (${c.target})`;
    const tl = perStep.get(c.runId);
    const spe = tl?.stepsPerEpoch ?? 0;
    const t0 = x === 'seconds' ? runStart(c.runId, c.points, tl?.points ?? [], o.startOf) : null;
    const place = (step: number, wall: number | undefined, perEpoch: boolean): number | null => {
      if (x === 'epoch') return perEpoch ? step : spe > 0 ? step / spe : null;
      if (x === 'step') return perEpoch ? (spe > 0 ? step * spe : null) : step;
      return wall !== undefined && t0 !== null ? Math.max(0, (wall - t0) / 1000) : null;
    };
    const xy = (points: readonly StepValue[], perEpoch: boolean) =>
      points.flatMap((p) => {
        const at = place(p.step, p.wall, perEpoch);
        return at === null ? [] : [{ x: at, y: p.value }];
      });
    out.push({
      id: c.runId,
      label: `${name}${tl ? ' · validation' : ''}`,
      color,
      dash,
      points: xy(c.points, true),
    });
    if (tl && tl.points.length && spe > 0)
      out.push({
        id: `${c.runId}|train`,
        label: `${name} · training (per step${tl.stride && tl.stride > 1 ? `, mean of ${tl.stride}` : ''})`,
        color,
        dash: [1, 2],
        points: xy(tl.points, false),
      });
  }
  return out;
}

/** When a run started, for a seconds axis: the caller's start time, else its earliest point. */
function runStart(
  runId: string,
  a: readonly StepValue[],
  b: readonly StepValue[],
  startOf?: (runId: string) => number | null,
): number | null {
  const given = startOf?.(runId);
  if (given !== null && given !== undefined && Number.isFinite(given)) return given;
  let t0: number | null = null;
  for (const p of [...a, ...b]) if (p.wall !== undefined && (t0 === null || p.wall < t0)) t0 = p.wall;
  return t0;
}

/**
 * What the chart should say about per-step curves thinned when they were recorded (the engine
 * keeps at most 5,000 points per training): one line per thinned run, or null.
 */
export function strideNote(
  perStep: ReadonlyMap<string, StepCurve>,
  name: (runId: string) => string,
): string | null {
  const parts = [...perStep.entries()]
    .filter(([, c]) => (c.stride ?? 1) > 1)
    .map(
      ([runId, c]) =>
        `${name(runId)}: each point is the mean of ${c.stride} steps (${c.points.length.toLocaleString('en-US')} points)`,
    );
  return parts.length ? `Training per step thinned when recorded — ${parts.join('; ')}.` : null;
}

/**
 * An ETA that does not flicker: progress events without an estimate keep the last one, counted
 * down by the time since; "estimating" only until the first estimate arrives.
 */
export class StickyEta {
  private eta: number | null = null;
  private at = 0;

  update(seconds: number | null | undefined, now: number): void {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return;
    this.eta = seconds;
    this.at = now;
  }

  value(now: number): number | null {
    if (this.eta === null) return null;
    return Math.max(0, this.eta - (now - this.at) / 1000);
  }

  reset(): void {
    this.eta = null;
  }
}

/**
 * A finished experiment as the CLI's result.json has it (formatVersion 1, fractions), built from
 * the stored runs: source, and per target its trained summary and each method's result.
 */
export function resultJson(detail: {
  spec: unknown;
  backend?: string | null;
  runs: readonly RunRecord[];
  createdAt: string;
  seconds: number | null;
}): Record<string, unknown> {
  const source = detail.runs.find((r) => r.kind === 'source')?.summary ?? null;
  const byTarget = new Map<number, { label: string; trained?: unknown; methods: Record<string, unknown> }>();
  for (const r of detail.runs) {
    if (r.targetIndex === null) continue;
    let t = byTarget.get(r.targetIndex);
    if (!t) byTarget.set(r.targetIndex, (t = { label: r.label, methods: {} }));
    if (r.kind === 'target' && r.summary) t.trained = r.summary;
    if (r.kind === 'transfer' && r.method && r.summary) t.methods[r.method] = r.summary;
  }
  return {
    formatVersion: 1,
    spec: detail.spec,
    backend: detail.backend ?? null,
    source,
    targets: [...byTarget.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t),
    seconds: detail.seconds,
    startedAt: detail.createdAt,
  };
}

/** The spec file and the command that runs it from a terminal. */
export function cliCommand(spec: unknown, name: string): string {
  const file = `${name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'experiment'}.json`;
  return `cat > ${file} <<'JSON'\n${JSON.stringify(spec, null, 2)}\nJSON\nnpm run lab -- run ${file} --out runs/${file.replace(/\.json$/, '')}\n`;
}
