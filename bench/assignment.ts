/**
 * Linear assignment: our solver against scipy.optimize.linear_sum_assignment on identical
 * float64 matrices (maximize=True, as weight matching calls it).
 *
 * Kinds: `random` — uniform [0, 1); `weight-matching` — a Gram matrix A = X·Yᵀ like the
 * similarities weight matching builds, X an n×d standard normal matrix and Y = P·X + σ·noise for a
 * hidden permutation P. σ = 1 keeps P clearly the optimum (the easy, common case); σ = 6
 * (`weight-matching-noisy`) leaves only about half of P in the optimum, the hard case.
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

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./lsa_scipy.py', import.meta.url));
const GRAM_DIM = 512;

type Kind = 'random' | 'weight-matching' | 'weight-matching-noisy';
const KINDS: Kind[] = ['random', 'weight-matching', 'weight-matching-noisy'];

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

export async function benchAssignment(opts: { quick: boolean }): Promise<void> {
  const sizes = opts.quick ? [512, 1024] : [1024, 2048, 4096];
  const dir = mkdtempSync(join(tmpdir(), 'lsa-bench-'));
  try {
    warmUp();
    const cases: Case[] = [];
    for (const n of sizes) {
      const repeats = n <= 1024 ? 5 : n <= 2048 ? 3 : 1;
      for (const kind of KINDS) {
        const a = makeMatrix(kind, n, 1000 * n + KINDS.indexOf(kind));
        const file = join(dir, `${kind}-${n}.npy`);
        writeFileSync(file, npy(a, n, n));
        const times: number[] = [];
        let total = 0;
        for (let r = 0; r < repeats; r++) {
          const t0 = performance.now();
          total = assignmentWithDuals(a, n, n, { maximize: true }).total;
          times.push((performance.now() - t0) / 1000);
        }
        cases.push({ n, kind, file, repeats, jsSeconds: median(times), jsTotal: total });
      }
    }
    const skipped = runScipy(cases);
    printTable(cases, skipped);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Compiles the solver's paths (sparse, dense, checks) before anything is timed. */
function warmUp(): void {
  for (const kind of KINDS) {
    const a = makeMatrix(kind, 300, 7);
    assignmentWithDuals(a, 300, 300, { maximize: true });
    assignmentWithDuals(a, 300, 300, { maximize: true, strategy: 'dense' });
  }
}

function makeMatrix(kind: Kind, n: number, seed: number): Float64Array {
  const r = rng(seed);
  if (kind === 'random') {
    const a = new Float64Array(n * n);
    for (let k = 0; k < a.length; k++) a[k] = r.next();
    return a;
  }
  const sigma = kind === 'weight-matching' ? 1 : 6;
  const d = GRAM_DIM;
  const xs = new Float64Array(n * d);
  for (let k = 0; k < xs.length; k++) xs[k] = r.normal();
  const p = r.permutation(n);
  const ys = new Float64Array(n * d);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < d; k++) ys[j * d + k] = xs[p[j] * d + k] + sigma * r.normal();
  }
  return gram(xs, ys, n, d);
}

/** A = X·Yᵀ for row-major n×d X and Y, four columns at a time to reuse each row of X. */
function gram(xs: Float64Array, ys: Float64Array, n: number, d: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const xi = i * d;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const y0 = j * d;
      const y1 = y0 + d;
      const y2 = y1 + d;
      const y3 = y2 + d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < d; k++) {
        const xv = xs[xi + k];
        s0 += xv * ys[y0 + k];
        s1 += xv * ys[y1 + k];
        s2 += xv * ys[y2 + k];
        s3 += xv * ys[y3 + k];
      }
      a[i * n + j] = s0;
      a[i * n + j + 1] = s1;
      a[i * n + j + 2] = s2;
      a[i * n + j + 3] = s3;
    }
    for (; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += xs[xi + k] * ys[j * d + k];
      a[i * n + j] = s;
    }
  }
  return a;
}

/** A row-major float64 matrix in NumPy's .npy format (version 1.0). */
function npy(a: Float64Array, rows: number, cols: number): Buffer {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10 + header.length);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  head.write(header, 10, 'latin1');
  const body = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  if (!isLittleEndian()) throw new Error('npy writer assumes a little-endian machine');
  return Buffer.concat([head, body]);
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/** Fills in scipy's times and objectives; returns why the baseline was skipped, if it was. */
function runScipy(cases: Case[]): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const byRepeats = new Map<number, Case[]>();
  for (const c of cases) byRepeats.set(c.repeats, [...(byRepeats.get(c.repeats) ?? []), c]);
  for (const [repeats, group] of byRepeats) {
    const res = spawnSync(PYTHON, [SCRIPT, '--repeats', String(repeats), ...group.map((c) => c.file)], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (res.error) return `${PYTHON} could not run: ${res.error.message}`;
    let out: { error?: string; results?: { file: string; seconds: number; objective: number }[] };
    try {
      out = JSON.parse(res.stdout);
    } catch {
      return `${PYTHON} ${SCRIPT} exited with ${res.status}: ${res.stderr.trim().split('\n').pop() ?? ''}`;
    }
    if (out.error || !out.results) return out.error ?? 'no results from the scipy script';
    for (const r of out.results) {
      const c = group.find((g) => g.file === r.file);
      if (c) {
        c.scipySeconds = r.seconds;
        c.scipyTotal = r.objective;
      }
    }
  }
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
  const line = (r: string[]): string => r.map((s, k) => (k < 2 ? s.padEnd(widths[k]) : s.padStart(widths[k]))).join('  ');
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
