/**
 * Exact linear sum assignment (the problem scipy.optimize.linear_sum_assignment solves), written
 * for speed on the dense n×n similarity matrices weight matching produces (n up to a few thousand).
 *
 * Every phase below keeps one invariant: each assigned row sits on a column minimising its reduced
 * cost c_ij − v_j (v = column prices). Once all rows are assigned under that invariant, the
 * prices and u_i = c_ij − v_j on the assignment are a dual certificate, so the result is exactly
 * optimal (up to floating-point rounding, as in scipy).
 *
 * Square matrices (n ≥ 256), the weight-matching case:
 *  1. row then column reduction (the matrix is read in place — no n² copy even to maximise):
 *     u_i = min_j c_ij, v_j = min_i (c_ij − u_i); each column's least row takes it while still
 *     free. On a clearly planted matrix every row gets a column here and nothing else runs.
 *     If more than 3/4 of the rows are left free, the rows rank the columns alike (near-low-rank
 *     matrices such as the gradient Grams of GMT/FGMT) and step 4 runs at once;
 *  2. a sparse problem: each row touched keeps only its K = 16 cheapest columns under the current
 *     prices (plus the columns it is one of the two cheapest rows of, so no column is left
 *     unreachable). Jonker–Volgenant augmenting row reduction and shortest augmenting paths
 *     (Dijkstra with a binary heap) solve it at O(K) per row visited instead of O(n);
 *  3. checks against the dense matrix: a row's K-th cheapest reduced cost bounds every column
 *     outside its list, and prices only fall, so only rows whose own reduced cost rose past that
 *     bound are rescanned; rows with a cheaper column outside their list gain columns and are
 *     re-solved. If the sparse problem gets stuck (no augmenting path among the kept columns) or
 *     the checks do not settle, step 4 finishes;
 *  4. dense finish: an ε-scaling forward auction (ε from 10⁻¹ to 10⁻⁷ of the cost range, ÷5 per
 *     phase) brings the prices near the optimal duals; every row not exactly on its least reduced
 *     cost is freed and dense shortest augmenting paths assign it. From the reduction's prices
 *     those paths grow long on near-low-rank matrices (the last rows explore nearly all n
 *     columns, O(n²) each); from the auction's they are mostly a step or two.
 * Either way the invariant ends up checked against every column, so the answer is exact.
 * Small and rectangular matrices, and that fallback: dense Jonker–Volgenant — the same reduction,
 * reduction transfer, augmenting row reduction, then dense shortest augmenting paths (one fused
 * relax-and-find-minimum pass per row, as in scipy's Crouse 2016 solver). Rectangular problems
 * start from zero prices instead, which their duals require.
 *
 * Speed against scipy 1.10 on identical float64 matrices (maximize, n = 1024…4096, a shared
 * 2-core machine; bench/assignment.ts): 0.14–0.45× scipy's time on uniform random matrices and
 * 0.2–0.8× on Gram matrices like weight matching's. On real GMT gradient Grams (784→H→10 MLP,
 * one minibatch) 0.4× scipy at H = 1024 and 0.11× at H = 4096 (2.4 s against 21 s; the dense
 * shortest paths alone took 43 s there). The first few calls in a process run several times
 * slower until V8 has optimised the code.
 *
 * Shapes: nRows ≤ nCols is solved directly (all rows assigned). nRows > nCols is solved on the
 * transpose; then every column is assigned and rowToCol[i] = −1 for the nRows − nCols rows left
 * over. Entries must be finite: NaN and ±Infinity are rejected (scipy accepts +inf as "forbidden"
 * when a finite assignment exists; here forbid a pair with a large finite cost instead).
 */

export interface AssignmentOptions {
  /** maximise the total instead of minimising it (default false) */
  maximize?: boolean;
  /**
   * Testing and tuning knobs; the result is the same optimum either way. 'auto' (default) uses
   * the sparse phase for square matrices of size ≥ 256, or the auction when the reduction leaves
   * most rows free; 'dense' uses neither; 'sparse' uses the sparse phase for every square matrix
   * of size ≥ 2 (with the auction as its fallback); 'auction' goes from the reduction straight to
   * the auction for every square matrix of size ≥ 2.
   */
  strategy?: 'auto' | 'dense' | 'sparse' | 'auction';
  /** columns kept per row in the sparse phase (default 16, at least 2) */
  sparseK?: number;
}

export interface AssignmentSolution {
  /** assigned column of every row, −1 for rows left over when nRows > nCols */
  rowToCol: Int32Array;
  /** assigned row of every column, −1 for columns left over when nCols > nRows */
  colToRow: Int32Array;
  /**
   * Dual certificate in terms of the caller's matrix. Minimising: u_i + v_j ≤ c_ij for all i, j,
   * with equality on assigned pairs; maximising: u_i + v_j ≥ c_ij. Duals of rows/columns left
   * unassigned are 0 and those of the longer side are ≤ 0 (minimising) / ≥ 0 (maximising), so
   * Σu + Σv equals the optimum and bounds every other assignment.
   */
  u: Float64Array;
  v: Float64Array;
  /** total cost (or score, when maximising) of the assignment in the caller's matrix */
  total: number;
}

