export type Scalar = string | number | boolean | null;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/**
 * A settings document as dotted paths in document order: `source.train.lr`, `targets[1].init.seed`.
 * Arrays of plain values stay one setting (`model.hidden` = "[256]", `transfer.methods`) because
 * they are read as one choice; arrays holding objects are indexed. Empty objects and arrays are
 * kept as a value so that "none" still shows up against "some".
 */
export function flatten(
  value: unknown,
  prefix = '',
  out: Map<string, Scalar> = new Map(),
): Map<string, Scalar> {
  if (isScalar(value)) {
    out.set(prefix, value);
  } else if (value === undefined) {
    // absent: nothing to record
  } else if (Array.isArray(value)) {
    if (value.length === 0 || value.every(isScalar)) out.set(prefix, JSON.stringify(value));
    else value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) out.set(prefix, '{}');
    for (const k of keys) flatten(value[k], prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, String(value));
  }
  return out;
}

const flatCache = new WeakMap<object, Map<string, Scalar>>();

/**
 * flatten() of a document that does not change (a stored spec), computed once per object: Compare
 * flattens a thousand specs for its explorer and its table of differences.
 */
export function flattenOnce(doc: unknown): Map<string, Scalar> {
  if (typeof doc !== 'object' || doc === null) return flatten(doc);
  let f = flatCache.get(doc);
  if (!f) flatCache.set(doc, (f = flatten(doc)));
  return f;
}

export interface DiffRow {
  path: string;
  /** one per document; undefined where the document lacks the setting */
  values: (Scalar | undefined)[];
  differs: boolean;
}

/**
 * Compares settings documents key by key. By default only the rows that differ are returned —
 * what a reader of a comparison wants first; `showAll` returns every key. Keys keep the order in
 * which they first appear, so related settings stay together.
 */
export function diffSettings(
  docs: readonly unknown[],
  opts: { showAll?: boolean; ignore?: readonly string[] } = {},
): DiffRow[] {
  const flat = docs.map(flattenOnce);
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const f of flat) {
    for (const p of f.keys()) {
      if (!seen.has(p)) {
        seen.add(p);
        paths.push(p);
      }
    }
  }
  const ignore = opts.ignore ?? [];
  const rows: DiffRow[] = [];
  for (const path of paths) {
    if (ignore.some((i) => path === i || path.startsWith(`${i}.`) || path.startsWith(`${i}[`))) continue;
    const values = flat.map((f) => (f.has(path) ? f.get(path) : undefined));
    const first = values[0];
    const differs = values.some((v) => !sameScalar(v, first));
    if (differs || opts.showAll) rows.push({ path, values, differs });
  }
  return rows;
}

function sameScalar(a: Scalar | undefined, b: Scalar | undefined): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));
}

export function formatScalar(v: Scalar | undefined): string {
  if (v === undefined) return '(not set)';
  if (v === null) return 'null';
  return String(v);
}
