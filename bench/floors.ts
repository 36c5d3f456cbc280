/**
 * The floors of issue 9, measured as a trustworthy instrument: for every row the engine (A) and
 * its baseline (B: PyTorch 1.13 / scipy on the CPU, Debian's python3-torch and python3-scipy) run
 * interleaved A, B, A, B, … `reps` times (≥ 3), each measurement with the same warm-up on both
 * sides; the table gives medians with min–max, the ratio A/B (median of the per-pair ratios, with
 * their range), the thread count of both sides and the machine's load (1-minute load average
 * around each pair, with the core count). Nothing here fails on a timing.
 *
 * `npm run bench -- --only floors [--quick] [--reps N] [--threads N]`; the whole-experiment row
 * runs `npm run lab -- run examples/quick.json` against bench/experiment_torch.py on the same
 * standardised data and split.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/core/backend.js';
import type { Split } from '../src/core/data/dataset.js';
import { loadDataset } from '../src/core/data/load.js';
import { evaluate, evalBatchSize, lowRankGradient } from '../src/core/evaluate.js';
import { disposeGradients, scaleGradients, type Gradients } from '../src/core/gradient-factors.js';
import { buildModel } from '../src/core/models/index.js';
import { disposeParams } from '../src/core/params.js';
import { rng } from '../src/core/random.js';
import { parseSpec } from '../src/shared/domain/index.js';
import { WeightMatcher } from '../src/core/weight-matching.js';
import { benchMatrix } from './assignment.js';
import { npy } from './npy.js';
import { mlp, trainSteps } from './training.js';

const PYTHON = '/usr/bin/python3';
const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
const ROOT = here('..');

interface Sample {
  /** seconds (lower is better) */
  s: number;
}
interface Row {
  work: string;
  floor: number | null;
  engine: number[];
  base: number[];
  loads: number[];
  note?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

function py(args: string[], timeoutMs = 1_800_000): Record<string, unknown> {
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 26 });
  if (r.status !== 0)
    throw new Error(
      `${PYTHON} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`,
    );
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** A, B, A, B, …: the machine's load drifts, so each engine figure has a baseline right next to it. */
async function interleave(
  work: string,
  floor: number | null,
  reps: number,
  engine: () => Promise<Sample> | Sample,
  base: () => Promise<Sample> | Sample,
): Promise<Row> {
  const row: Row = { work, floor, engine: [], base: [], loads: [] };
  for (let r = 0; r < reps; r++) {
    const l0 = loadavg()[0];
    row.engine.push((await engine()).s);
    row.base.push((await base()).s);
    row.loads.push((l0 + loadavg()[0]) / 2);
    process.stdout.write(
      `  ${work}: ${r + 1}/${reps}  engine ${fmt(row.engine[r])}  baseline ${fmt(row.base[r])}\n`,
    );
  }
  console.log(`  done: | ${tableLine(row).join(' | ')} |`);
  return row;
}

const fmt = (s: number): string =>
  s < 1 ? `${(s * 1000).toFixed(s < 0.1 ? 1 : 0)} ms` : `${s.toFixed(2)} s`;

function syntheticSplit(n: number, seed: number, batch: number): Split {
  const r = rng(seed);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = r.normal();
  const y = Int32Array.from({ length: n }, () => r.int(10));
  const batches = [];
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    batches.push({
      x: tf.tensor4d(x.subarray(s * 784, e * 784), [e - s, 28, 28, 1]),
      y: tf.tensor1d(y.subarray(s, e), 'int32'),
      size: e - s,
    });
  }
  return { x: tf.tensor4d(x, [n, 28, 28, 1]), y: tf.tensor1d(y, 'int32'), n, batches };
}

/** Median seconds of `reps` calls after `warmup` untimed ones: the same protocol as floors_torch.py. */
/** Median seconds of `fn`, awaited (readbacks are asynchronous: see src/core/readback.ts). */
async function timed(fn: () => unknown, warmup: number, reps: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push((performance.now() - t0) / 1000);
  }
  return median(ts);
}

