import { newId, nowIso, toJson, type Db } from './db.js';

/** A file an experiment produced besides metrics and weights (a chart, a result JSON, a report). */
export interface ArtifactRecord {
  id: string;
  experimentId: string;
  runId: string | null;
  kind: string;
  sha256: string | null;
  /** relative to the data folder */
  path: string | null;
  meta: Record<string, unknown>;
  createdAt: string;
}

interface ArtifactRow {
  id: string;
  experiment_id: string;
  run_id: string | null;
  kind: string;
  sha256: string | null;
  path: string | null;
  meta: string;
  created_at: string;
}

function toRecord(r: ArtifactRow): ArtifactRecord {
  return {
    id: r.id,
    experimentId: r.experiment_id,
    runId: r.run_id,
    kind: r.kind,
    sha256: r.sha256,
    path: r.path,
    meta: JSON.parse(r.meta) as Record<string, unknown>,
    createdAt: r.created_at,
  };
}

export class ArtifactRepo {
  constructor(private readonly db: Db) {}

  add(
    a: Omit<ArtifactRecord, 'id' | 'createdAt' | 'runId' | 'sha256' | 'path' | 'meta'> &
      Partial<ArtifactRecord>,
  ): ArtifactRecord {
    const row: ArtifactRow = {
      id: a.id ?? newId(),
      experiment_id: a.experimentId,
      run_id: a.runId ?? null,
      kind: a.kind,
      sha256: a.sha256 ?? null,
      path: a.path ?? null,
      meta: toJson(a.meta ?? {}),
      created_at: a.createdAt ?? nowIso(),
    };
    this.db
      .prepare(
        'INSERT INTO artifacts (id, experiment_id, run_id, kind, sha256, path, meta, created_at) VALUES (@id, @experiment_id, @run_id, @kind, @sha256, @path, @meta, @created_at)',
      )
      .run(row);
    return toRecord(row);
  }

  /** The newest artifact of a kind, of an experiment or (with `runId`) of one of its runs; null when none. */
  latest(kind: string, of: { experimentId: string } | { runId: string }): ArtifactRecord | null {
    const [col, value] = 'runId' in of ? ['run_id', of.runId] : ['experiment_id', of.experimentId];
    const row = this.db
      .prepare(
        `SELECT * FROM artifacts WHERE ${col} = ? AND kind = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`,
      )
      .get(value, kind) as ArtifactRow | undefined;
    return row ? toRecord(row) : null;
  }

  /** Removes a run's artifacts of a kind (before recording a newer one). */
  removeForRun(runId: string, kind: string): number {
    return this.db.prepare('DELETE FROM artifacts WHERE run_id = ? AND kind = ?').run(runId, kind).changes;
  }

  /** The latest artifact of one kind for each of these experiments that has one. */
  latestOfKind(experimentIds: readonly string[], kind: string): Map<string, ArtifactRecord> {
    const rows = this.db
      .prepare(
        'SELECT * FROM artifacts WHERE kind = ? AND experiment_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id',
      )
      .all(kind, toJson(experimentIds)) as ArtifactRow[];
    return new Map(rows.map((r) => [r.experiment_id, toRecord(r)]));
  }

  list(experimentId: string): ArtifactRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM artifacts WHERE experiment_id = ? ORDER BY created_at, id')
        .all(experimentId) as ArtifactRow[]
    ).map(toRecord);
  }
}
