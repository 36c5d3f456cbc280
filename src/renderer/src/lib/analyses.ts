/**
 * The paper's analyses as chart series, tables and CSV, from the stored results (per-method
 * analyses in each method's result, experiment-level ones in ExperimentAnalyses). Pure: the run
 * view, Compare and the CLI's `figures` command all draw from these.
 */
import type {
  AssumptionPResult,
  EnsemblesResult,
  ExperimentAnalyses,
  PathResult,
  PermutationDiagnostics,
  PlaneResult,
  ScratchResult,
  MethodResult,
} from '../../../shared/domain/index.js';
import { DASHES, type ChartSeries } from './chart-series.js';
import { toCsv } from './csv.js';
import { renderSvgBars } from './svg-bars.js';
import { renderSvgHeatmap, type HeatmapOptions } from './svg-heatmap.js';

/** Colour of a method or of another curve ('scratch', 'trained', 'identity', a width). */
export type Palette = (key: string) => string;
export type MethodResults = Partial<Record<string, MethodResult>>;
/** How a method is named in legends. */
export type Labeler = (key: string) => string;

const byName: Labeler = (k) => k;

/** The methods in `methods` that carry a given analysis, in the given order. */
function having<K extends keyof MethodResult>(methods: MethodResults, key: K): [string, MethodResult][] {
  return Object.entries(methods).filter(
    (e): e is [string, MethodResult] => !!e[1] && e[1][key] !== undefined,
  );
}

/** Subsequent training (Sec. 4.2): per method, the metric per epoch; the scratch run dashed. */
export function finetuneSeries(
  methods: MethodResults,
  scratch: ScratchResult | undefined,
  palette: Palette,
  metric: 'valAccuracy' | 'valLoss' = 'valAccuracy',
  label: Labeler = byName,
): ChartSeries[] {
  const out: ChartSeries[] = having(methods, 'finetune').map(([m, r]) => ({
    id: `finetune:${m}`,
    label: `${label(m)} → fine-tuned`,
    color: palette(m),
    points: r.finetune![metric].map((y, x) => ({ x, y })),
  }));
  if (scratch)
    out.push({
      id: 'scratch',
      label: 'from scratch (source settings)',
      color: palette('scratch'),
      dash: DASHES[1],
      points: scratch[metric].map((y, x) => ({ x, y })),
    });
  return out;
}

export type PathLeg = 'toSource' | 'toTrained';

/** The path a method's result holds for a leg, from its transferred or fine-tuned parameters. */
export function pathOf(r: MethodResult, leg: PathLeg, finetuned = false): PathResult | undefined {
  return finetuned ? r.paths?.finetuned?.[leg] : r.paths?.[leg];
}

/** Linear paths (Fig. 6a/b): the metric along α per method (fine-tuned ones dashed). */
export function pathSeries(
  methods: MethodResults,
  leg: PathLeg,
  palette: Palette,
  opts: { metric?: 'valLoss' | 'valAccuracy'; finetuned?: boolean; label?: Labeler } = {},
): ChartSeries[] {
  const metric = opts.metric ?? 'valLoss';
  const label = opts.label ?? byName;
  const out: ChartSeries[] = [];
  for (const [m, r] of having(methods, 'paths')) {
    for (const tuned of opts.finetuned ? [false, true] : [false]) {
      const p = pathOf(r, leg, tuned);
      if (!p) continue;
      out.push({
        id: `path:${leg}:${m}${tuned ? ':ft' : ''}`,
        label: `${label(m)}${tuned ? ' (fine-tuned)' : ''}`,
        color: palette(m),
        dash: tuned ? DASHES[1] : undefined,
        points: p.alpha.map((x, i) => ({ x, y: p[metric][i] })),
      });
    }
  }
  return out;
}

export const PERMUTATION_METRICS: readonly {
  key: keyof PermutationDiagnostics;
  label: string;
  percent: boolean;
}[] = [
  { key: 'changedFraction', label: 'units moved from identity', percent: true },
  { key: 'agreementWithOracle', label: 'agreement with Oracle’s π', percent: true },
  { key: 'agreementWithPrevious', label: 'agreement with π_{s−1}', percent: true },
  { key: 'objective', label: 'matching objective Σ⟨g2, πg1⟩', percent: false },
];

