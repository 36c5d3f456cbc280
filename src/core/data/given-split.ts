import { readFile } from 'node:fs/promises';
import { DatasetError } from './errors.js';
import type { TrainValidationSplit } from './split.js';

/**
 * A train/validation split given from outside (`datasetOptions.validationIndices`), so results can
 * be matched example for example against another implementation: the file lists the indices of
 * the official training set (after any class selection) that form validation; every other index
 * is training, in ascending order (the training order is the trainer's seeded shuffle anyway).
 */

/** Reads a JSON array of integers, or integers separated by whitespace or commas. */
export async function readIndexFile(path: string): Promise<Int32Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DatasetError(
      path,
      `cannot read the validation index file: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  const trimmed = text.trim();
  let values: unknown[];
  if (trimmed.startsWith('[')) {
    try {
      values = JSON.parse(trimmed) as unknown[];
    } catch (e) {
      throw new DatasetError(path, `validation index file is not valid JSON (${(e as Error).message})`);
    }
  } else values = trimmed ? trimmed.split(/[\s,]+/).map(Number) : [];
  const out = new Int32Array(values.length);
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new DatasetError(path, `entry ${i} (${String(v)}) is not a whole number ≥ 0`);
    out[i] = v;
  });
  return out;
}

export function givenSplit(
  n: number,
  validation: Int32Array,
  trainLimit = 0,
  what = 'validation index file',
): TrainValidationSplit {
  const inVal = new Uint8Array(n);
  for (const i of validation) {
    if (i >= n) throw new DatasetError(what, `index ${i} is past the training set's ${n} examples`);
    if (inVal[i]) throw new DatasetError(what, `index ${i} is listed twice`);
    inVal[i] = 1;
  }
  if (validation.length === 0 || validation.length >= n)
    throw new DatasetError(
      what,
      `${validation.length} of ${n} examples; both train and validation need some`,
    );
  let train = new Int32Array(n - validation.length);
  let k = 0;
  for (let i = 0; i < n; i++) if (!inVal[i]) train[k++] = i;
  if (trainLimit > 0 && trainLimit < train.length) train = train.slice(0, trainLimit);
  return { train, validation: Int32Array.from(validation) };
}
