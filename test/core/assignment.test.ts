import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assignmentWithDuals,
  linearSumAssignment,
  type AssignmentOptions,
  type AssignmentSolution,
} from '../../src/core/assignment.js';
import { rng, type Rng } from '../../src/core/random.js';

type Matrix = Float64Array | Float32Array;

/** Every injective row → column map (or column → row when tall), by brute force. */
function bruteForceOptimum(c: Matrix, nRows: number, nCols: number, maximize: boolean): number {
  const tall = nRows > nCols;
  const n = tall ? nCols : nRows;
  const m = tall ? nRows : nCols;
  const at = (i: number, j: number): number => (tall ? c[j * nCols + i] : c[i * nCols + j]);
  const used = new Uint8Array(m);
  let best = maximize ? -Infinity : Infinity;
  const rec = (i: number, acc: number): void => {
    if (i === n) {
      if (maximize ? acc > best : acc < best) best = acc;
      return;
    }
    for (let j = 0; j < m; j++) {
      if (used[j]) continue;
      used[j] = 1;
      rec(i + 1, acc + at(i, j));
      used[j] = 0;
    }
  };
  rec(0, 0);
  return n === 0 ? 0 : best;
}

/**
 * The textbook O(n²m) Hungarian algorithm with potentials (minimisation, n ≤ m), written plainly
 * as an independent reference.
 */