/** Permutation diagnostics: one metric per step s = 1..T for GMT/FGMT. */
export function permutationSeries(
  methods: MethodResults,
  key: keyof PermutationDiagnostics,
  palette: Palette,
  label: Labeler = byName,
): ChartSeries[] {
  return having(methods, 'permutation')
    .filter(([, r]) => r.permutation![key] !== undefined)
    .map(([m, r]) => ({
      id: `perm:${key}:${m}`,
      label: label(m),
      color: palette(m),
      points: (r.permutation![key] as number[]).map((y, i) => ({ x: i + 1, y })),
    }));
}

/** Assumption (P) (Fig. 3): one curve per π for one target. */
export function assumptionPSeries(
  ap: AssumptionPResult,
  target: number,
  palette: Palette,
  label: Labeler = byName,
): ChartSeries[] {
  const t = ap.targets[target];
  if (!t) return [];
  return t.curves.map((c) => ({
    id: `ap:${c.permutation}`,
    label: c.permutation === 'identity' ? 'identity' : `π of ${label(c.permutation)}`,
    color: palette(c.permutation),
    dash: c.permutation === 'identity' ? DASHES[1] : undefined,
    points: c.cosine.map((y, i) => ({ x: ap.steps[i] ?? i + 1, y })),
  }));
}

/** Assumption (P) over widths (Fig. 3a): Oracle's π solid and identity dashed, one colour per width. */
export function assumptionPWidthSeries(ap: AssumptionPResult, palette: Palette): ChartSeries[] {
  const out: ChartSeries[] = [];
  for (const w of ap.widths ?? [])
    for (const c of w.curves)
      out.push({
        id: `apw:${w.width}:${c.permutation}`,
        label: `width ${w.width}, ${c.permutation === 'identity' ? 'identity' : 'Oracle’s π'}`,
        color: palette(`width:${w.width}`),
        dash: c.permutation === 'identity' ? DASHES[1] : undefined,
        points: c.cosine.map((y, i) => ({ x: ap.steps[i] ?? i + 1, y })),
      });
  return out;
}

/** How an ensemble is named: its method (or the trained targets) and whether it was fine-tuned. */
export function ensembleLabel(e: EnsemblesResult['entries'][number], label: Labeler = byName): string {
  return `${e.method ? label(e.method) : 'Trained targets'}${e.finetuned ? ' + fine-tuning' : ''}`;
}

/**
 * Ensembles (App. E.2) as bars: test accuracy of each ensemble's averaged softmax, with the
 * compute it took (gradient evaluations over all members, seconds) next to it.
 */
export function ensemblesSvg(
  en: EnsemblesResult,
  palette: Palette,
  opts: { label?: Labeler; background?: string; foreground?: string; grid?: string; title?: string } = {},
): string {
  const label = opts.label ?? byName;
  const members = en.entries[0]?.members ?? 0;
  return renderSvgBars(
    en.entries.map((e) => ({
      label: ensembleLabel(e, label),
      value: e.testAccuracy,
      color: palette(e.method ?? 'trained'),
      note: `${e.gradientEvaluations} grads, ${e.seconds.toFixed(0)} s`,
    })),
    {
      title: opts.title ?? `Ensembles of ${members}: test accuracy of the averaged softmax (${en.from} step)`,
      xLabel: 'test accuracy',
      format: (v) => `${(v * 100).toFixed(1)}%`,
      background: opts.background,
      foreground: opts.foreground,
      grid: opts.grid,
    },
  );
}

