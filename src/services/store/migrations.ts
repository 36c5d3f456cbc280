import type { Db } from './db.js';
import { nowIso } from './db.js';

/**
 * The schema as an ordered list of named steps. Each step runs once, in its own transaction,
 * together with its row in `migrations` and the new `PRAGMA user_version`, so a crash leaves the
 * database at one version or the next, never between. Steps are never edited once released: a
 * change is a new step.
 */
export interface Migration {
  version: number;
  name: string;
  up: string | ((db: Db) => void);
  /**
   * The step rebuilds a table (SQLite cannot change a CHECK constraint in place): it runs with
   * foreign-key enforcement off, so dropping the old table does not cascade into the rows that
   * reference it, and the foreign keys are checked before it commits (SQLite's 12-step procedure).
   */
  rebuildsTables?: boolean;
}

const RUN_STATUS_CHECK = `status IN ('queued','running','done','failed','cancelled','interrupted')`;

/**
 * Migration 002's roll-up of one experiment's runs (SET clause; `x` is the experiment id):
 * status is the worst of running > queued > failed > interrupted > cancelled > done
 * (`whenNoRuns` with no runs: 'queued' in 002, 'interrupted' from 003 on), seconds the sum,
 * backend the latest run's, best_by_method the mean over targets of each method's best
 * validation accuracy. Part of released migrations: what it produces for 002 never changes.
 */