/** Below this size the dense solver is as fast and simpler. */
const SPARSE_MIN = 256;
/** Columns kept per row in the sparse phase. */
const SPARSE_K = 16;
/** Augmenting row reduction in the sparse phase: rounds, and steps per row and round. */
const SPARSE_ROW_REDUCTION_ROUNDS = 3;
const ROW_REDUCTION_BUDGET = 4;
/** Dense check passes before handing over to the dense solver. */
const MAX_CHECKS = 12;
/**
 * The reduction leaving more than this fraction of the rows free means the rows rank the columns
 * alike (near-low-rank matrices such as gradient Grams): the sparse phase would get stuck, so the
 * auction runs at once.
 */
const AUCTION_FREE_FRACTION = 0.75;
/** ε-scaling: ε starts at this fraction of the cost range, shrinks by AUCTION_THETA per phase… */
const AUCTION_START = 0.1;
const AUCTION_THETA = 5;
/** …down to this fraction of the range (exactness comes from the shortest paths after it). */
const AUCTION_FINAL = 1e-7;
/**
 * Bids per row allowed in one phase before the auction gives up (price wars when ε is below the
 * rounding of c − v); the shortest paths then finish from wherever the prices got to.
 */
const AUCTION_BIDS_PER_ROW = 64;

/**
 * For each row its assigned column (−1 only for rows left over when nRows > nCols).
 * `cost` is row-major nRows×nCols and is not modified.
 */
export function linearSumAssignment(
  cost: Float64Array | Float32Array,
  nRows: number,
  nCols: number,
  opts: AssignmentOptions = {},
): Int32Array {
  return assignmentWithDuals(cost, nRows, nCols, opts).rowToCol;
}

/** As linearSumAssignment, also returning the dual certificate and the optimal total. */
export function assignmentWithDuals(
  cost: Float64Array | Float32Array,
  nRows: number,
  nCols: number,
  opts: AssignmentOptions = {},
): AssignmentSolution {
  if (!Number.isInteger(nRows) || !Number.isInteger(nCols) || nRows < 0 || nCols < 0) {
    throw new RangeError(`linearSumAssignment: bad shape ${nRows}×${nCols}`);
  }
  if (cost.length !== nRows * nCols) {
    throw new RangeError(
      `linearSumAssignment: cost has ${cost.length} entries, expected ${nRows}×${nCols} = ${nRows * nCols}`,
    );
  }
  const maximize = opts.maximize === true;
  const sign = maximize ? -1 : 1;
  const transposed = nRows > nCols;
  const n = transposed ? nCols : nRows; // rows of the working problem (n ≤ m)
  const m = transposed ? nRows : nCols;

  const rowToCol = new Int32Array(nRows).fill(-1);
  const colToRow = new Int32Array(nCols).fill(-1);
  const u = new Float64Array(nRows);
  const v = new Float64Array(nCols);
  if (n === 0) return { rowToCol, colToRow, u, v, total: 0 };

  const x = new Int32Array(n); // working row → column
  const y = new Int32Array(m); // working column → row
  const vw = new Float64Array(m);
  const strategy = opts.strategy ?? 'auto';
  const sparseK = Math.max(2, Math.min(n, Math.floor(opts.sparseK ?? SPARSE_K)));
  if (
    n === m &&
    n >= 2 &&
    (strategy === 'sparse' || strategy === 'auction' || (strategy === 'auto' && n >= SPARSE_MIN))
  ) {
    solveSquare(cost, sign, n, sparseK, strategy === 'auction', x, y, vw);
  } else {
    solveDense(workingMatrix(cost, nRows, nCols, sign, transposed), n, m, x, y, vw);
  }

  // Back to the caller's orientation and sign.
  const rowDual = transposed ? v : u;
  const colDual = transposed ? u : v;
  for (let i = 0; i < n; i++) {
    const j = x[i];
    const a = transposed ? cost[j * nCols + i] : cost[i * nCols + j];
    rowDual[i] = a - sign * vw[j] + 0; // + 0 turns −0 into 0
  }
  for (let j = 0; j < m; j++) colDual[j] = sign * vw[j] + 0;
  (transposed ? colToRow : rowToCol).set(x);
  (transposed ? rowToCol : colToRow).set(y);
  let total = 0;
  for (let i = 0; i < nRows; i++) {
    const j = rowToCol[i];
    if (j >= 0) total += cost[i * nCols + j];
  }
  return { rowToCol, colToRow, u, v, total };
}

function nonFinite(a: number, k: number, nCols: number): Error {
  const i = Math.floor(k / nCols);
  return new RangeError(
    `linearSumAssignment: cost[${i}][${k - i * nCols}] is ${a}; entries must be finite ` +
      `(forbid a pair with a large finite cost instead of Infinity)`,
  );
}

/**
 * The minimisation problem (sign·cost, transposed when wide is needed) as a row-major n×m
 * Float64Array with n ≤ m, checked for non-finite entries. The caller's array is used as is when
 * it already has that form.
 */
