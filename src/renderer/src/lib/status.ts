import { compareMethodNames, methodInfo, phaseMethod } from '../../../shared/domain/index.js';
import type { RunRecord, RunStatus } from '../../../shared/lab-api.js';

/** Worst first: an experiment shows the worst state of its runs (the store derives it the same way). */
export const STATUS_ORDER: readonly RunStatus[] = [
  'running',
  'queued',
  'failed',
  'interrupted',
  'cancelled',
  'done',
];

/** Groups of charts and tables that are not methods: the training runs. They follow the methods. */
const TRAINING_GROUPS: Record<string, string> = {
  source: 'Source training',
  target: 'Target training',
  pretrain: 'Pre-training',
};

/** A method's label from the domain registry, or a training group's, or the name as it is. */
export function methodLabel(m: string): string {
  return methodInfo(m)?.label ?? TRAINING_GROUPS[m] ?? m;
}

/** Display order everywhere: methods by the registry's order, then source and target, then the rest. */
export function compareMethods(a: string, b: string): number {
  const rank = (m: string): number => (methodInfo(m) ? 0 : m in TRAINING_GROUPS ? 1 : 2);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1) return Object.keys(TRAINING_GROUPS).indexOf(a) - Object.keys(TRAINING_GROUPS).indexOf(b);
  return compareMethodNames(a, b);
}

/** The worst status of a set of runs; null for none. */
export function aggregateStatus(statuses: readonly RunStatus[]): RunStatus | null {
  let worst: RunStatus | null = null;
  for (const s of statuses) {
    if (worst === null || STATUS_ORDER.indexOf(s) < STATUS_ORDER.indexOf(worst)) worst = s;
  }
  return worst;
}

export function statusCounts(runs: readonly { status: RunStatus }[]): Record<RunStatus, number> {
  const c: Record<RunStatus, number> = {
    running: 0,
    queued: 0,
    failed: 0,
    interrupted: 0,
    cancelled: 0,
    done: 0,
  };
  for (const r of runs) c[r.status]++;
  return c;
}

export function isActive(s: RunStatus | null | undefined): boolean {
  return s === 'running' || s === 'queued';
}

/** Runs that stopped before finishing can be resumed; finished methods are kept. */
export function canResume(s: RunStatus | null | undefined): boolean {
  return s === 'interrupted' || s === 'failed' || s === 'cancelled';
}

/** The group a run belongs to in charts and tables: its method, or 'source' / 'target' / 'pretrain' for training. */
export function runGroup(run: Pick<RunRecord, 'kind' | 'method' | 'phase'>): string {
  if (run.kind === 'transfer') return run.method ?? phaseMethod(run.phase) ?? 'transfer';
  return run.kind;
}

/** 'transfer:0:gmt' → "GMT · target 1 (seed 102)". */
export function phaseLabel(
  run: Pick<RunRecord, 'kind' | 'method' | 'phase' | 'targetIndex' | 'label'>,
): string {
  const tgt = run.targetIndex !== null ? `target ${run.targetIndex + 1}` : '';
  const lbl = run.label ? ` (${run.label})` : '';
  if (run.kind === 'source') return `Source training${lbl}`;
  if (run.kind === 'pretrain') return `Pre-training ${tgt || 'source'}${lbl}`;
  if (run.kind === 'target') return `Training ${tgt || 'target'} for Oracle${lbl}`;
  return `${methodLabel(runGroup(run))} · ${tgt}${lbl}`;
}

export interface LiveProgress {
  done: number;
  total: number;
}

/**
 * Overall progress of an experiment as a fraction: finished runs count 1, the running ones their
 * reported share; every run weighs the same (a coarse but monotone measure).
 */
export function experimentProgress(
  runs: readonly Pick<RunRecord, 'id' | 'status'>[],
  live: ReadonlyMap<string, LiveProgress>,
): number {
  if (runs.length === 0) return 0;
  let sum = 0;
  for (const r of runs) {
    if (r.status === 'done') sum += 1;
    else if (r.status === 'running') {
      const p = live.get(r.id);
      if (p && p.total > 0) sum += Math.min(1, Math.max(0, p.done / p.total));
    }
  }
  return sum / runs.length;
}
