/**
 * Phase ids: how the engine, the worker, the store and the UI address one part of an experiment.
 * 'data', 'source', 'target:0' (training target 0 for Oracle), 'transfer:0:gmt' (one method on one
 * target). Built and parsed only here.
 *
 * Adding a phase kind: one entry in PHASE_KINDS (its parts, in id order) and, if it becomes a row
 * in the store's run table, one in RUN_KINDS.
 */
import { isMethodName, type MethodName } from './methods.js';

/** The parts a phase id may carry after its kind, and what each holds. */
interface PhasePartTypes {
  target: number;
  method: MethodName;
  /** whose initialisation a pre-training trains: the source's or a target's (by index) */
  of: 'source' | number;
}
type PhasePart = keyof PhasePartTypes;

const PHASE_KINDS = {
  data: [],
  source: [],
  target: ['target'],
  transfer: ['target', 'method'],
  // the analyses (spec `analyses`): subsequent training and its scratch baseline, linear paths,
  // the loss plane, Assumption (P); events only, not rows of the run table
  scratch: ['target'],
  finetune: ['target', 'method'],
  paths: ['target', 'method'],
  plane: ['target'],
  assumptionP: [],
  pretrain: ['of'],
} as const satisfies Record<string, readonly PhasePart[]>;

export type PhaseKind = keyof typeof PHASE_KINDS;

/** A phase, parsed: `{ kind: 'transfer', target: 0, method: 'gmt' }`. */
export type Phase = {
  [K in PhaseKind]: { kind: K } & { [P in (typeof PHASE_KINDS)[K][number]]: PhasePartTypes[P] };
}[PhaseKind];

/**
 * Phase kinds that are rows of the store's run table (one per phase, with a status): the
 * pre-trainings, the source's and the Oracle targets' trainings, the transfers.
 */
export const RUN_KINDS = ['source', 'target', 'transfer', 'pretrain'] as const satisfies readonly PhaseKind[];
export type RunKind = (typeof RUN_KINDS)[number];

/** Run kinds the job queue can run as phase jobs of their own (a pre-training runs inside the whole experiment). */
export const PHASE_JOB_KINDS = ['source', 'target', 'transfer'] as const satisfies readonly RunKind[];

export type PhaseId = string;

export function formatPhase(p: Phase): PhaseId {
  const parts: (string | number)[] = [p.kind];
  for (const part of PHASE_KINDS[p.kind] as readonly PhasePart[])
    parts.push((p as unknown as PhasePartTypes)[part]);
  return parts.join(':');
}

/** The phase an id names, or null for an id that is not one (an unknown kind or a bad part). */
export function parsePhase(id: string): Phase | null {
  const [kind, ...rest] = id.split(':');
  if (!Object.prototype.hasOwnProperty.call(PHASE_KINDS, kind)) return null;
  const names = PHASE_KINDS[kind as PhaseKind] as readonly PhasePart[];
  if (rest.length !== names.length) return null;
  const out: Record<string, unknown> = { kind };
  for (let i = 0; i < names.length; i++) {
    const v = rest[i];
    if (names[i] === 'target') {
      if (!/^\d+$/.test(v)) return null;
      out.target = Number(v);
    } else if (names[i] === 'of') {
      if (v !== 'source' && !/^\d+$/.test(v)) return null;
      out.of = v === 'source' ? v : Number(v);
    } else {
      if (!isMethodName(v)) return null;
      out.method = v;
    }
  }
  return out as Phase;
}

export const phaseId = {
  data: 'data' as PhaseId,
  source: 'source' as PhaseId,
  target: (target: number): PhaseId => formatPhase({ kind: 'target', target }),
  transfer: (target: number, method: MethodName): PhaseId =>
    formatPhase({ kind: 'transfer', target, method }),
  scratch: (target: number): PhaseId => formatPhase({ kind: 'scratch', target }),
  finetune: (target: number, method: MethodName): PhaseId =>
    formatPhase({ kind: 'finetune', target, method }),
  paths: (target: number, method: MethodName): PhaseId => formatPhase({ kind: 'paths', target, method }),
  plane: (target: number): PhaseId => formatPhase({ kind: 'plane', target }),
  assumptionP: 'assumptionP' as PhaseId,
  /** pre-training of the source's ('pretrain:source') or a target's ('pretrain:0') initialisation */
  pretrain: (of: 'source' | number): PhaseId => formatPhase({ kind: 'pretrain', of }),
};

/** The target index a phase belongs to, or null (data, source). */
export function phaseTarget(id: string): number | null {
  const p = parsePhase(id);
  if (p?.kind === 'pretrain') return typeof p.of === 'number' ? p.of : null;
  return p && 'target' in p ? p.target : null;
}

/** The method of a transfer phase, or null. */
export function phaseMethod(id: string): MethodName | null {
  const p = parsePhase(id);
  return p && 'method' in p ? p.method : null;
}

/** Phases that train a network (the source, a target for Oracle): their parameters are cached. */
export function isTrainingPhase(id: string): boolean {
  const k = parsePhase(id)?.kind;
  return k === 'source' || k === 'target' || k === 'pretrain';
}
