import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Model, ParamInfo } from './models/model.js';
import type { Params } from './params.js';
import { encodeParams, readSafetensorsHeader } from './params-io.js';
import type { ParamLayout } from '../shared/domain/index.js';

/**
 * Parameters trained elsewhere. A PyTorch state_dict saved as safetensors
 * (`safetensors.torch.save_file(model.state_dict(), path)`) names tensors `<module>.weight`,
 * `.bias`, `.running_mean`, `.running_var` and lays them out [out, in] (Linear) and
 * [out, in, kh, kw] (Conv2d), with a Linear after a conv stack reading NCHW-flattened features
 * (c slowest). The engine names them `<module>.kernel` / `.bias` / BN `.scale` / `.shift` /
 * `.mean` / `.variance` in tfjs layouts ([in, out]; [kh, kw, in, out]; [h, w, c, out] after a
 * conv). A PyTorch model whose modules carry the engine's module names (conv1, bn1, block1.conv1,
 * block1.shortcut.conv, fc1, …) imports directly; `num_batches_tracked` is ignored.
 *
 * Layout: "torch" / "engine" as stated, or "auto": PyTorch names mean PyTorch layout; engine names
 * take the engine layout when the shape fits it, else PyTorch's.
 */

export interface RawTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | null;
}

const TORCH_SUFFIX: Record<string, string> = {
  kernel: 'weight',
  bias: 'bias',
  scale: 'weight',
  shift: 'bias',
  mean: 'running_mean',
  variance: 'running_var',
};

/** PyTorch's state_dict name of an engine parameter. */
export function torchName(p: Pick<ParamInfo, 'name'>, model: Pick<Model, 'params'>): string {
  const dot = p.name.lastIndexOf('.');
  const base = p.name.slice(0, dot);
  const part = p.name.slice(dot + 1);
  const isBn = model.params.some((q) => q.name === `${base}.variance`);
  if (isBn) return `${base}.${TORCH_SUFFIX[part]}`;
  return `${base}.${part === 'kernel' ? 'weight' : part}`;
}

/** The PyTorch shape of an engine parameter. */
export function torchShape(p: Pick<ParamInfo, 'shape' | 'name'>): number[] {
  const s = p.shape;
  if (!p.name.endsWith('.kernel')) return [...s];
  if (s.length === 2) return [s[1]!, s[0]!];
  // conv [kh, kw, in, out] → [out, in, kh, kw]; a dense kernel kept as [h, w, c, out] → [out, c·h·w]
  if (p.name.includes('fc')) return [s[3]!, s[0]! * s[1]! * s[2]!];
  return [s[3]!, s[2]!, s[0]!, s[1]!];
}

