import { rng } from '../random.js';

/** 0..n-1 in an order fixed by `seed` (the engine's seeded generator, Fisher–Yates). */
export function shuffledIndices(n: number, seed: number): Int32Array {
  return rng(seed).permutation(n);
}

export interface TrainValidationSplit {
  /** indices into the official training set, in shuffled order */
  train: Int32Array;
  validation: Int32Array;
}

/** Number of validation examples out of `n` for a fraction; both parts keep at least one example. */
function validationCount(n: number, valFraction: number): number {
  return Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
}

/**
 * Shuffles 0..n-1 with `seed`; the first round(n·valFraction) become validation, the rest train.
 * `trainLimit` > 0 keeps only the first trainLimit of the (shuffled) train part, so a limited run
 * trains on a random subset and validates on the same examples as a full run.
 */
export function splitTrainValidation(
  n: number,
  valFraction: number,
  seed: number,
  trainLimit = 0,
): TrainValidationSplit {
  if (!Number.isInteger(n) || n < 2)
    throw new RangeError(`need at least 2 training examples to split, got ${n}`);
  if (!(valFraction > 0 && valFraction < 1))
    throw new RangeError(`valFraction must be in (0, 1), got ${valFraction}`);
  if (!Number.isInteger(trainLimit) || trainLimit < 0)
    throw new RangeError(`trainLimit must be a whole number ≥ 0, got ${trainLimit}`);
  const perm = shuffledIndices(n, seed);
  const nVal = validationCount(n, valFraction);
  const validation = perm.slice(0, nVal);
  let train = perm.slice(nVal);
  if (trainLimit > 0 && trainLimit < train.length) train = train.slice(0, trainLimit);
  return { train, validation };
}
