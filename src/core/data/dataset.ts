import type * as tf from '@tensorflow/tfjs';

/** One split held on the backend: standardised images NHWC float32 and integer labels. */
export interface Split {
  /** [n, h, w, c] float32, already standardised with the training split's statistics */
  x: tf.Tensor4D;
  /** [n] int32 class indices */
  y: tf.Tensor1D;
  n: number;
  /**
   * The same examples cut once, when the split is made, into consecutive evaluation batches
   * (x [size, h, w, c], y [size]), so an evaluation never slices the whole 4-D tensor again (on
   * wasm each slice reads the whole input back first). Owned by the split's dataset. Absent on
   * splits built by hand; evaluation then gathers rows itself.
   */
  batches?: SplitBatch[];
}

export interface SplitBatch {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  size: number;
}

/**
 * A dataset ready for training: train/validation come from the official training set by a
 * deterministic seeded split, test is the official test set.
 */
export interface Dataset {
  name: string;
  /** [h, w, c] */
  inputShape: [number, number, number];
  classes: number;
  classNames: string[];
  train: Split;
  validation: Split;
  test: Split;
  /** per-channel mean and std of the raw [0,1] training pixels, used for standardisation */
  mean: number[];
  std: number[];
  /** sha256 over the raw files read */
  contentHash: string;
  /** class counts of the training split, for the wizard's overview */
  trainClassCounts: number[];
  dispose(): void;
}
