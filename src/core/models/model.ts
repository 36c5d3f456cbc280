import type * as tf from '@tensorflow/tfjs';
import type { Params } from '../params.js';
import type { PermutationSpec } from '../permutation.js';
import type { ArchSpec } from '../../shared/domain/index.js';

export interface ParamInfo {
  name: string;
  shape: number[];
  /** fan-in used by PyTorch's default initialisation U(±1/√fan_in) */
  fanIn: number;
  /**
   * how PyTorch initialises it when not U(±1/√fan_in): BatchNorm's weight and running variance
   * start at 1, its bias and running mean at 0
   */
  fill?: number;
  /** a BatchNorm running statistic: carried, permuted and saved with the parameters but never trained */
  buffer?: boolean;
  /**
   * a dense kernel: its minibatch gradient is inputsᵀ·δ, of rank at most the batch size, and the
   * forward pass exposes both factors (ApplyOptions.probes / inputs)
   */
  lowRankGradient?: boolean;
}

/** Options of a forward pass. */
export interface ApplyOptions {
  /**
   * training mode: BatchNorm normalises with the minibatch's own statistics (PyTorch's
   * model.train()) instead of the running ones
   */
  training?: boolean;
  /**
   * filled in training mode with each BatchNorm layer's minibatch statistics, under the names of its
   * running statistics (`bn1.mean` → batch mean, `bn1.variance` → unbiased batch variance). The
   * tensors are kept out of any tf.tidy: the caller disposes them.
   */
  batchStats?: Params;
  /**
   * zero tensors [n, out] added to the pre-activation of the kernels flagged lowRankGradient, by
   * kernel name: the gradient with respect to a probe is ∂loss/∂pre-activation
   */
  probes?: Params;
  /**
   * filled with the input [n, in] of each probed layer under its kernel's name (flattened as the
   * kernel is read), kept out of any tf.tidy: the caller disposes them
   */
  inputs?: Params;
}

/** The parameters gradients and optimisers act on: every parameter that is not a running statistic. */
export function trainableNames(model: Pick<Model, 'params'>): string[] {
  return model.params.filter((p) => !p.buffer).map((p) => p.name);
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
  /** names of the BatchNorm running statistics among `params` (empty for networks without BN) */
  buffers?: string[];
  /** names of the classifier's parameters (the layer a new task replaces) */
  head?: string[];
  /** logits [n, classes] for x [n, h, w, c]; evaluation mode unless opts.training */
  apply(params: Params, x: tf.Tensor4D, opts?: ApplyOptions): tf.Tensor2D;
  /** PyTorch-default initialisation, deterministic in the seed on every backend */
  init(seed: number): Params;
}
