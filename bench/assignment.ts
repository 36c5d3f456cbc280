/**
 * Linear assignment: our solver against scipy.optimize.linear_sum_assignment on identical
 * float64 matrices (maximize=True, as weight matching calls it).
 *
 * Kinds: `random` — uniform [0, 1); `weight-matching` — a Gram matrix A = X·Yᵀ like the
 * similarities weight matching builds, X an n×d standard normal matrix and Y = P·X + σ·noise for a
 * hidden permutation P. σ = 1 keeps P clearly the optimum (the easy, common case); σ = 6
 * (`weight-matching-noisy`) leaves only part of P (60–80 %) in the optimum. `gradient-gram` — the
 * near-low-rank gradient similarity GMT/FGMT match on (see gradientGram), the slow case before
 * the auction phase. The
 * Gram products run on tfjs-wasm when it loads (entries then hold float32 values), else in plain
 * JS; the tfjs backend in use before is restored afterwards.
 *
 * Run: npx tsx -e "import('./bench/assignment.ts').then(m => m.benchAssignment({ quick: false }))"
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assignmentWithDuals } from '../src/core/assignment.js';
import { rng } from '../src/core/random.js';
import { npy } from './npy.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./lsa_scipy.py', import.meta.url));
const GRAM_DIM = 512;

type Kind = 'random' | 'weight-matching' | 'weight-matching-noisy' | 'gradient-gram';
const KINDS: Kind[] = ['random', 'weight-matching', 'weight-matching-noisy', 'gradient-gram'];
/** gradient-gram: minibatch size, input width, and shared error directions of the two nets */
const BATCH = 128;
const INPUT = 784;
const ERROR_RANK = 10;

interface Case {
  n: number;
  kind: Kind;
  file: string;
  repeats: number;
  jsSeconds: number;
  jsTotal: number;
  scipySeconds?: number;
  scipyTotal?: number;
}

/** A bench matrix, for checking it by hand (e.g. its singular values) outside the bench. */
export async function benchMatrix(kind: Kind, n: number, seed: number): Promise<Float64Array> {
  try {
    return await makeMatrix(kind, n, seed);
  } finally {
    await restoreBackend();
  }
}

export async function benchAssignment(opts: { quick: boolean }): Promise<void> {
  const sizes = opts.quick ? [512, 1024] : [1024, 2048, 4096];
  const dir = mkdtempSync(join(tmpdir(), 'lsa-bench-'));
  try {
    await warmUp();
    const cases: Case[] = [];
    let skipped: string | null = null;
    for (const n of sizes) {
      const repeats = n <= 1024 ? 5 : n <= 2048 ? 3 : 1;
      for (const kind of KINDS) {
        const a = await makeMatrix(kind, n, 1000 * n + KINDS.indexOf(kind));
        const file = join(dir, `${kind}-${n}.npy`);
        writeFileSync(file, npy(a, [n, n]));
        const times: number[] = [];
        let total = 0;
        for (let r = 0; r < repeats; r++) {
          const t0 = performance.now();
          total = assignmentWithDuals(a, n, n, { maximize: true }).total;
          times.push((performance.now() - t0) / 1000);
        }
        const c: Case = { n, kind, file, repeats, jsSeconds: median(times), jsTotal: total };
        if (skipped === null) skipped = runScipy(c);
        cases.push(c);
        rmSync(file);
      }
    }
    printTable(cases, skipped);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await restoreBackend();
  }
}

/**
 * Runs the solver's paths (sparse, dense, checks) until V8 has optimised them: the first few
 * calls in a fresh process run several times slower, which is not what a matcher calling the
 * solver over and over sees.
 */
async function warmUp(): Promise<void> {
  for (const kind of KINDS) {
    const a = await makeMatrix(kind, 512, 7);
    for (let r = 0; r < 6; r++) assignmentWithDuals(a, 512, 512, { maximize: true });
    assignmentWithDuals(a, 512, 512, { maximize: true, strategy: 'dense' });
  }
}

async function makeMatrix(kind: Kind, n: number, seed: number): Promise<Float64Array> {
  const r = rng(seed);
  if (kind === 'random') {
    const a = new Float64Array(n * n);
    for (let k = 0; k < a.length; k++) a[k] = r.next();
    return a;
  }
  if (kind === 'gradient-gram') return gradientGram(n, r);
  const sigma = kind === 'weight-matching' ? 1 : 6;
  const d = GRAM_DIM;
  const xs = new Float64Array(n * d);
  for (let k = 0; k < xs.length; k++) xs[k] = r.normal();
  const p = r.permutation(n);
  const ys = new Float64Array(n * d);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < d; k++) ys[j * d + k] = xs[p[j] * d + k] + sigma * r.normal();
  }
  return (await gramWasm(xs, ys, n, d)) ?? gram(xs, ys, n, d);
}

