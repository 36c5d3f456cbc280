import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/core/backend.js';
import { lowRankGradient } from './src/core/evaluate.js';
import { buildModel } from './src/core/models/index.js';
import { WeightMatcher } from './src/core/weight-matching.js';
await initBackend('wasm');
const H = Number(process.argv[2] ?? 4096);
const model = buildModel({ arch: 'mlp', hidden: [H] }, [28, 28, 1], 10);
const x = tf.randomNormal([128, 28, 28, 1]) as tf.Tensor4D;
const y = tf.tensor1d(Array.from({ length: 128 }, (_, i) => i % 10), 'int32');
const t1 = model.init(1), t2 = model.init(2);
const g1 = lowRankGradient(model, t1, x, y), g2 = lowRankGradient(model, t2, x, y);
const cpu = (f: () => void, reps = 3) => {
  f();
  const w: number[] = [], c: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage(); const t0 = performance.now();
    f();
    w.push(performance.now() - t0); const cu = process.cpuUsage(c0); c.push((cu.user + cu.system) / 1000);
  }
  return `wall ${w.map((v) => v.toFixed(0)).join('/')} ms, cpu ${c.map((v) => v.toFixed(0)).join('/')} ms`;
};
const m = new WeightMatcher(model.permSpec);
console.log('addPair', cpu(() => m.addPair(g2, g1)));
const a = tf.randomNormal([139, H]) as tf.Tensor2D, b = tf.randomNormal([139, H]) as tf.Tensor2D;
console.log('matMul tA [139,H]', cpu(() => tf.matMul(a, b, true, false).dispose()));
const at = tf.transpose(a) as tf.Tensor2D;
console.log('matMul [H,139]x[139,H]', cpu(() => tf.matMul(at, b).dispose()));
const big = tf.randomNormal([H, H]), big2 = tf.randomNormal([H, H]);
console.log('add HxH', cpu(() => tf.add(big, big2).dispose()));
console.log('transpose [139,H]', cpu(() => tf.transpose(a).dispose()));
console.log('grad', cpu(() => { const g = lowRankGradient(model, t1, x, y); Object.values(g).forEach((v: any) => v instanceof tf.Tensor ? v.dispose() : tf.dispose([v.x, v.d])); }));
