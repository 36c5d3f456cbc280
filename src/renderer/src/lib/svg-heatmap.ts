/**
 * A heatmap with contour lines and marked points as a standalone SVG: the loss plane of the
 * paper's Fig. 6c. Pure (no DOM), so the run view, Compare and the CLI's figures draw the same.
 */
import { escapeXml, niceTicks } from './svg-chart.js';

export interface HeatmapPoint {
  label: string;
  x: number;
  y: number;
  color: string;
}

export interface HeatmapOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** what the colour shows, for the colour bar */
  zLabel?: string;
  /** colour by log10(z) (losses span orders of magnitude away from the basins) */
  logScale?: boolean;
  /** number of contour levels (0 = none) */
  contours?: number;
  points?: readonly HeatmapPoint[];
  width?: number;
  height?: number;
  background?: string;
  foreground?: string;
  fontFamily?: string;
  zFormat?: (v: number) => string;
}

/** Viridis, sampled: perceptually uniform and readable in grey. */
const VIRIDIS = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];

export function viridis(t: number): string {
  const c = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 1)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(c));
  const f = c - i;
  const rgb = VIRIDIS[i].map((a, k) => Math.round(a + (VIRIDIS[i + 1][k] - a) * f));
  return `rgb(${rgb.join(',')})`;
}

const fmt = (n: number): string => Number(n.toFixed(2)).toString();

/**
 * Contour segments of z (z[j][i] at (x[i], y[j])) at `level` by marching squares, each segment
 * with its ends linearly interpolated on the cell's edges. Saddles take the average rule.
 */
export function contourSegments(
  x: readonly number[],
  y: readonly number[],
  z: readonly (readonly number[])[],
  level: number,
): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  const lerp = (a: number, b: number, za: number, zb: number): number =>
    za === zb ? (a + b) / 2 : a + ((level - za) / (zb - za)) * (b - a);
  for (let j = 0; j + 1 < y.length; j++) {
    for (let i = 0; i + 1 < x.length; i++) {
      const z00 = z[j][i];
      const z10 = z[j][i + 1];
      const z11 = z[j + 1][i + 1];
      const z01 = z[j + 1][i];
      if (![z00, z10, z11, z01].every(Number.isFinite)) continue;
      // edges: bottom (00-10), right (10-11), top (01-11), left (00-01)
      const cross: [number, number][] = [];
      if (z00 < level !== z10 < level) cross.push([lerp(x[i], x[i + 1], z00, z10), y[j]]);
      if (z10 < level !== z11 < level) cross.push([x[i + 1], lerp(y[j], y[j + 1], z10, z11)]);
      if (z01 < level !== z11 < level) cross.push([lerp(x[i], x[i + 1], z01, z11), y[j + 1]]);
      if (z00 < level !== z01 < level) cross.push([x[i], lerp(y[j], y[j + 1], z00, z01)]);
      if (cross.length === 2) out.push([...cross[0], ...cross[1]]);
      else if (cross.length === 4) {
        const centre = (z00 + z10 + z11 + z01) / 4;
        const below = z00 < level;
        // pair the crossings so the centre's side is kept connected
        if (below === centre < level) {
          out.push([...cross[0], ...cross[1]], [...cross[2], ...cross[3]]);
        } else {
          out.push([...cross[0], ...cross[3]], [...cross[1], ...cross[2]]);
        }
      }
    }
  }
  return out;
}

