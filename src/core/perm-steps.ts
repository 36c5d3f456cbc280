import type { Permutation } from './permutation.js';

/**
 * A method's π_1..π_T, compactly: what is needed, with the source's trajectory and θ2^0, to
 * rebuild the transferred parameters θ2^s = θ2^0 + π_s(θ1^s − θ1^0) at any step later (the run
 * page's download) without keeping T parameter sets. Per permutation group one index array per
 * step, 16-bit when every group has at most 65,536 units; steps that repeat an earlier step's
 * permutations (Naive: identity throughout; Oracle: one π) are stored once and referenced.
 *
 * Layout: u32 LE header length, the JSON header, zero padding to a multiple of 4, then the
 * distinct permutation sets one after another (per set, each group in header order).
 */
interface Header {
  v: 1;
  /** [group name, units] in storage order */
  groups: [string, number][];
  /** bytes per index: 2 or 4 */
  width: 2 | 4;
  /** for step s (1-based), the distinct set it uses: refs[s − 1] */
  refs: number[];
}

const MAX_HEADER = 16 * 1024 * 1024;

function sameSet(a: Permutation, b: Permutation, names: string[]): boolean {
  return names.every((n) => {
    const x = a[n]!;
    const y = b[n]!;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  });
}

export function encodePermSteps(perms: readonly Permutation[]): Buffer {
  const names = perms.length ? Object.keys(perms[0]!).sort() : [];
  const groups: [string, number][] = names.map((n) => [n, perms[0]![n]!.length]);
  for (const [s, p] of perms.entries())
    for (const [n, size] of groups)
      if (p[n]?.length !== size)
        throw new Error(`π_${s + 1} has no ${size}-unit permutation "${n}" like π_1 has`);
  const width: 2 | 4 = groups.every(([, size]) => size <= 65536) ? 2 : 4;
  const distinct: Permutation[] = [];
  const refs = perms.map((p) => {
    // consecutive repeats are what methods produce; a full search would cost T² for nothing
    const last = distinct.length - 1;
    if (last >= 0 && sameSet(distinct[last]!, p, names)) return last;
    distinct.push(p);
    return distinct.length - 1;
  });
  const header: Header = { v: 1, groups, width, refs };
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const base = 4 + head.length + ((4 - ((4 + head.length) % 4)) % 4);
  const perSet = groups.reduce((a, [, size]) => a + size, 0);
  const out = Buffer.alloc(base + distinct.length * perSet * width);
  out.writeUInt32LE(head.length, 0);
  head.copy(out, 4);
  let pos = base;
  for (const p of distinct)
    for (const [n] of groups)
      for (const v of p[n]!) {
        if (width === 2) out.writeUInt16LE(v, pos);
        else out.writeUInt32LE(v, pos);
        pos += width;
      }
  return out;
}

/** π_1..π_T from `encodePermSteps`' bytes; every array is checked to be a permutation. */
export function decodePermSteps(buf: Buffer, what = 'stored permutations'): Permutation[] {
  const fail = (why: string): never => {
    throw new Error(`${what}: ${why}`);
  };
  if (buf.length < 4) fail('too short');
  const n = buf.readUInt32LE(0);
  if (n === 0 || n > MAX_HEADER || 4 + n > buf.length) fail(`header length ${n} does not fit`);
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as Header;
  } catch (e) {
    return fail(`header is not JSON (${(e as Error).message})`);
  }
  if (header.v !== 1) fail(`unknown version ${String(header.v)}`);
  if (header.width !== 2 && header.width !== 4) fail(`bad index width ${String(header.width)}`);
  const base = 4 + n + ((4 - ((4 + n) % 4)) % 4);
  const perSet = header.groups.reduce((a, [, size]) => a + size, 0);
  const sets = Math.max(0, ...header.refs.map((r) => r + 1));
  if (buf.length !== base + sets * perSet * header.width)
    fail(
      `holds ${buf.length} bytes where ${sets} permutation sets take ${base + sets * perSet * header.width}`,
    );
  const decoded: Permutation[] = [];
  let pos = base;
  for (let k = 0; k < sets; k++) {
    const p: Permutation = {};
    for (const [name, size] of header.groups) {
      const a = new Int32Array(size);
      const seen = new Uint8Array(size);
      for (let i = 0; i < size; i++) {
        const v = header.width === 2 ? buf.readUInt16LE(pos) : buf.readUInt32LE(pos);
        pos += header.width;
        if (v >= size || seen[v]) fail(`"${name}" of set ${k} is not a permutation of ${size} units`);
        seen[v] = 1;
        a[i] = v;
      }
      p[name] = a;
    }
    decoded.push(p);
  }
  return header.refs.map((r) => {
    if (!Number.isInteger(r) || r < 0 || r >= sets) fail(`a step refers to set ${r} of ${sets}`);
    return decoded[r]!;
  });
}