/** The loss plane (Fig. 6c) as an SVG heatmap with contours and the three points marked. */
export function planeSvg(
  plane: PlaneResult,
  palette: Palette,
  opts: HeatmapOptions & { metric?: 'valLoss' | 'valAccuracy'; label?: Labeler } = {},
): string {
  const metric = opts.metric ?? 'valLoss';
  const label = opts.label ?? byName;
  const who = `${label(plane.method)}${plane.from === 'finetuned' ? ' (fine-tuned)' : ''}`;
  return renderSvgHeatmap(plane.u, plane.v, plane[metric], {
    title: `Validation ${metric === 'valLoss' ? 'loss' : 'accuracy'} on the plane through ${who}, θ2^T and Source*`,
    xLabel: 'u',
    yLabel: 'v',
    zLabel: metric === 'valLoss' ? 'validation loss (log scale)' : 'validation accuracy',
    logScale: metric === 'valLoss',
    contours: 10,
    ...opts,
    points: [
      {
        label: who,
        x: plane.points.transferred[0],
        y: plane.points.transferred[1],
        color: palette(plane.method),
      },
      {
        label: 'trained θ2^T',
        x: plane.points.trained[0],
        y: plane.points.trained[1],
        color: palette('trained'),
      },
      {
        label: 'Source* (πθ1^T)',
        x: plane.points.source[0],
        y: plane.points.source[1],
        color: palette('source'),
      },
    ],
  });
}

/** Any drawn series as CSV: series, x, y (what is on the chart, nothing else). */
export function seriesCsv(series: readonly ChartSeries[], xName: string, yName: string): string {
  return toCsv(
    ['series', xName, yName],
    series.flatMap((s) => s.points.map((p) => [s.label, p.x, p.y])),
  );
}

/** The plane's grid as CSV: one row per grid point, then the three points. */
export function planeCsv(plane: PlaneResult): string {
  const rows: (string | number)[][] = [];
  plane.v.forEach((v, j) =>
    plane.u.forEach((u, i) => rows.push(['grid', u, v, plane.valLoss[j][i], plane.valAccuracy[j][i]])),
  );
  for (const [name, [u, v]] of Object.entries(plane.points)) rows.push([name, u, v, '', '']);
  return toCsv(['point', 'u', 'v', 'valLoss', 'valAccuracy'], rows);
}

export function ensemblesCsv(en: EnsemblesResult): string {
  return toCsv(
    [
      'ensemble',
      'method',
      'finetuned',
      'members',
      'valAccuracy',
      'testAccuracy',
      'memberTestAccuracy',
      'gradientEvaluations',
      'seconds',
    ],
    en.entries.map((e) => [
      e.kind,
      e.method ?? '',
      e.finetuned,
      e.members,
      e.valAccuracy,
      e.testAccuracy,
      e.memberTestAccuracy,
      e.gradientEvaluations,
      e.seconds,
    ]),
  );
}

/** One row per method of a target: what the analyses say about it, for tables. */
/** An analysis chart card's props (AnalysisChart declares exactly these). */
export interface ChartCardProps {
  title: string;
  series: ChartSeries[];
  xLabel: string;
  yLabel: string;
  /** accessible description */
  label: string;
  /** file names: <fileName>.png/.svg/.csv */
  fileName: string;
  percent?: boolean;
  xMin?: number;
  xMax?: number;
  note?: string;
  emptyText?: string;
}

/** A card in a view's list of charts: its props and the list key. */
export interface ChartCard extends ChartCardProps {
  id: string;
}

/** The subsequent-training chart's axes, the same on the run view and Compare. */
export const FINETUNE_AXES = {
  title: 'Subsequent training',
  xLabel: 'epoch',
  yLabel: 'validation accuracy',
  percent: true,
  xMin: 0,
} as const;

/** The props of a card (its id is the list key, not a prop). */
export function chartProps({ id: _id, ...props }: ChartCard): ChartCardProps {
  return props;
}

/** How a cell of an analyses table is written. */
export type CellFormat = 'text' | 'method' | 'percent' | 'count' | 'barrier';

export interface AnalysisColumn {
  key: string;
  label: string;
  format: CellFormat;
}

/**
 * The analyses tables' columns, written once: the run view's (one experiment, one target) and
 * Compare's (means over each experiment's targets) pick from these, so a number is labelled and
 * formatted the same in both.
 */
