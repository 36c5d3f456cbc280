import type { StepValue } from './metrics.js';

export interface BandInput {
  /** what the band aggregates over: a method, or experiment · method */
  group: string;
  points: readonly StepValue[];
}

export interface Band {
  group: string;
  /** the union of the members' steps, ascending */
  steps: number[];
  mean: number[];
  /** sample standard deviation (n − 1); 0 where only one member has the step */
  std: number[];
  lo: number[];
  hi: number[];
  /** how many members have a value at each step */
  n: number[];
  /** how many series went into the group */
  members: number;
}

/** Whether the points' steps rise strictly (then no step repeats). */
function risingSteps(points: readonly StepValue[]): boolean {
  for (let i = 1; i < points.length; i++) if (!(points[i].step > points[i - 1].step)) return false;
  return true;
}

/** Mean and sample standard deviation (0 for fewer than two values). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN };
  let mean = 0;
  for (const v of values) mean += v;
  mean /= n;
  if (n < 2) return { mean, std: 0 };
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

/**
 * Mean ± std per group and step, across the group's series (seeds, targets, experiments).
 * Series of different lengths are fine: each step aggregates the members that reached it and
 * records how many did, so a run still in progress or one with a smaller T does not pull the
 * others' tails down. Non-finite values are skipped. Groups keep the order of first appearance
 * unless `order` says otherwise.
 */
export function computeBands(series: readonly BandInput[], order?: (a: string, b: string) => number): Band[] {
  const groups = new Map<string, { members: number; byStep: Map<number, number[]> }>();
  for (const s of series) {
    let g = groups.get(s.group);
    if (!g) groups.set(s.group, (g = { members: 0, byStep: new Map() }));
    g.members++;
    const byStep = g.byStep;
    const add = (step: number, v: number): void => {
      let vs = byStep.get(step);
      if (!vs) byStep.set(step, (vs = []));
      vs.push(v);
    };
    // A member contributes one value per step even if it reported the step twice (the last one);
    // points in rising step order (the usual case, thousands of them on Compare) need no map.
    if (risingSteps(s.points)) {
      for (const p of s.points) if (Number.isFinite(p.value) && Number.isFinite(p.step)) add(p.step, p.value);
    } else {
      const own = new Map<number, number>();
      for (const p of s.points)
        if (Number.isFinite(p.value) && Number.isFinite(p.step)) own.set(p.step, p.value);
      for (const [step, v] of own) add(step, v);
    }
  }
  const out: Band[] = [];
  for (const [group, g] of groups) {
    const steps = [...g.byStep.keys()].sort((a, b) => a - b);
    const band: Band = { group, steps, mean: [], std: [], lo: [], hi: [], n: [], members: g.members };
    for (const step of steps) {
      const vs = g.byStep.get(step)!;
      const { mean, std } = meanStd(vs);
      band.mean.push(mean);
      band.std.push(std);
      band.lo.push(mean - std);
      band.hi.push(mean + std);
      band.n.push(vs.length);
    }
    out.push(band);
  }
  if (order) out.sort((a, b) => order(a.group, b.group));
  return out;
}

/** The step where a band's mean peaks (first on ties); null for an empty band. */
export function bandBest(
  band: Band,
  higherIsBetter = true,
): { step: number; mean: number; std: number } | null {
  let i = -1;
  for (let k = 0; k < band.steps.length; k++) {
    if (!Number.isFinite(band.mean[k])) continue;
    if (i < 0 || (higherIsBetter ? band.mean[k] > band.mean[i] : band.mean[k] < band.mean[i])) i = k;
  }
  return i < 0 ? null : { step: band.steps[i], mean: band.mean[i], std: band.std[i] };
}
