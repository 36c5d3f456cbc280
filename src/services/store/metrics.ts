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

  constructor(private readonly db: Db) {
    this.insert = db.prepare(`INSERT INTO metrics (run_id, key, step, value, wall_time) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (run_id, key, step) DO UPDATE SET value = excluded.value, wall_time = excluded.wall_time`);
    this.appendAll = db.transaction((points: readonly MetricPoint[]) => {
      for (const p of points) {
        // SQLite has no NaN (it would store NULL anyway); a diverged loss reads back as NaN.
        this.insert.run(p.runId, p.key, p.step, Number.isNaN(p.value) ? null : p.value, Math.round(p.wallTime));
      }
      return points.length;
    });
  }

  /** Writes a batch in one transaction; returns the number of points written. */
  append(points: readonly MetricPoint[]): number {
    if (points.length === 0) return 0;
    return this.appendAll(points);
  }

  /** Points of all runs of the given experiments (optionally only some keys), by run, key, step. */
  list(experimentIds: readonly string[], keys: readonly string[] = []): MetricPoint[] {
    const rows = this.db
      .prepare(
        `SELECT m.run_id, m.key, m.step, m.value, m.wall_time FROM metrics m
         WHERE m.run_id IN (SELECT r.id FROM runs r WHERE r.experiment_id IN (SELECT value FROM json_each(@ids)))
           AND (@nokeys OR m.key IN (SELECT value FROM json_each(@keys)))
         ORDER BY m.run_id, m.key, m.step`,
      )
      .all({ ids: toJson(experimentIds), keys: toJson(keys), nokeys: keys.length === 0 ? 1 : 0 }) as MetricRow[];
    return rows.map(toPoint);
  }

  /** Every point of the given experiments with its experiment id, in export order; streamed. */
  *iterateWithExperiment(experimentIds: readonly string[]): Generator<MetricPoint & { experimentId: string }> {
    const stmt = this.db.prepare(
      `SELECT r.experiment_id, m.run_id, m.key, m.step, m.value, m.wall_time FROM runs r JOIN metrics m ON m.run_id = r.id
       WHERE r.experiment_id IN (SELECT value FROM json_each(?))
       ORDER BY r.experiment_id, r.ordinal, m.key, m.step`,
    );
    for (const row of stmt.iterate(toJson(experimentIds)) as Iterable<MetricRow & { experiment_id: string }>) {
      yield { ...toPoint(row), experimentId: row.experiment_id };
    }
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM metrics').get() as { n: number }).n;
  }
}

function toPoint(r: MetricRow): MetricPoint {
  return { runId: r.run_id, key: r.key, step: r.step, value: r.value === null ? Number.NaN : r.value, wallTime: r.wall_time };
}
