import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { disposeParams } from '../../src/core/params.js';
import { lambdas, linearTrajectory } from '../../src/core/trajectory.js';

before(async () => {
  await tf.setBackend('cpu');
});

test('cosine λ for T = 10 are the authors’ values', () => {
  const expected = [0, 0.182, 0.359, 0.524, 0.668, 0.787, 0.878, 0.941, 0.978, 0.996, 1];
  const got = lambdas(10, 'cosine');
  assert.equal(got.length, 11);
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i]) < 5e-4, `λ_${i} = ${v}, expected ${expected[i]}`),
  );
});

test('uniform λ are k/T and both schedules are monotone from 0 to 1', () => {
  assert.deepEqual(lambdas(4, 'uniform'), [0, 0.25, 0.5, 0.75, 1]);
  for (const s of ['cosine', 'uniform'] as const) {
    for (const T of [1, 2, 5, 30]) {
      const l = lambdas(T, s);
      assert.equal(l[0], 0);
      assert.equal(l[T], 1);
      for (let i = 1; i <= T; i++) assert.ok(l[i] > l[i - 1], `${s} T=${T} not increasing at ${i}`);
    }
  }
  assert.throws(() => lambdas(0, 'cosine'), /positive integer/);
});

test('a linear trajectory interpolates the end points and leaks nothing', () => {
  const start = { w: tf.tensor1d([0, 10]) };
  const end = { w: tf.tensor1d([1, 20]) };
  const before = tf.memory().numTensors;
  const traj = linearTrajectory(start, end, 4, 'uniform');
  const mid = traj.at(2);
  assert.deepEqual(Array.from(mid.w.dataSync()), [0.5, 15]);
  disposeParams(mid);
  const last = traj.at(4);
  assert.deepEqual(Array.from(last.w.dataSync()), [1, 20]);
  disposeParams(last);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([start.w, end.w]);
});
