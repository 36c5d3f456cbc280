/**
 * Trajectory Lab's engine, as a library. Everything a host (CLI, worker, tests, your script)
 * needs is exported here; nothing in src/core knows about Electron, SQLite or Vue.
 */
export { initBackend } from './backend.js';
export { loadDataset, previewDataset } from './data/load.js';
export type { Dataset, Split } from './data/dataset.js';
export {
  namedClassSplits,
  resolveClasses,
  selectClasses,
  type NamedClassSplit,
} from './data/class-subsets.js';
export { augmentBatch, blackLevel } from './data/augment.js';
export {
  reestimateBatchNorm,
  resetBatchNorm,
  hasBatchNorm,
  blendRunningStats,
  type BnEstimateOptions,
} from './batchnorm.js';
export {
  importParams,
  loadParamsFor,
  readSafetensors,
  toTorchLayout,
  encodeTorchParams,
  torchName,
} from './torch-import.js';
export { pretrainedStarts, withTaskHead } from './pretrain.js';
export { evaluate, gradient } from './evaluate.js';
export {
  runExperiment,
  trainingKey,
  initialParams,
  type ExperimentHooks,
  type TrainedCache,
} from './experiment.js';
export {
  METHODS,
  runMethod,
  type TransferMethod,
  type TransferContext,
  type TransferOptions,
} from './methods/index.js';
export {
  buildModel,
  archLayers,
  describeArch,
  conv8Layers,
  resnet20Layers,
  trainableNames,
  type ApplyOptions,
  type Model,
  type ParamInfo,
} from './models/index.js';
export { disposeParams, cloneParams, paramCount, type Params } from './params.js';
export {
  saveParams,
  loadParams,
  encodeParams,
  decodeParams,
  encodePoints,
  decodePoints,
  checkParamsFit,
  type ParamsFile,
} from './params-io.js';
export {
  applyPermutation,
  getPermutedParam,
  identityPermutation,
  invertPermutation,
  makePermutationSpec,
  randomPermutation,
  type Permutation,
  type PermutationSpec,
} from './permutation.js';
export { rng, deriveSeed, type Rng } from './random.js';
export * from '../shared/domain/index.js';
export { trainModel, sgdRule, lossAndGrads, type StepRule } from './train.js';
export { lambdas, linearTrajectory, actualTrajectory, type Trajectory } from './trajectory.js';
export { WeightMatcher, weightMatching, type MatchOptions, type MatchResult } from './weight-matching.js';
export { linearSumAssignment } from './assignment.js';
export { oraclePermutation } from './methods/oracle.js';
export type { MethodRun } from './methods/run-method.js';
export { adamRule, type AdamOptions } from './analyses/adam.js';
export { evaluateParams, type PrepareParams } from './analyses/evaluate-params.js';
export { finetuneCurve, trainCurve, epochsSaved } from './analyses/finetune.js';
export { linearPath, barrierHeight, alphas, type Evaluator } from './analyses/paths.js';
export { planeBasis, planePoint, lossPlane, type PlaneBasis } from './analyses/plane.js';
export { assumptionPCurves, cosineSimilarity } from './analyses/assumption-p.js';
export { permutationDiagnostics, agreement, changedFraction } from './analyses/permutation-diagnostics.js';
export { SoftmaxEnsemble } from './analyses/ensembles.js';
export { AnalysesRunner, analysesNeeds } from './analyses/runner.js';