function mlpModel(hidden: number) {
  return buildModel({ arch: 'mlp', hidden: [hidden] }, [28, 28, 1], 10);
}

/** Rows of the table, selectable with `--rows a,b`: all by default (the experiment only when not quick). */
export const FLOOR_ROWS = [
  'assignment',
  'evaluation',
  'step',
  'similarity',
  'experiment',
  'threads',
] as const;

export async function benchFloors(opts: {
  quick: boolean;
  reps?: number;
  threads?: number;
  rows?: string[];
}): Promise<void> {
  const want = (r: (typeof FLOOR_ROWS)[number]): boolean =>
    opts.rows ? opts.rows.includes(r) : (r !== 'experiment' && r !== 'threads') || !opts.quick;
  const reps = Math.max(3, opts.reps ?? 3);
  if (opts.threads) process.env.TRAJECTORY_LAB_WASM_THREADS = String(opts.threads);
  const info = await initBackend((process.env.TRAJECTORY_LAB_BACKEND as never) ?? 'auto');
  const threads = info.threads;
  const torchThreads = String(threads);
  console.log(`${describeBackend(info)}; baseline threads ${threads}; ${availableParallelism()} cores`);
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'floors-'));
  try {
    // 1. the assignment solver's first call in a fresh process, n = 1024
    if (want('assignment')) {
      const n = 1024;
      const file = join(dir, 'gram.npy');
      writeFileSync(file, npy(await benchMatrix('gradient-gram', n, 11), [n, n]));
      await initBackend(info.name as never);
      let objectives = '';
      rows.push(
        await interleave(
          `exact assignment, first call in a fresh process, n=${n}`,
          0.8,
          reps,
          () => {
            const r = spawnSync(process.execPath, ['--import', 'tsx', here('./first-call.ts'), file], {
              encoding: 'utf8',
              cwd: ROOT,
            });
            const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as { first: number; objective: number };
            objectives = `JS ${o.objective}`;
            return { s: o.first };
          },
          () => {
            const o = py([here('./floors_torch.py'), 'lsa', file]) as { first: number; objective: number };
            objectives += ` / scipy ${o.objective}`;
            return { s: o.first };
          },
        ),
      );
      rows[rows.length - 1].note = `objectives ${objectives}`;
    }

    // 2. one evaluation of 6,000 validation images
    for (const hidden of want('evaluation') ? [512, 4096] : []) {
      const model = mlpModel(hidden);
      const params = model.init(1);
      const split = syntheticSplit(6000, 5, evalBatchSize());
      rows.push(
        await interleave(
          `one evaluation of 6,000 images, 2-MLP H=${hidden}`,
          2,
          reps,
          async () => ({ s: await timed(() => evaluate(model, params, split), 2, opts.quick ? 3 : 5) }),
          () => ({
            s: py([
              here('./floors_torch.py'),
              'eval',
              '--hidden',
              String(hidden),
              '--threads',
              torchThreads,
              '--reps',
              opts.quick ? '3' : '5',
            ]).median as number,
          }),
        ),
      );
      disposeParams(params);
      tf.dispose([split.x, split.y, ...split.batches!.flatMap((b) => [b.x, b.y])]);
    }

    // 3. a training step, 784→H→10, batch 128
    for (const hidden of want('step') ? [4096, 512] : []) {
      const model = mlp(hidden);
      const steps = opts.quick ? 10 : 30;
      rows.push(
        await interleave(
          `2-MLP training step (784→${hidden}→10, batch 128)`,
          1,
          reps,
          async () => ({ s: 1 / (await trainSteps(model, 5, steps)) }),
          () => ({
            s:
              1 /
              (py([
                here('./train_torch.py'),
                '--threads',
                torchThreads,
                '--steps',
                String(steps),
                '--warmup',
                '5',
                '--hidden',
                String(hidden),
              ]).stepsPerSec as number),
          }),
        ),
      );
    }

    // 4. FGMT's similarity build at H=4096: one real gradient pair (two networks, one batch of 128)
    //    added to the matcher, which multiplies the dense kernels' blocks through their factors
    if (want('similarity')) {
      const H = opts.quick ? 2048 : 4096;
      const model = mlpModel(H);
      const batch = syntheticSplit(128, 9, 128);
      const grad = (seed: number): Gradients => {
        const theta = model.init(seed);
        // as GradientSampler hands it to FGMT: the head's factors, larger than its kernel, as the kernel
        const g = scaleGradients(lowRankGradient(model, theta, batch.x, batch.y), 1);
        disposeParams(theta);
        return g;
      };
      const g1 = grad(1);
      const g2 = grad(2);
      const matcher = new WeightMatcher(model.permSpec);
      // CPU seconds per call besides the wall time: on a shared machine the wall time is mostly waiting
      const cpu: number[] = [];
      rows.push(
        await interleave(
          `FGMT similarity build (addPair), H=${H}`,
          0.25,
          reps,
          async () => ({
            s: await timed(
              () => {
                const c0 = process.cpuUsage();
                matcher.addPair(g2, g1);
                const c = process.cpuUsage(c0);
                cpu.push((c.user + c.system) / 1e6);
              },
              1,
              3,
            ),
          }),
          () => ({
            s: py([
              here('./floors_torch.py'),
              'sim',
              '--hidden',
              String(H),
              '--threads',
              torchThreads,
              '--reps',
              '3',
              '--warmup',
              '1',
            ]).median as number,
          }),
        ),
      );
      rows[rows.length - 1].note =
        `engine CPU time per addPair ${fmt(median(cpu))} [${fmt(Math.min(...cpu))}–${fmt(Math.max(...cpu))}] ` +
        `(at one wasm thread about what the call takes on an idle core)`;
      matcher.dispose();
      disposeGradients(g1);
      disposeGradients(g2);
      tf.dispose([batch.x, batch.y, ...batch.batches!.flatMap((b) => [b.x, b.y])]);
    }

    // 5. the whole experiment: npm run lab on examples/quick.json against the PyTorch pipeline
    if (want('experiment')) rows.push(await wholeExperiment(dir, reps, torchThreads));

    // 6. what wasm threads are worth here: N threads (A) against 1 thread (B), each in a fresh process
    if (want('threads')) {
      const child = (threads: number): { matmul: number; step: number } => {
        const r = spawnSync(process.execPath, ['--import', 'tsx', here('./threads-child.ts')], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, TRAJECTORY_LAB_WASM_THREADS: String(threads) },
        });
        if (r.status !== 0) throw new Error(`threads-child failed: ${r.stderr.trim().split('\n').pop()}`);
        return JSON.parse(r.stdout.trim().split('\n').pop()!) as { matmul: number; step: number };
      };
      for (let t = 2; t <= Math.min(8, availableParallelism()); t *= 2) {
        const pairs: { matmul: number; step: number }[][] = [];
        const row = await interleave(
          `wasm ${t} threads ÷ 1 thread: 1024³ matMul`,
          null,
          reps,
          () => {
            pairs.push([child(t)]);
            return { s: pairs[pairs.length - 1][0].matmul };
          },
          () => {
            pairs[pairs.length - 1].push(child(1));
            return { s: pairs[pairs.length - 1][1].matmul };
          },
        );
        rows.push(row);
        rows.push({
          work: `wasm ${t} threads ÷ 1 thread: training step 784→4096→10`,
          floor: null,
          engine: pairs.map((p) => p[0].step),
          base: pairs.map((p) => p[1].step),
          loads: row.loads,
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printRows(rows, `${info.name} ${threads} thread${threads === 1 ? '' : 's'}`, torchThreads);
}

async function wholeExperiment(dir: string, reps: number, torchThreads: string): Promise<Row> {
  const specFile = join(ROOT, 'examples', 'quick.json');
  const spec = parseSpec(JSON.parse((await import('node:fs')).readFileSync(specFile, 'utf8')));
  // the same standardised data and split as the engine's run, written for the PyTorch script
  const data = await loadDataset(spec.dataset, spec.datasetOptions);
  const dump = (name: string, t: tf.Tensor, dtype: 'f4' | 'i8'): void => {
    const v = t.dataSync();
    const arr = dtype === 'f4' ? Float32Array.from(v) : BigInt64Array.from(Array.from(v, (x) => BigInt(x)));
    writeFileSync(join(dir, `${name}.npy`), npy(arr, t.shape));
  };
  for (const [k, s] of [
    ['train', data.train],
    ['val', data.validation],
    ['test', data.test],
  ] as const) {
    dump(`${k}_x`, s.x, 'f4');
    dump(`${k}_y`, s.y, 'i8');
  }
  data.dispose();
  const hidden = String((spec.model as { hidden: number[] }).hidden[0]);
  let finals = '';
  const row = await interleave(
    `whole experiment (examples/quick.json: H=${hidden}, E=${spec.source.train.epochs}, T=${spec.transfer.T}, 4 methods)`,
    1,
    reps,
    () => {
      const out = join(dir, `lab-${Date.now()}`);
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'run', specFile, '--out', out],
        {
          cwd: ROOT,
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        },
      );
      const s = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`npm run lab failed: ${r.stderr.trim().split('\n').pop()}`);
      finals = `lab: ${r.stdout
        .split('\n')
        .filter((l) => /naive|oracle|gmt|fgmt/i.test(l))
        .map((l) => l.trim().replace(/\s+/g, ' '))
        .slice(-4)
        .join('; ')}`;
      return { s };
    },
    () => {
      const t0 = performance.now();
      const o = py([
        here('./experiment_torch.py'),
        '--data',
        dir,
        '--hidden',
        hidden,
        '--threads',
        torchThreads,
      ]) as { methods: Record<string, { testAccuracy: number }> };
      finals += ` | PyTorch test acc: ${Object.entries(o.methods)
        .map(([k, v]) => `${k} ${(100 * v.testAccuracy).toFixed(1)}`)
        .join(', ')}`;
      return { s: (performance.now() - t0) / 1000 };
    },
  );
  row.note = finals;
  return row;
}

