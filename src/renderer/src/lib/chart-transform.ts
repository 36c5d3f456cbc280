/**
 * What a chart does to its series before drawing: smoothing, thinning to what a canvas can show,
 * and putting the x-axis in compute (gradient evaluations or seconds) instead of steps. Pure
 * functions, so views, the report and tests share them.
 */

export interface XY {
  x: number;
  y: number;
}

/**
 * Debiased exponential moving average (TensorBoard's smoothing): the running mean starts at 0 and
 * is divided by 1 − w^k, so the first points are not pulled towards zero. Non-finite values are
 * passed through and do not enter the average. weight 0 returns the points unchanged.
 */
export function smoothEma(points: readonly XY[], weight: number): XY[] {
  if (!(weight > 0)) return points.slice();
  const w = Math.min(weight, 0.999);
  let last = 0;
  let k = 0;
  return points.map((p) => {
    if (!Number.isFinite(p.y)) return { x: p.x, y: p.y };
    last = last * w + (1 - w) * p.y;
    k++;
    return { x: p.x, y: last / (1 - w ** k) };
  });
}

/**
 * At most about `max` points, keeping the shape: the x-range is cut into max/2 buckets and each
 * keeps its lowest and highest point (in x order), plus the first and last point. A spike is
 * never dropped; `thinned` says whether anything was, so the chart can say so.
 */
export function thinMinMax(points: readonly XY[], max: number): { points: XY[]; thinned: boolean } {
  if (points.length <= max || max < 4) return { points: points.slice(), thinned: false };
  const buckets = Math.floor(max / 2) - 1;
  const out: XY[] = [points[0]];
  const inner = points.length - 2;
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor((b * inner) / buckets);
    const to = 1 + Math.floor(((b + 1) * inner) / buckets);
    let lo = -1;
    let hi = -1;
    for (let i = from; i < to; i++) {
      const y = points[i].y;
      if (!Number.isFinite(y)) continue;
      if (lo < 0 || y < points[lo].y) lo = i;
      if (hi < 0 || y > points[hi].y) hi = i;
    }
    if (lo < 0) continue;
    if (lo === hi) out.push(points[lo]);
    else if (lo < hi) out.push(points[lo], points[hi]);
    else out.push(points[hi], points[lo]);
  }
  out.push(points[points.length - 1]);
  return { points: out, thinned: true };
}

export type XAxisKind = 't' | 'gradients' | 'seconds';

export const X_AXIS_LABELS: Record<XAxisKind, string> = {
  t: 't (trajectory step)',
  gradients: 'gradient evaluations (per target)',
  seconds: 'seconds since the method started',
};

export const X_SHORT: Record<XAxisKind, string> = { t: 't', gradients: 'gradients', seconds: 'time' };

/** Parses `?x=` from a URL; anything unknown is the default t. */
export function parseXAxis(v: string | undefined): XAxisKind {
  return v === 'gradients' || v === 'seconds' ? v : 't';
}
