/**
 * Training speed: the paper's 2-MLP (784→4096→10, ReLU), batch 128, SGD momentum 0.9, through
 * trainModel on the chosen backend, against PyTorch on the CPU (bench/train_torch.py, one thread
 * and PyTorch's default) measured in the same run. Also: what the wasm kernel repairs are worth
 * (a 1024³ matMul in each transpose form and the training step, with and without them), the cpu
 * backend for reference, and where a step's time goes.
 *
 * Timings on a shared machine are noisy; nothing here fails on a timing.
 *
 * Run: npx tsx -e "import('./bench/training.ts').then(m => m.benchTraining({ quick: false }))"
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/core/backend.js';
import type { Dataset, Split } from '../src/core/data/dataset.js';
import { softmaxCrossEntropy } from '../src/core/evaluate.js';
import type { Model } from '../src/core/models/model.js';
import { disposeParams, type Params } from '../src/core/params.js';
import { rng } from '../src/core/random.js';
import type { BackendChoice, TrainSpec } from '../src/shared/domain/index.js';
import { sgdStep, trainModel } from '../src/core/train.js';
import { useWasmKernelRepairs } from '../src/core/wasm-kernels.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./train_torch.py', import.meta.url));
const BATCH = 128;
const HIDDEN = 4096;
const SHAPE: [number, number, number] = [28, 28, 1];

/** The 2-MLP written out here so the bench runs whatever the models module looks like. */
function mlp(): Model {
  const inDim = 784;
  const params = [
    { name: 'fc1.kernel', shape: [inDim, HIDDEN], fanIn: inDim },
    { name: 'fc1.bias', shape: [HIDDEN], fanIn: inDim },
    { name: 'fc2.kernel', shape: [HIDDEN, 10], fanIn: HIDDEN },
    { name: 'fc2.bias', shape: [10], fanIn: HIDDEN },
  ];
  return {
    arch: { arch: 'mlp', hidden: [HIDDEN] },
    describe: `MLP 784-${HIDDEN}-10`,
    inputShape: SHAPE,
    classes: 10,
    params,
    permSpec: {} as Model['permSpec'],
    apply: (p, x) =>
      tf.tidy(() => {
        const h = tf.relu(
          tf.add(
            tf.matMul(tf.reshape(x, [x.shape[0], inDim]) as tf.Tensor2D, p['fc1.kernel'] as tf.Tensor2D),
            p['fc1.bias'],
          ),
        );
        return tf.add(
          tf.matMul(h as tf.Tensor2D, p['fc2.kernel'] as tf.Tensor2D),
          p['fc2.bias'],
        ) as tf.Tensor2D;
      }),
    init: (seed) => {
      const out: Params = {};
      params.forEach((p, i) => {
        const size = p.shape.reduce((a, b) => a * b, 1);
        const bound = 1 / Math.sqrt(p.fanIn);
        out[p.name] = tf.tensor(rng(seed + i).uniform(new Float32Array(size), -bound, bound), p.shape);
      });
      return out;
    },
  };
}

function syntheticSplit(n: number, seed: number): Split {
  const r = rng(seed);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = r.normal();
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = r.int(10);
  return { x: tf.tensor4d(x, [n, ...SHAPE]), y: tf.tensor1d(y, 'int32'), n };
}

function syntheticData(steps: number): Dataset {
  const train = syntheticSplit(BATCH * steps, 1);
  const val = syntheticSplit(BATCH, 2);
  return {
    name: 'synthetic',
    inputShape: SHAPE,
    classes: 10,
    classNames: [...Array(10).keys()].map(String),
    train,
    validation: val,
    test: val,
    mean: [0],
    std: [1],
    contentHash: 'synthetic',
    trainClassCounts: [],
    dispose: () => tf.dispose([train.x, train.y, val.x, val.y]),
  };
}

const SPEC: TrainSpec = {
  epochs: 1,
  batchSize: BATCH,
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 0,
  lrSchedule: 'constant',
};

