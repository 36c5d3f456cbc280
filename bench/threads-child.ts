/**
 * Child of bench/floors.ts (row `threads`): the wasm backend with TRAJECTORY_LAB_WASM_THREADS
 * threads, timing a 1024³ matMul and a 2-MLP 784-4096-10 training step (median of 5 after 2
 * warm-ups each). Prints one JSON object.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/backend.js';
import { mlp, trainSteps } from './training.js';

const info = await initBackend('wasm');
const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 1);
const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 2);
const ts: number[] = [];
for (let r = 0; r < 7; r++) {
  const t0 = performance.now();
  const c = tf.matMul(a, b);
  c.dataSync();
  c.dispose();
  if (r >= 2) ts.push((performance.now() - t0) / 1000);
}
ts.sort((x, y) => x - y);
const stepsPerSec = await trainSteps(mlp(4096), 2, 5);
console.log(JSON.stringify({ threads: info.threads, matmul: ts[2], step: 1 / stepsPerSec }));
