import { bandBest, type Band } from './bands.js';
import type { SvgSeries } from './svg-chart.js';

/** What the chart component draws: a line, optionally with its mean ± std band and a marked best point. */
export interface ChartSeries {
  id: string;
  label: string;
  color: string;
  dash?: number[];
  points: { x: number; y: number }[];
  band?: { x: number; lo: number; hi: number }[];
  /** per point: std and member count, for tooltips */
  std?: number[];
  n?: number[];
  marker?: { x: number; y: number } | null;
}

/** A horizontal line at a known value, e.g. the source's or the trained target's accuracy. */
export interface RefLine {
  id: string;
  label: string;
  y: number;
  color: string;
  dash?: number[];
}

/**
 * Best-step markers of methods that peak at the same x would be drawn on top of each other: shift
 * each group of equal x sideways by `gap` (in x units) around the true x, in series order. The
 * tooltip still reports the true step.
 */
export function spreadMarkers<T extends { x: number }>(
  markers: readonly (T | null | undefined)[],
  gap: number,
): (T | null)[] {
  const byX = new Map<number, number[]>();
  markers.forEach((m, i) => {
    if (!m) return;
    let g = byX.get(m.x);
    if (!g) byX.set(m.x, (g = []));
    g.push(i);
  });
  const out: (T | null)[] = markers.map((m) => (m ? { ...m } : null));
  for (const idx of byX.values()) {
    if (idx.length < 2) continue;
    idx.forEach((i, k) => {
      out[i]!.x = out[i]!.x + (k - (idx.length - 1) / 2) * gap;
    });
  }
  return out;
}

export interface SeriesStyle {
  label(group: string): string;
  color(group: string): string;
  dash?(group: string): number[] | undefined;
}

/**
 * Chart series from bands: the mean as the line, mean ± std as the band wherever more than one
 * member contributes, and the best mean step as the marker.
 */
export function seriesFromBands(
  bands: readonly Band[],
  style: SeriesStyle,
  opts: { bands?: boolean; markBest?: boolean; higherIsBetter?: boolean } = {},
): ChartSeries[] {
  return bands.map((b) => {
    const points = b.steps.map((x, i) => ({ x, y: b.mean[i] }));
    const hasSpread = b.n.some((n) => n > 1);
    const best = opts.markBest === false ? null : bandBest(b, opts.higherIsBetter ?? true);
    return {
      id: b.group,
      label: style.label(b.group),
      color: style.color(b.group),
      dash: style.dash?.(b.group),
      points,
      band:
        opts.bands !== false && hasSpread
          ? b.steps.map((x, i) => ({ x, lo: b.lo[i], hi: b.hi[i] }))
          : undefined,
      std: b.std,
      n: b.n,
      marker: best ? { x: best.step, y: best.mean } : null,
    };
  });
}

export function toSvgSeries(series: readonly ChartSeries[]): SvgSeries[] {
  return series.map((s) => ({
    label: s.label,
    color: s.color,
    points: s.points,
    band: s.band,
    marker: s.marker,
    dash: s.dash,
  }));
}

/** "#2563eb" → "rgba(37, 99, 235, a)"; other colour syntaxes are returned unchanged. */
export function withAlpha(color: string, alpha: number): string {
  const c = color.trim();
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
  if (!m) return c;
  const h = m[1].length === 3 ? [...m[1]].map((x) => x + x).join('') : m[1];
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

export const DASHES: readonly number[][] = [[], [7, 4], [2, 3], [10, 3, 2, 3], [4, 4]];