function hungarianReference(c: Matrix, n: number, m: number): number {
  const u = new Array<number>(n + 1).fill(0);
  const v = new Array<number>(m + 1).fill(0);
  const p = new Array<number>(m + 1).fill(0);
  const way = new Array<number>(m + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Array<number>(m + 1).fill(Infinity);
    const used = new Array<boolean>(m + 1).fill(false);
    do {
      used[j0] = true;
      const i0 = p[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = c[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  let total = 0;
  for (let j = 1; j <= m; j++) if (p[j] !== 0) total += c[(p[j] - 1) * m + (j - 1)];
  return total;
}

/**
 * Checks the solution is a valid assignment whose total is what it claims, and that its duals
 * certify optimality: feasible everywhere, tight on the assignment, sign conditions on the longer
 * side, Σu + Σv = total. Returns the total.
 */
function checkSolution(
  c: Matrix,
  nRows: number,
  nCols: number,
  maximize: boolean,
  s: AssignmentSolution,
): number {
  const { rowToCol, colToRow, u, v } = s;
  assert.equal(rowToCol.length, nRows);
  assert.equal(colToRow.length, nCols);
  let assigned = 0;
  let total = 0;
  let scale = 1;
  for (let k = 0; k < c.length; k++) scale = Math.max(scale, Math.abs(c[k]));
  for (let i = 0; i < nRows; i++) {
    const j = rowToCol[i];
    if (j < 0) continue;
    assert.ok(j < nCols, `row ${i} → column ${j} out of range`);
    assert.equal(colToRow[j], i, `colToRow disagrees at column ${j}`);
    assigned++;
    total += c[i * nCols + j];
  }
  assert.equal(assigned, Math.min(nRows, nCols), 'every row of the shorter side is assigned');
  for (let j = 0; j < nCols; j++) if (colToRow[j] >= 0) assert.equal(rowToCol[colToRow[j]], j);
  assert.ok(Math.abs(total - s.total) <= 1e-9 * scale * Math.max(1, assigned), 'total');

  const tol = 1e-9 * scale;
  const sgn = maximize ? -1 : 1; // work with sgn·(c − u − v) ≥ 0
  let dualSum = 0;
  for (let i = 0; i < nRows; i++) {
    dualSum += u[i];
    if (rowToCol[i] < 0) assert.equal(u[i], 0, `unassigned row ${i} has dual 0`);
    if (nRows > nCols) assert.ok(sgn * u[i] <= tol, `row dual sign at ${i}`);
    for (let j = 0; j < nCols; j++) {
      const slack = sgn * (c[i * nCols + j] - u[i] - v[j]);
      // (messages built only on failure: this loop runs for every entry)
      if (slack < -tol) assert.fail(`dual infeasible at (${i}, ${j}): slack ${slack}`);
      if (rowToCol[i] === j && Math.abs(slack) > tol) assert.fail(`not tight at (${i}, ${j}): ${slack}`);
    }
  }
  for (let j = 0; j < nCols; j++) {
    dualSum += v[j];
    if (colToRow[j] < 0) assert.equal(v[j], 0, `unassigned column ${j} has dual 0`);
    if (nCols > nRows) assert.ok(sgn * v[j] <= tol, `column dual sign at ${j}`);
  }
  assert.ok(Math.abs(dualSum - total) <= tol * Math.max(1, nRows + nCols), 'dual objective = primal');
  return total;
}

function randomMatrix(r: Rng, len: number, kind: 'int' | 'float' | 'neg'): Float64Array {
  const c = new Float64Array(len);
  for (let k = 0; k < len; k++) {
    if (kind === 'int')
      c[k] = r.int(4); // many ties
    else if (kind === 'float') c[k] = r.next();
    else c[k] = 200 * r.next() - 100;
  }
  return c;
}

const STRATEGIES: AssignmentOptions[] = [
  {},
  { strategy: 'dense' },
  { strategy: 'sparse', sparseK: 2 },
  { strategy: 'sparse', sparseK: 3 },
  { strategy: 'auction' },
];

test('matches brute force on small matrices (square, wide, tall; ties, floats, negatives)', () => {
  const r = rng(11);
  let cases = 0;
  for (let trial = 0; trial < 1500; trial++) {
    const nRows = 1 + r.int(7);
    const shape = r.int(3);
    const nCols =
      shape === 0
        ? nRows
        : shape === 1
          ? Math.min(7, nRows + 1 + r.int(2))
          : Math.max(1, nRows - 1 - r.int(2));
    const kind = (['int', 'float', 'neg'] as const)[r.int(3)];
    const maximize = r.int(2) === 1;
    const c = randomMatrix(r, nRows * nCols, kind);
    const copy = c.slice();
    const best = bruteForceOptimum(c, nRows, nCols, maximize);
    for (const o of STRATEGIES) {
      const s = assignmentWithDuals(c, nRows, nCols, { ...o, maximize });
      const total = checkSolution(c, nRows, nCols, maximize, s);
      assert.ok(
        Math.abs(total - best) <= 1e-9 * 100,
        `${nRows}×${nCols} ${kind} max=${maximize}: ${total} vs ${best}`,
      );
      cases++;
    }
    assert.deepEqual(c, copy, 'input unchanged');
  }
  assert.equal(cases, 7500);
});

test('recovers planted permutations exactly', () => {
  const r = rng(12);
  for (const n of [1, 2, 3, 17, 64, 65, 100, 256, 512]) {
    for (const maximize of [false, true]) {
      const p = r.permutation(n);
      // Row i prefers column p[i] by a margin no off-diagonal noise can close.
      const c = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) c[i * n + j] = 1 + r.next();
        c[i * n + p[i]] = 0;
      }
      if (maximize) for (let k = 0; k < c.length; k++) c[k] = 5 - c[k];
      for (const input of [c, Float32Array.from(c)]) {
        const got = linearSumAssignment(input, n, n, { maximize });
        assert.deepEqual(Array.from(got), Array.from(p), `n=${n} max=${maximize} ${input.constructor.name}`);
      }
    }
  }
});

test('weakly planted permutations (noise comparable to the signal) are still solved optimally', () => {
  const r = rng(13);
  for (const n of [200, 333]) {
    const p = r.permutation(n);
    const c = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) c[i * n + j] = r.next();
      c[i * n + p[i]] -= 0.05;
    }
    const ref = hungarianReference(c, n, n);
    for (const o of STRATEGIES) {
      const total = checkSolution(c, n, n, false, assignmentWithDuals(c, n, n, o));
      assert.ok(Math.abs(total - ref) <= 1e-9 * n, `${JSON.stringify(o)}: ${total} vs ${ref}`);
    }
  }
});

