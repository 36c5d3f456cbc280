/**
 * A small SVG renderer for line charts with mean ± std bands: chart.js draws only to canvas, and a
 * figure for a paper wants vectors. It draws the same data the on-screen chart shows.
 */

export interface SvgSeries {
  label: string;
  color: string;
  points: readonly { x: number; y: number }[];
  /** shaded band (mean ± std), drawn under the line */
  band?: readonly { x: number; lo: number; hi: number }[];
  /** a marked point, e.g. the best step */
  marker?: { x: number; y: number } | null;
  /** stroke dash pattern, e.g. [6, 4]; solid when empty or absent */
  dash?: readonly number[];
}

export interface SvgChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  yMin?: number;
  yMax?: number;
  /** format of y tick labels, e.g. percentages */
  yFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
  background?: string;
  foreground?: string;
  grid?: string;
  fontFamily?: string;
  bandOpacity?: number;
  /** horizontal reference lines (e.g. the source's accuracy), labelled in the legend */
  refLines?: readonly { label: string; y: number; color: string; dash?: readonly number[] }[];
  /** logarithmic y (non-positive values are left out) */
  logY?: boolean;
}

export function escapeXml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Round tick values covering [min, max] with steps of 1, 2 or 5 × 10^k, about `target` of them. */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.ceil(min / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(n: number): string {
  return Number(n.toFixed(2)).toString();
}

/** Log y drawn as linear in log10(y), with ticks labelled back in y. */
function logSeries(series: readonly SvgSeries[], opts: SvgChartOptions): [SvgSeries[], SvgChartOptions] {
  const l = (y: number): number => (y > 0 ? Math.log10(y) : NaN);
  const yFormat = opts.yFormat ?? ((v: number) => fmt(v));
  return [
    series.map((s) => ({
      ...s,
      points: s.points.map((p) => ({ x: p.x, y: l(p.y) })),
      band: s.band?.map((b) => ({ x: b.x, lo: l(b.lo), hi: l(b.hi) })),
      marker: s.marker ? { x: s.marker.x, y: l(s.marker.y) } : s.marker,
    })),
    {
      ...opts,
      logY: false,
      yMin: opts.yMin !== undefined ? l(opts.yMin) : undefined,
      yMax: opts.yMax !== undefined ? l(opts.yMax) : undefined,
      yFormat: (v) => yFormat(Number((10 ** v).toPrecision(3))),
      yLabel: opts.yLabel ? `${opts.yLabel} (log scale)` : 'log scale',
      refLines: opts.refLines?.map((r) => ({ ...r, y: l(r.y) })),
    },
  ];
}

/** Renders a standalone SVG document (with XML declaration) for the series. */
export function renderSvgChart(series: readonly SvgSeries[], opts: SvgChartOptions = {}): string {
  if (opts.logY) return renderSvgChart(...logSeries(series, opts));
  const W = opts.width ?? 800;
  const H = opts.height ?? 480;
  const fg = opts.foreground ?? '#1f2328';
  const grid = opts.grid ?? '#d0d7de';
  const font = opts.fontFamily ?? 'Helvetica, Arial, sans-serif';
  const yFormat = opts.yFormat ?? ((v: number) => fmt(v));
  const xFormat = opts.xFormat ?? ((v: number) => fmt(v));
  const legendRows = Math.ceil((series.length + (opts.refLines?.length ?? 0)) / 4);
  const m = { top: opts.title ? 40 : 16, right: 20, bottom: 52 + legendRows * 20, left: 64 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;

  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const s of series) {
    for (const p of s.points) {
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
      xmin = Math.min(xmin, p.x);
      xmax = Math.max(xmax, p.x);
      ymin = Math.min(ymin, p.y);
      ymax = Math.max(ymax, p.y);
    }
    for (const b of s.band ?? []) {
      if (Number.isFinite(b.lo)) ymin = Math.min(ymin, b.lo);
      if (Number.isFinite(b.hi)) ymax = Math.max(ymax, b.hi);
    }
  }
  const refs = (opts.refLines ?? []).filter((r) => Number.isFinite(r.y) && (!opts.logY || r.y > 0));
  for (const r of refs) {
    ymin = Math.min(ymin, r.y);
    ymax = Math.max(ymax, r.y);
  }
  const empty = !Number.isFinite(xmin);
  if (empty) {
    xmin = 0;
    xmax = 1;
    ymin = 0;
    ymax = 1;
  }
  if (opts.yMin !== undefined) ymin = opts.yMin;
  if (opts.yMax !== undefined) ymax = opts.yMax;
  const yt = niceTicks(ymin, ymax, 5);
  const xt = niceTicks(xmin, xmax, Math.min(10, Math.max(1, xmax - xmin)));
  if (opts.yMin === undefined && yt.length) ymin = Math.min(ymin, yt[0]);
  if (opts.yMax === undefined && yt.length) ymax = Math.max(ymax, yt[yt.length - 1]);
  if (xmax === xmin) {
    xmin -= 1;
    xmax += 1;
  }
  if (ymax === ymin) {
    ymin -= 1;
    ymax += 1;
  }
  const sx = (x: number): number => m.left + ((x - xmin) / (xmax - xmin)) * pw;
  const sy = (y: number): number =>
    m.top + ph - ((Math.min(Math.max(y, ymin), ymax) - ymin) / (ymax - ymin)) * ph;

  const parts: string[] = [];
  parts.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${escapeXml(font)}" font-size="12">`,
  );
  if (opts.background) parts.push(`<rect width="${W}" height="${H}" fill="${escapeXml(opts.background)}"/>`);
  if (opts.title)
    parts.push(
      `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600" fill="${fg}">${escapeXml(opts.title)}</text>`,
    );

  parts.push(`<g class="grid" stroke="${grid}" stroke-width="1">`);
  for (const v of yt)
    if (v >= ymin && v <= ymax)
      parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${fmt(sy(v))}" y2="${fmt(sy(v))}"/>`);
  for (const v of xt)
    if (v >= xmin && v <= xmax)
      parts.push(
        `<line x1="${fmt(sx(v))}" x2="${fmt(sx(v))}" y1="${m.top}" y2="${m.top + ph}" stroke-dasharray="2 4"/>`,
      );
  parts.push(`</g>`);
  parts.push(`<g class="axes" fill="${fg}">`);
  for (const v of yt)
    if (v >= ymin && v <= ymax)
      parts.push(
        `<text x="${m.left - 8}" y="${fmt(sy(v) + 4)}" text-anchor="end">${escapeXml(yFormat(v))}</text>`,
      );
  for (const v of xt)
    if (v >= xmin && v <= xmax)
      parts.push(
        `<text x="${fmt(sx(v))}" y="${m.top + ph + 18}" text-anchor="middle">${escapeXml(xFormat(v))}</text>`,
      );
  parts.push(
    `<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="${fg}"/>`,
  );
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="${fg}"/>`);
  if (opts.xLabel)
    parts.push(
      `<text x="${m.left + pw / 2}" y="${m.top + ph + 38}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`,
    );
  if (opts.yLabel)
    parts.push(
      `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`,
    );
  parts.push(`</g>`);
  if (empty)
    parts.push(
      `<text x="${m.left + pw / 2}" y="${m.top + ph / 2}" text-anchor="middle" fill="${fg}">no data</text>`,
    );

  const op = opts.bandOpacity ?? 0.18;
  series.forEach((s, i) => {
    const color = escapeXml(s.color);
    parts.push(`<g class="series" data-index="${i}">`);
    const band = (s.band ?? []).filter(
      (b) => Number.isFinite(b.x) && Number.isFinite(b.lo) && Number.isFinite(b.hi),
    );
    if (band.length > 1) {
      const top = band.map((b) => `${fmt(sx(b.x))},${fmt(sy(b.hi))}`);
      const bottom = band.map((b) => `${fmt(sx(b.x))},${fmt(sy(b.lo))}`).reverse();
      parts.push(
        `<path class="band" d="M${top.join('L')}L${bottom.join('L')}Z" fill="${color}" fill-opacity="${op}" stroke="none"/>`,
      );
    }
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (pts.length > 1) {
      parts.push(
        `<path class="line" d="M${pts.map((p) => `${fmt(sx(p.x))},${fmt(sy(p.y))}`).join('L')}" fill="none" stroke="${color}" stroke-width="2"${s.dash && s.dash.length ? ` stroke-dasharray="${s.dash.join(' ')}"` : ''}/>`,
      );
    }
    for (const p of pts)
      parts.push(`<circle cx="${fmt(sx(p.x))}" cy="${fmt(sy(p.y))}" r="2.5" fill="${color}"/>`);
    if (s.marker && Number.isFinite(s.marker.x) && Number.isFinite(s.marker.y)) {
      const cx = sx(s.marker.x);
      const cy = sy(s.marker.y);
      parts.push(
        `<path class="marker" d="M${fmt(cx)},${fmt(cy - 7)}L${fmt(cx + 6)},${fmt(cy + 4)}L${fmt(cx - 6)},${fmt(cy + 4)}Z" fill="${color}" stroke="${fg}" stroke-width="0.8"><title>best: ${escapeXml(s.label)} at ${escapeXml(xFormat(s.marker.x))}</title></path>`,
      );
    }
    parts.push(`</g>`);
  });

  for (const r of refs) {
    const y = fmt(sy(r.y));
    const dash = (r.dash ?? [6, 4]).join(' ');
    parts.push(
      `<line class="ref" x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="${escapeXml(r.color)}" stroke-width="1.5" stroke-dasharray="${dash}"><title>${escapeXml(r.label)}</title></line>`,
    );
  }

  // Legend: four entries per row under the x-axis label.
  const colW = pw / 4;
  series.forEach((s, i) => {
    const x = m.left + (i % 4) * colW;
    const y = m.top + ph + 58 + Math.floor(i / 4) * 20;
    const dash = s.dash && s.dash.length ? ` stroke-dasharray="${s.dash.join(' ')}"` : '';
    parts.push(
      `<g class="legend"><line x1="${fmt(x)}" x2="${fmt(x + 16)}" y1="${y - 4}" y2="${y - 4}" stroke="${escapeXml(s.color)}" stroke-width="3"${dash}/><text x="${fmt(x + 22)}" y="${y}" fill="${fg}">${escapeXml(s.label)}</text></g>`,
    );
  });
  refs.forEach((r, k) => {
    const i = series.length + k;
    const x = m.left + (i % 4) * colW;
    const y = m.top + ph + 58 + Math.floor(i / 4) * 20;
    parts.push(
      `<g class="legend"><line x1="${fmt(x)}" x2="${fmt(x + 16)}" y1="${y - 4}" y2="${y - 4}" stroke="${escapeXml(r.color)}" stroke-width="1.5" stroke-dasharray="${(r.dash ?? [6, 4]).join(' ')}"/><text x="${fmt(x + 22)}" y="${y}" fill="${fg}">${escapeXml(r.label)}</text></g>`,
    );
  });
  parts.push(`</svg>`);
  return `${parts.join('\n')}\n`;
}
