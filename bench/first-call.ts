/**
 * Child of bench/floors.ts: the exact assignment solver's first call in a fresh process (what a
 * one-shot weight matching or the first FGMT step pays), then the median of 3 warm calls, on one
 * float64 .npy matrix. Prints one JSON object.
 */
import { readFileSync } from 'node:fs';
import { linearSumAssignment } from '../src/core/assignment.js';

const file = process.argv[2];
const buf = readFileSync(file);
const headerLen = buf.readUInt16LE(8);
const header = buf.toString('latin1', 10, 10 + headerLen);
const n = Number(/\((\d+),/.exec(header)![1]);
const body = buf.subarray(10 + headerLen);
const a = new Float64Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
const objective = (col: Int32Array): number => {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i * n + col[i]];
  return s;
};
let t0 = performance.now();
const col = linearSumAssignment(a, n, n, { maximize: true });
const first = (performance.now() - t0) / 1000;
const warm: number[] = [];
for (let r = 0; r < 3; r++) {
  t0 = performance.now();
  linearSumAssignment(a, n, n, { maximize: true });
  warm.push((performance.now() - t0) / 1000);
}
warm.sort((x, y) => x - y);
console.log(JSON.stringify({ first, warm: warm[1], objective: objective(col) }));
