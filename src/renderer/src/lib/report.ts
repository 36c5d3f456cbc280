/**
 * A self-contained HTML report of an experiment or a comparison: its charts as inline SVG, its
 * tables, and the exact specs — one file to attach, archive or print to PDF from any browser.
 * No scripts, no external resources.
 */
import { groupLabel } from './curves.js';
import { formatCount, formatDuration, formatMeanStd } from './format.js';
import { escapeXml } from './svg-chart.js';
import type { Stat, SummaryRow } from './summary.js';

export interface ReportTable {
  title: string;
  headers: string[];
  rows: string[][];
  note?: string;
}

export interface ReportInput {
  title: string;
  subtitle?: string;
  /** standalone SVG documents (renderSvgChart's output) */
  charts: { title: string; svg: string; caption?: string }[];
  tables: ReportTable[];
  paragraphs?: string[];
  specs: { name: string; spec: unknown }[];
  generatedAt: string;
  app?: string;
}

/** The summary table as report rows (method, runs, final, best, best t, test, time, gradients). */
export function summaryTable(title: string, rows: readonly SummaryRow[]): ReportTable {
  const ms = (s: Stat | null): string => (s ? formatMeanStd(s.mean, s.std, s.n) : '—');
  return {
    title,
    headers: ['Method', 'Runs', 'Final', 'Best', 'Best t', 'Test', 'Time', 'Gradients'],
    rows: rows.map((r) => [
      groupLabel(r.group),
      `${r.done}/${r.runs}`,
      ms(r.final),
      ms(r.best),
      r.kind === 'transfer' && r.bestStep
        ? r.bestStep.n > 1
          ? r.bestStep.mean.toFixed(1)
          : `${r.bestStep.mean}`
        : '—',
      ms(r.test),
      r.seconds ? formatDuration(r.seconds.mean) : '—',
      r.gradientEvaluations ? formatCount(r.gradientEvaluations.mean) : '—',
    ]),
    note: 'Validation accuracy at the last step (Final) and its highest value over the steps (Best); test accuracy at the end; mean ± std over runs.',
  };
}

const CSS = `
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1b1f24;margin:2rem auto;max-width:1000px;padding:0 1.5rem}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:1px solid #e3e6ea;padding-bottom:.25rem}
.sub{color:#5b6470;margin:0 0 1rem}figure{margin:1rem 0}figure svg{width:100%;height:auto}figcaption{color:#5b6470;font-size:.9rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-variant-numeric:tabular-nums}th,td{border-bottom:1px solid #e3e6ea;padding:.3rem .5rem;text-align:left}
td:not(:first-child),th:not(:first-child){text-align:right}thead th{background:#f3f5f7;font-size:.8rem;text-transform:uppercase;letter-spacing:.03em}
pre{background:#f6f8fa;border:1px solid #e3e6ea;border-radius:6px;padding:.75rem;overflow:auto;font-size:12px}
.note{color:#5b6470;font-size:.85rem}footer{margin-top:2rem;color:#5b6470;font-size:.8rem}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}figure,table{break-inside:avoid}pre{white-space:pre-wrap}}
`;

function inlineSvg(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '');
}

export function renderReport(r: ReportInput): string {
  const e = escapeXml;
  const parts: string[] = [];
  parts.push(
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`,
    `<title>${e(r.title)}</title><style>${CSS}</style></head><body>`,
    `<h1>${e(r.title)}</h1>`,
  );
  if (r.subtitle) parts.push(`<p class="sub">${e(r.subtitle)}</p>`);
  for (const p of r.paragraphs ?? []) parts.push(`<p>${e(p)}</p>`);
  for (const c of r.charts) {
    parts.push(`<h2>${e(c.title)}</h2><figure>${inlineSvg(c.svg)}`);
    if (c.caption) parts.push(`<figcaption>${e(c.caption)}</figcaption>`);
    parts.push(`</figure>`);
  }
  for (const t of r.tables) {
    parts.push(
      `<h2>${e(t.title)}</h2><table><thead><tr>${t.headers.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>`,
    );
    for (const row of t.rows) parts.push(`<tr>${row.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`);
    parts.push(`</tbody></table>`);
    if (t.note) parts.push(`<p class="note">${e(t.note)}</p>`);
  }
  parts.push(`<h2>Spec${r.specs.length === 1 ? '' : 's'}</h2>`);
  for (const s of r.specs) {
    if (r.specs.length > 1) parts.push(`<h3>${e(s.name)}</h3>`);
    parts.push(`<pre>${e(JSON.stringify(s.spec, null, 2))}</pre>`);
  }
  parts.push(
    `<footer>Generated ${e(r.generatedAt)}${r.app ? ` by ${e(r.app)}` : ''}. Print this page (or save it as PDF) from any browser.</footer>`,
    `</body></html>\n`,
  );
  return parts.join('\n');
}