export function renderSvgHeatmap(
  x: readonly number[],
  y: readonly number[],
  z: readonly (readonly number[])[],
  opts: HeatmapOptions = {},
): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 560;
  const fg = opts.foreground ?? '#1f2328';
  const font = opts.fontFamily ?? 'Helvetica, Arial, sans-serif';
  const zFormat = opts.zFormat ?? ((v: number) => Number(v.toPrecision(3)).toString());
  const m = { top: opts.title ? 40 : 16, right: 96, bottom: 56, left: 64 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const tr = (v: number): number => (opts.logScale ? Math.log10(Math.max(v, 1e-12)) : v);
  const flat = z.flat().filter(Number.isFinite).map(tr);
  const zmin = flat.length ? Math.min(...flat) : 0;
  const zmax = flat.length ? Math.max(...flat) : 1;
  const norm = (v: number): number => (zmax > zmin ? (tr(v) - zmin) / (zmax - zmin) : 0.5);
  // cell edges halfway between grid values, so each value is drawn centred on its point
  const edges = (a: readonly number[]): number[] => {
    if (a.length === 1) return [a[0] - 0.5, a[0] + 0.5];
    const e = [a[0] - (a[1] - a[0]) / 2];
    for (let i = 0; i + 1 < a.length; i++) e.push((a[i] + a[i + 1]) / 2);
    e.push(a[a.length - 1] + (a[a.length - 1] - a[a.length - 2]) / 2);
    return e;
  };
  const xe = edges(x);
  const ye = edges(y);
  const x0 = xe[0];
  const x1 = xe[xe.length - 1];
  const y0 = ye[0];
  const y1 = ye[ye.length - 1];
  const sx = (v: number): number => m.left + ((v - x0) / (x1 - x0)) * pw;
  const sy = (v: number): number => m.top + ph - ((v - y0) / (y1 - y0)) * ph;

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
  parts.push(`<g class="cells" shape-rendering="crispEdges">`);
  for (let j = 0; j < y.length; j++)
    for (let i = 0; i < x.length; i++) {
      const v = z[j]?.[i];
      const px = sx(xe[i]);
      const py = sy(ye[j + 1]);
      parts.push(
        `<rect x="${fmt(px)}" y="${fmt(py)}" width="${fmt(sx(xe[i + 1]) - px + 0.5)}" height="${fmt(sy(ye[j]) - py + 0.5)}" fill="${Number.isFinite(v) ? viridis(norm(v)) : '#999'}"><title>(${fmt(x[i])}, ${fmt(y[j])}): ${escapeXml(zFormat(v))}</title></rect>`,
      );
    }
  parts.push(`</g>`);
  const levels = opts.contours ?? 10;
  if (levels > 0 && flat.length) {
    parts.push(`<g class="contours" stroke="#ffffff" stroke-opacity="0.7" stroke-width="1" fill="none">`);
    for (let k = 1; k <= levels; k++) {
      const t = zmin + ((zmax - zmin) * k) / (levels + 1);
      const level = opts.logScale ? 10 ** t : t;
      const segs = contourSegments(x, y, z, level);
      if (segs.length)
        parts.push(
          `<path d="${segs.map((s) => `M${fmt(sx(s[0]))},${fmt(sy(s[1]))}L${fmt(sx(s[2]))},${fmt(sy(s[3]))}`).join('')}"/>`,
        );
    }
    parts.push(`</g>`);
  }
  parts.push(`<g class="axes" fill="${fg}">`);
  for (const v of niceTicks(x0, x1, 6))
    if (v >= x0 && v <= x1)
      parts.push(`<text x="${fmt(sx(v))}" y="${m.top + ph + 18}" text-anchor="middle">${fmt(v)}</text>`);
  for (const v of niceTicks(y0, y1, 6))
    if (v >= y0 && v <= y1)
      parts.push(`<text x="${m.left - 8}" y="${fmt(sy(v) + 4)}" text-anchor="end">${fmt(v)}</text>`);
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="${fg}" stroke-width="1"/>`,
  );
  if (opts.xLabel)
    parts.push(
      `<text x="${m.left + pw / 2}" y="${m.top + ph + 40}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`,
    );
  if (opts.yLabel)
    parts.push(
      `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`,
    );
  parts.push(`</g>`);
  // colour bar
  const bx = m.left + pw + 16;
  const bw = 14;
  const steps = 40;
  parts.push(`<g class="colorbar">`);
  for (let k = 0; k < steps; k++) {
    const yTop = m.top + (ph * k) / steps;
    parts.push(
      `<rect x="${bx}" y="${fmt(yTop)}" width="${bw}" height="${fmt(ph / steps + 0.5)}" fill="${viridis(1 - k / (steps - 1))}"/>`,
    );
  }
  const zAt = (t: number): number => {
    const v = zmin + (zmax - zmin) * t;
    return opts.logScale ? 10 ** v : v;
  };
  for (const t of [0, 0.25, 0.5, 0.75, 1])
    parts.push(
      `<text x="${bx + bw + 4}" y="${fmt(m.top + ph * (1 - t) + 4)}" fill="${fg}">${escapeXml(zFormat(zAt(t)))}</text>`,
    );
  if (opts.zLabel)
    parts.push(
      `<text transform="translate(${W - 8} ${m.top + ph / 2}) rotate(90)" text-anchor="middle" fill="${fg}">${escapeXml(opts.zLabel)}</text>`,
    );
  parts.push(`</g>`);
  parts.push(`<g class="points">`);
  (opts.points ?? []).forEach((p, k) => {
    const cx = sx(p.x);
    const cy = sy(p.y);
    parts.push(
      `<circle cx="${fmt(cx)}" cy="${fmt(cy)}" r="6" fill="${escapeXml(p.color)}" stroke="#ffffff" stroke-width="2"><title>${escapeXml(p.label)}</title></circle>`,
    );
    const anchor = cx > m.left + pw * 0.75 ? 'end' : 'start';
    const dx = anchor === 'end' ? -10 : 10;
    parts.push(
      `<text x="${fmt(cx + dx)}" y="${fmt(cy - 8 - (k % 2) * 0)}" text-anchor="${anchor}" font-weight="600" fill="#ffffff" stroke="#000000" stroke-width="2.5" paint-order="stroke">${escapeXml(p.label)}</text>`,
    );
  });
  parts.push(`</g>`);
  parts.push(`</svg>`);
  return parts.join('\n');
}
