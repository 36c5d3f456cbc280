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
  | { type: 'metric'; phase: PhaseId; key: string; step: number; value: number }
  | { type: 'method-done'; target: number; result: MethodResult };
