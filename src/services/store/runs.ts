import {
  type ExperimentSpec,
  initLabel,
  type InitSpec,
  type MethodResult,
  needsTrainedTarget,
  phaseId,
  type TrainedSummary,
} from '../../shared/domain/index.js';
import type { RunKind, RunRecord, RunStatus } from '../../shared/lab-api.js';
import type Database from 'better-sqlite3';
import { fromJson, newId, toJson, type Db } from './db.js';

interface RunRow {
  id: string;
  experiment_id: string;
  ordinal: number;
  kind: RunKind;
  phase: string;
  method: string | null;
  target_index: number | null;
  label: string;
  seed: number | null;
  status: RunStatus;
  started_at: string | null;
  finished_at: string | null;
  seconds: number | null;
  backend: string | null;
  error: string | null;
  summary: string | null;
  best_val: number | null;
  final_val: number | null;
  test_acc: number | null;
}

/** What the job system may change on a run. Cached best/final/test follow `summary` unless given. */
export interface RunPatch {
  status?: RunStatus;
  startedAt?: string | null;
  finishedAt?: string | null;
  seconds?: number | null;
  backend?: string | null;
  error?: string | null;
  summary?: MethodResult | TrainedSummary | null;
  best?: number | null;
  final?: number | null;
  test?: number | null;
}

export type PlannedRun = Pick<RunRecord, 'kind' | 'phase' | 'method' | 'targetIndex' | 'label' | 'seed'>;

/**
 * The phases an experiment goes through, in the engine's order: the pre-training of every
 * initialisation (the pre-trained scenario only), the source, then per target its training (only
 * when a method needs it, as Oracle does) and each method.
 */
export function plannedRuns(spec: ExperimentSpec): PlannedRun[] {
  const pretrain = (init: InitSpec, of: 'source' | number): PlannedRun => ({
    kind: 'pretrain',
    phase: phaseId.pretrain(of),
    method: null,
    targetIndex: of === 'source' ? null : of,
    label: initLabel(init),
    seed: init.seed ?? null,
  });
  const out: PlannedRun[] = [
    ...(spec.pretrain
      ? [pretrain(spec.source.init, 'source'), ...spec.targets.map((t, i) => pretrain(t.init, i))]
      : []),
    {
      kind: 'source',
      phase: phaseId.source,
      method: null,
      targetIndex: null,
      label: initLabel(spec.source.init),
      seed: spec.source.init.seed ?? null,
    },
  ];
  spec.targets.forEach((t, i) => {
    const label = initLabel(t.init);
    const seed = t.init.seed ?? null;
    if (needsTrainedTarget(spec.transfer.methods))
      out.push({ kind: 'target', phase: phaseId.target(i), method: null, targetIndex: i, label, seed });
    for (const m of spec.transfer.methods)
      out.push({ kind: 'transfer', phase: phaseId.transfer(i, m), method: m, targetIndex: i, label, seed });
  });
  return out;
}

/** best/final/test accuracy of a finished run, for the tables (null where unknown or NaN). */
export function cachedValues(summary: MethodResult | TrainedSummary | null | undefined): {
  best: number | null;
  final: number | null;
  test: number | null;
} {
  const fin = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  if (!summary) return { best: null, final: null, test: null };
  if (Array.isArray(summary.valAccuracy)) {
    const vals = summary.valAccuracy.map(fin).filter((v): v is number => v !== null);
    return {
      best: vals.length ? Math.max(...vals) : null,
      final: fin(summary.valAccuracy[summary.valAccuracy.length - 1]),
      test: fin(summary.testAccuracy),
    };
  }
  const v = fin(summary.valAccuracy);
  return { best: v, final: v, test: fin(summary.testAccuracy) };
}

function toRecord(r: RunRow): RunRecord {
  return {
    id: r.id,
    experimentId: r.experiment_id,
    kind: r.kind,
    phase: r.phase,
    method: r.method,
    targetIndex: r.target_index,
    label: r.label,
    seed: r.seed,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    seconds: r.seconds,
    backend: r.backend,
    error: r.error,
    summary: fromJson(r.summary, null),
    best: r.best_val,
    final: r.final_val,
    test: r.test_acc,
  };
}

const PATCH_COLUMNS: Record<Exclude<keyof RunPatch, 'summary'>, string> = {
  status: 'status',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  seconds: 'seconds',
  backend: 'backend',
  error: 'error',
  best: 'best_val',
  final: 'final_val',
  test: 'test_acc',
};

