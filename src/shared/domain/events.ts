import type { MethodResult, BackendInfo } from './results.js';
import type { PhaseId } from './phases.js';

/**
 * Everything the engine tells its host while it works. The CLI draws these, the worker forwards
 * them to main, and the store persists the metric events.
 */
export type EngineEvent =
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'backend'; backend: BackendInfo }
  | { type: 'phase'; phase: PhaseId; state: 'start' | 'done' | 'reused'; seconds?: number }
  | { type: 'progress'; phase: PhaseId; done: number; total: number; detail?: string }
  /** `wallTime` (unix ms) when measured earlier than reported: per-step training points arrive in batches */
  | { type: 'metric'; phase: PhaseId; key: string; step: number; value: number; wallTime?: number }
  /** `perms`: π_1..π_T of the run, encoded (src/core/perm-steps.ts), so θ2^s can be rebuilt later */
  | { type: 'method-done'; target: number; result: MethodResult; perms?: string };