export const ANALYSIS_COLUMNS = {
  experiment: { key: 'experiment', label: 'Experiment', format: 'text' },
  method: { key: 'method', label: 'Method', format: 'method' },
  fromStep: { key: 'fromStep', label: 'From t', format: 'count' },
  finetunedVal: { key: 'finetunedVal', label: 'Fine-tuned val', format: 'percent' },
  finetunedTest: { key: 'finetunedTest', label: 'Fine-tuned test', format: 'percent' },
  epochsSaved: { key: 'epochsSaved', label: 'Epochs saved', format: 'count' },
  barrierToSource: { key: 'barrierToSource', label: 'Barrier → Source*', format: 'barrier' },
  barrierToTrained: { key: 'barrierToTrained', label: 'Barrier → trained', format: 'barrier' },
  agreementWithOracle: { key: 'agreementWithOracle', label: "π_T = Oracle's π", format: 'percent' },
  assumptionP: { key: 'assumptionP', label: 'Assumption (P) cos', format: 'barrier' },
  ensembleTest: { key: 'ensembleTest', label: 'Ensemble test', format: 'percent' },
  ensembleFinetunedTest: { key: 'ensembleFinetunedTest', label: '+ fine-tuning', format: 'percent' },
} as const satisfies Record<string, AnalysisColumn>;

/** The per-method columns both analyses tables show, in this order. */
export const METHOD_ANALYSIS_KEYS = [
  'finetunedVal',
  'finetunedTest',
  'epochsSaved',
  'barrierToSource',
  'barrierToTrained',
  'agreementWithOracle',
] as const;

/** One cell as text; methods are left to the caller (they carry a swatch). */
export function formatCell(v: unknown, format: CellFormat, pct: (x: number | null) => string): string {
  if (format === 'text' || format === 'method') return String(v ?? '');
  const x = typeof v === 'number' && Number.isFinite(v) ? v : null;
  if (format === 'percent') return pct(x);
  if (x === null) return '—';
  // a count is whole on one target and a mean (one decimal) across targets
  if (format === 'count') return Number.isInteger(x) ? String(x) : x.toFixed(1);
  return x.toFixed(3);
}

export interface AnalysisRow {
  method: string;
  fromStep: number | null;
  finetunedVal: number | null;
  finetunedTest: number | null;
  epochsSaved: number | null;
  barrierToSource: number | null;
  barrierToTrained: number | null;
  barrierToSourceFinetuned: number | null;
  barrierToTrainedFinetuned: number | null;
  agreementWithOracle: number | null;
}

export function analysisRows(methods: MethodResults): AnalysisRow[] {
  return Object.entries(methods)
    .filter((e): e is [string, MethodResult] => !!e[1])
    .map(([m, r]) => ({
      method: m,
      fromStep: r.finetune?.fromStep ?? null,
      finetunedVal: r.finetune?.valAccuracy.at(-1) ?? null,
      finetunedTest: r.finetune?.testAccuracy ?? null,
      epochsSaved: r.finetune?.epochsSaved ?? null,
      barrierToSource: r.paths?.toSource.barrier ?? null,
      barrierToTrained: r.paths?.toTrained?.barrier ?? null,
      barrierToSourceFinetuned: r.paths?.finetuned?.toSource.barrier ?? null,
      barrierToTrainedFinetuned: r.paths?.finetuned?.toTrained?.barrier ?? null,
      agreementWithOracle: r.permutation?.agreementWithOracle?.at(-1) ?? null,
    }))
    .filter((row) => Object.entries(row).some(([k, v]) => k !== 'method' && v !== null));
}

/** Whether anything of the analyses is there to show for a target. */
export function hasAnalyses(methods: MethodResults, exp: ExperimentAnalyses | null | undefined): boolean {
  return analysisRows(methods).length > 0 || !!exp;
}

/** Element-wise mean of curves (over targets); positions some curves lack use the others. */
export function meanCurve(curves: readonly (readonly number[])[]): number[] {
  const n = Math.max(0, ...curves.map((c) => c.length));
  return Array.from({ length: n }, (_, i) => {
    const xs = curves.map((c) => c[i]).filter((v) => Number.isFinite(v));
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  });
}