function rollup(x: string, whenNoRuns: 'queued' | 'interrupted' = 'queued'): string {
  return `
    status = COALESCE((SELECT CASE MIN(CASE r.status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 WHEN 'failed' THEN 2
        WHEN 'interrupted' THEN 3 WHEN 'cancelled' THEN 4 ELSE 5 END)
      WHEN 0 THEN 'running' WHEN 1 THEN 'queued' WHEN 2 THEN 'failed' WHEN 3 THEN 'interrupted' WHEN 4 THEN 'cancelled' WHEN 5 THEN 'done' END
      FROM runs r WHERE r.experiment_id = ${x}), '${whenNoRuns}'),
    seconds = (SELECT SUM(r.seconds) FROM runs r WHERE r.experiment_id = ${x}),
    backend = (SELECT r.backend FROM runs r WHERE r.experiment_id = ${x} AND r.backend IS NOT NULL
      ORDER BY COALESCE(r.started_at, '') DESC, r.ordinal DESC LIMIT 1),
    best_by_method = (SELECT json_group_object(b.method, b.best) FROM (SELECT r.method, AVG(r.best_val) AS best FROM runs r
      WHERE r.experiment_id = ${x} AND r.kind = 'transfer' AND r.best_val IS NOT NULL AND r.method IS NOT NULL GROUP BY r.method) AS b)`;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: '001_initial',
    up: `
      CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        format TEXT NOT NULL,
        location TEXT,
        spec TEXT NOT NULL,
        content_hash TEXT UNIQUE,
        input_shape TEXT,
        classes INTEGER,
        class_names TEXT NOT NULL DEFAULT '[]',
        train_count INTEGER,
        test_count INTEGER,
        created_at TEXT NOT NULL
      );

      CREATE TABLE param_sets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        arch TEXT NOT NULL,
        input_shape TEXT NOT NULL,
        classes INTEGER NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('init','trained','imported','pretrained')),
        seed INTEGER,
        training_key TEXT,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        points INTEGER NOT NULL,
        val_accuracy REAL,
        test_accuracy REAL,
        summary TEXT,
        dataset_hash TEXT,
        experiment_id TEXT REFERENCES experiments(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX param_sets_training_key ON param_sets(training_key);
      CREATE INDEX param_sets_sha256 ON param_sets(sha256);
      CREATE INDEX param_sets_experiment ON param_sets(experiment_id);

      CREATE TABLE experiments (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        notes TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('lab','cli','import')),
        dataset TEXT NOT NULL,
        arch TEXT NOT NULL,
        methods TEXT NOT NULL,
        targets INTEGER NOT NULL,
        t_steps INTEGER NOT NULL,
        source_param_set_id TEXT REFERENCES param_sets(id)
      );
      CREATE INDEX experiments_source ON experiments(source_param_set_id);

      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('source','target','transfer')),
        phase TEXT NOT NULL,
        method TEXT,
        target_index INTEGER,
        label TEXT NOT NULL,
        seed INTEGER,
        status TEXT NOT NULL CHECK (${RUN_STATUS_CHECK}),
        started_at TEXT,
        finished_at TEXT,
        seconds REAL,
        backend TEXT,
        error TEXT,
        summary TEXT,
        UNIQUE (experiment_id, phase)
      );

      CREATE TABLE metrics (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        step INTEGER NOT NULL,
        value REAL,
        wall_time INTEGER NOT NULL,
        PRIMARY KEY (run_id, key, step)
      ) WITHOUT ROWID;

      CREATE TABLE logs (
        id INTEGER PRIMARY KEY,
        experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        level TEXT NOT NULL CHECK (level IN ('info','warn','error')),
        message TEXT NOT NULL
      );
      CREATE INDEX logs_experiment ON logs(experiment_id, id);
    `,
  },
  {
    version: 2,
    name: '002_cached_summaries_and_artifacts',
    // The history table sorts and filters on status, time and accuracies. Deriving them from every
    // run's summary JSON on every listing scaled with all runs ever made, so runs get cached
    // best/final/test columns and experiments a roll-up of their runs, kept current by triggers
    // (every write to runs goes through SQL, so the roll-up cannot drift). Both are backfilled.
    up: `
      ALTER TABLE runs ADD COLUMN best_val REAL;
      ALTER TABLE runs ADD COLUMN final_val REAL;
      ALTER TABLE runs ADD COLUMN test_acc REAL;

      UPDATE runs SET
        best_val = (SELECT MAX(j.value) FROM json_each(runs.summary, '$.valAccuracy') AS j),
        final_val = json_extract(runs.summary, '$.valAccuracy[#-1]'),
        test_acc = json_extract(runs.summary, '$.testAccuracy')
      WHERE summary IS NOT NULL AND json_type(summary, '$.valAccuracy') = 'array';

      UPDATE runs SET
        best_val = json_extract(summary, '$.valAccuracy'),
        final_val = json_extract(summary, '$.valAccuracy'),
        test_acc = json_extract(summary, '$.testAccuracy')
      WHERE summary IS NOT NULL AND json_type(summary, '$.valAccuracy') IN ('real', 'integer');

      ALTER TABLE experiments ADD COLUMN status TEXT NOT NULL DEFAULT 'queued' CHECK (${RUN_STATUS_CHECK});
      ALTER TABLE experiments ADD COLUMN seconds REAL;
      ALTER TABLE experiments ADD COLUMN backend TEXT;
      ALTER TABLE experiments ADD COLUMN best_by_method TEXT NOT NULL DEFAULT '{}';

      UPDATE experiments SET ${rollup('experiments.id')};

      CREATE TRIGGER runs_rollup_insert AFTER INSERT ON runs BEGIN
        UPDATE experiments SET ${rollup('NEW.experiment_id')} WHERE id = NEW.experiment_id;
      END;
      CREATE TRIGGER runs_rollup_update AFTER UPDATE OF status, seconds, backend, started_at, best_val, kind, method, experiment_id ON runs BEGIN
        UPDATE experiments SET ${rollup('NEW.experiment_id')} WHERE id = NEW.experiment_id;
        UPDATE experiments SET ${rollup('OLD.experiment_id')} WHERE id = OLD.experiment_id AND OLD.experiment_id IS NOT NEW.experiment_id;
      END;
      CREATE TRIGGER runs_rollup_delete AFTER DELETE ON runs BEGIN
        UPDATE experiments SET ${rollup('OLD.experiment_id')} WHERE id = OLD.experiment_id;
      END;

      CREATE INDEX runs_status ON runs(status);
      CREATE INDEX experiments_created ON experiments(created_at);

      CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        sha256 TEXT,
        path TEXT,
        meta TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
      );
      CREATE INDEX artifacts_experiment ON artifacts(experiment_id);
      CREATE INDEX artifacts_run ON artifacts(run_id);
    `,
  },
  {
    version: 3,
    name: '003_experiments_without_runs_are_interrupted',
    // An experiment without runs (one imported from a bundle that had none) rolled up as
    // 'queued', though nothing would ever run it, and start-up recovery looped over it forever.
    // It is now 'interrupted': resuming plans its runs. The roll-up triggers are redefined with
    // that default, a new experiment starts from it (its runs, planned in the same transaction,
    // move it on), and existing ones are backfilled.
    up: `
      DROP TRIGGER runs_rollup_insert;
      DROP TRIGGER runs_rollup_update;
      DROP TRIGGER runs_rollup_delete;

      CREATE TRIGGER runs_rollup_insert AFTER INSERT ON runs BEGIN
        UPDATE experiments SET ${rollup('NEW.experiment_id', 'interrupted')} WHERE id = NEW.experiment_id;
      END;
      CREATE TRIGGER runs_rollup_update AFTER UPDATE OF status, seconds, backend, started_at, best_val, kind, method, experiment_id ON runs BEGIN
        UPDATE experiments SET ${rollup('NEW.experiment_id', 'interrupted')} WHERE id = NEW.experiment_id;
        UPDATE experiments SET ${rollup('OLD.experiment_id', 'interrupted')} WHERE id = OLD.experiment_id AND OLD.experiment_id IS NOT NEW.experiment_id;
      END;
      CREATE TRIGGER runs_rollup_delete AFTER DELETE ON runs BEGIN
        UPDATE experiments SET ${rollup('OLD.experiment_id', 'interrupted')} WHERE id = OLD.experiment_id;
      END;
      CREATE TRIGGER experiments_without_runs AFTER INSERT ON experiments
        WHEN NOT EXISTS (SELECT 1 FROM runs WHERE experiment_id = NEW.id) BEGIN
        UPDATE experiments SET status = 'interrupted' WHERE id = NEW.id;
      END;

      UPDATE experiments SET status = 'interrupted' WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.experiment_id = experiments.id);
    `,
  },
  {
    version: 4,
    name: '004_param_set_uses',
    // Deleting an experiment deleted the parameter sets it had trained, even a target another
    // experiment had reused through the trained cache (only sources were linked). Every use of a
    // parameter set by an experiment (as its source, a target, an init) is now a row here, so reuse
    // is reference-counted and nothing another experiment relies on goes with one experiment.
    // Backfilled from what the records know: who produced a set and whose source it is.
    up: `
      CREATE TABLE param_set_uses (
        param_set_id TEXT NOT NULL REFERENCES param_sets(id) ON DELETE CASCADE,
        experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('source','target','init')),
        PRIMARY KEY (param_set_id, experiment_id, role)
      ) WITHOUT ROWID;
      CREATE INDEX param_set_uses_experiment ON param_set_uses(experiment_id);

      INSERT OR IGNORE INTO param_set_uses (param_set_id, experiment_id, role)
        SELECT id, experiment_id, CASE WHEN origin = 'init' THEN 'init' WHEN name LIKE 'source %' THEN 'source' ELSE 'target' END
        FROM param_sets WHERE experiment_id IS NOT NULL;
      INSERT OR IGNORE INTO param_set_uses (param_set_id, experiment_id, role)
        SELECT source_param_set_id, id, 'source' FROM experiments WHERE source_param_set_id IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: '005_incremental_rollup',
    // The roll-up triggers recomputed an experiment's summary over all its runs on every run
    // inserted, updated or deleted: O(runs) per write, O(runs²) to plan, settle or cancel an
    // experiment (2,000 targets took 43.6 s to create, and the server waited). The summary is now
    // kept as running counts and sums per experiment (`run_rollup`: one row per status, one for
    // seconds, one per method's best validation accuracy), which each trigger adjusts by the one
    // run it sees and from which the experiment's columns are read back in a few rows; the latest
    // backend comes from an index. What the columns say is what 003's roll-up said.
    up: `
      DROP TRIGGER runs_rollup_insert;
      DROP TRIGGER runs_rollup_update;
      DROP TRIGGER runs_rollup_delete;

      CREATE TABLE run_rollup (
        experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        bucket TEXT NOT NULL,
        n INTEGER NOT NULL,
        total REAL NOT NULL,
        PRIMARY KEY (experiment_id, bucket)
      ) WITHOUT ROWID;
      CREATE INDEX runs_experiment_started ON runs(experiment_id, COALESCE(started_at, ''), ordinal) WHERE backend IS NOT NULL;

      INSERT INTO run_rollup (experiment_id, bucket, n, total)
        SELECT experiment_id, 'status:' || status, COUNT(*), 0 FROM runs GROUP BY experiment_id, status;
      INSERT INTO run_rollup (experiment_id, bucket, n, total)
        SELECT experiment_id, 'seconds', COUNT(*), SUM(seconds) FROM runs WHERE seconds IS NOT NULL GROUP BY experiment_id;
      INSERT INTO run_rollup (experiment_id, bucket, n, total)
        SELECT experiment_id, 'best:' || method, COUNT(*), SUM(best_val) FROM runs
        WHERE kind = 'transfer' AND best_val IS NOT NULL AND method IS NOT NULL GROUP BY experiment_id, method;

      ${rollupTrigger('insert')}
      ${rollupTrigger('update')}
      ${rollupTrigger('delete')}
    `,
  },
  {
    version: 6,
    name: '006_pretrain_runs',
    // The pre-trained scenario's pre-trainings (one per initialisation) become rows of the run
    // table like the source's training, so the run view shows their status, accuracy and time.
    // 001's CHECK on runs.kind knew three kinds; the table is rebuilt as it is, with 'pretrain'
    // added, and its indexes and triggers recreated from their own SQL.
    rebuildsTables: true,
    up: (db) => rebuildWithSql(db, 'runs', (sql) => widenCheck(sql, KIND_CHECK_V1, KIND_CHECK_V6)),
  },
  {
    version: 7,
    name: '007_staged_imports',
    // A bundle import writes its rows in small transactions so the server keeps answering (a
    // 10,000-run bundle held the event loop for seconds in one). Until its last transaction clears
    // the flag, an experiment being imported is invisible, and the lab deletes it at start: an
    // import cut short by a failure or a crash leaves nothing behind.
    up: `ALTER TABLE experiments ADD COLUMN importing INTEGER NOT NULL DEFAULT 0 CHECK (importing IN (0, 1));`,
  },
];

const KIND_CHECK_V1 = `kind IN ('source','target','transfer')`;
const KIND_CHECK_V6 = `kind IN ('source','target','transfer','pretrain')`;

function widenCheck(sql: string, from: string, to: string): string {
  if (!sql.includes(from)) throw new Error(`the table's definition has no "${from}" to widen`);
  return sql.replace(from, to);
}

