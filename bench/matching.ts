/**
 * GMT and FGMT on a mid-size MLP, timed by phase (the methods' own timing: 'matching' = similarity
 * matrices + assignment, 'gradients' = the gradient pairs). Synthetic images and a linear
 * trajectory between two initialisations: the work per step is that of a real run, the accuracies
 * mean nothing.
 *
 *   npx tsx bench/matching.ts [--hidden 1024,1024] [--T 5] [--batch 128] [--methods gmt,fgmt] [--dense]
 *
 * `--dense` matches full gradient tensors instead of the dense kernels' low-rank factors (the
 * reference path). Prints one JSON line per method.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/backend.js';
import type { Dataset, Split } from '../src/core/data/dataset.js';
import { METHODS, runMethod } from '../src/core/methods/index.js';
import { buildModel } from '../src/core/models/index.js';
import { disposeParams } from '../src/core/params.js';
import { rng } from '../src/core/random.js';
import { linearTrajectory } from '../src/core/trajectory.js';

const arg = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
};
const hidden = arg('hidden', '1024,1024').split(',').map(Number);
const T = Number(arg('T', '5'));
const batchSize = Number(arg('batch', '128'));
const methods = arg('methods', 'gmt,fgmt').split(',') as (keyof typeof METHODS)[];
const dense = process.argv.includes('--dense');

function split(n: number, seed: number): Split {
  const r = rng(seed);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = r.normal();
  const y = Int32Array.from({ length: n }, () => r.int(10));
  return { x: tf.tensor4d(x, [n, 28, 28, 1]), y: tf.tensor1d(y, 'int32'), n };
}

const info = await initBackend('wasm');
const model = buildModel({ arch: 'mlp', hidden }, [28, 28, 1], 10);
const data = { train: split(2048, 1), validation: split(256, 2), test: split(256, 3) } as Dataset;
const start = model.init(1);
const end = model.init(2);
const theta20 = model.init(3);
const trajectory = linearTrajectory(start, end, T, 'cosine');
for (const m of methods) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const run = await runMethod(METHODS[m], {
    model,
    data,
    trajectory,
    theta20,
    options: {
      batchSize,
      gradBatches: 1,
      seed: 1,
      matchTolerance: 1e-7,
      matchMaxIter: 100,
      evalLimit: 0,
      lowRankGradients: !dense,
    },
  });
  const cpu = process.cpuUsage(c0);
  disposeParams(run.final);
  const phases = Object.fromEntries(Object.entries(run.result.phases).map(([k, v]) => [k, +v.toFixed(2)]));
  console.log(
    JSON.stringify({
      method: m,
      model: model.describe,
      T,
      batchSize,
      path: dense ? 'dense' : 'low-rank',
      backend: `${info.name} ${info.threads} thread(s)`,
      seconds: +((performance.now() - t0) / 1000).toFixed(2),
      cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
      phases,
    }),
  );
}
