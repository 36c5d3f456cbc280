/** Horizontal bars with a label and a note per bar as a standalone SVG (the ensembles figure). */
import { escapeXml, niceTicks } from './svg-chart.js';

export interface Bar {
  label: string;
  value: number;
  color: string;
  /** drawn after the value, e.g. the compute it took */
  note?: string;
}

export function renderSvgBars(
  bars: readonly Bar[],
  opts: {
    title?: string;
    xLabel?: string;
    xMin?: number;
    xMax?: number;
    format?: (v: number) => string;
    width?: number;
    background?: string;
    foreground?: string;
    grid?: string;
    fontFamily?: string;
  } = {},
): string {
  const W = opts.width ?? 820;
  const rowH = 26;
  const m = { top: opts.title ? 40 : 14, right: 250, bottom: 46, left: 190 };
  const H = m.top + m.bottom + rowH * Math.max(1, bars.length);
  const pw = W - m.left - m.right;
  const fg = opts.foreground ?? '#1f2328';
  const grid = opts.grid ?? '#d0d7de';
  const format = opts.format ?? ((v: number) => Number(v.toPrecision(3)).toString());
  const vals = bars.map((b) => b.value).filter(Number.isFinite);
  let lo = opts.xMin ?? (vals.length ? Math.min(...vals) : 0);
  let hi = opts.xMax ?? (vals.length ? Math.max(...vals) : 1);
  if (opts.xMin === undefined) lo -= (hi - lo || 1) * 0.1;
  if (hi === lo) hi = lo + 1;
  const ticks = niceTicks(lo, hi, 5);
  if (opts.xMin === undefined && ticks.length) lo = Math.min(lo, ticks[0]);
  const sx = (v: number): number => m.left + ((Math.min(Math.max(v, lo), hi) - lo) / (hi - lo)) * pw;
  const f = (n: number): string => Number(n.toFixed(2)).toString();
  const parts: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${escapeXml(opts.fontFamily ?? 'Helvetica, Arial, sans-serif')}" font-size="12">`,
  ];
  if (opts.background) parts.push(`<rect width="${W}" height="${H}" fill="${escapeXml(opts.background)}"/>`);
  if (opts.title)
    parts.push(
      `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600" fill="${fg}">${escapeXml(opts.title)}</text>`,
    );
  const ph = rowH * bars.length;
  for (const t of ticks)
    if (t >= lo && t <= hi)
      parts.push(
        `<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${m.top}" y2="${m.top + ph}" stroke="${grid}"/>`,
        `<text x="${f(sx(t))}" y="${m.top + ph + 16}" text-anchor="middle" fill="${fg}">${escapeXml(format(t))}</text>`,
      );
  bars.forEach((b, i) => {
    const y = m.top + i * rowH;
    const w = Number.isFinite(b.value) ? sx(b.value) - m.left : 0;
    parts.push(
      `<text x="${m.left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end" fill="${fg}">${escapeXml(b.label)}</text>`,
      `<rect x="${m.left}" y="${y + 4}" width="${f(Math.max(0, w))}" height="${rowH - 8}" fill="${escapeXml(b.color)}"><title>${escapeXml(`${b.label}: ${format(b.value)}`)}</title></rect>`,
      `<text x="${f(m.left + Math.max(0, w) + 6)}" y="${y + rowH / 2 + 4}" fill="${fg}">${escapeXml(format(b.value))}${b.note ? `  <tspan fill-opacity="0.7">${escapeXml(b.note)}</tspan>` : ''}</text>`,
    );
  });
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="${fg}"/>`);
  if (opts.xLabel)
    parts.push(
      `<text x="${m.left + pw / 2}" y="${m.top + ph + 36}" text-anchor="middle" fill="${fg}">${escapeXml(opts.xLabel)}</text>`,
    );
  parts.push('</svg>');
  return parts.join('\n');
}