/**
 * Rebuilds `table` from its own CREATE statement changed by `edit`: a new table, every row copied,
 * the old one dropped, the new one renamed, then the old indexes and triggers recreated. Needs
 * foreign-key enforcement off (Migration.rebuildsTables).
 */
function rebuildWithSql(db: Db, table: string, edit: (sql: string) => string): void {
  const { sql } = db
    .prepare(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`)
    .get(table) as { sql: string };
  // Its indexes and triggers, and the triggers and views elsewhere that name it (the rename checks
  // the whole schema, and they would name a table that is gone for a moment).
  const names = new RegExp(`\\b${table}\\b`);
  const dependents = (
    db
      .prepare(
        `SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE type IN ('index', 'trigger', 'view') AND sql IS NOT NULL ORDER BY type, name`,
      )
      .all() as { type: string; name: string; tbl_name: string; sql: string }[]
  ).filter((d) => d.tbl_name === table || (d.type !== 'index' && names.test(d.sql)));
  const head = new RegExp(`^CREATE TABLE ("?)${table}\\1\\s*\\(`);
  if (!head.test(sql)) throw new Error(`unexpected definition of table ${table}: ${sql.slice(0, 60)}`);
  for (const d of dependents)
    if (d.tbl_name !== table) db.exec(`DROP ${d.type === 'view' ? 'VIEW' : 'TRIGGER'} "${d.name}"`);
  const fresh = `${table}_rebuilt`;
  db.exec(edit(sql).replace(head, `CREATE TABLE ${fresh} (`));
  db.exec(`INSERT INTO ${fresh} SELECT * FROM ${table}`);
  db.exec(`DROP TABLE ${table}`);
  db.exec(`ALTER TABLE ${fresh} RENAME TO ${table}`);
  for (const d of dependents) db.exec(d.sql);
}

/** The buckets one run counts in (`r` is NEW or OLD), as rows of (bucket, total). */
function runBuckets(r: 'NEW' | 'OLD'): string {
  return `SELECT 'status:' || ${r}.status AS bucket, 0.0 AS total
    UNION ALL SELECT 'seconds', ${r}.seconds WHERE ${r}.seconds IS NOT NULL
    UNION ALL SELECT 'best:' || ${r}.method, ${r}.best_val
      WHERE ${r}.kind = 'transfer' AND ${r}.best_val IS NOT NULL AND ${r}.method IS NOT NULL`;
}

/** Migration 005's triggers: adjust the run's buckets, then read the experiment's columns back. */
function rollupTrigger(event: 'insert' | 'update' | 'delete'): string {
  const add = `INSERT INTO run_rollup (experiment_id, bucket, n, total)
      SELECT NEW.experiment_id, b.bucket, 1, b.total FROM (${runBuckets('NEW')}) AS b WHERE true
      ON CONFLICT (experiment_id, bucket) DO UPDATE SET n = n + 1, total = total + excluded.total;`;
  // A bucket that empties is removed, so sums never carry rounding left over from runs gone.
  const remove = `UPDATE run_rollup SET n = n - 1, total = total - (SELECT b.total FROM (${runBuckets('OLD')}) AS b WHERE b.bucket = run_rollup.bucket)
      WHERE experiment_id = OLD.experiment_id AND bucket IN (SELECT bucket FROM (${runBuckets('OLD')}));
    DELETE FROM run_rollup WHERE experiment_id = OLD.experiment_id AND n <= 0;`;
  const refresh = (x: string): string => `UPDATE experiments SET ${incrementalRollup(x)} WHERE id = ${x};`;
  if (event === 'insert')
    return `CREATE TRIGGER runs_rollup_insert AFTER INSERT ON runs BEGIN ${add} ${refresh('NEW.experiment_id')} END;`;
  if (event === 'delete')
    return `CREATE TRIGGER runs_rollup_delete AFTER DELETE ON runs BEGIN ${remove} ${refresh('OLD.experiment_id')} END;`;
  return `CREATE TRIGGER runs_rollup_update AFTER UPDATE OF status, seconds, backend, started_at, best_val, kind, method, experiment_id ON runs BEGIN
    ${remove} ${add} ${refresh('NEW.experiment_id')}
    UPDATE experiments SET ${incrementalRollup('OLD.experiment_id')} WHERE id = OLD.experiment_id AND OLD.experiment_id IS NOT NEW.experiment_id;
  END;`;
}

/** 003's roll-up, read from run_rollup (a few rows) and the latest-backend index instead of every run. */
function incrementalRollup(x: string): string {
  return `
    status = COALESCE((SELECT CASE MIN(CASE substr(u.bucket, 8) WHEN 'running' THEN 0 WHEN 'queued' THEN 1 WHEN 'failed' THEN 2
        WHEN 'interrupted' THEN 3 WHEN 'cancelled' THEN 4 ELSE 5 END)
      WHEN 0 THEN 'running' WHEN 1 THEN 'queued' WHEN 2 THEN 'failed' WHEN 3 THEN 'interrupted' WHEN 4 THEN 'cancelled' WHEN 5 THEN 'done' END
      FROM run_rollup u WHERE u.experiment_id = ${x} AND u.bucket LIKE 'status:%' AND u.n > 0), 'interrupted'),
    seconds = (SELECT u.total FROM run_rollup u WHERE u.experiment_id = ${x} AND u.bucket = 'seconds' AND u.n > 0),
    backend = (SELECT r.backend FROM runs r WHERE r.experiment_id = ${x} AND r.backend IS NOT NULL
      ORDER BY COALESCE(r.started_at, '') DESC, r.ordinal DESC LIMIT 1),
    best_by_method = (SELECT json_group_object(substr(u.bucket, 6), u.total / u.n) FROM run_rollup u
      WHERE u.experiment_id = ${x} AND u.bucket LIKE 'best:%' AND u.n > 0)`;
}

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Brings the database to the latest schema; returns the version it ended at. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number {
  db.exec(`CREATE TABLE IF NOT EXISTS migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length ? migrations[migrations.length - 1].version : 0;
  if (current > latest) {
    throw new Error(
      `the lab database has schema version ${current}, but this version of the app knows only up to ${latest}; use a newer app`,
    );
  }
  const applied = db.prepare('SELECT version, name FROM migrations ORDER BY version').all() as {
    version: number;
    name: string;
  }[];
  for (const row of applied) {
    const m = migrations.find((x) => x.version === row.version);
    if (!m || m.name !== row.name) {
      throw new Error(
        `the lab database records migration ${row.version} "${row.name}", which this app does not know (expected "${m?.name ?? 'nothing'}")`,
      );
    }
  }
  if (applied.length !== current) {
    throw new Error(
      `the lab database is inconsistent: user_version is ${current} but ${applied.length} migrations are recorded`,
    );
  }
  const record = db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations) {
    if (m.version <= current) continue;
    // The pragma is a no-op inside a transaction, so it is switched around it.
    const enforcing = db.pragma('foreign_keys', { simple: true }) === 1;
    if (m.rebuildsTables && enforcing) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        if (typeof m.up === 'string') db.exec(m.up);
        else m.up(db);
        if (m.rebuildsTables) {
          const broken = db.pragma('foreign_key_check') as unknown[];
          if (broken.length)
            throw new Error(`migration ${m.name} left ${broken.length} rows with broken references`);
        }
        record.run(m.version, m.name, nowIso());
        db.pragma(`user_version = ${m.version}`);
      })();
    } finally {
      if (m.rebuildsTables && enforcing) db.pragma('foreign_keys = ON');
    }
  }
  return db.pragma('user_version', { simple: true }) as number;
}
