/**
 * The lab's domain vocabulary, in one dependency-free module (no TensorFlow.js, no Node, no Vue):
 * the experiment spec with its defaults, limits and parser; the method registry; phase ids; the
 * cost model; result and event types; the error type. Engine, services, worker, CLI and renderer
 * all import it. See docs/architecture.md.
 */
export * from './spec/index.js';
export * from './methods.js';
export * from './phases.js';
export * from './phase-plan.js';
export * from './cost.js';
export * from './results.js';
export * from './events.js';
export * from './errors.js';
export * from './sweep.js';
export * from './analyses.js';
export * from './analyses-cost.js';
export * from './model-layers.js';
