import type { MethodName } from '../spec.js';

/**
 * The `analyses` section of an experiment spec (all optional): the paper's analyses of the
 * transferred parameters. Each present section runs; defaults are filled by the spec parser.
 */
export interface FinetuneSpec {
  /** paper Sec. 4.2: Adam; the authors' code used AdamW (decoupled weight decay) */
  optimizer: 'adam' | 'adamw' | 'sgd';
  /** paper: 1e-4 (1e-6 on ImageNet) */
  lr: number;
  /** paper: 10 */
  epochs: number;
  /** start from θ2 at the best step by validation (paper) or at T */
  from: 'best' | 'final';
  /** also train θ2^0 from scratch with the source's optimiser and schedule for `epochs` epochs */
  scratch: boolean;
  /** minibatch size (the source's when absent) */
  batchSize?: number;
  weightDecay: number;
  /** SGD only */
  momentum: number;
}

export interface PathsSpec {
  /** α values on each linear path, both ends included */
  points: number;
}

export interface PlaneSpec {
  /** whose transferred (or fine-tuned) parameters span the plane with θ2^T and πθ1^T */
  method: MethodName;
  /** points per side */
  grid: number;
  /** extra room around the three points, as a fraction of their span */
  margin: number;
  /** the method's point: its transferred parameters or, when finetune ran, the fine-tuned ones */
  from: 'transferred' | 'finetuned';
}

export interface AssumptionPSpec {
  /**
   * hidden widths for the sweep over widths (paper Fig. 3a), each training a source and a target
   * with checkpoints; empty = only the experiment's own model
   */
  widths: number[];
}

export interface EnsemblesSpec {
  /** members are each method's transferred parameters at its best step or at T */
  from: 'best' | 'final';
}

export interface AnalysesSpec {
  finetune?: FinetuneSpec;
  paths?: PathsSpec;
  plane?: PlaneSpec;
  assumptionP?: AssumptionPSpec;
  ensembles?: EnsemblesSpec;
  /**
   * validation examples per path/plane point (0 = the experiment's evalLimit); a 21×21 plane is
   * 441 evaluations
   */
  evalLimit: number;
}
