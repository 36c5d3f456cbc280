import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/core/backend.js';
import { evaluate } from './src/core/evaluate.js';
import { buildModel } from './src/core/models/index.js';
await initBackend('wasm');
const model = buildModel({ arch: 'mlp', hidden: [512] }, [28, 28, 1], 10);
const p = model.init(1);
const n = 6000, bs = Number(process.argv[2] ?? 1024);
const batches = [];
for (let s = 0; s < n; s += bs) { const e = Math.min(n, s + bs); batches.push({ x: tf.randomNormal([e - s, 28, 28, 1]) as tf.Tensor4D, y: tf.zeros([e - s], 'int32') as tf.Tensor1D, size: e - s }); }
const split = { x: tf.zeros([1, 28, 28, 1]) as tf.Tensor4D, y: tf.zeros([1], 'int32') as tf.Tensor1D, n, batches };
const cpu = async (name: string, f: () => Promise<unknown> | unknown, reps = 5) => {
  await f();
  const w: number[] = [], c: number[] = [];
  for (let i = 0; i < reps; i++) { const c0 = process.cpuUsage(); const t0 = performance.now(); await f(); w.push(performance.now() - t0); const cu = process.cpuUsage(c0); c.push((cu.user + cu.system) / 1000); }
  console.log(name, `wall ${w.map((v) => v.toFixed(0)).join('/')} ms, cpu ${c.map((v) => v.toFixed(0)).join('/')} ms`);
};
await cpu('evaluate', () => evaluate(model, p, split));
const k = p['fc1.kernel'] as tf.Tensor2D;
const xs = batches.map((b) => tf.reshape(b.x, [b.size, 784]) as tf.Tensor2D);
await cpu('matmuls only', () => { for (const x of xs) tf.matMul(x, k).dispose(); });
await cpu('fc1 fused relu', () => { for (const x of xs) tf.fused.matMul({ a: x, b: k, bias: p['fc1.bias'], activation: 'relu' }).dispose(); });
await cpu('forward', () => { for (const b of batches) tf.tidy(() => model.apply(p, b.x)); });
