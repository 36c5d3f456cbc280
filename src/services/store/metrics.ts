import type { MetricPoint } from '../../shared/lab-api.js';
import { toJson, type Db } from './db.js';

interface MetricRow {
  run_id: string;
  key: string;
  step: number;
  value: number | null;
  wall_time: number;
}

/**
 * Curves as (run, key, step, value, wall time), keyed by (run, key, step): a step written twice
 * (a phase redone after a resume) keeps the latest value rather than doubling the curve.
 */
export class MetricRepo {
  private readonly insert;
  private readonly appendAll;
  private readonly insertIfNew;

  /** Removes one run's points (a chunk of a deletion). */
  deleteForRun(runId: string): number {
    return this.db.prepare('DELETE FROM metrics WHERE run_id = ?').run(runId).changes;
  }

  constructor(private readonly db: Db) {
    this.insert = db.prepare(`INSERT INTO metrics (run_id, key, step, value, wall_time) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (run_id, key, step) DO UPDATE SET value = excluded.value, wall_time = excluded.wall_time`);
    this.insertIfNew =
      db.prepare(`INSERT INTO metrics (run_id, key, step, value, wall_time) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (run_id, key, step) DO NOTHING`);
    this.appendAll = db.transaction((points: readonly MetricPoint[]) => {
      for (const p of points) {
        // SQLite has no NaN (it would store NULL anyway); a diverged loss reads back as NaN.
        this.insert.run(
          p.runId,
          p.key,
          p.step,
          Number.isNaN(p.value) ? null : p.value,
          Math.round(p.wallTime),
        );
      }
      return points.length;
    });
  }

  /** Writes a batch in one transaction; returns the number of points written. */
  append(points: readonly MetricPoint[]): number {
    if (points.length === 0) return 0;
    return this.appendAll(points);
  }

  /**
   * Writes points that must all be new (a bundle's, into runs it just created) in one transaction.
   * Returns -1, or the index of the first point whose (run, key, step) is already there: the
   * batch is then not written.
   */
  insertNew(points: readonly MetricPoint[]): number {
    let duplicate = -1;
    try {
      this.db.transaction(() => {
        points.forEach((p, i) => {
          const value = Number.isNaN(p.value) ? null : p.value;
          if (this.insertIfNew.run(p.runId, p.key, p.step, value, Math.round(p.wallTime)).changes === 0) {
            duplicate = i;
            throw new Error('duplicate point');
          }
        });
      })();
    } catch (e) {
      if (duplicate < 0) throw e;
    }
    return duplicate;
  }

  /** Points of all runs of the given experiments (optionally only some keys), by run, key, step. */
  list(experimentIds: readonly string[], keys: readonly string[] = []): MetricPoint[] {
    const rows = this.db
      .prepare(
        `SELECT m.run_id, m.key, m.step, m.value, m.wall_time FROM metrics m
         WHERE m.run_id IN (SELECT r.id FROM runs r WHERE r.experiment_id IN
             (SELECT e.id FROM experiments e WHERE e.importing = 0 AND e.id IN (SELECT value FROM json_each(@ids))))
           AND (@nokeys OR m.key IN (SELECT value FROM json_each(@keys)))
         ORDER BY m.run_id, m.key, m.step`,
      )
      .all({
        ids: toJson(experimentIds),
        keys: toJson(keys),
        nokeys: keys.length === 0 ? 1 : 0,
      }) as MetricRow[];
    return rows.map(toPoint);
  }

  /**
   * Every point of the given experiments, one run at a time (runs in experiment order, points by
   * key and step): each run is read straight off the primary key, so nothing is sorted and a large
   * export never holds all points at once.
   */
  *iterateByRun(experimentIds: readonly string[]): Generator<{
    experimentId: string;
    runId: string;
    rows: [key: string, step: number, value: number, wallTime: number][];
  }> {
    const runs = this.db.prepare(
      'SELECT id, experiment_id FROM runs WHERE experiment_id = ? ORDER BY ordinal',
    );
    const points = this.db
      .prepare('SELECT key, step, value, wall_time FROM metrics WHERE run_id = ? ORDER BY key, step')
      .raw();
    for (const experimentId of experimentIds) {
      for (const run of runs.all(experimentId) as { id: string; experiment_id: string }[]) {
        const rows = points.all(run.id) as [string, number, number | null, number][];
        for (const r of rows) if (r[2] === null) r[2] = Number.NaN;
        yield { experimentId, runId: run.id, rows: rows as [string, number, number, number][] };
      }
    }
  }
}

function toPoint(r: MetricRow): MetricPoint {
  return {
    runId: r.run_id,
    key: r.key,
    step: r.step,
    value: r.value === null ? Number.NaN : r.value,
    wallTime: r.wall_time,
  };
}
