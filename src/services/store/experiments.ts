import { notFound, parseSpec, type ExperimentSpec } from '../../shared/domain/index.js';
import type { ExperimentDetail, ExperimentSummary, ParsedArgs, RunStatus } from '../../shared/lab-api.js';
import { likePattern, newId, nowIso, toJson, type Db } from './db.js';
import { archLabel, datasetLabel } from './describe.js';
import type { LogRepo } from './logs.js';
import type { RunRepo } from './runs.js';

export type ExperimentOrigin = ExperimentSummary['origin'];
export type ListQuery = ParsedArgs<'experiments.list'>;

export interface NewExperiment {
  /** parsed again here, so what is stored is always complete and valid */
  spec: ExperimentSpec | Record<string, unknown>;
  name: string;
  tags?: string[];
  notes?: string;
  origin?: ExperimentOrigin;
  /** given when the experiment comes from elsewhere (a bundle) and keeps its identity */
  id?: string;
  createdAt?: string;
  sourceParamSetId?: string | null;
}

export interface ExperimentPatch {
  name?: string;
  tags?: string[];
  notes?: string;
  sourceParamSetId?: string | null;
}

export const DEFAULT_LIST_QUERY: ListQuery = {
  search: '',
  status: [],
  tags: [],
  dataset: '',
  arch: '',
  method: '',
  sort: 'createdAt',
  order: 'desc',
  limit: 200,
  offset: 0,
};

/** How many log lines an experiment's detail carries; the full log is getLog's. */
export const DETAIL_LOG_LINES = 1000;

interface SummaryRow {
  id: string;
  name: string;
  tags: string;
  notes: string;
  created_at: string;
  origin: ExperimentOrigin;
  dataset: string;
  arch: string;
  methods: string;
  targets: number;
  t_steps: number;
  source_param_set_id: string | null;
  /** kept current from the runs by migration 002's triggers */
  status: RunStatus;
  seconds: number | null;
  backend: string | null;
  best_by_method: string;
}

/** The columns of a summary: everything but the spec, which only the detail view parses. */
const SUMMARY_COLUMNS = `id, name, tags, notes, created_at, origin, dataset, arch, methods, targets, t_steps, source_param_set_id,
  status, seconds, backend, best_by_method`;

const STATUS_RANK = `CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 WHEN 'failed' THEN 2 WHEN 'interrupted' THEN 3 WHEN 'cancelled' THEN 4 ELSE 5 END`;

const SORT_SQL: Record<ListQuery['sort'], string> = {
  createdAt: 'created_at',
  name: 'name COLLATE NOCASE',
  status: STATUS_RANK,
  seconds: 'seconds',
};

export class ExperimentRepo {
  constructor(
    private readonly db: Db,
    private readonly runs: RunRepo,
    private readonly logs: LogRepo,
  ) {}

  create(input: NewExperiment): ExperimentDetail {
    const spec = parseSpec(input.spec);
    if (input.sourceParamSetId) this.requireParamSet(input.sourceParamSetId);
    const id = input.id ?? newId();
    this.db
      .prepare(
        `INSERT INTO experiments (id, name, spec, tags, notes, created_at, origin, dataset, arch, methods, targets, t_steps, source_param_set_id)
         VALUES (@id, @name, @spec, @tags, @notes, @created_at, @origin, @dataset, @arch, @methods, @targets, @t_steps, @source)`,
      )
      .run({
        id,
        name: input.name,
        spec: toJson(spec),
        tags: toJson(normaliseTags(input.tags ?? [])),
        notes: input.notes ?? '',
        created_at: input.createdAt ?? nowIso(),
        origin: input.origin ?? 'lab',
        dataset: datasetLabel(spec.dataset),
        arch: archLabel(spec.model),
        methods: toJson(spec.transfer.methods),
        targets: spec.targets.length,
        t_steps: spec.transfer.T,
        source: input.sourceParamSetId ?? null,
      });
    return this.get(id)!;
  }

  private requireParamSet(id: string): void {
    if (this.db.prepare('SELECT 1 FROM param_sets WHERE id = ?').get(id) === undefined) {
      throw notFound(`parameter set ${id}`);
    }
  }

  exists(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM experiments WHERE id = ?').get(id) !== undefined;
  }

  get(id: string): ExperimentDetail | null {
    const row = this.db.prepare(`SELECT ${SUMMARY_COLUMNS}, spec FROM experiments WHERE id = ?`).get(id) as
      (SummaryRow & { spec: string }) | undefined;
    if (!row) return null;
    return {
      ...toSummary(row),
      spec: JSON.parse(row.spec) as ExperimentSpec,
      runs: this.runs.list(id),
      sourceParamSetId: row.source_param_set_id,
      log: this.logs.list(id, DETAIL_LOG_LINES),
    };
  }