function tableLine(r: Row): string[] {
  const ratios = r.engine.map((e, i) => e / r.base[i]);
  // the similarity floor is a time, the others are ratios
  const isTime = r.work.includes('similarity');
  const v = isTime ? median(r.engine) : median(ratios);
  const range = (xs: number[], f: (x: number) => string): string =>
    `${f(median(xs))} [${f(Math.min(...xs))}–${f(Math.max(...xs))}]`;
  return [
    r.work,
    range(r.engine, fmt),
    range(r.base, fmt),
    range(ratios, (x) => x.toFixed(2)),
    r.floor === null ? '-' : isTime ? `≤ ${r.floor} s` : `≤ ${r.floor}`,
    r.floor === null ? '-' : v <= r.floor ? 'yes' : 'NO',
    range(r.loads, (x) => x.toFixed(1)),
    String(r.engine.length),
  ];
}

function printRows(rows: Row[], engineThreads: string, torchThreads: string): void {
  console.log(
    `\nFloors of issue 9 (engine: ${engineThreads}; baseline: PyTorch 1.13 / scipy, ${torchThreads} thread${torchThreads === '1' ? '' : 's'}; ${availableParallelism()} cores)`,
  );
  console.log('ratio = engine time ÷ baseline time, median of the interleaved pairs [min–max]\n');
  const head = [
    'work',
    'engine median [min–max]',
    'baseline median [min–max]',
    'ratio [min–max]',
    'floor',
    'holds',
    'load [min–max]',
    'pairs',
  ];
  const out = rows.map(tableLine);
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of out) console.log(`| ${r.join(' | ')} |`);
  for (const r of rows) if (r.note) console.log(`  ${r.work}: ${r.note}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchFloors({ quick: process.argv.includes('--quick') });
}