/**
 * Like the similarity GMT/FGMT match on: the first-layer gradient Gram of a 784→n→10 MLP on one
 * minibatch, A = δ2ᵀ·(X·Xᵀ)·δ1 plus a small rank-one bias term (δ2ᵀ1)(1ᵀδ1), where δ1, δ2
 * (batch×n) are the two nets' hidden-unit error signals. Both are driven by the same few
 * per-example output errors (shared batch-side factors, each net mixing them into its units in its
 * own way) plus unit noise, and the inputs share a common mean, so A is dominated by a few
 * singular directions (about 1, .9, .6, .4, .3 relative at n = 1024, like the real matrices): every
 * row ranks the columns almost alike, the hard case for reduction-based starts.
 */
async function gradientGram(n: number, r: ReturnType<typeof rng>): Promise<Float64Array> {
  const b = BATCH;
  const xs = new Float64Array(b * INPUT);
  const mean = Array.from({ length: INPUT }, () => 0.3 * r.next());
  for (let p = 0; p < b; p++) for (let k = 0; k < INPUT; k++) xs[p * INPUT + k] = mean[k] + r.normal();
  const kk = new Float64Array(b * b); // X·Xᵀ, scaled to unit-ish entries
  for (let p = 0; p < b; p++) {
    for (let q = 0; q <= p; q++) {
      let s = 0;
      for (let k = 0; k < INPUT; k++) s += xs[p * INPUT + k] * xs[q * INPUT + k];
      kk[p * b + q] = kk[q * b + p] = s / INPUT;
    }
  }
  const errors = Array.from({ length: ERROR_RANK }, () => Array.from({ length: b }, () => r.normal()));
  const errorScale = Array.from({ length: ERROR_RANK }, (_, e) => Math.pow(0.8, e));
  // δ as n×batch (unit-major), the layout the Gram product wants
  const delta = (): Float64Array => {
    const d = new Float64Array(n * b);
    for (let j = 0; j < n; j++) {
      const load = errorScale.map((s) => s * r.normal());
      for (let p = 0; p < b; p++) {
        let s = 0.5 * r.normal();
        for (let e = 0; e < ERROR_RANK; e++) s += load[e] * errors[e][p];
        d[j * b + p] = s;
      }
    }
    return d;
  };
  const d1 = delta();
  const d2 = delta();
  const kd1 = new Float64Array(n * b); // (K·δ1)ᵀ
  for (let j = 0; j < n; j++) {
    for (let p = 0; p < b; p++) {
      let s = 0;
      for (let q = 0; q < b; q++) s += kk[p * b + q] * d1[j * b + q];
      kd1[j * b + p] = s;
    }
  }
  const a = (await gramWasm(d2, kd1, n, b)) ?? gram(d2, kd1, n, b);
  const s1 = new Float64Array(n);
  const s2 = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    for (let p = 0; p < b; p++) {
      s1[j] += d1[j * b + p];
      s2[j] += d2[j * b + p];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] += 0.1 * s2[i] * s1[j];
  return a;
}

let wasmState: 'untried' | 'ready' | 'unavailable' = 'untried';
let previousBackend: string | null = null;

/**
 * X·Yᵀ on the tfjs wasm backend (tens of GFLOP/s against ~1 in plain JS: the n = 4096 Gram
 * matrices would take minutes otherwise), in float32 then widened; null if wasm is unavailable.
 * Y is transposed here because wasm's matMul with a transposed operand is very slow.
 */
async function gramWasm(
  xs: Float64Array,
  ys: Float64Array,
  n: number,
  d: number,
): Promise<Float64Array | null> {
  if (wasmState === 'unavailable') return null;
  try {
    const tf = await import('@tensorflow/tfjs');
    if (wasmState === 'untried') {
      wasmState = 'unavailable'; // until it works
      await import('@tensorflow/tfjs-backend-wasm');
      previousBackend = tf.getBackend() ?? null;
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend did not initialise');
      wasmState = 'ready';
    }
    const yt = new Float32Array(d * n);
    for (let j = 0; j < n; j++) for (let k = 0; k < d; k++) yt[k * n + j] = ys[j * d + k];
    const out = tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(xs), [n, d]), tf.tensor2d(yt, [d, n])));
    const a = Float64Array.from(out.dataSync());
    out.dispose();
    return a;
  } catch (e) {
    wasmState = 'unavailable';
    console.log(`(tfjs wasm unavailable for the Gram matrices, using plain JS: ${(e as Error).message})`);
    return null;
  }
}