/** Steps per second of trainModel, timed between progress reports after `warmup` steps. */
async function trainSteps(model: Model, warmup: number, steps: number): Promise<number> {
  const data = syntheticData(warmup + steps);
  const init = model.init(0);
  let tStart = 0;
  let tEnd = 0;
  const res = await trainModel(model, init, data, SPEC, {
    progressEvery: 1,
    evalLimit: BATCH,
    onProgress: (done) => {
      if (done === warmup) tStart = performance.now();
      if (done === warmup + steps) tEnd = performance.now();
    },
  });
  disposeParams(res.final);
  disposeParams(init);
  data.dispose();
  return (steps * 1000) / (tEnd - tStart);
}

/** The fastest of `reps` runs after one warm-up: the least disturbed by other load. */
function timeMs(fn: () => tf.Tensor | tf.Tensor[], reps: number): number {
  tf.dispose(fn());
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = fn();
    (Array.isArray(out) ? out[0] : out).dataSync();
    best = Math.min(best, performance.now() - t0);
    tf.dispose(out);
  }
  return best;
}

const MATMUL_FORMS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

function matmulTable(
  reps: number,
  forms: readonly (readonly [boolean, boolean])[] = MATMUL_FORMS,
): Record<string, number> {
  const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 1) as tf.Tensor2D;
  const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 2) as tf.Tensor2D;
  const out: Record<string, number> = {};
  for (const [ta, tb] of forms) {
    out[`${ta ? 'Aᵀ' : 'A'}·${tb ? 'Bᵀ' : 'B'}`] = timeMs(() => tf.matMul(a, b, ta, tb), reps);
  }
  tf.dispose([a, b]);
  return out;
}

/**
 * forward, forward+backward and the whole step on one fixed minibatch, run in rotation and each
 * taken at its fastest, so that load from other processes does not land on one part only
 */
function breakdown(model: Model, reps: number): { forward: number; backward: number; update: number } {
  const names = model.params.map((p) => p.name);
  const init = model.init(0);
  const theta = names.map((n) => init[n]);
  const data = syntheticSplit(BATCH, 3);
  const x = data.x as tf.Tensor4D;
  const y = data.y as tf.Tensor1D;
  const hp = { lr: 0.01, momentum: 0.9, weightDecay: 0 };
  const bufs = tf.tidy(() => theta.map((t) => tf.zerosLike(t)));
  const parts = [
    () => tf.tidy(() => softmaxCrossEntropy(model.apply(init, x), y)),
    () =>
      tf.tidy(() =>
        tf.grads((...ps: tf.Tensor[]) =>
          softmaxCrossEntropy(model.apply(Object.fromEntries(names.map((n, i) => [n, ps[i]])), x), y),
        )(theta),
      ),
    () => tf.tidy(() => sgdStep(model, names, theta, bufs, x, y, hp).theta),
  ];
  const best = parts.map(() => Infinity);
  for (let r = 0; r < reps; r++) parts.forEach((fn, i) => (best[i] = Math.min(best[i], timeMs(fn, 1))));
  tf.dispose([...theta, ...bufs, x, y]);
  return { forward: best[0], backward: best[1] - best[0], update: best[2] - best[1] };
}

async function kernelProfile(model: Model): Promise<[string, number, number][]> {
  const names = model.params.map((p) => p.name);
  const init = model.init(0);
  const theta = names.map((n) => init[n]);
  const data = syntheticSplit(BATCH, 4);
  const bufs = tf.tidy(() => theta.map((t) => tf.zerosLike(t)));
  const run = () =>
    tf.tidy(
      () =>
        sgdStep(model, names, theta, bufs, data.x, data.y, { lr: 0.01, momentum: 0.9, weightDecay: 0 }).theta,
    );
  tf.dispose(run());
  const info = await tf.profile(() => run());
  const by = new Map<string, [number, number]>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const key =
      k.name === 'BatchMatMul' ? `BatchMatMul ${k.inputShapes.map((s) => `[${s}]`).join('×')}` : k.name;
    const [t, c] = by.get(key) ?? [0, 0];
    by.set(key, [t + ms, c + 1]);
  }
  tf.dispose(info.result as tf.Tensor[]);
  tf.dispose([...theta, ...bufs, data.x, data.y]);
  return [...by.entries()]
    .map(([k, [t, c]]): [string, number, number] => [k, t, c])
    .sort((a, b) => b[1] - a[1]);
}