const meanOf = (xs: readonly (number | null | undefined)[]): number | null => {
  const ok = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null;
};

/** One experiment as Compare sees it: its name and, per target, its methods' results. */
export interface CompareInput {
  id: string;
  name: string;
  targets: MethodResults[];
  analyses: ExperimentAnalyses | null;
}

/** Per experiment and method, the analyses' headline numbers averaged over targets. */
export interface CompareRow {
  experiment: string;
  method: string;
  finetunedVal: number | null;
  finetunedTest: number | null;
  epochsSaved: number | null;
  barrierToSource: number | null;
  barrierToTrained: number | null;
  agreementWithOracle: number | null;
  /** mean cosine of Assumption (P) with this method's π_T (Oracle's π for oracle) */
  assumptionP: number | null;
  ensembleTest: number | null;
  ensembleFinetunedTest: number | null;
}

export function compareRows(exps: readonly CompareInput[]): CompareRow[] {
  const out: CompareRow[] = [];
  for (const e of exps) {
    const methods = [...new Set(e.targets.flatMap((t) => Object.keys(t)))];
    for (const m of methods) {
      const rs = e.targets.map((t) => t[m]).filter((r): r is MethodResult => !!r);
      const cos = (e.analyses?.assumptionP?.targets ?? []).flatMap((t) =>
        t.curves.filter((c) => c.permutation === m).map((c) => meanOf(c.cosine)),
      );
      const ens = e.analyses?.ensembles?.entries ?? [];
      const row: CompareRow = {
        experiment: e.name,
        method: m,
        finetunedVal: meanOf(rs.map((r) => r.finetune?.valAccuracy.at(-1))),
        finetunedTest: meanOf(rs.map((r) => r.finetune?.testAccuracy)),
        epochsSaved: meanOf(rs.map((r) => r.finetune?.epochsSaved)),
        barrierToSource: meanOf(rs.map((r) => r.paths?.toSource.barrier)),
        barrierToTrained: meanOf(rs.map((r) => r.paths?.toTrained?.barrier)),
        agreementWithOracle: meanOf(rs.map((r) => r.permutation?.agreementWithOracle?.at(-1))),
        assumptionP: meanOf(cos),
        ensembleTest: ens.find((x) => x.kind === m)?.testAccuracy ?? null,
        ensembleFinetunedTest: ens.find((x) => x.method === m && x.finetuned)?.testAccuracy ?? null,
      };
      const { experiment: _e, method: _m, ...values } = row;
      if (Object.values(values).some((v) => v !== null)) out.push(row);
    }
  }
  return out;
}

export function compareCsv(rows: readonly CompareRow[]): string {
  const keys = Object.keys(rows[0] ?? { experiment: '', method: '' }) as (keyof CompareRow)[];
  return toCsv(
    keys,
    rows.map((r) => keys.map((k) => r[k])),
  );
}

/**
 * Across experiments: a per-method analysis curve averaged over each experiment's targets, one
 * dash pattern per experiment, one colour per method.
 */
export function compareSeries(
  exps: readonly CompareInput[],
  pick: (r: MethodResult) => { x: number; y: number }[] | undefined,
  palette: Palette,
  label: Labeler = byName,
): ChartSeries[] {
  const out: ChartSeries[] = [];
  exps.forEach((e, i) => {
    const methods = [...new Set(e.targets.flatMap((t) => Object.keys(t)))];
    for (const m of methods) {
      const curves = e.targets.map((t) => (t[m] ? pick(t[m]!) : undefined)).filter((c) => !!c);
      if (!curves.length) continue;
      const ys = meanCurve(curves.map((c) => c.map((p) => p.y)));
      const xs = curves[0].map((p) => p.x);
      out.push({
        id: `${e.id}:${m}`,
        label: `${e.name} · ${label(m)}`,
        color: palette(m),
        dash: DASHES[i % DASHES.length],
        points: ys.map((y, k) => ({ x: xs[k] ?? k, y })),
      });
    }
  });
  return out;
}
