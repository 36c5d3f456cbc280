/**
 * `lab figures <result.json> --out <dir>`: one SVG (and its CSV) per analysis from a result, the
 * same drawings the run view exports. The README's analysis figures are made with this.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  experimentAnalyses,
  methodInfo,
  methodLabel,
  type ExperimentResult,
} from '../shared/domain/index.js';
import {
  assumptionPSeries,
  assumptionPWidthSeries,
  ensemblesSvg,
  ensemblesCsv,
  finetuneSeries,
  pathSeries,
  PERMUTATION_METRICS,
  permutationSeries,
  planeCsv,
  planeSvg,
  seriesCsv,
  type Palette,
} from '../renderer/src/lib/analyses.js';
import { toSvgSeries, type ChartSeries } from '../renderer/src/lib/chart-series.js';
import { renderSvgChart, type SvgChartOptions } from '../renderer/src/lib/svg-chart.js';
import { pct } from './progress.js';

/** Method colours from the registry; the other curves' as the app's defaults (styles.css). */
const OTHER: Record<string, string> = {
  source: '#15803d',
  trained: '#0f8f86',
  scratch: '#0f8f86',
  identity: '#6b7280',
};
const EXTRA = ['#c2185b', '#00838f', '#6d4c41', '#558b2f', '#283593', '#ef6c00'];

export const cliPalette: Palette = (key) => {
  const own = methodInfo(key)?.colour ?? OTHER[key];
  if (own) return own;
  let h = 0;
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return EXTRA[h % EXTRA.length];
};

const label = methodLabel;
const percent = (v: number): string => `${Math.round(v * 1000) / 10}%`;

/** Writes every figure the result has analyses for; returns the files written. */
export async function writeFigures(result: ExperimentResult, out: string, target = 0): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const written: string[] = [];
  const t = result.targets[target];
  if (!t) throw new Error(`the result has no target ${target + 1}`);
  const methods = t.methods;
  const chart = async (
    name: string,
    series: ChartSeries[],
    opts: SvgChartOptions & { x: string; y: string },
  ): Promise<void> => {
    if (!series.some((s) => s.points.length)) return;
    const { x, y, ...svg } = opts;
    await writeFile(
      join(out, `${name}.svg`),
      renderSvgChart(toSvgSeries(series), { background: '#ffffff', width: 820, height: 480, ...svg }),
    );
    await writeFile(join(out, `${name}.csv`), seriesCsv(series, x, y));
    written.push(`${name}.svg`, `${name}.csv`);
  };
  const who = `target ${t.label}`;

  await chart('finetune', finetuneSeries(methods, t.scratch, cliPalette, 'valAccuracy', label), {
    title: `Subsequent training from the transferred parameters (${who})`,
    xLabel: 'epoch (0 = before training)',
    yLabel: 'validation accuracy',
    yFormat: percent,
    x: 'epoch',
    y: 'valAccuracy',
  });
  for (const leg of ['toSource', 'toTrained'] as const)
    await chart(`paths-${leg}`, pathSeries(methods, leg, cliPalette, { finetuned: true, label }), {
      title:
        leg === 'toSource'
          ? `Loss along θ2,π^T → πθ1^T (Source*), ${who}`
          : `Loss along θ2,π^T → θ2^T (trained from θ2^0), ${who}`,
      xLabel: 'α',
      yLabel: 'validation loss',
      x: 'alpha',
      y: 'valLoss',
    });
  for (const m of PERMUTATION_METRICS)
    await chart(`permutation-${m.key}`, permutationSeries(methods, m.key, cliPalette, label), {
      title: `${m.label} (${who})`,
      xLabel: 'step s',
      yLabel: m.label,
      yFormat: m.percent ? percent : undefined,
      x: 'step',
      y: m.key,
    });
  if (t.plane) {
    await writeFile(join(out, 'plane.svg'), planeSvg(t.plane, cliPalette, { label, background: '#ffffff' }));
    await writeFile(join(out, 'plane.csv'), planeCsv(t.plane));
    written.push('plane.svg', 'plane.csv');
  }
  const exp = experimentAnalyses(result);
  if (exp?.assumptionP) {
    await chart('assumption-p', assumptionPSeries(exp.assumptionP, target, cliPalette, label), {
      title: `Assumption (P): cos(π Δθ1^t, Δθ2^t) along actual trajectories (${who})`,
      xLabel: 'epoch t + 1',
      yLabel: 'cosine similarity',
      x: 'epoch',
      y: 'cosine',
    });
    await chart('assumption-p-widths', assumptionPWidthSeries(exp.assumptionP, cliPalette), {
      title: 'Assumption (P) over hidden widths: Oracle’s π (solid) vs identity (dashed)',
      xLabel: 'epoch t + 1',
      yLabel: 'cosine similarity',
      x: 'epoch',
      y: 'cosine',
    });
  }
  if (exp?.ensembles) {
    await writeFile(
      join(out, 'ensembles.svg'),
      ensemblesSvg(exp.ensembles, cliPalette, { label, background: '#ffffff' }),
    );
    await writeFile(join(out, 'ensembles.csv'), ensemblesCsv(exp.ensembles));
    written.push('ensembles.svg', 'ensembles.csv');
  }
  return written;
}