  summary(id: string): ExperimentSummary | null {
    const row = this.db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM experiments WHERE id = ?`).get(id) as
      SummaryRow | undefined;
    return row ? toSummary(row) : null;
  }

  /** One page of the history table and the number of experiments matching the filters. */
  list(query: Partial<ListQuery> = {}): { items: ExperimentSummary[]; total: number } {
    const q: ListQuery = { ...DEFAULT_LIST_QUERY, ...query };
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    q.search
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .forEach((term, i) => {
        params[`s${i}`] = likePattern(term);
        params[`sx${i}`] = term;
        where.push(`(name LIKE @s${i} ESCAPE '\\' OR tags LIKE @s${i} ESCAPE '\\' OR notes LIKE @s${i} ESCAPE '\\'
          OR dataset LIKE @s${i} ESCAPE '\\' OR arch LIKE @s${i} ESCAPE '\\' OR id = @sx${i})`);
      });
    if (q.status.length) {
      params.statuses = toJson(q.status);
      where.push('status IN (SELECT value FROM json_each(@statuses))');
    }
    q.tags.forEach((tag, i) => {
      params[`t${i}`] = tag.trim();
      where.push(`EXISTS (SELECT 1 FROM json_each(e.tags) WHERE value = @t${i})`);
    });
    if (q.dataset) {
      params.dataset = q.dataset;
      where.push('dataset = @dataset COLLATE NOCASE');
    }
    if (q.arch) {
      // the kind ('mlp', 'conv8', 'cnn') or the exact label ('MLP 4096')
      params.arch = q.arch;
      where.push(`(arch = @arch COLLATE NOCASE OR json_extract(spec, '$.model.arch') = lower(@arch))`);
    }
    if (q.method) {
      params.method = q.method;
      where.push('EXISTS (SELECT 1 FROM json_each(e.methods) WHERE value = @method)');
    }
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    const orderSql = `ORDER BY ${SORT_SQL[q.sort]} ${dir} NULLS LAST, created_at DESC, id`;
    // The total rides along on every row; only a page past the end needs its own count.
    const rows = this.db
      .prepare(
        `SELECT ${SUMMARY_COLUMNS}, COUNT(*) OVER () AS total FROM experiments e ${whereSql} ${orderSql} LIMIT @limit OFFSET @offset`,
      )
      .all({ ...params, limit: q.limit, offset: q.offset }) as (SummaryRow & { total: number })[];
    const total = rows.length
      ? rows[0].total
      : (this.db.prepare(`SELECT COUNT(*) AS n FROM experiments e ${whereSql}`).get(params) as { n: number })
          .n;
    return { items: rows.map(toSummary), total };
  }

  update(id: string, patch: ExperimentPatch): ExperimentSummary | null {
    const sets: string[] = [];
    const values: Record<string, unknown> = { id };
    if (patch.name !== undefined) {
      sets.push('name = @name');
      values.name = patch.name;
    }
    if (patch.tags !== undefined) {
      sets.push('tags = @tags');
      values.tags = toJson(normaliseTags(patch.tags));
    }
    if (patch.notes !== undefined) {
      sets.push('notes = @notes');
      values.notes = patch.notes;
    }
    if (patch.sourceParamSetId !== undefined) {
      if (patch.sourceParamSetId !== null) this.requireParamSet(patch.sourceParamSetId);
      sets.push('source_param_set_id = @source');
      values.source = patch.sourceParamSetId;
    }
    if (sets.length) this.db.prepare(`UPDATE experiments SET ${sets.join(', ')} WHERE id = @id`).run(values);
    return this.summary(id);
  }

  /**
   * Deletes an experiment with its runs, metrics, logs and artifacts, and the parameter sets it
   * produced (its init and trained points) unless another experiment uses them as its source.
   * Their weights files stay on disk for gcWeights().
   */
  delete(id: string): boolean {
    return this.db.transaction(() => {
      const owned = (
        this.db
          .prepare(`SELECT id FROM param_sets WHERE experiment_id = ? AND origin IN ('init', 'trained')`)
          .all(id) as { id: string }[]
      ).map((r) => r.id);
      const deleted = this.db.prepare('DELETE FROM experiments WHERE id = ?').run(id).changes > 0;
      if (!deleted) return false;
      const del = this.db.prepare(
        'DELETE FROM param_sets WHERE id = ? AND NOT EXISTS (SELECT 1 FROM experiments WHERE source_param_set_id = ?)',
      );
      for (const p of owned) del.run(p, p);
      return true;
    })();
  }
}

function toSummary(r: SummaryRow): ExperimentSummary {
  return {
    id: r.id,
    name: r.name,
    tags: JSON.parse(r.tags) as string[],
    notes: r.notes,
    createdAt: r.created_at,
    status: r.status,
    dataset: r.dataset,
    arch: r.arch,
    methods: JSON.parse(r.methods) as string[],
    targets: r.targets,
    T: r.t_steps,
    bestByMethod: JSON.parse(r.best_by_method) as Record<string, number>,
    seconds: r.seconds,
    backend: r.backend,
    origin: r.origin,
  };
}

function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter(Boolean))];
}
