/**
 * Seeded randomness for everything the engine draws (initialisation, data order, splits,
 * gradient minibatches). Our own generator rather than tf.random*, so a seed means the same
 * numbers on every backend and every machine.
 */

/** splitmix32: spreads small consecutive seeds (101, 102, …) into unrelated generator states. */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export interface Rng {
  /** uint32 */
  u32(): number;
  /** uniform in [0, 1) */
  next(): number;
  /** uniform integer in [0, n) */
  int(n: number): number;
  /** standard normal (Box–Muller) */
  normal(): number;
  /** Fisher–Yates in place */
  shuffle<T>(arr: T[] | Int32Array | Uint32Array): void;
  /** a fresh permutation of 0..n−1 */
  permutation(n: number): Int32Array;
  /** fill with U(lo, hi) */
  uniform(out: Float32Array, lo: number, hi: number): Float32Array;
}

/** xoshiro128**, seeded through splitmix32. */
export function rng(seed: number): Rng {
  const sm = splitmix32(seed);
  let a = sm(),
    b = sm(),
    c = sm(),
    d = sm();
  if ((a | b | c | d) === 0) a = 1;
  const u32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const next = (): number => u32() / 4294967296;
  const int = (n: number): number => Math.floor(next() * n);
  let spare: number | null = null;
  const r: Rng = {
    u32,
    next,
    int,
    normal() {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const m = Math.sqrt(-2 * Math.log(u));
      spare = m * Math.sin(2 * Math.PI * v);
      return m * Math.cos(2 * Math.PI * v);
    },
    shuffle(arr) {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = arr[i];
        arr[i] = arr[j];
        arr[j] = tmp;
      }
    },
    permutation(n) {
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      r.shuffle(p);
      return p;
    },
    uniform(out, lo, hi) {
      const w = hi - lo;
      for (let i = 0; i < out.length; i++) out[i] = lo + w * next();
      return out;
    },
  };
  return r;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Derives an independent stream for a purpose ("init", "order", …) from one user-facing seed. */
export function deriveSeed(seed: number, purpose: string): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 16777619);
  return splitmix32(h >>> 0)();
}