/** A Gram matrix X·Yᵀ with Y a noisy permutation of X, as weight matching builds. */
function gram(r: Rng, n: number, d: number, sigma: number): Float64Array {
  const xs = new Float64Array(n * d);
  for (let k = 0; k < xs.length; k++) xs[k] = r.normal();
  const p = r.permutation(n);
  const c = new Float64Array(n * n);
  const ys = new Float64Array(n * d);
  for (let j = 0; j < n; j++)
    for (let k = 0; k < d; k++) ys[j * d + k] = xs[p[j] * d + k] + sigma * r.normal();
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += xs[i * d + k] * ys[j * d + k];
      c[i * n + j] = s;
    }
  }
  return c;
}

test('n = 300: optimal by dual certificate and by an independent Hungarian reference', () => {
  const r = rng(14);
  const n = 300;
  const matrices: [string, Float64Array][] = [
    ['uniform', randomMatrix(r, n * n, 'float')],
    ['integers 0..3', randomMatrix(r, n * n, 'int')],
    ['uniform ±100', randomMatrix(r, n * n, 'neg')],
    ['gram noisy', gram(r, n, 32, 3)],
  ];
  // rank one, c_ij = a_i·b_j: heavy structure, every row ranks columns the same way
  const a = Array.from({ length: n }, () => r.next());
  const b = Array.from({ length: n }, () => r.next());
  matrices.push([
    'rank one',
    Float64Array.from({ length: n * n }, (_, k) => a[Math.floor(k / n)] * b[k % n]),
  ]);
  // rows on very different scales (column minima alone would all come from the largest rows)
  const rowScale = Array.from({ length: n }, () => 100 * r.next());
  matrices.push([
    'row-scaled',
    Float64Array.from({ length: n * n }, (_, k) => rowScale[Math.floor(k / n)] * r.next()),
  ]);
  matrices.push(['constant', new Float64Array(n * n).fill(2.5)]);
  matrices.push(['identical rows', Float64Array.from({ length: n * n }, (_, k) => b[k % n])]);
  for (const [name, c] of matrices) {
    for (const maximize of [false, true]) {
      const neg = maximize ? c.map((x) => -x) : c;
      const ref = (maximize ? -1 : 1) * hungarianReference(neg, n, n);
      for (const o of [
        {},
        { strategy: 'dense' as const },
        { strategy: 'sparse' as const, sparseK: 2 },
        { strategy: 'auction' as const },
      ]) {
        const s = assignmentWithDuals(c, n, n, { ...o, maximize });
        const total = checkSolution(c, n, n, maximize, s);
        assert.ok(
          Math.abs(total - ref) <= 1e-9 * Math.max(1, Math.abs(ref)),
          `${name} max=${maximize}: ${total} vs ${ref}`,
        );
      }
    }
  }
});

/**
 * Near-low-rank like the gradient Grams of GMT/FGMT: a few shared directions (singular values
 * falling 1, .9, .6, .5, …) plus a little full-rank noise, so that every row ranks the columns
 * almost alike and the reduction leaves most rows free.
 */
function nearLowRank(r: Rng, n: number): Float64Array {
  const weights = [1, 0.9, 0.6, 0.5, 0.3];
  const p = weights.map(() => Array.from({ length: n }, () => r.normal()));
  const q = weights.map(() => Array.from({ length: n }, () => r.normal()));
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0.05 * r.normal();
      for (let k = 0; k < weights.length; k++) s += weights[k] * p[k][i] * q[k][j];
      c[i * n + j] = s;
    }
  }
  return c;
}

test('near-low-rank matrices (the auction path) are solved exactly', () => {
  const r = rng(17);
  for (const n of [64, 300]) {
    const c = nearLowRank(r, n);
    // the same matrix far from zero with a tiny range: ε is floored at the rounding of c − v
    const offset = Float64Array.from(c, (x) => 1e6 + 1e-6 * x);
    for (const [name, m] of [
      ['plain', c],
      ['offset', offset],
    ] as const) {
      for (const maximize of [false, true]) {
        const neg = maximize ? m.map((x) => -x) : m;
        const ref = (maximize ? -1 : 1) * hungarianReference(neg, n, n);
        for (const o of [{}, { strategy: 'auction' as const }, { strategy: 'sparse' as const }]) {
          const s = assignmentWithDuals(m, n, n, { ...o, maximize });
          const total = checkSolution(m, n, n, maximize, s);
          const tol = name === 'offset' ? 1e-6 : 1e-9 * Math.max(1, Math.abs(ref));
          assert.ok(
            Math.abs(total - ref) <= tol,
            `${name} n=${n} max=${maximize} ${JSON.stringify(o)}: ${total} vs ${ref}`,
          );
        }
      }
    }
  }
});