/** One 3×3 'same' conv layer's three kernels, on the current backend's registered kernels. */
function convKernels(batch: number, reps: number, withFilterGrad: boolean): Record<string, number> {
  const [h, c] = [16, 128];
  const x = tf.randomNormal([batch, h, h, c], 0, 1, 'float32', 1) as tf.Tensor4D;
  const dy = tf.randomNormal([batch, h, h, c], 0, 1, 'float32', 2) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, c, c], 0, 0.1, 'float32', 3) as tf.Tensor4D;
  const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC' };
  const out: Record<string, number> = {
    Conv2D: timeMs(() => tf.conv2d(x, w, 1, 'same'), reps),
    Conv2DBackpropInput: timeMs(
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy, filter: w },
            { ...attrs, inputShape: x.shape },
          ) as tf.Tensor,
      reps,
    ),
  };
  if (withFilterGrad) {
    out.Conv2DBackpropFilter = timeMs(
      () =>
        tf
          .engine()
          .runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape }) as tf.Tensor,
      reps,
    );
  }
  tf.dispose([x, dy, w]);
  return out;
}

interface TorchResult {
  torch: string;
  threads: number;
  stepsPerSec: number;
  forwardMs: number;
  backwardMs: number;
  updateMs: number;
  matmul1024Ms: number;
}

function runTorch(threads: number, steps: number): TorchResult | string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return `PyTorch is not importable by ${PYTHON} (${(probe.stderr || '').trim().split('\n').pop()})`;
  const res = spawnSync(
    PYTHON,
    [SCRIPT, '--threads', String(threads), '--steps', String(steps), '--hidden', String(HIDDEN)],
    {
      encoding: 'utf8',
      timeout: 600_000,
    },
  );
  if (res.status !== 0)
    return `train_torch.py failed: ${(res.stderr || res.error?.message || '').trim().split('\n').pop()}`;
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as TorchResult;
}

const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '—');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '—');
const gflops = (ms: number): string => f1((2 * 1024 ** 3) / (ms * 1e6));

