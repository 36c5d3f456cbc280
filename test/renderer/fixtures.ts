import type { RunRecord } from '../../src/shared/lab-api.js';

export function run(p: Partial<RunRecord> & Pick<RunRecord, 'id'>): RunRecord {
  return {
    experimentId: 'e1',
    kind: 'transfer',
    phase: 'transfer:0:gmt',
    method: 'gmt',
    targetIndex: 0,
    label: 'seed 102',
    seed: 102,
    status: 'done',
    startedAt: null,
    finishedAt: null,
    seconds: null,
    backend: null,
    error: null,
    summary: null,
    best: null,
    final: null,
    test: null,
    ...p,
  };
}
