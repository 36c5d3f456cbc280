/** One official split as read from disk: uint8 images in HWC order, one label byte per image. */
export interface RawSplit {
  /** n·h·w·c bytes, image after image, each image row-major HWC */
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
}

/** A dataset as stored, before any split or standardisation. */
export interface RawDataset {
  name: string;
  /** [h, w, c] */
  shape: [number, number, number];
  classes: number;
  classNames: string[];
  /** the official training set (train + validation are carved from it) */
  train: RawSplit;
  /** the official test set */
  test: RawSplit;
  /** sha256 over the bytes of the data files as stored, in a fixed order */
  contentHash: string;
  /** the data files that were read, in hash order */
  files: string[];
}

/** Counts of each class among `labels`. */
export function classCounts(labels: Uint8Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const l of labels) counts[l]!++;
  return counts;
}