/** The lines `lab run` prints after its summary when analyses ran. */
export function analysesSummary(result: ExperimentResult): string {
  const lines: string[] = [];
  const num = (v: number | null | undefined, d = 3): string =>
    v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d);
  for (const t of result.targets) {
    const rows = Object.values(t.methods).filter((m) => m && (m.finetune || m.paths || m.permutation));
    if (!rows.length && !t.scratch && !t.plane) continue;
    lines.push(`analyses, target ${t.label}:`);
    if (t.scratch)
      lines.push(
        `  from scratch (${t.scratch.valAccuracy.length - 1} epochs, source settings): val ${pct(t.scratch.valAccuracy.at(-1)!)}, test ${pct(t.scratch.testAccuracy)}`,
      );
    for (const m of rows) {
      const parts = [`  ${label(m!.method).padEnd(7)}`];
      if (m!.finetune)
        parts.push(
          `fine-tuned from t=${m!.finetune.fromStep}: val ${pct(m!.finetune.valAccuracy[0])} → ${pct(m!.finetune.valAccuracy.at(-1)!)}, test ${pct(m!.finetune.testAccuracy)}, epochs saved ${m!.finetune.epochsSaved ?? '–'}`,
        );
      if (m!.paths)
        parts.push(
          `barrier to Source* ${num(m!.paths.toSource.barrier)}, to trained ${num(m!.paths.toTrained?.barrier)}`,
        );
      if (m!.permutation?.agreementWithOracle)
        parts.push(
          `π_T agrees with Oracle's π on ${pct(m!.permutation.agreementWithOracle.at(-1)!)} of units`,
        );
      lines.push(parts.join('; '));
    }
    if (t.plane)
      lines.push(
        `  plane (${t.plane.u.length}×${t.plane.v.length}) through ${label(t.plane.method)}: min loss ${num(Math.min(...t.plane.valLoss.flat()))}`,
      );
  }
  if (result.assumptionP)
    for (const t of result.assumptionP.targets)
      lines.push(
        `Assumption (P), target ${t.label}: mean cosine ${t.curves.map((c) => `${c.permutation} ${num(c.cosine.reduce((a, b) => a + b, 0) / c.cosine.length)}`).join(', ')}`,
      );
  for (const w of result.assumptionP?.widths ?? [])
    lines.push(
      `Assumption (P), width ${w.width}: mean cosine ${w.curves.map((c) => `${c.permutation} ${num(c.cosine.reduce((a, b) => a + b, 0) / c.cosine.length)}`).join(', ')}`,
    );
  if (result.ensembles) {
    lines.push(`ensembles (${result.ensembles.from} step, averaged softmax, test accuracy):`);
    for (const e of result.ensembles.entries)
      lines.push(
        `  ${(e.method ? label(e.method) : 'trained') + (e.finetuned ? ' + fine-tuning' : '')}: ${pct(e.testAccuracy)} (members alone ${pct(e.memberTestAccuracy)}), ${e.gradientEvaluations} gradient evaluations, ${e.seconds.toFixed(1)} s`,
      );
  }
  return lines.join('\n');
}
