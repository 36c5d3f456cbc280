/**
 * Two-sample statistics for "is GMT better than FGMT across these seeds": Welch's t-test (no
 * equal-variance assumption) with its p-value from the t distribution, and a percentile bootstrap
 * confidence interval of the difference of means. Small n is the norm here, so every answer
 * carries its n and the test refuses fewer than two values per side.
 */
import { meanStd } from './bands.js';

/** ln Γ(x) by Lanczos (g = 7, n = 9), |error| < 1e-13 for x > 0. */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betacf(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const bt = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (bt * betacf(a, b, x)) / a : 1 - (bt * betacf(b, a, 1 - x)) / b;
}

/** Two-sided p-value of Student's t with `df` degrees of freedom. */
export function tTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? NaN : 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

export interface WelchResult {
  meanA: number;
  meanB: number;
  diff: number;
  nA: number;
  nB: number;
  t: number;
  df: number;
  p: number;
}

/** Welch's unequal-variance t-test of mean(a) − mean(b); null with fewer than 2 values a side. */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult | null {
  const xa = a.filter(Number.isFinite);
  const xb = b.filter(Number.isFinite);
  if (xa.length < 2 || xb.length < 2) return null;
  const A = meanStd(xa);
  const B = meanStd(xb);
  const va = (A.std * A.std) / xa.length;
  const vb = (B.std * B.std) / xb.length;
  const diff = A.mean - B.mean;
  const se = Math.sqrt(va + vb);
  if (se === 0) {
    return {
      meanA: A.mean,
      meanB: B.mean,
      diff,
      nA: xa.length,
      nB: xb.length,
      t: diff === 0 ? 0 : Infinity * Math.sign(diff),
      df: xa.length + xb.length - 2,
      p: diff === 0 ? 1 : 0,
    };
  }
  const t = diff / se;
  const df = (va + vb) ** 2 / (va ** 2 / (xa.length - 1) + vb ** 2 / (xb.length - 1));
  return { meanA: A.mean, meanB: B.mean, diff, nA: xa.length, nB: xb.length, t, df, p: tTwoSided(t, df) };
}

export interface DiffCi {
  lo: number;
  hi: number;
  level: number;
}
export interface BootstrapOptions {
  rounds?: number;
  level?: number;
  seed?: number;
}

/**
 * Percentile bootstrap CI of mean(a) − mean(b): resample each side with replacement `rounds`
 * times (seeded, so the page shows the same interval every time).
 */
export function bootstrapDiffCi(
  a: readonly number[],
  b: readonly number[],
  opts: BootstrapOptions = {},
): DiffCi | null {
  const steps = bootstrapSteps(a, b, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * bootstrapDiffCi in slices of about `drawsPerSlice` draws: the generator pauses between slices
 * (thousands of runs cost millions of draws), and its return value is bootstrapDiffCi's.
 */
export function* bootstrapSteps(
  a: readonly number[],
  b: readonly number[],
  opts: BootstrapOptions = {},
  drawsPerSlice = 1_000_000,
): Generator<void, DiffCi | null> {
  const xa = Float64Array.from(a.filter(Number.isFinite));
  const xb = Float64Array.from(b.filter(Number.isFinite));
  if (xa.length < 2 || xb.length < 2) return null;
  const rounds = opts.rounds ?? 4000;
  const level = opts.level ?? 0.95;
  let s = (opts.seed ?? 12345) >>> 0;
  const d = new Float64Array(rounds);
  const perSlice = Math.max(1, Math.floor(drawsPerSlice / (xa.length + xb.length)));
  // The generator is inlined and its state kept in locals: a closure per draw, or state living in
  // the generator's context, costs several times as much with millions of draws.
  const resampledMean = (x: Float64Array, seed: number): [number, number] => {
    let st = seed;
    let m = 0;
    const n = x.length;
    for (let i = 0; i < n; i++) {
      st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
      m += x[Math.floor((st / 4294967296) * n)];
    }
    return [m / n, st];
  };
  for (let r = 0; r < rounds; r++) {
    if (r > 0 && r % perSlice === 0) yield;
    const [ma, s1] = resampledMean(xa, s);
    const [mb, s2] = resampledMean(xb, s1);
    s = s2;
    d[r] = ma - mb;
  }
  d.sort();
  const q = (p: number): number => d[Math.min(rounds - 1, Math.max(0, Math.floor(p * rounds)))];
  return { lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2), level };
}