test('Float32 input is solved as the float64 values it holds', () => {
  const r = rng(15);
  const n = 257;
  const c32 = new Float32Array(gram(r, n, 16, 2));
  const s32 = assignmentWithDuals(c32, n, n, { maximize: true });
  const s64 = assignmentWithDuals(Float64Array.from(c32), n, n, { maximize: true });
  checkSolution(c32, n, n, true, s32);
  assert.equal(s32.total, s64.total);
});

test('rectangular matrices: wide and tall, by certificate and by reference', () => {
  const r = rng(16);
  for (const [nRows, nCols] of [
    [120, 200],
    [200, 120],
    [1, 50],
    [50, 1],
    [99, 100],
  ]) {
    for (const maximize of [false, true]) {
      const c = randomMatrix(r, nRows * nCols, 'neg');
      const s = assignmentWithDuals(c, nRows, nCols, { maximize });
      const total = checkSolution(c, nRows, nCols, maximize, s);
      // reference on the wide orientation, minimising
      const tall = nRows > nCols;
      const n = Math.min(nRows, nCols);
      const m = Math.max(nRows, nCols);
      const w = new Float64Array(n * m);
      for (let i = 0; i < nRows; i++) {
        for (let j = 0; j < nCols; j++)
          w[tall ? j * m + i : i * m + j] = (maximize ? -1 : 1) * c[i * nCols + j];
      }
      const ref = (maximize ? -1 : 1) * hungarianReference(w, n, m);
      assert.ok(Math.abs(total - ref) <= 1e-9 * 100 * n, `${nRows}×${nCols} max=${maximize}`);
      if (tall) assert.equal(Array.from(s.rowToCol).filter((j) => j < 0).length, nRows - nCols);
    }
  }
});

test('ties, duplicates and signed zeros', () => {
  // all-equal and duplicated rows: any permutation is optimal, the answer must still be one
  const n = 100;
  const zeros = new Float64Array(n * n);
  for (let k = 0; k < zeros.length; k += 2) zeros[k] = -0;
  for (const maximize of [false, true]) {
    for (const strategy of ['dense', 'sparse', 'auction'] as const) {
      const s = assignmentWithDuals(zeros, n, n, { maximize, strategy });
      assert.equal(checkSolution(zeros, n, n, maximize, s), 0);
      assert.equal(new Set(s.rowToCol).size, n);
      for (const x of [...s.u, ...s.v]) assert.ok(!Object.is(x, -0), 'duals are never −0');
    }
  }
  const dup = new Float64Array(4 * 4);
  dup.set([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
  assert.equal(assignmentWithDuals(dup, 4, 4).total, 10);
});

test('empty shapes', () => {
  assert.equal(linearSumAssignment(new Float64Array(0), 0, 0).length, 0);
  assert.deepEqual(Array.from(linearSumAssignment(new Float64Array(0), 3, 0)), [-1, -1, -1]);
  assert.equal(linearSumAssignment(new Float64Array(0), 0, 4).length, 0);
});

test('rejects non-finite entries and mismatched shapes with clear errors', () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    for (const n of [3, 80]) {
      for (const maximize of [false, true]) {
        for (const strategy of ['auto', 'dense'] as const) {
          const c = new Float64Array(n * n).fill(1);
          c[n + 2] = bad;
          assert.throws(
            () => linearSumAssignment(c, n, n, { maximize, strategy }),
            (e: Error) =>
              e instanceof RangeError && e.message.includes('cost[1][2]') && e.message.includes('finite'),
            `${bad} n=${n} max=${maximize} ${strategy}`,
          );
        }
      }
    }
  }
  assert.throws(() => linearSumAssignment(new Float64Array(5), 2, 3), /expected 2×3/);
  assert.throws(() => linearSumAssignment(new Float64Array(6), 2.5, 3), /bad shape/);
});
