import type * as tf from '@tensorflow/tfjs';
import type { Params } from '../params.js';
import type { PermutationSpec } from '../permutation.js';
import type { ArchSpec } from '../../shared/domain/index.js';

export interface ParamInfo {
  name: string;
  shape: number[];
  /** fan-in used by PyTorch's default initialisation U(±1/√fan_in) */
  fanIn: number;
}

/**
 * A network as the engine sees it: a pure function of (params, x) plus the permutation spec that
 * says how hidden units may be reordered without changing that function. Methods only ever use
 * these members, so adding an architecture never touches a method.
 */
export interface Model {
  arch: ArchSpec;
  /** a short human name, e.g. "MLP 784-512-10" */
  describe: string;
  inputShape: [number, number, number];
  classes: number;
  params: ParamInfo[];
  permSpec: PermutationSpec;
  /** logits [n, classes] for x [n, h, w, c] */
  apply(params: Params, x: tf.Tensor4D): tf.Tensor2D;
  /** PyTorch-default initialisation, deterministic in the seed on every backend */
  init(seed: number): Params;
}
