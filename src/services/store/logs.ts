import { nowIso, type Db } from './db.js';

export type LogLevel = 'info' | 'warn' | 'error';

export interface LogEntry {
  at: string;
  level: LogLevel;
  message: string;
}

export class LogRepo {
  private readonly insert;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO logs (experiment_id, at, level, message) VALUES (?, ?, ?, ?)');
  }

  append(experimentId: string, level: LogLevel, message: string, at: string = nowIso()): LogEntry {
    this.insert.run(experimentId, at, level, message);
    return { at, level, message };
  }

  appendMany(experimentId: string, entries: readonly LogEntry[]): number {
    this.db.transaction(() => {
      for (const e of entries) this.insert.run(experimentId, e.at, e.level, e.message);
    })();
    return entries.length;
  }

  /** The last `limit` entries of an experiment's log, oldest first (all of them when limit is 0). */
  list(experimentId: string, limit = 0): LogEntry[] {
    const rows =
      limit > 0
        ? this.db
            .prepare(
              'SELECT at, level, message FROM (SELECT id, at, level, message FROM logs WHERE experiment_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id',
            )
            .all(experimentId, limit)
        : this.db
            .prepare('SELECT at, level, message FROM logs WHERE experiment_id = ? ORDER BY id')
            .all(experimentId);
    return rows as LogEntry[];
  }
}
