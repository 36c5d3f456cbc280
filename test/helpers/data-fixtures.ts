/** Writes small IDX and CIFAR binary datasets into temp folders for the data-layer tests. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CIFAR_IMAGE_BYTES } from '../../src/core/data/cifar.js';
import { encodeIdx, IDX_FILE_NAMES, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from '../../src/core/data/idx.js';
import { rng } from '../../src/core/random.js';

export async function makeTempDir(
  prefix = 'tlab-data-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** `n` bytes of seeded noise. */
function noiseBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r.int(256);
  return out;
}

/** Labels 0..classes-1 in a round-robin order, so every class is present. */
function roundRobinLabels(n: number, classes: number, offset = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i + offset) % classes;
  return out;
}

export interface FixtureSplit {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
}

function fixtureSplit(n: number, imageSize: number, classes: number, seed: number): FixtureSplit {
  return { images: noiseBytes(n * imageSize, seed), labels: roundRobinLabels(n, classes, seed), n };
}

export interface IdxFixture {
  h: number;
  w: number;
  train: FixtureSplit;
  test: FixtureSplit;
}

export function idxFixture(h = 4, w = 5, nTrain = 40, nTest = 12, classes = 10): IdxFixture {
  return {
    h,
    w,
    train: fixtureSplit(nTrain, h * w, classes, 1),
    test: fixtureSplit(nTest, h * w, classes, 2),
  };
}

/** The four IDX files of a fixture, keyed by their standard (uncompressed) names. */
export function idxFiles(f: IdxFixture): Record<string, Uint8Array> {
  return {
    [IDX_FILE_NAMES.trainImages]: encodeIdx(IDX_IMAGES_MAGIC, [f.train.n, f.h, f.w], f.train.images),
    [IDX_FILE_NAMES.trainLabels]: encodeIdx(IDX_LABELS_MAGIC, [f.train.n], f.train.labels),
    [IDX_FILE_NAMES.testImages]: encodeIdx(IDX_IMAGES_MAGIC, [f.test.n, f.h, f.w], f.test.images),
    [IDX_FILE_NAMES.testLabels]: encodeIdx(IDX_LABELS_MAGIC, [f.test.n], f.test.labels),
  };
}

/** Writes the files into `dir` (created if needed), gzipped with a .gz suffix when `gzip`. */
export async function writeFiles(
  dir: string,
  files: Record<string, Uint8Array>,
  gzip = false,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    await writeFile(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
  }
}

/** CIFAR records for HWC images: label bytes then the image planar (CHW). */
function cifarRecords(imagesHwc: Uint8Array, labelBytes: Uint8Array[]): Uint8Array {
  const n = imagesHwc.length / CIFAR_IMAGE_BYTES;
  const nl = labelBytes.length;
  const record = nl + CIFAR_IMAGE_BYTES;
  const out = new Uint8Array(n * record);
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < nl; b++) out[i * record + b] = labelBytes[b]![i]!;
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++)
        out[i * record + nl + c * 1024 + p] = imagesHwc[i * CIFAR_IMAGE_BYTES + p * 3 + c]!;
    }
  }
  return out;
}

export interface Cifar10Fixture {
  batches: FixtureSplit[];
  test: FixtureSplit;
}

export function cifar10Fixture(perBatch = 4, nTest = 5): Cifar10Fixture {
  return {
    batches: [1, 2, 3, 4, 5].map((b) => fixtureSplit(perBatch, CIFAR_IMAGE_BYTES, 10, 10 + b)),
    test: fixtureSplit(nTest, CIFAR_IMAGE_BYTES, 10, 20),
  };
}

export function cifar10Files(f: Cifar10Fixture): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  f.batches.forEach((b, i) => (files[`data_batch_${i + 1}.bin`] = cifarRecords(b.images, [b.labels])));
  files['test_batch.bin'] = cifarRecords(f.test.images, [f.test.labels]);
  return files;
}

export interface Cifar100Split extends FixtureSplit {
  coarse: Uint8Array;
}

export function cifar100Split(n: number, seed: number): Cifar100Split {
  const fine = roundRobinLabels(n, 100, seed * 7);
  // the real fine→coarse map is irrelevant here; any values in range will do
  const coarse = fine.map((l) => l % 20);
  return { images: noiseBytes(n * CIFAR_IMAGE_BYTES, seed), labels: fine, coarse, n };
}

export function cifar100Files(train: Cifar100Split, test: Cifar100Split): Record<string, Uint8Array> {
  return {
    'train.bin': cifarRecords(train.images, [train.coarse, train.labels]),
    'test.bin': cifarRecords(test.images, [test.coarse, test.labels]),
  };
}