/** A = X·Yᵀ for row-major n×d X and Y, in 2×4 blocks so each loaded value is used several times. */
function gram(xs: Float64Array, ys: Float64Array, n: number, d: number): Float64Array {
  const a = new Float64Array(n * n);
  const dot = (i: number, j: number): number => {
    let s = 0;
    for (let k = 0; k < d; k++) s += xs[i * d + k] * ys[j * d + k];
    return s;
  };
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const x0 = i * d;
    const x1 = x0 + d;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const y0 = j * d;
      const y1 = y0 + d;
      const y2 = y1 + d;
      const y3 = y2 + d;
      let s00 = 0;
      let s01 = 0;
      let s02 = 0;
      let s03 = 0;
      let s10 = 0;
      let s11 = 0;
      let s12 = 0;
      let s13 = 0;
      for (let k = 0; k < d; k++) {
        const a0 = xs[x0 + k];
        const a1 = xs[x1 + k];
        const b0 = ys[y0 + k];
        const b1 = ys[y1 + k];
        const b2 = ys[y2 + k];
        const b3 = ys[y3 + k];
        s00 += a0 * b0;
        s01 += a0 * b1;
        s02 += a0 * b2;
        s03 += a0 * b3;
        s10 += a1 * b0;
        s11 += a1 * b1;
        s12 += a1 * b2;
        s13 += a1 * b3;
      }
      const r0 = i * n + j;
      const r1 = r0 + n;
      a[r0] = s00;
      a[r0 + 1] = s01;
      a[r0 + 2] = s02;
      a[r0 + 3] = s03;
      a[r1] = s10;
      a[r1 + 1] = s11;
      a[r1 + 2] = s12;
      a[r1 + 3] = s13;
    }
    for (; j < n; j++) {
      a[i * n + j] = dot(i, j);
      a[(i + 1) * n + j] = dot(i + 1, j);
    }
  }
  for (; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = dot(i, j);
  return a;
}

/** Puts back the tfjs backend that was in use before the Gram matrices needed wasm. */
async function restoreBackend(): Promise<void> {
  if (previousBackend === null) return;
  const tf = await import('@tensorflow/tfjs');
  if (tf.getBackend() !== previousBackend) await tf.setBackend(previousBackend);
  previousBackend = null;
  wasmState = 'untried';
}

/**
 * Times scipy on one case's file, filling in its time and objective; returns why the baseline
 * is unavailable, if it is. Run right after the JS timing of the same matrix so that both see
 * the same machine load.
 */
function runScipy(c: Case): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const res = spawnSync(PYTHON, [SCRIPT, '--repeats', String(c.repeats), c.file], { encoding: 'utf8' });
  if (res.error) return `${PYTHON} could not run: ${res.error.message}`;
  let out: { error?: string; results?: { seconds: number; objective: number }[] };
  try {
    out = JSON.parse(res.stdout);
  } catch {
    return `${PYTHON} ${SCRIPT} exited with ${res.status}: ${res.stderr.trim().split('\n').pop() ?? ''}`;
  }
  if (out.error || !out.results?.length) return out.error ?? 'no results from the scipy script';
  c.scipySeconds = out.results[0].seconds;
  c.scipyTotal = out.results[0].objective;
  return null;
}

function printTable(cases: Case[], skipped: string | null): void {
  console.log('\nLinear assignment, maximize, float64 (JS = src/core/assignment.ts; median of repeats)');
  if (skipped) console.log(`scipy baseline skipped: ${skipped}`);
  const head = ['n', 'kind', 'reps', 'JS ms', 'scipy ms', 'JS/scipy', 'objective'];
  const rows: string[][] = [];
  const mismatches: string[] = [];
  for (const c of cases) {
    let check = '';
    if (c.scipyTotal !== undefined) {
      const diff = Math.abs(c.jsTotal - c.scipyTotal);
      const ok = diff <= 1e-9 * Math.max(1, Math.abs(c.scipyTotal));
      check = ok ? 'same' : `MISMATCH (JS ${c.jsTotal} vs scipy ${c.scipyTotal})`;
      if (!ok) mismatches.push(`${c.kind} n=${c.n}: JS ${c.jsTotal}, scipy ${c.scipyTotal}`);
    }
    rows.push([
      String(c.n),
      c.kind,
      String(c.repeats),
      (c.jsSeconds * 1000).toFixed(1),
      c.scipySeconds === undefined ? '-' : (c.scipySeconds * 1000).toFixed(1),
      c.scipySeconds === undefined ? '-' : (c.jsSeconds / c.scipySeconds).toFixed(2),
      check,
    ]);
  }
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (r: string[]): string =>
    r.map((s, k) => (k < 2 ? s.padEnd(widths[k]) : s.padStart(widths[k]))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  if (mismatches.length > 0) {
    console.error('\n!!! OBJECTIVE MISMATCH between JS and scipy — the JS solver is not optimal here:');
    for (const m of mismatches) console.error(`!!!   ${m}`);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}