export async function benchTraining(opts: { quick: boolean }): Promise<void> {
  const steps = opts.quick ? 8 : 30;
  const model = mlp();
  const stepGflop = (3 * 2 * BATCH * (784 * HIDDEN + HIDDEN * 10)) / 1e9;
  console.log(
    `\n== Training: 2-MLP 784-${HIDDEN}-10, batch ${BATCH}, SGD momentum 0.9 (~${stepGflop.toFixed(2)} GFLOP per step) ==`,
  );

  const choice = (process.env.TRAJECTORY_LAB_BACKEND as BackendChoice | undefined) ?? 'auto';
  const info = await initBackend(choice);
  console.log(describeBackend(info));
  for (const n of info.notes) console.log(`  note: ${n}`);

  const rows: [string, number][] = [];
  const main = await trainSteps(model, 3, steps);
  rows.push([`tfjs ${info.name} (trainModel)`, main]);

  if (info.name === 'wasm') {
    const fixed = matmulTable(opts.quick ? 2 : 4);
    useWasmKernelRepairs(false);
    // as shipped, a transposed 1024³ product takes seconds: quick runs time the two that backprop uses
    const orig = matmulTable(1, opts.quick ? MATMUL_FORMS.slice(0, 3) : MATMUL_FORMS);
    const before = await trainSteps(model, 1, opts.quick ? 1 : 4);
    useWasmKernelRepairs(true);
    console.log('\n1024³ matMul on wasm (ms; GFLOP/s):   tfjs-backend-wasm as shipped → with the repair');
    for (const k of Object.keys(orig)) {
      console.log(
        `  ${k.padEnd(6)} ${f1(orig[k]).padStart(8)} ms (${gflops(orig[k]).padStart(5)}) → ${f1(fixed[k]).padStart(7)} ms (${gflops(fixed[k]).padStart(5)})  ×${f1(orig[k] / fixed[k])}`,
      );
    }
    console.log(
      `  training step: ${f2(before)} steps/s as shipped → ${f2(main)} steps/s repaired (×${f1(main / before)})`,
    );

    const convBatch = opts.quick ? 8 : 32;
    useWasmKernelRepairs(false);
    const convOrig = convKernels(convBatch, 1, false);
    useWasmKernelRepairs(true);
    const convFixed = convKernels(convBatch, opts.quick ? 2 : 3, true);
    const convGflop = (2 * convBatch * 16 * 16 * 9 * 128 * 128) / 1e9;
    console.log(
      `\nconv 3×3 128→128 on 16×16, batch ${convBatch} (${convGflop.toFixed(2)} GFLOP each), ms as shipped → repaired`,
    );
    for (const k of Object.keys(convFixed)) {
      const before = convOrig[k];
      const shipped = before === undefined ? '  missing' : `${f1(before).padStart(9)}`;
      const speed = (ms: number) => `${f1(convGflop / (ms / 1000))} GFLOP/s`;
      console.log(`  ${k.padEnd(22)} ${shipped} → ${f1(convFixed[k]).padStart(7)} (${speed(convFixed[k])})`);
    }
  }

  const parts = breakdown(model, opts.quick ? 4 : 8);
  const kernels = await kernelProfile(model);

  if (info.name !== 'cpu') {
    await initBackend('cpu');
    const cpu = await trainSteps(model, 1, 1);
    rows.push(['tfjs cpu (reference, 1 step)', cpu]);
    await initBackend(choice);
  }

  const torchRows: TorchResult[] = [];
  for (const threads of [1, 0]) {
    const r = runTorch(threads, steps);
    if (typeof r === 'string') {
      console.log(`\nPyTorch baseline skipped: ${r}`);
      break;
    }
    torchRows.push(r);
    rows.push([
      `PyTorch ${r.torch} CPU, ${threads === 0 ? `default threads (${r.threads})` : '1 thread'}`,
      r.stepsPerSec,
    ]);
  }

  console.log('\nsteps/s');
  const torch1 = torchRows[0]?.stepsPerSec;
  for (const [name, sps] of rows) {
    const ratio = torch1 ? `  ${f2(sps / torch1)}× PyTorch 1-thread` : '';
    console.log(`  ${name.padEnd(44)} ${f2(sps).padStart(7)}${ratio}`);
  }
  if (torchRows[1])
    console.log(`  ${info.name} / PyTorch default threads: ${f2(main / torchRows[1].stepsPerSec)}×`);

  console.log(
    `\nwhere a step goes (${info.name}, ms): forward ${f1(parts.forward)}, backward ${f1(parts.backward)}, update ${f1(parts.update)}`,
  );
  if (torchRows[0]) {
    const t = torchRows[0];
    console.log(
      `  PyTorch 1 thread (ms):        forward ${f1(t.forwardMs)}, backward ${f1(t.backwardMs)}, update ${f1(t.updateMs)}; 1024³ matMul ${f1(t.matmul1024Ms)} ms (${gflops(t.matmul1024Ms)} GFLOP/s)`,
    );
  }
  const total = kernels.reduce((a, k) => a + k[1], 0);
  console.log(`  kernels of one step (tf.profile, ${f1(total)} ms in kernels):`);
  for (const [k, ms, count] of kernels.slice(0, 8)) {
    console.log(`    ${k.padEnd(40)} ${f1(ms).padStart(7)} ms ${count > 1 ? `(${count} calls)` : ''}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchTraining({ quick: process.argv.includes('--quick') });
}