export class RunRepo {
  private readonly insert;
  private readonly byId;
  private readonly byExperiment;
  private readonly byPhase;
  /** update statements by the set of columns they write (a handful of shapes in practice) */
  private readonly updates = new Map<string, Database.Statement>();

  constructor(private readonly db: Db) {
    this.insert =
      db.prepare(`INSERT INTO runs (id, experiment_id, ordinal, kind, phase, method, target_index, label, seed, status,
        started_at, finished_at, seconds, backend, error, summary, best_val, final_val, test_acc)
      VALUES (@id, @experiment_id, @ordinal, @kind, @phase, @method, @target_index, @label, @seed, @status,
        @started_at, @finished_at, @seconds, @backend, @error, @summary, @best_val, @final_val, @test_acc)
      ON CONFLICT (experiment_id, phase) DO NOTHING`);
    this.byId = db.prepare('SELECT * FROM runs WHERE id = ?');
    this.byExperiment = db.prepare('SELECT * FROM runs WHERE experiment_id = ? ORDER BY ordinal');
    this.byPhase = db.prepare('SELECT * FROM runs WHERE experiment_id = ? AND phase = ?');
  }

  /** Creates the queued runs the spec implies; phases that already have a run keep theirs. */
  plan(experimentId: string, spec: ExperimentSpec): RunRecord[] {
    this.planSome(experimentId, plannedRuns(spec));
    return this.list(experimentId);
  }

  /** Inserts these planned runs (one transaction); phases that already have a run keep theirs. */
  planSome(experimentId: string, planned: readonly PlannedRun[]): void {
    this.db.transaction(() => {
      const start = (
        this.db
          .prepare('SELECT COALESCE(MAX(ordinal) + 1, 0) AS n FROM runs WHERE experiment_id = ?')
          .get(experimentId) as { n: number }
      ).n;
      planned.forEach((p, i) => {
        this.insert.run({
          id: newId(),
          experiment_id: experimentId,
          ordinal: start + i,
          kind: p.kind,
          phase: p.phase,
          method: p.method,
          target_index: p.targetIndex,
          label: p.label,
          seed: p.seed,
          status: 'queued',
          started_at: null,
          finished_at: null,
          seconds: null,
          backend: null,
          error: null,
          summary: null,
          best_val: null,
          final_val: null,
          test_acc: null,
        });
      });
    })();
  }

  /** Deletes these runs (one transaction; their metrics cascade). */
  deleteMany(ids: readonly string[]): void {
    const del = this.db.prepare('DELETE FROM runs WHERE id = ?');
    this.db.transaction(() => {
      for (const id of ids) del.run(id);
    })();
  }

  /** The experiment each of these runs belongs to, for those that exist. */
  experimentsOf(runIds: readonly string[]): Map<string, string> {
    const rows = this.db
      .prepare('SELECT id, experiment_id FROM runs WHERE id IN (SELECT value FROM json_each(?))')
      .all(toJson(runIds)) as { id: string; experiment_id: string }[];
    return new Map(rows.map((r) => [r.id, r.experiment_id]));
  }

  /** Ids of an experiment's runs in their order. */
  ids(experimentId: string): string[] {
    return (
      this.db.prepare('SELECT id FROM runs WHERE experiment_id = ? ORDER BY ordinal').all(experimentId) as {
        id: string;
      }[]
    ).map((r) => r.id);
  }

  /** Inserts runs as recorded elsewhere (a bundle), keeping their ids and order. */
  insertRecords(runs: RunRecord[]): number {
    let added = 0;
    this.db.transaction(() => {
      const start = runs.length
        ? (
            this.db
              .prepare('SELECT COALESCE(MAX(ordinal) + 1, 0) AS n FROM runs WHERE experiment_id = ?')
              .get(runs[0].experimentId) as { n: number }
          ).n
        : 0;
      runs.forEach((r, i) => {
        added += this.insert.run({
          id: r.id,
          experiment_id: r.experimentId,
          ordinal: start + i,
          kind: r.kind,
          phase: r.phase,
          method: r.method,
          target_index: r.targetIndex,
          label: r.label,
          seed: r.seed,
          status: r.status,
          started_at: r.startedAt,
          finished_at: r.finishedAt,
          seconds: r.seconds,
          backend: r.backend,
          error: r.error,
          summary: r.summary === null ? null : toJson(r.summary),
          best_val: r.best,
          final_val: r.final,
          test_acc: r.test,
        }).changes;
      });
    })();
    return added;
  }

