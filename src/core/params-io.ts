import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Model } from './models/model.js';
import type { Params } from './params.js';

/**
 * Parameter files are safetensors (8-byte little-endian header length, JSON header, raw
 * little-endian float32 data): simple, safe to parse (no code), and readable by PyTorch users with
 * `safetensors.torch.load_file`. Tensor names are the engine's (`fc1.kernel`, …) in tfjs layouts.
 * `__metadata__` carries the architecture and provenance as strings.
 */

export interface ParamsFile {
  params: Params;
  metadata: Record<string, string>;
  /** sha256 of the file's bytes (empty when decoded from memory without one) */
  sha256: string;
}

const MAX_HEADER = 16 * 1024 * 1024;

export async function encodeParams(params: Params, metadata: Record<string, string> = {}): Promise<Buffer> {
  const names = Object.keys(params);
  const datas = await Promise.all(names.map((n) => params[n].data()));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  names.forEach((n, i) => {
    const bytes = (datas[i] as Float32Array).length * 4;
    header[n] = { dtype: 'F32', shape: params[n].shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  });
  let json = JSON.stringify(header);
  // The format asks data to start 8-byte aligned; pad the header with spaces.
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let pos = 8 + head.length;
  for (const d of datas) {
    const f = d as Float32Array;
    Buffer.from(f.buffer, f.byteOffset, f.byteLength).copy(out, pos);
    pos += f.byteLength;
  }
  return out;
}

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * A safetensors file's header: its tensors' entries (in header order), the metadata and where the
 * data starts. Shared by this engine-format decoder and the PyTorch importer (torch-import.ts).
 */
export function readSafetensorsHeader(
  buf: Buffer,
  what: string,
): { entries: [string, SafetensorsEntry][]; metadata: Record<string, string>; base: number } {
  if (buf.length < 8) throw new Error(`${what}: too short to be a safetensors file (${buf.length} bytes)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || n > MAX_HEADER || 8 + n > buf.length)
    throw new Error(`${what}: header length ${n} does not fit the file (${buf.length} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${what}: header is not valid JSON (${(e as Error).message})`);
  }
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__') as [
    string,
    SafetensorsEntry,
  ][];
  return { entries, metadata, base: 8 + n };
}

export function decodeParams(buf: Buffer, what = 'parameter file'): ParamsFile {
  const { entries, metadata, base } = readSafetensorsHeader(buf, what);
  const params: Params = {};
  try {
    for (const [name, { dtype, shape, data_offsets }] of entries) {
      if (dtype !== 'F32')
        throw new Error(`${what}: tensor "${name}" has dtype ${dtype}; only F32 is supported`);
      const [a, b] = data_offsets;
      const size = shape.reduce((x, y) => x * y, 1);
      if (b - a !== size * 4 || base + b > buf.length || a < 0) {
        throw new Error(
          `${what}: tensor "${name}" [${shape}] needs ${size * 4} bytes at ${a}..${b}, file has ${buf.length - base} data bytes (truncated?)`,
        );
      }
      const copy = new Float32Array(size);
      Buffer.from(copy.buffer).set(buf.subarray(base + a, base + b));
      params[name] = tf.tensor(copy, shape, 'float32');
    }
  } catch (e) {
    for (const t of Object.values(params)) t.dispose();
    throw e;
  }
  return { params, metadata, sha256: '' };
}

export async function saveParams(
  path: string,
  params: Params,
  metadata: Record<string, string> = {},
): Promise<string> {
  const buf = await encodeParams(params, metadata);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, buf);
  return createHash('sha256').update(buf).digest('hex');
}

export async function loadParams(path: string): Promise<ParamsFile> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new Error(
      `cannot read parameter file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return {
    ...decodeParams(buf, `parameter file ${path}`),
    sha256: createHash('sha256').update(buf).digest('hex'),
  };
}

/**
 * Why a parameter set does not fit a model, in words a user can act on; null when it fits.
 * Used before a transfer and by the wizard to refuse mismatched targets.
 */
export function checkParamsFit(model: Model, params: Record<string, { shape: number[] }>): string | null {
  const problems: string[] = [];
  for (const p of model.params) {
    const got = params[p.name];
    if (!got) problems.push(`missing "${p.name}"`);
    else if (got.shape.join('x') !== p.shape.join('x'))
      problems.push(`"${p.name}" is [${got.shape}] but ${model.describe} needs [${p.shape}]`);
  }
  const known = new Set(model.params.map((p) => p.name));
  for (const name of Object.keys(params)) if (!known.has(name)) problems.push(`unexpected tensor "${name}"`);
  if (problems.length === 0) return null;
  const shown = problems.slice(0, 4).join('; ');
  return `does not match ${model.describe}: ${shown}${problems.length > 4 ? `; and ${problems.length - 4} more` : ''}`;
}

/**
 * Several points of one trajectory (θ^0, θ^T, or every checkpoint) in one safetensors file:
 * tensor names are prefixed with the point's index ("0/fc1.kernel"), metadata "points" = count.
 */
export async function encodePoints(points: Params[], metadata: Record<string, string> = {}): Promise<Buffer> {
  const all: Params = {};
  points.forEach((p, i) => {
    for (const [k, v] of Object.entries(p)) all[`${i}/${k}`] = v;
  });
  return encodeParams(all, { ...metadata, points: String(points.length) });
}

export function decodePoints(
  buf: Buffer,
  what = 'trajectory file',
): { points: Params[]; metadata: Record<string, string> } {
  const { params, metadata } = decodeParams(buf, what);
  const count = Number(metadata.points ?? '0');
  if (!Number.isInteger(count) || count < 1) {
    for (const t of Object.values(params)) t.dispose();
    throw new Error(`${what}: metadata "points" is missing or invalid`);
  }
  const points: Params[] = Array.from({ length: count }, () => ({}));
  for (const [name, t] of Object.entries(params)) {
    const slash = name.indexOf('/');
    const i = Number(name.slice(0, slash));
    if (slash < 0 || !Number.isInteger(i) || i < 0 || i >= count) {
      for (const x of Object.values(params)) x.dispose();
      throw new Error(`${what}: tensor "${name}" does not belong to any of its ${count} points`);
    }
    points[i][name.slice(slash + 1)] = t;
  }
  return { points, metadata };
}