function workingMatrix(
  cost: Float64Array | Float32Array,
  nRows: number,
  nCols: number,
  sign: number,
  transposed: boolean,
): Float64Array {
  const len = nRows * nCols;
  if (cost instanceof Float64Array && sign === 1 && !transposed) {
    for (let k = 0; k < len; k++) {
      const a = cost[k];
      if (a - a !== 0) throw nonFinite(a, k, nCols); // NaN or ±Infinity
    }
    return cost;
  }
  const out = new Float64Array(len);
  if (!transposed) {
    for (let k = 0; k < len; k++) {
      const a = cost[k];
      if (a - a !== 0) throw nonFinite(a, k, nCols);
      out[k] = sign * a;
    }
    return out;
  }
  // Working matrix is nCols×nRows; blocked so both sides stay in cache.
  const B = 64;
  for (let i0 = 0; i0 < nRows; i0 += B) {
    const i1 = Math.min(i0 + B, nRows);
    for (let j0 = 0; j0 < nCols; j0 += B) {
      const j1 = Math.min(j0 + B, nCols);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) {
          const a = cost[i * nCols + j];
          if (a - a !== 0) throw nonFinite(a, i * nCols + j, nCols);
          out[j * nRows + i] = sign * a;
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Square matrices: sparse phase with dense checks

/**
 * Solves min Σ sign·cost over n×n. Works on the caller's array (sign applied on the fly) so that
 * no n² copy is made unless the dense fallback is needed.
 */
function solveSquare(
  cost: Float64Array | Float32Array,
  sign: number,
  n: number,
  k: number,
  auctionNow: boolean,
  x: Int32Array,
  y: Int32Array,
  v: Float64Array,
): void {
  const cheapest = new Int32Array(n);
  const second = new Int32Array(n);
  const u = new Float64Array(n);
  const scale = reduceRowsAndColumns(cost, sign, n, x, y, u, v, cheapest, second);
  const free = new Int32Array(n);
  let nFree = 0;
  for (let i = 0; i < n; i++) if (x[i] < 0) free[nFree++] = i;
  if (nFree === 0) return; // every row already on its least reduced cost
  // Reduced costs this far below the row's are real violations rather than rounding noise.
  const tol = 1e-12 * scale;
  if (auctionNow || nFree > AUCTION_FREE_FRACTION * n) {
    finishWithAuction(cost, sign, n, x, y, v, free);
    return;
  }

  const sp = new SparseProblem(cost, sign, n, k, u, cheapest, second);
  for (let round = 0; round < SPARSE_ROW_REDUCTION_ROUNDS && nFree > 0; round++) {
    nFree = sp.augmentingRowReduction(nFree, free, x, y, v);
  }
  let stuck = false;
  for (let check = 0; ; check++) {
    for (let f = 0; f < nFree; f++) {
      if (!sp.augment(free[f], x, y, v)) {
        stuck = true;
        break;
      }
    }
    if (stuck || check === MAX_CHECKS) break;
    nFree = sp.checkRows(x, y, v, free, tol);
    if (nFree === 0) return;
  }
  // The sparse problem could not finish: the dense auction and shortest paths take over.
  finishWithAuction(cost, sign, n, x, y, v, free);
}

/**
 * Dense finish for square problems: an ε-scaling auction (Bertsekas) brings the prices close to
 * optimal duals, then every row not exactly on its least reduced cost is freed and assigned by
 * dense shortest augmenting paths, which makes the result exact. On near-low-rank matrices, where
 * every row ranks the columns alike, shortest paths from poor prices grow long (the last rows
 * explore nearly all n columns each); after the auction they are mostly one step. The auction
 * starts from the prices in v; its assignment replaces x/y.
 */
function finishWithAuction(
  cost: Float64Array | Float32Array,
  sign: number,
  n: number,
  x: Int32Array,
  y: Int32Array,
  v: Float64Array,
  free: Int32Array,
): void {
  const c = workingMatrix(cost, n, n, sign, false);
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < c.length; k++) {
    const a = c[k];
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  const range = hi - lo;
  // ε must stay above the rounding of c − v, or bids would not move the reduced costs.
  const floor = 1e-12 * Math.max(Math.abs(lo), Math.abs(hi));
  if (range > 0) {
    const last = Math.max(range * AUCTION_FINAL, floor);
    for (let eps = Math.max(range * AUCTION_START, last); ; eps = Math.max(eps / AUCTION_THETA, last)) {
      if (!auctionPhase(c, n, eps, x, y, v, free)) break;
      if (eps === last) break;
    }
  }
  // No tolerance here: after the auction most rows sit within ε of their minimum, and on a
  // matrix with a large offset and a small range the rounding tolerance would let them stay.
  const nFree = freeRowsOffMinimum(c, n, x, y, v, free, 0);
  denseAugment(c, n, nFree, free, x, y, v);
}

/**
 * One forward auction phase (Gauss–Seidel): starting with every row free, a free row takes its
 * column of least reduced cost c_ij − v_j, lowering that column's price by the gap to its second
 * best plus ε (so it stays within ε of its best) and evicting the column's previous row, until all
 * rows are assigned. Prices only fall, as everywhere in this file. Returns false if it ran out of
 * its bid budget (rows may then be left free).
 */
function auctionPhase(
  c: Float64Array,
  n: number,
  eps: number,
  x: Int32Array,
  y: Int32Array,
  v: Float64Array,
  queue: Int32Array,
): boolean {
  x.fill(-1);
  y.fill(-1);
  for (let i = 0; i < n; i++) queue[i] = i;
  // circular queue of free rows: `count` rows from `head`
  let head = 0;
  let count = n;
  let budget = AUCTION_BIDS_PER_ROW * n;
  while (count > 0) {
    if (--budget < 0) return false;
    const i = queue[head];
    head = head + 1 === n ? 0 : head + 1;
    count--;
    const base = i * n;
    let u1 = c[base] - v[0];
    let j1 = 0;
    let u2 = Infinity;
    for (let j = 1; j < n; j++) {
      const h = c[base + j] - v[j];
      if (h < u2) {
        if (h < u1) {
          u2 = u1;
          u1 = h;
          j1 = j;
        } else {
          u2 = h;
        }
      }
    }
    v[j1] -= u2 - u1 + eps;
    const i0 = y[j1];
    y[j1] = i;
    x[i] = j1;
    if (i0 >= 0) {
      x[i0] = -1;
      let tail = head + count;
      if (tail >= n) tail -= n;
      queue[tail] = i0;
      count++;
    }
  }
  return true;
}

/**
 * Reduction of sign·cost, read in place (also checking for NaN/±Infinity). One pass takes the row
 * minima u_i and plain column minima; if each column's least row is a different row, every row
 * sits on a reduced cost of 0 and x/y/v are final (the common case of a clearly planted
 * matrix). Otherwise a second pass prices the columns after the rows, v_j = min_i (c_ij − u_i),
 * so every c_ij − u_i − v_j ≥ 0 with a zero in each row and column: this matters when rows differ
 * in scale or offset, where column minima alone would all come from the "strongest" rows and
 * price every other row's columns alike. Scanning columns from the last (as JV do), each column's
 * least row takes it while still free. `cheapest`/`second` get each column's two least rows of
 * c_ij − u_i (second pass only). Returns max|u| + max|v|, the magnitude of the entries that
 * matter (those near their row's and column's minima), as the scale for rounding tolerances.
 */
function reduceRowsAndColumns(
  cost: Float64Array | Float32Array,
  sign: number,
  n: number,
  x: Int32Array,
  y: Int32Array,
  u: Float64Array,
  v: Float64Array,
  cheapest: Int32Array,
  second: Int32Array,
): number {
  v.fill(Infinity);
  let uMax = 0;
  for (let i = 0; i < n; i++) {
    const base = i * n;
    let lo = Infinity;
    for (let j = 0; j < n; j++) {
      const a = sign * cost[base + j];
      if (a < lo) lo = a;
      if (a < v[j]) {
        v[j] = a;
        cheapest[j] = i;
      } else if (!(a < Infinity)) {
        throw nonFiniteInRow(cost, base, n); // NaN or +Infinity
      }
    }
    if (lo === -Infinity) throw nonFiniteInRow(cost, base, n);
    u[i] = lo;
    uMax = Math.max(uMax, Math.abs(lo));
  }
  if (assignColumnsToLeastRows(n, cheapest, x, y) > 0) {
    const v2 = new Float64Array(n).fill(Infinity); // second least of each column
    v.fill(Infinity);
    for (let i = 0; i < n; i++) {
      const base = i * n;
      const ui = u[i];
      for (let j = 0; j < n; j++) {
        const b = sign * cost[base + j] - ui;
        if (b < v2[j]) {
          if (b < v[j]) {
            v2[j] = v[j];
            second[j] = cheapest[j];
            v[j] = b;
            cheapest[j] = i;
          } else {
            v2[j] = b;
            second[j] = i;
          }
        }
      }
    }
    assignColumnsToLeastRows(n, cheapest, x, y);
  }
  let vMax = 0;
  for (let j = 0; j < n; j++) vMax = Math.max(vMax, Math.abs(v[j]));
  return uMax + vMax;
}

/** Each column, from the last, goes to its least row if that row has none yet; returns rows left free. */
function assignColumnsToLeastRows(n: number, cheapest: Int32Array, x: Int32Array, y: Int32Array): number {
  x.fill(-1);
  let assigned = 0;
  for (let j = n - 1; j >= 0; j--) {
    const i = cheapest[j];
    if (x[i] < 0) {
      x[i] = j;
      y[j] = i;
      assigned++;
    } else {
      y[j] = -1;
    }
  }
  return n - assigned;
}

function nonFiniteInRow(cost: Float64Array | Float32Array, base: number, nCols: number): Error {
  let k = base;
  while (Number.isFinite(cost[k])) k++;
  return nonFinite(cost[k], k, nCols);
}

/**
 * The square problem restricted to a few columns per row: row i's edges are
 * (i, col[e], cost val[e]) for e in [start[i], start[i] + len[i]), val = sign·cost. A row's list
 * is built when the row is first touched (most rows of an easy matrix never are) and only ever
 * grows (a longer list is appended when a row gains columns). All scratch memory is allocated
 * once here.
 */
class SparseProblem {
  private col: Int32Array;
  private val: Float64Array;
  private used = 0;
  private readonly start: Int32Array;
  /** −1 until the row's list is built */
  private readonly len: Int32Array;
  /**
   * A lower bound on the reduced cost c_ij − v_j of every column outside row i's list. Prices
   * only ever drop after the reduction, which only raises reduced costs, so a bound stays valid;
   * a row whose own reduced cost is within it needs no look at its dense row. The reduction made
   * every c_ij − v_j ≥ u_i, the bound of a row without a list.
   */
  private readonly bound: Float64Array;
  /** columns listing row i among their two cheapest rows: byRowCol[byRowStart[i] …] */
  private readonly byRowStart: Int32Array;
  private readonly byRowCol: Int32Array;
  // Dijkstra scratch: per-column distance, predecessor row, and epoch stamps marking "reached"
  // and "final" in the current search, so nothing needs clearing between searches.
  private readonly d: Float64Array;
  private readonly pred: Int32Array;
  private readonly seen: Int32Array;
  private readonly final: Int32Array;
  private readonly ready: Int32Array;
  private heapKey: Float64Array;
  private heapCol: Int32Array;
  private epoch = 0;
  // row selection scratch: the k best reduced costs and their columns, ascending
  private readonly bestR: Float64Array;
  private readonly bestJ: Int32Array;
  // marks columns already in the list being built (its own stamps: lists are built in the middle
  // of a search, whose stamps must survive)
  private readonly mark: Int32Array;
  private markStamp = 0;

  constructor(
    private readonly cost: Float64Array | Float32Array,
    private readonly sign: number,
    private readonly n: number,
    private readonly k: number,
    rowMin: Float64Array,
    cheapest: Int32Array,
    second: Int32Array,
  ) {
    this.col = new Int32Array(n * 4);
    this.val = new Float64Array(n * 4);
    this.start = new Int32Array(n);
    this.len = new Int32Array(n).fill(-1);
    this.bound = Float64Array.from(rowMin);
    this.d = new Float64Array(n);
    this.pred = new Int32Array(n);
    this.seen = new Int32Array(n);
    this.final = new Int32Array(n);
    this.ready = new Int32Array(n);
    this.heapKey = new Float64Array(4 * n);
    this.heapCol = new Int32Array(4 * n);
    this.bestR = new Float64Array(k);
    this.bestJ = new Int32Array(k);
    this.mark = new Int32Array(n);
    // the two column lists regrouped by row (counting sort)
    const byRowStart = new Int32Array(n + 1);
    for (let j = 0; j < n; j++) {
      byRowStart[cheapest[j] + 1]++;
      byRowStart[second[j] + 1]++;
    }
    for (let i = 0; i < n; i++) byRowStart[i + 1] += byRowStart[i];
    const byRowCol = new Int32Array(2 * n);
    const fill = byRowStart.slice(0, n);
    for (let j = 0; j < n; j++) {
      byRowCol[fill[cheapest[j]]++] = j;
      byRowCol[fill[second[j]]++] = j;
    }
    this.byRowStart = byRowStart;
    this.byRowCol = byRowCol;
  }

  /**
   * Builds row i's list unless it exists: its k columns of least reduced cost under the current
   * prices, plus every column that has i as one of its two cheapest rows (so that no column is
   * left without candidate rows, which would make the sparse problem infeasible — the "hub" rows
   * of Gram matrices are the cheapest of many columns).
   */
  private ensureRow(i: number, v: Float64Array): void {
    if (this.len[i] >= 0) return;
    this.selectRow(i, v);
    const { k, bestJ, byRowStart, byRowCol } = this;
    const s = this.reserve(k + byRowStart[i + 1] - byRowStart[i]);
    const col = this.col;
    const mark = this.mark;
    const stamp = ++this.markStamp;
    let e = s;
    for (let q = 0; q < k; q++) {
      const j = bestJ[q];
      mark[j] = stamp;
      col[e++] = j;
    }
    for (let q = byRowStart[i]; q < byRowStart[i + 1]; q++) {
      const j = byRowCol[q];
      if (mark[j] === stamp) continue;
      mark[j] = stamp;
      col[e++] = j;
    }
    this.setRow(i, s, e);
  }

  /**
   * Appends a new list for row i: its old columns plus its k best under the current prices
   * (left in bestR/bestJ).
   */
  private extendRow(i: number, v: Float64Array): void {
    this.ensureRow(i, v);
    this.selectRow(i, v);
    const { k, bestJ } = this;
    const oldLen = this.len[i];
    const s = this.reserve(oldLen + k);
    const col = this.col;
    const mark = this.mark;
    const stamp = ++this.markStamp;
    let e = s;
    for (let q = this.start[i], end = q + oldLen; q < end; q++) {
      const j = col[q];
      mark[j] = stamp;
      col[e++] = j;
    }
    for (let q = 0; q < k; q++) {
      const j = bestJ[q];
      if (mark[j] === stamp) continue;
      mark[j] = stamp;
      col[e++] = j;
    }
    this.setRow(i, s, e);
  }

  /** Room for `count` more edges; returns where they start. */
  private reserve(count: number): number {
    const need = this.used + count;
    if (need > this.col.length) {
      const size = Math.max(need, 2 * this.col.length);
      const col = new Int32Array(size);
      col.set(this.col.subarray(0, this.used));
      this.col = col;
      const val = new Float64Array(size);
      val.set(this.val.subarray(0, this.used));
      this.val = val;
    }
    return this.used;
  }

  /** Records edges col[s, e) as row i's list and fills in their costs. */
  private setRow(i: number, s: number, e: number): void {
    const { cost, sign, n, col, val } = this;
    const base = i * n;
    for (let q = s; q < e; q++) val[q] = sign * cost[base + col[q]];
    this.start[i] = s;
    this.len[i] = e - s;
    this.used = e;
  }

  /**
   * Row i's k columns of least reduced cost c_ij − v_j into bestJ (bestR: their values, ascending);
   * the k-th least becomes the row's bound. The scan starts at column i so that ties (common in
   * integer costs) go to different columns in different rows rather than all to the first ones.
   */
  private selectRow(i: number, v: Float64Array): void {
    const { cost, sign, n, k, bestR, bestJ } = this;
    const base = i * n;
    let filled = 0;
    let worst = Infinity;
    for (let part = 0; part < 2; part++) {
      const from = part === 0 ? i : 0;
      const to = part === 0 ? n : i;
      for (let j = from; j < to; j++) {
        const r = sign * cost[base + j] - v[j];
        if (r < worst) {
          let p = filled < k ? filled++ : k - 1;
          while (p > 0 && bestR[p - 1] > r) {
            bestR[p] = bestR[p - 1];
            bestJ[p] = bestJ[p - 1];
            p--;
          }
          bestR[p] = r;
          bestJ[p] = j;
          if (filled === k) worst = bestR[k - 1];
        }
      }
    }
    this.bound[i] = bestR[k - 1];
  }

  /**
   * Jonker–Volgenant augmenting row reduction over the kept columns. Each free row finds its best
   * (u1 at j1) and second best (u2) reduced costs, takes j1 and lowers v[j1] by u2 − u1 so that
   * it stays optimal there; the row it displaces is processed next (at once if v dropped, else in
   * the next round). Returns the number of rows still free, compacted at the front of `free`.
   */
  augmentingRowReduction(
    nFree: number,
    free: Int32Array,
    x: Int32Array,
    y: Int32Array,
    v: Float64Array,
  ): number {
    return rowReduction(nFree, free, x, y, v, ROW_REDUCTION_BUDGET * this.n, (i, out) => {
      this.ensureRow(i, v);
      const { col, val } = this;
      let u1 = Infinity;
      let u2 = Infinity;
      let j1 = -1;
      let j2 = -1;
      const s = this.start[i];
      const e = s + this.len[i];
      for (let q = s; q < e; q++) {
        const j = col[q];
        const h = val[q] - v[j];
        if (h < u2) {
          if (h >= u1) {
            u2 = h;
            j2 = j;
          } else {
            u2 = u1;
            j2 = j1;
            u1 = h;
            j1 = j;
          }
        }
      }
      out.u1 = u1;
      out.u2 = u2;
      out.j1 = j1;
      out.j2 = j2;
    });
  }

  /**
   * Shortest augmenting path from free row `startRow` over the kept columns (Dijkstra with a
   * binary heap), then augments along it. Returns false when no unassigned column can be reached;
   * then the assignment and prices are unchanged.
   */
  augment(startRow: number, x: Int32Array, y: Int32Array, v: Float64Array): boolean {
    const { start, len, d, pred, seen, final, ready, cost, sign, n } = this;
    const ep = ++this.epoch;
    let size = 0;
    let heapKey = this.heapKey;
    let heapCol = this.heapCol;
    let nReady = 0;
    let sink = -1;
    let mind = 0;
    let row = startRow;
    let h = 0; // reduced cost of the path to `row`'s column, minus that column's reduced cost
    for (;;) {
      // Relax the kept columns of `row`.
      this.ensureRow(row, v);
      const col = this.col;
      const val = this.val;
      const s = start[row];
      const e = s + len[row];
      for (let q = s; q < e; q++) {
        const j = col[q];
        if (final[j] === ep) continue;
        const r = val[q] - v[j] - h;
        if (seen[j] !== ep || r < d[j]) {
          seen[j] = ep;
          d[j] = r;
          pred[j] = row;
          if (size === heapKey.length) {
            heapKey = this.heapKey = growF64(heapKey);
            heapCol = this.heapCol = growI32(heapCol);
          }
          // sift up
          let p = size++;
          while (p > 0) {
            const parent = (p - 1) >> 1;
            if (heapKey[parent] <= r) break;
            heapKey[p] = heapKey[parent];
            heapCol[p] = heapCol[parent];
            p = parent;
          }
          heapKey[p] = r;
          heapCol[p] = j;
        }
      }
      // Pop the nearest column not yet final.
      let j = -1;
      let dj = 0;
      while (size > 0) {
        const topKey = heapKey[0];
        const topCol = heapCol[0];
        // sift the last element down from the root
        const lastKey = heapKey[--size];
        const lastCol = heapCol[size];
        let p = 0;
        for (;;) {
          let child = 2 * p + 1;
          if (child >= size) break;
          if (child + 1 < size && heapKey[child + 1] < heapKey[child]) child++;
          if (heapKey[child] >= lastKey) break;
          heapKey[p] = heapKey[child];
          heapCol[p] = heapCol[child];
          p = child;
        }
        heapKey[p] = lastKey;
        heapCol[p] = lastCol;
        if (final[topCol] === ep || topKey > d[topCol]) continue; // stale entry
        j = topCol;
        dj = topKey;
        break;
      }
      if (j < 0) return false;
      final[j] = ep;
      if (y[j] < 0) {
        sink = j;
        mind = dj;
        break;
      }
      ready[nReady++] = j;
      row = y[j];
      h = sign * cost[row * n + j] - v[j] - dj;
    }
    for (let r = 0; r < nReady; r++) {
      const j = ready[r];
      v[j] += d[j] - mind;
    }
    let j = sink;
    for (;;) {
      const i = pred[j];
      y[j] = i;
      const next = x[i];
      x[i] = j;
      if (i === startRow) break;
      j = next;
    }
    return true;
  }

  /**
   * Checks the invariant against all columns. A row whose reduced cost is within its bound is
   * fine; otherwise its dense row is scanned for its k best columns, which join its list (so its
   * bound can rise to the k-th best), and if the best is cheaper than its own column by more than
   * tol the row is freed. Returns the number of freed rows, listed in `free`.
   */
  checkRows(x: Int32Array, y: Int32Array, v: Float64Array, free: Int32Array, tol: number): number {
    const { cost, sign, n, bound, bestR } = this;
    let nFree = 0;
    for (let i = 0; i < n; i++) {
      const ji = x[i];
      const own = sign * cost[i * n + ji] - v[ji];
      if (own <= bound[i] + tol) continue;
      this.extendRow(i, v);
      if (bestR[0] < own - tol) {
        y[ji] = -1;
        x[i] = -1;
        free[nFree++] = i;
      }
    }
    return nFree;
  }
}

function growF64(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

function growI32(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

interface BestTwo {
  u1: number;
  u2: number;
  j1: number;
  j2: number;
}

/**
 * The augmenting row reduction loop shared by the sparse and dense solvers; `bestTwo` finds a
 * row's two least reduced costs. `budget` bounds the iterations: with real-valued costs rows can
 * trade a column back and forth by tiny price drops for a long time, which shortest paths then do
 * far more cheaply.
 */
function rowReduction(
  nFree: number,
  free: Int32Array,
  x: Int32Array,
  y: Int32Array,
  v: Float64Array,
  budget: number,
  bestTwo: (i: number, out: BestTwo) => void,
): number {
  const best: BestTwo = { u1: 0, u2: 0, j1: 0, j2: 0 };
  let current = 0;
  let newFree = 0;
  let count = 0;
  while (current < nFree) {
    count++;
    const i = free[current++];
    bestTwo(i, best);
    let j1 = best.j1;
    const j2 = best.j2;
    let i0 = y[j1];
    const vNew = v[j1] - (best.u2 - best.u1);
    const lowers = vNew < v[j1];
    if (count < budget) {
      if (lowers) {
        v[j1] = vNew;
      } else if (i0 >= 0 && j2 >= 0) {
        // Tie: take the second best column instead, which may be free.
        j1 = j2;
        i0 = y[j2];
      }
      if (i0 >= 0) {
        if (lowers) free[--current] = i0;
        else free[newFree++] = i0;
      }
    } else if (i0 >= 0) {
      free[newFree++] = i0;
    }
    if (i0 >= 0) x[i0] = -1;
    x[i] = j1;
    y[j1] = i;
  }
  return newFree;
}

// ---------------------------------------------------------------------------------------------
// Dense solver (small and rectangular matrices, and the fallback of the sparse phase)

/**
 * Minimum-cost assignment of all n rows of the row-major n×m matrix c (n ≤ m).
 * Fills x (row → column), y (column → row, −1 if unassigned) and v (column duals; the row duals
 * are u_i = c[i, x_i] − v[x_i]).
 */
function solveDense(
  c: Float64Array,
  n: number,
  m: number,
  x: Int32Array,
  y: Int32Array,
  v: Float64Array,
): void {
  if (n === 1) {
    // Also avoids the "second smallest" of a single column being +Infinity in the reductions.
    let best = 0;
    for (let j = 1; j < m; j++) if (c[j] < c[best]) best = j;
    y.fill(-1);
    v.fill(0);
    x[0] = best;
    y[best] = 0;
    return;
  }
  const free = new Int32Array(n);
  let nFree: number;
  if (n === m) {
    nFree = denseReduction(c, n, x, y, v, free);
  } else {
    // Rectangular: unassigned columns must keep v_j = 0 and the others v_j ≤ 0 for the duals to
    // certify optimality, so skip column reduction (which may raise v) and start from v = 0.
    // Augmenting row reduction and the shortest paths only ever lower v of columns they assign.
    x.fill(-1);
    y.fill(-1);
    v.fill(0);
    for (let i = 0; i < n; i++) free[i] = i;
    nFree = n;
  }
  for (let round = 0; round < 2 && nFree > 0; round++) {
    nFree = rowReduction(nFree, free, x, y, v, 4 * m, (i, out) => {
      const base = i * m;
      let u1 = c[base] - v[0];
      let j1 = 0;
      let u2 = Infinity;
      let j2 = -1;
      for (let j = 1; j < m; j++) {
        const h = c[base + j] - v[j];
        if (h < u2) {
          if (h >= u1) {
            u2 = h;
            j2 = j;
          } else {
            u2 = u1;
            u1 = h;
            j2 = j1;
            j1 = j;
          }
        }
      }
      out.u1 = u1;
      out.u2 = u2;
      out.j1 = j1;
      out.j2 = j2;
    });
  }
  denseAugment(c, m, nFree, free, x, y, v);
}

/**
 * Row and column reduction, then reduction transfer (square case). A row that won exactly one
 * column lowers that column's price until its second best column ties with it, which costs
 * nothing now and makes the column less attractive to free rows later.
 * Returns the number of free rows written to `free`.
 */
function denseReduction(
  c: Float64Array,
  n: number,
  x: Int32Array,
  y: Int32Array,
  v: Float64Array,
  free: Int32Array,
): number {
  const u = new Float64Array(n);
  const cheapest = new Int32Array(n);
  reduceRowsAndColumns(c, 1, n, x, y, u, v, cheapest, new Int32Array(n));
  if (!x.includes(-1)) return 0;
  const wins = new Int32Array(n);
  for (let j = 0; j < n; j++) wins[cheapest[j]]++;
  let nFree = 0;
  for (let i = 0; i < n; i++) {
    if (x[i] < 0) {
      free[nFree++] = i;
    } else if (wins[i] === 1) {
      const j1 = x[i];
      const base = i * n;
      let min = Infinity;
      for (let j = 0; j < n; j++) {
        if (j === j1) continue;
        const h = c[base + j] - v[j];
        if (h < min) min = h;
      }
      v[j1] -= min - (c[base + j1] - v[j1]);
    }
  }
  return nFree;
}

/**
 * Frees (and lists in `free`, after the rows already free) every row whose column is not within
 * tol of its least reduced cost, so that the dense shortest paths may start from any prices.
 */
function freeRowsOffMinimum(
  c: Float64Array,
  n: number,
  x: Int32Array,
  y: Int32Array,
  v: Float64Array,
  free: Int32Array,
  tol: number,
): number {
  let nFree = 0;
  for (let i = 0; i < n; i++) {
    const ji = x[i];
    if (ji < 0) {
      free[nFree++] = i;
      continue;
    }
    const base = i * n;
    const limit = c[base + ji] - v[ji] - tol;
    for (let j = 0; j < n; j++) {
      if (c[base + j] - v[j] < limit) {
        y[ji] = -1;
        x[i] = -1;
        free[nFree++] = i;
        break;
      }
    }
  }
  return nFree;
}

/** Assigns the listed free rows one by one along dense shortest augmenting paths. */
function denseAugment(
  c: Float64Array,
  m: number,
  nFree: number,
  free: Int32Array,
  x: Int32Array,
  y: Int32Array,
  v: Float64Array,
): void {
  if (nFree === 0) return;
  const rem = new Int32Array(m);
  const d = new Float64Array(m);
  const pred = new Int32Array(m);
  const ready = new Int32Array(m);
  for (let f = 0; f < nFree; f++) {
    const start = free[f];
    let j = denseShortestPath(c, m, start, y, v, rem, d, pred, ready);
    // Flip the path: every column on it moves to the row that reached it.
    for (;;) {
      const i = pred[j];
      y[j] = i;
      const next = x[i];
      x[i] = j;
      if (i === start) break;
      j = next;
    }
  }
}

/**
 * Dijkstra over reduced costs c_ij − v_j from free row `start` to the nearest unassigned column,
 * as in scipy (Crouse 2016): one pass per expanded row both relaxes the remaining columns and finds
 * the nearest, preferring an unassigned column on ties. (JV's separate scan list pays off only
 * when many distances tie exactly; otherwise it costs a second pass per row.) Lowers v on the
 * columns made final so that the invariant holds after augmenting, fills pred (column → row that
 * reached it) and returns the unassigned column reached.
 */
function denseShortestPath(
  c: Float64Array,
  m: number,
  start: number,
  y: Int32Array,
  v: Float64Array,
  rem: Int32Array,
  d: Float64Array,
  pred: Int32Array,
  ready: Int32Array,
): number {
  for (let j = 0; j < m; j++) {
    rem[j] = j;
    d[j] = Infinity;
  }
  let nRem = m;
  let nReady = 0;
  let i = start;
  let h = 0;
  for (;;) {
    const base = i * m;
    let lowest = Infinity;
    let index = -1;
    for (let it = 0; it < nRem; it++) {
      const j = rem[it];
      const r = c[base + j] - v[j] - h;
      let dj = d[j];
      if (r < dj) {
        d[j] = r;
        pred[j] = i;
        dj = r;
      }
      if (dj < lowest || (dj === lowest && y[j] < 0)) {
        lowest = dj;
        index = it;
      }
    }
    const j = rem[index];
    rem[index] = rem[--nRem];
    if (y[j] < 0) {
      for (let k = 0; k < nReady; k++) {
        const jr = ready[k];
        v[jr] += d[jr] - lowest;
      }
      return j;
    }
    ready[nReady++] = j;
    i = y[j];
    h = c[i * m + j] - v[j] - lowest;
  }
}
