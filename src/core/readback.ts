import * as tf from '@tensorflow/tfjs';

/**
 * Every host read of tensor values in the engine goes through here, and it is asynchronous.
 *
 * Why: the webgpu backend cannot read synchronously in Node. tfjs-backend-webgpu implements
 * `dataSync`/`readSync` by drawing into an OffscreenCanvas, which Node lacks, so a single
 * `dataSync()` on a hot path (the loss every few steps, an evaluation, a similarity matrix) stops a
 * run with "OffscreenCanvas is not defined". `data()` maps a staging buffer instead. On cpu, wasm
 * and tensorflow the async read returns the very values the sync one would, so their results do
 * not change.
 */
export function readValues(t: tf.Tensor): Promise<tf.TypedArray> {
  return t.data() as Promise<tf.TypedArray>;
}

/**
 * Reads several scalars with one device round trip (each read waits for the queue, so on a GPU
 * one read of a stacked vector costs what one scalar does). The inputs stay the caller's.
 */
export async function readScalars(scalars: tf.Tensor[]): Promise<number[]> {
  if (scalars.length === 1) return [(await scalars[0].data())[0]];
  const both = tf.stack(scalars);
  try {
    return Array.from(await both.data());
  } finally {
    both.dispose();
  }
}