function decodeFloats(bytes: Uint8Array, dtype: string, size: number): Float32Array | null {
  const out = new Float32Array(size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < size; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < size; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'BF16':
      for (let i = 0; i < size; i++) {
        const b = new DataView(new ArrayBuffer(4));
        b.setUint16(0, view.getUint16(2 * i, true), false);
        out[i] = b.getFloat32(0, false);
      }
      return out;
    case 'F16':
      for (let i = 0; i < size; i++) out[i] = half(view.getUint16(2 * i, true));
      return out;
    default:
      return null;
  }
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const BYTES: Record<string, number> = {
  F32: 4,
  F64: 8,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U8: 1,
  I8: 1,
  BOOL: 1,
};

/** Every tensor of a safetensors file, floats converted to float32; other dtypes come back with data null. */
export function readSafetensors(
  buf: Buffer,
  what: string,
): { tensors: Record<string, RawTensor>; metadata: Record<string, string> } {
  const { entries, metadata, base } = readSafetensorsHeader(buf, what);
  const tensors: Record<string, RawTensor> = {};
  for (const [name, { dtype, shape, data_offsets }] of entries) {
    const size = shape.reduce((a, b) => a * b, 1);
    const [a, b] = data_offsets;
    if (BYTES[dtype] !== undefined && (b - a !== size * BYTES[dtype]! || base + b > buf.length))
      throw new Error(
        `${what}: tensor "${name}" [${shape}] ${dtype} does not fit its byte range ${a}..${b} (truncated?)`,
      );
    tensors[name] = { dtype, shape, data: decodeFloats(buf.subarray(base + a, base + b), dtype, size) };
  }
  return { tensors, metadata };
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A PyTorch-layout array of engine parameter `p` in the engine's layout. */
function fromTorch(p: ParamInfo, data: Float32Array, torch: number[]): tf.Tensor {
  return tf.tidy(() => {
    const t = tf.tensor(data, torch, 'float32');
    const s = p.shape;
    if (!p.name.endsWith('.kernel')) return t;
    if (s.length === 2) return tf.transpose(t);
    if (torch.length === 2) return tf.transpose(tf.reshape(t, [s[3]!, s[2]!, s[0]!, s[1]!]), [2, 3, 1, 0]);
    return tf.transpose(t, [2, 3, 1, 0]);
  });
}

/** Engine parameters in PyTorch's names and layouts (the inverse of the import; tests, export). */
export function toTorchLayout(model: Model, params: Params): Params {
  const out: Params = {};
  for (const p of model.params) {
    const t = params[p.name]!;
    const s = p.shape;
    out[torchName(p, model)] = tf.tidy(() => {
      if (!p.name.endsWith('.kernel')) return t.clone();
      if (s.length === 2) return tf.transpose(t);
      const conv = tf.transpose(t, [3, 2, 0, 1]);
      return p.name.includes('fc') ? tf.reshape(conv, torchShape(p)) : conv;
    });
  }
  return out;
}

/** Writes engine parameters as a PyTorch state_dict file (names and layouts PyTorch's). */
export async function encodeTorchParams(model: Model, params: Params): Promise<Buffer> {
  const t = toTorchLayout(model, params);
  try {
    return await encodeParams(t, { format: 'pt' });
  } finally {
    tf.dispose(Object.values(t));
  }
}

/**
 * The tensors of a file as the model's parameters, converting PyTorch names and layouts; errors
 * name the tensor and both layouts' expected shapes.
 */
export function importParams(
  model: Model,
  tensors: Record<string, RawTensor>,
  layout: ParamLayout = 'auto',
  what = 'parameter file',
): Params {
  // DataParallel / Lightning wrappers prefix every name.
  const names = Object.keys(tensors);
  const prefix = ['module.', 'model.'].find(
    (pre) => names.length > 0 && names.every((n) => n.startsWith(pre)),
  );
  const byName = new Map(names.map((n) => [prefix ? n.slice(prefix.length) : n, tensors[n]!]));
  const out: Params = {};
  const used = new Set<string>();
  const problems: string[] = [];
  for (const p of model.params) {
    const tName = torchName(p, model);
    const tShape = torchShape(p);
    const asEngine = byName.get(p.name);
    const asTorch = tName !== p.name ? byName.get(tName) : undefined;
    const found = asEngine ?? asTorch;
    const fileName = asEngine ? p.name : tName;
    if (!found) {
      problems.push(`missing "${p.name}" (PyTorch "${tName}")`);
      continue;
    }
    used.add(fileName);
    if (!found.data) {
      problems.push(`tensor "${fileName}" has dtype ${found.dtype}; floats are needed`);
      continue;
    }
    const fitsEngine = sameShape(found.shape, p.shape);
    const fitsTorch = sameShape(found.shape, tShape);
    // PyTorch names imply PyTorch's layout; engine names are taken as engine layout when they fit.
    const useTorch =
      layout === 'torch' || (layout === 'auto' && (asEngine ? !fitsEngine && fitsTorch : true));
    if (useTorch ? !fitsTorch : !fitsEngine) {
      problems.push(
        `tensor "${fileName}" is [${found.shape}] but ${model.describe} needs [${useTorch ? tShape : p.shape}] (${useTorch ? 'PyTorch' : 'engine'} layout of ${p.name}; the ${useTorch ? 'engine' : 'PyTorch'} layout would be [${useTorch ? p.shape : tShape}])`,
      );
      continue;
    }
    out[p.name] = useTorch ? fromTorch(p, found.data, tShape) : tf.tensor(found.data, p.shape, 'float32');
  }
  for (const n of byName.keys())
    if (!used.has(n) && !n.endsWith('num_batches_tracked')) problems.push(`unexpected tensor "${n}"`);
  if (problems.length) {
    tf.dispose(Object.values(out));
    const shown = problems.slice(0, 4).join('; ');
    throw new Error(
      `${what} does not match ${model.describe}: ${shown}${problems.length > 4 ? `; and ${problems.length - 4} more` : ''}`,
    );
  }
  return out;
}

/** Reads a parameter file (engine or PyTorch) for `model`, in the model's parameter order. */
export async function loadParamsFor(
  model: Model,
  path: string,
  layout: ParamLayout = 'auto',
): Promise<{ params: Params; sha256: string; metadata: Record<string, string> }> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new Error(
      `cannot read parameter file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const read = readSafetensors(buf, `parameter file ${path}`);
  const { metadata } = read;
  let { tensors } = read;
  // A stored trajectory (the lab's "0/fc1.kernel", … files): its last point is the parameter set.
  const points = Number(metadata.points ?? 0);
  if (Number.isInteger(points) && points > 0) {
    const prefix = `${points - 1}/`;
    tensors = Object.fromEntries(
      Object.entries(tensors)
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, v]) => [k.slice(prefix.length), v]),
    );
  }
  const params = importParams(model, tensors, layout, `parameter file ${path}`);
  return { params, sha256: createHash('sha256').update(buf).digest('hex'), metadata };
}
