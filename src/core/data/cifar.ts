/**
 * CIFAR-10/100 "binary version" files: fixed-size records of label byte(s) then a 32×32×3 image
 * stored planar (all red, then green, then blue). Images are converted to HWC on read.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CIFAR10_CLASS_NAMES,
  CIFAR100_COARSE_CLASS_NAMES,
  CIFAR100_FINE_CLASS_NAMES,
} from './class-names.js';
import { DatasetError } from './errors.js';
import { exists, hashFiles, readNamesFile, readStoredFile, type StoredFile } from './files.js';
import type { RawSplit } from './raw.js';

const CIFAR_SIDE = 32;
export const CIFAR_IMAGE_BYTES = CIFAR_SIDE * CIFAR_SIDE * 3;

export type CifarKind = 'cifar10' | 'cifar100';
export type CifarLabelKind = 'fine' | 'coarse';

interface Layout {
  subdir: string;
  train: string[];
  test: string;
  /** label bytes per record, with the class count each byte must respect */
  labelBytes: { name: string; classes: number }[];
}

const LAYOUTS: Record<CifarKind, Layout> = {
  cifar10: {
    subdir: 'cifar-10-batches-bin',
    train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    test: 'test_batch.bin',
    labelBytes: [{ name: 'label', classes: 10 }],
  },
  cifar100: {
    subdir: 'cifar-100-binary',
    train: ['train.bin'],
    test: 'test.bin',
    labelBytes: [
      { name: 'coarse label', classes: 20 },
      { name: 'fine label', classes: 100 },
    ],
  },
};

/**
 * Decodes a whole file of records. `labelByte` picks which label byte becomes the class; every
 * label byte is still range-checked so a corrupt record never passes silently.
 */
function parseCifarRecords(content: Uint8Array, file: string, kind: CifarKind, labelByte: number): RawSplit {
  const layout = LAYOUTS[kind];
  const nl = layout.labelBytes.length;
  const record = nl + CIFAR_IMAGE_BYTES;
  if (content.length === 0) throw new DatasetError(file, 'file is empty');
  if (content.length % record !== 0) {
    const whole = Math.floor(content.length / record);
    throw new DatasetError(
      file,
      `truncated: size ${content.length} bytes is not a multiple of the ${record}-byte record (${whole} whole records and ${content.length - whole * record} bytes left over)`,
    );
  }
  const n = content.length / record;
  const labels = new Uint8Array(n);
  const images = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  for (let i = 0; i < n; i++) {
    const r = i * record;
    for (let b = 0; b < nl; b++) {
      const v = content[r + b]!;
      const { name, classes } = layout.labelBytes[b]!;
      if (v >= classes) {
        throw new DatasetError(
          file,
          `${name} of record ${i} is ${v}, outside the ${classes} classes (0–${classes - 1})`,
        );
      }
    }
    labels[i] = content[r + labelByte]!;
    const src = r + nl;
    const dst = i * CIFAR_IMAGE_BYTES;
    for (let p = 0; p < plane; p++) {
      images[dst + 3 * p] = content[src + p]!;
      images[dst + 3 * p + 1] = content[src + plane + p]!;
      images[dst + 3 * p + 2] = content[src + 2 * plane + p]!;
    }
  }
  return { images, labels, n };
}

function concatSplits(parts: RawSplit[]): RawSplit {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const images = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(n);
  let k = 0;
  for (const p of parts) {
    images.set(p.images, k * CIFAR_IMAGE_BYTES);
    labels.set(p.labels, k);
    k += p.n;
  }
  return { images, labels, n };
}

/** The directory holding the batches: `dir` itself or the archive's own subdirectory inside it. */
async function locate(dir: string, layout: Layout): Promise<string> {
  const st = await stat(dir).catch(() => null);
  if (!st) throw new DatasetError(dir, 'directory does not exist');
  if (!st.isDirectory()) throw new DatasetError(dir, 'is not a directory');
  for (const d of [dir, join(dir, layout.subdir)]) {
    if (await exists(join(d, layout.train[0]!))) return d;
  }
  return dir;
}

export interface CifarDataset {
  shape: [number, number, number];
  classes: number;
  classNames: string[];
  train: RawSplit;
  test: RawSplit;
  contentHash: string;
  files: string[];
}

/** Reads CIFAR-10 (`data_batch_1..5.bin`, `test_batch.bin`) or CIFAR-100 (`train.bin`, `test.bin`). */
export async function readCifarDir(
  dir: string,
  kind: CifarKind,
  labelKind: CifarLabelKind = 'fine',
): Promise<CifarDataset> {
  const layout = LAYOUTS[kind];
  const root = await locate(dir, layout);
  const names = [...layout.train, layout.test];
  const missing: string[] = [];
  for (const n of names) if (!(await exists(join(root, n)))) missing.push(n);
  if (missing.length > 0) {
    throw new DatasetError(
      root,
      `missing ${kind === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100'} binary files: ${missing.join(', ')} (looked in ${root}${root === dir ? ` and ${join(dir, layout.subdir)}` : ''}; expected ${names.join(', ')})`,
    );
  }
  const labelByte = kind === 'cifar100' && labelKind === 'fine' ? 1 : 0;
  const stored: StoredFile[] = [];
  for (const n of names) stored.push(await readStoredFile(join(root, n)));
  const parts = stored.map((f) => parseCifarRecords(f.content, f.path, kind, labelByte));
  const classes = layout.labelBytes[labelByte]!.classes;
  let classNames: string[];
  if (kind === 'cifar10') {
    classNames = (await readNamesFile(join(root, 'batches.meta.txt'), classes)) ?? CIFAR10_CLASS_NAMES;
  } else if (labelKind === 'fine') {
    classNames =
      (await readNamesFile(join(root, 'fine_label_names.txt'), classes)) ?? CIFAR100_FINE_CLASS_NAMES;
  } else {
    classNames =
      (await readNamesFile(join(root, 'coarse_label_names.txt'), classes)) ?? CIFAR100_COARSE_CLASS_NAMES;
  }
  return {
    shape: [CIFAR_SIDE, CIFAR_SIDE, 3],
    classes,
    classNames: [...classNames],
    train: concatSplits(parts.slice(0, -1)),
    test: parts[parts.length - 1]!,
    contentHash: hashFiles(stored),
    files: stored.map((f) => f.path),
  };
}
