/**
 * Child process of test/core/wasm-threads.test.ts: starts the wasm backend with the thread count in
 * TRAJECTORY_LAB_WASM_THREADS, computes a large matMul and an MLP's gradients (big enough for
 * XNNPACK to split the work across threads), prints them as JSON and returns without calling
 * process.exit, so a pool that keeps the process alive shows up as a hang.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/core/backend.js';
import { softmaxCrossEntropy } from '../../src/core/evaluate.js';
import { rng } from '../../src/core/random.js';

function randn(shape: number[], seed: number): tf.Tensor {
  const r = rng(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = r.normal();
  return tf.tensor(data, shape, 'float32');
}

const info = await initBackend('wasm');
const before = tf.memory().numTensors;
const out = tf.tidy(() => {
  const a = randn([256, 384], 1);
  const b = randn([384, 320], 2);
  const x = randn([64, 784], 3);
  const y = tf.tensor1d(
    Array.from({ length: 64 }, (_, i) => i % 10),
    'int32',
  );
  const w1 = tf.mul(randn([784, 256], 4), 0.05);
  const b1 = tf.mul(randn([256], 5), 0.05);
  const w2 = tf.mul(randn([256, 10], 6), 0.05);
  const grads = tf.grads((p1: tf.Tensor, q1: tf.Tensor, p2: tf.Tensor) =>
    softmaxCrossEntropy(
      tf.matMul(tf.relu(tf.add(tf.matMul(x, p1), q1)) as tf.Tensor2D, p2 as tf.Tensor2D) as tf.Tensor2D,
      y,
    ),
  )([w1, b1, w2]);
  return [tf.matMul(a, b), ...grads];
});
const values = out.map((t) => Array.from(t.dataSync()));
tf.dispose(out);
console.log(
  JSON.stringify({
    threads: info.threads,
    notes: info.notes,
    leaked: tf.memory().numTensors - before,
    values,
  }),
);
