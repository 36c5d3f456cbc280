/**
 * MNIST-style IDX files (Fashion-MNIST, MNIST, KMNIST…): big-endian header, magic 0x0000TTDD with
 * type TT (0x08 = ubyte) and DD dimensions, then each dimension as uint32, then the data.
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DatasetError } from './errors.js';
import { firstExisting, hashFiles, readStoredFile, type StoredFile } from './files.js';
import type { RawSplit } from './raw.js';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export const IDX_FILE_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
type Role = keyof typeof IDX_FILE_NAMES;
const ROLES = Object.keys(IDX_FILE_NAMES) as Role[];

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

function describeMagic(magic: number): string {
  if (magic === IDX_IMAGES_MAGIC) return 'ubyte images with 3 dimensions';
  if (magic === IDX_LABELS_MAGIC) return 'ubyte labels with 1 dimension';
  return `type 0x${((magic >>> 8) & 0xff).toString(16).padStart(2, '0')} with ${magic & 0xff} dimensions`;
}

/** Parses the (already gunzipped) content of an IDX file, checking magic and length. */
function parseIdx(content: Uint8Array, file: string, expectedMagic: number): IdxArray {
  if (content.length < 4) {
    throw new DatasetError(file, `truncated: ${content.length} bytes is too short for an IDX header`);
  }
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    throw new DatasetError(
      file,
      `wrong magic number ${hex(magic)} (${describeMagic(magic)}), expected ${hex(expectedMagic)} (${describeMagic(expectedMagic)})`,
    );
  }
  const ndims = magic & 0xff;
  const header = 4 + 4 * ndims;
  if (content.length < header) {
    throw new DatasetError(
      file,
      `truncated: expected a ${header}-byte header, found ${content.length} bytes`,
    );
  }
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = content.length - header;
  if (found < expected) {
    throw new DatasetError(
      file,
      `truncated: expected ${expected} bytes of data (${dims.join('×')}), found ${found}`,
    );
  }
  if (found > expected) {
    throw new DatasetError(
      file,
      `expected ${expected} bytes of data (${dims.join('×')}), found ${found} (${found - expected} trailing bytes)`,
    );
  }
  return { dims, data: content.subarray(header) };
}

/** The names tried for one file, gzip first. */
function candidateNames(role: Role): string[] {
  const base = IDX_FILE_NAMES[role];
  // some mirrors (e.g. Kaggle's MNIST) spell the name with a dot: train-images.idx3-ubyte
  const dotted = base.replace(/-(idx\d)/, '.$1');
  return [`${base}.gz`, base, `${dotted}.gz`, dotted];
}

/** Locates the four IDX files in `dir`, whichever of gzip or raw exists. */
async function findIdxFiles(dir: string): Promise<Record<Role, string>> {
  const st = await stat(dir).catch(() => null);
  if (!st) throw new DatasetError(dir, 'directory does not exist');
  if (!st.isDirectory()) throw new DatasetError(dir, 'is not a directory');
  const found: Partial<Record<Role, string>> = {};
  const missing: string[] = [];
  for (const role of ROLES) {
    const names = candidateNames(role);
    const path = await firstExisting(names.map((n) => join(dir, n)));
    if (path) found[role] = path;
    else missing.push(`${IDX_FILE_NAMES[role]} (looked for ${names.join(', ')})`);
  }
  if (missing.length > 0) throw new DatasetError(dir, `missing IDX files: ${missing.join('; ')}`);
  return found as Record<Role, string>;
}

function imagesOf(file: StoredFile): IdxArray {
  return parseIdx(file.content, file.path, IDX_IMAGES_MAGIC);
}

function splitOf(
  images: IdxArray,
  imagesFile: StoredFile,
  labelsFile: StoredFile,
  classes: number,
): RawSplit {
  const labels = parseIdx(labelsFile.content, labelsFile.path, IDX_LABELS_MAGIC);
  const n = images.dims[0]!;
  if (labels.dims[0] !== n) {
    throw new DatasetError(
      labelsFile.path,
      `count mismatch: has ${labels.dims[0]} labels but ${basename(imagesFile.path)} has ${n} images`,
    );
  }
  for (let i = 0; i < n; i++) {
    const l = labels.data[i]!;
    if (l >= classes) {
      throw new DatasetError(
        labelsFile.path,
        `label at index ${i} is ${l}, outside the ${classes} classes (0–${classes - 1})`,
      );
    }
  }
  return { images: images.data, labels: labels.data, n };
}

export interface IdxDataset {
  shape: [number, number, number];
  train: RawSplit;
  test: RawSplit;
  contentHash: string;
  files: string[];
}

/** Reads train and test IDX files from `dir`; labels must lie in 0..classes-1. */
export async function readIdxDir(dir: string, classes: number): Promise<IdxDataset> {
  const paths = await findIdxFiles(dir);
  const [trI, trL, teI, teL] = await Promise.all(ROLES.map((r) => readStoredFile(paths[r])));
  const trainImages = imagesOf(trI!);
  const testImages = imagesOf(teI!);
  const [, h, w] = trainImages.dims as [number, number, number];
  const [, th, tw] = testImages.dims as [number, number, number];
  if (th !== h || tw !== w) {
    throw new DatasetError(
      teI!.path,
      `images are ${th}×${tw} but ${basename(trI!.path)} has ${h}×${w} images`,
    );
  }
  const files = [trI!, trL!, teI!, teL!];
  return {
    shape: [h, w, 1],
    train: splitOf(trainImages, trI!, trL!, classes),
    test: splitOf(testImages, teI!, teL!, classes),
    contentHash: hashFiles(files),
    files: files.map((f) => f.path),
  };
}

/** An IDX file's bytes: header for `dims` then `data` (ubyte). */
export function encodeIdx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}