  get(id: string): RunRecord | null {
    const r = this.byId.get(id) as RunRow | undefined;
    return r ? toRecord(r) : null;
  }

  list(experimentId: string): RunRecord[] {
    return (this.byExperiment.all(experimentId) as RunRow[]).map(toRecord);
  }

  /** The runs of many experiments in one query, by experiment, each in its order. */
  listMany(experimentIds: readonly string[]): Map<string, RunRecord[]> {
    const out = new Map<string, RunRecord[]>();
    const rows = this.db
      .prepare(
        'SELECT * FROM runs WHERE experiment_id IN (SELECT value FROM json_each(?)) ORDER BY experiment_id, ordinal',
      )
      .all(toJson(experimentIds)) as RunRow[];
    for (const r of rows) {
      let list = out.get(r.experiment_id);
      if (!list) out.set(r.experiment_id, (list = []));
      list.push(toRecord(r));
    }
    return out;
  }

  byPhaseOf(experimentId: string, phase: string): RunRecord | null {
    const r = this.byPhase.get(experimentId, phase) as RunRow | undefined;
    return r ? toRecord(r) : null;
  }

  update(id: string, patch: RunPatch): RunRecord | null {
    const sets: string[] = [];
    const values: Record<string, unknown> = { id };
    const p: RunPatch = { ...patch };
    if (p.summary !== undefined) {
      sets.push('summary = @summary');
      values.summary = p.summary === null ? null : toJson(p.summary);
      const cached = cachedValues(p.summary);
      if (p.best === undefined) p.best = cached.best;
      if (p.final === undefined) p.final = cached.final;
      if (p.test === undefined) p.test = cached.test;
    }
    for (const [key, col] of Object.entries(PATCH_COLUMNS) as [keyof typeof PATCH_COLUMNS, string][]) {
      if (p[key] === undefined) continue;
      sets.push(`${col} = @${col}`);
      values[col] = p[key];
    }
    if (sets.length) {
      const sql = `UPDATE runs SET ${sets.join(', ')} WHERE id = @id`;
      let stmt = this.updates.get(sql);
      if (!stmt) this.updates.set(sql, (stmt = this.db.prepare(sql)));
      stmt.run(values);
    }
    return this.get(id);
  }

  /** Moves an experiment's runs that are in one of `from` to `to` (cancel, resume); returns how many moved. */
  setStatus(experimentId: string, from: RunStatus[], to: RunStatus): number {
    return this.db
      .prepare(
        `UPDATE runs SET status = ? WHERE experiment_id = ? AND status IN (SELECT value FROM json_each(?))`,
      )
      .run(to, experimentId, toJson(from)).changes;
  }

  /**
   * Closes an experiment's open runs in one statement (a job that ended with thousands of them):
   * they take `to`, and `error` unless it is null; a running one also gets `finishedAt` unless it
   * is null. Returns the ids changed.
   */
  closeOpen(
    experimentId: string,
    from: readonly RunStatus[],
    to: RunStatus,
    error: string | null,
    finishedAt: string | null,
    except: string | null = null,
  ): string[] {
    return (
      this.db
        .prepare(
          `UPDATE runs SET status = @to, error = COALESCE(@error, error),
             finished_at = CASE WHEN status = 'running' AND @at IS NOT NULL THEN @at ELSE finished_at END
           WHERE experiment_id = @e AND status IN (SELECT value FROM json_each(@from)) AND id IS NOT @except
           RETURNING id`,
        )
        .all({ to, error, at: finishedAt, e: experimentId, from: toJson(from), except }) as { id: string }[]
    ).map((r) => r.id);
  }

  /**
   * At start-up, when no queue holds anything: every queued or running run becomes interrupted,
   * whatever experiment it belongs to. Returns the experiments touched, sorted.
   */
  interruptOpen(): string[] {
    const rows = this.db
      .prepare(
        `UPDATE runs SET status = 'interrupted' WHERE status IN ('queued', 'running') RETURNING experiment_id AS id`,
      )
      .all() as { id: string }[];
    return [...new Set(rows.map((r) => r.id))].sort();
  }
}
