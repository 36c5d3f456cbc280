import { paramSetRefs } from '../param-set-refs.js';
import { conflict, invalid, notFound, parseSpec, type ExperimentSpec } from '../../shared/domain/index.js';
import type {
  DeletionPlan,
  ExperimentDetail,
  ExperimentSummary,
  ParsedArgs,
  RunStatus,
} from '../../shared/lab-api.js';
import { likePattern, newId, nowIso, toJson, type Db } from './db.js';
import { archLabel, datasetLabel } from './describe.js';
import type { LogRepo } from './logs.js';
import type { ParamSetRepo } from './param-sets.js';
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
  /** written by a bundle import: hidden from every read until publishImported (migration 006) */
  importing?: boolean;
}

export interface ExperimentPatch {
  name?: string;
  tags?: string[];
  notes?: string;
  sourceParamSetId?: string | null;
}

const DEFAULT_LIST_QUERY: ListQuery = {
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
const DETAIL_LOG_LINES = 1000;

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
  final_by_method: string | null;
}

/** The columns of a summary: everything but the spec, which only the detail view parses. */
const SUMMARY_COLUMNS = `id, name, tags, notes, created_at, origin, dataset, arch, methods, targets, t_steps, source_param_set_id,
  status, seconds, backend, best_by_method,
  (SELECT json_group_object(b.method, b.v) FROM (SELECT r.method, AVG(r.final_val) AS v FROM runs r
    WHERE r.experiment_id = e.id AND r.kind = 'transfer' AND r.final_val IS NOT NULL AND r.method IS NOT NULL
    GROUP BY r.method) AS b) AS final_by_method`;

const STATUS_RANK = `CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 WHEN 'failed' THEN 2 WHEN 'interrupted' THEN 3 WHEN 'cancelled' THEN 4 ELSE 5 END`;

const SORT_SQL: Record<string, string> = {
  createdAt: 'created_at',
  name: 'name COLLATE NOCASE',
  status: STATUS_RANK,
  seconds: 'seconds',
};

/** "best:gmt", "final:fgmt", "test:oracle": a method's mean over targets (NULLs last either way). */
const METRIC_SORT_COLUMN: Record<string, string> = { best: 'best_val', final: 'final_val', test: 'test_acc' };
function sortSql(sort: string): { sql: string; method?: string } {
  const m = /^(best|final|test):(.+)$/.exec(sort);
  if (!m) return { sql: SORT_SQL[sort] ?? 'created_at' };
  return {
    sql: `(SELECT AVG(r.${METRIC_SORT_COLUMN[m[1]]}) FROM runs r WHERE r.experiment_id = e.id AND r.kind = 'transfer' AND r.method = @sortMethod)`,
    method: m[2],
  };
}

export class ExperimentRepo {
  constructor(
    private readonly db: Db,
    private readonly runs: RunRepo,
    private readonly logs: LogRepo,
    private readonly paramSets: ParamSetRepo,
  ) {}

  create(input: NewExperiment): ExperimentDetail {
    const spec = parseSpec(input.spec);
    if (input.sourceParamSetId) this.requireParamSet(input.sourceParamSetId);
    const id = input.id ?? newId();
    this.db
      .prepare(
        `INSERT INTO experiments (id, name, spec, tags, notes, created_at, origin, dataset, arch, methods, targets, t_steps, source_param_set_id, importing)
         VALUES (@id, @name, @spec, @tags, @notes, @created_at, @origin, @dataset, @arch, @methods, @targets, @t_steps, @source, @importing)`,
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
        importing: input.importing ? 1 : 0,
      });
    if (input.sourceParamSetId) this.paramSets.recordUse(input.sourceParamSetId, id, 'source');
    // Stored sets the spec starts from (init.paramSet) are used from the start: their pages link
    // here, and deleting another experiment never takes them.
    for (const ref of paramSetRefs(spec)) this.paramSets.recordUse(ref.id, id, 'init');
    return this.get(id, input.importing)!;
  }

  private requireParamSet(id: string): void {
    if (this.db.prepare('SELECT 1 FROM param_sets WHERE id = ?').get(id) === undefined) {
      throw notFound(`parameter set ${id}`);
    }
  }

  exists(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM experiments WHERE id = ? AND importing = 0').get(id) !== undefined;
  }

  /** `importing`: also while a bundle import is still writing it (only the import itself asks). */
  get(id: string, importing = false): ExperimentDetail | null {
    const row = this.db
      .prepare(`SELECT ${SUMMARY_COLUMNS}, spec FROM experiments e WHERE id = ? AND importing IN (0, ?)`)
      .get(id, importing ? 1 : 0) as (SummaryRow & { spec: string }) | undefined;
    if (!row) return null;
    return {
      ...toSummary(row),
      spec: JSON.parse(row.spec) as ExperimentSpec,
      runs: this.runs.list(id),
      sourceParamSetId: row.source_param_set_id,
      log: this.logs.list(id, DETAIL_LOG_LINES),
    };
  }

  /**
   * Many experiments' details in two queries (Compare asks for a thousand at a time), in the order
   * asked; unknown ids are left out. Their log lines are not included (`log` is empty): the
   * comparison never shows them, and `get` has them.
   */
  getMany(ids: readonly string[]): ExperimentDetail[] {
    const rows = this.db
      .prepare(
        `SELECT ${SUMMARY_COLUMNS}, spec FROM experiments e WHERE id IN (SELECT value FROM json_each(?)) AND importing = 0`,
      )
      .all(toJson(ids)) as (SummaryRow & { spec: string })[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    const runs = this.runs.listMany(ids);
    const out: ExperimentDetail[] = [];
    for (const id of new Set(ids)) {
      const row = byId.get(id);
      if (!row) continue;
      out.push({
        ...toSummary(row),
        spec: JSON.parse(row.spec) as ExperimentSpec,
        runs: runs.get(id) ?? [],
        sourceParamSetId: row.source_param_set_id,
        log: [],
      });
    }
    return out;
  }

  summary(id: string): ExperimentSummary | null {
    const row = this.db
      .prepare(`SELECT ${SUMMARY_COLUMNS} FROM experiments e WHERE id = ? AND importing = 0`)
      .get(id) as SummaryRow | undefined;
    return row ? toSummary(row) : null;
  }

  /** One page of the history table and the number of experiments matching the filters. */
  list(query: Partial<ListQuery> = {}): { items: ExperimentSummary[]; total: number } {
    const q: ListQuery = { ...DEFAULT_LIST_QUERY, ...query };
    const where: string[] = ['importing = 0'];
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
    const whereSql = `WHERE ${where.join(' AND ')}`;
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    const order = sortSql(q.sort);
    if (order.method !== undefined) params.sortMethod = order.method;
    const orderSql = `ORDER BY ${order.sql} ${dir} NULLS LAST, created_at DESC, id`;
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

  /** Makes experiments a bundle import wrote visible (its last step); returns how many. */
  publishImported(ids: readonly string[]): number {
    return this.db
      .prepare(
        'UPDATE experiments SET importing = 0 WHERE importing = 1 AND id IN (SELECT value FROM json_each(?))',
      )
      .run(toJson(ids)).changes;
  }

  /** Experiments a bundle import started writing and did not finish (or is finishing now). */
  importingIds(): string[] {
    return (this.db.prepare('SELECT id FROM experiments WHERE importing = 1').all() as { id: string }[]).map(
      (r) => r.id,
    );
  }

  /** Deletes a hidden, half-imported experiment with everything under it (one statement: small ones, or at start). */
  deleteImporting(id: string): boolean {
    return this.db.prepare('DELETE FROM experiments WHERE id = ? AND importing = 1').run(id).changes > 0;
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
    if (patch.sourceParamSetId) this.paramSets.recordUse(patch.sourceParamSetId, id, 'source');
    return this.summary(id);
  }

  /**
   * What deleting the experiment removes (its runs, metrics, logs, artifacts) and the parameter
   * sets it produced or used, each with the other experiments that used it and the disk it frees.
   */
  deletePlan(id: string): DeletionPlan | null {
    const row = this.db.prepare('SELECT id, name FROM experiments WHERE id = ? AND importing = 0').get(id) as
      { id: string; name: string } | undefined;
    if (!row) return null;
    const count = (sql: string): number => (this.db.prepare(sql).get(id) as { n: number }).n;
    const sets = this.paramSets.usedByExperiment(id);
    const candidates = sets.map((p) => p.id);
    return {
      id: row.id,
      name: row.name,
      runs: count('SELECT COUNT(*) AS n FROM runs WHERE experiment_id = ?'),
      metrics: count(
        'SELECT COUNT(*) AS n FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE experiment_id = ?)',
      ),
      logs: count('SELECT COUNT(*) AS n FROM logs WHERE experiment_id = ?'),
      artifacts: count('SELECT COUNT(*) AS n FROM artifacts WHERE experiment_id = ?'),
      paramSets: sets.map((p) => {
        const usedBy = this.paramSets.usesOf(p.id).filter((u) => u.experimentId !== id);
        return {
          id: p.id,
          name: p.name,
          origin: p.origin,
          bytes: p.bytes,
          freesBytes: this.paramSets.sharingWeights(p.sha256, candidates) ? 0 : p.bytes,
          usedBy,
          deletable: usedBy.length === 0,
        };
      }),
    };
  }

  /**
   * Deletes an experiment with its runs, metrics, logs and artifacts. Parameter sets stay (their
   * link to it is cleared) unless named in `paramSetIds`: those go too, and only when no other
   * experiment used them — otherwise nothing is deleted and the conflict names who uses them.
   * Weights files stay on disk for the caller (or gcWeights) to remove.
   */
  delete(
    id: string,
    paramSetIds: readonly string[] = [],
  ): { deleted: boolean; paramSetsDeleted: { id: string; sha256: string; freesBytes: number }[] } {
    return this.db.transaction(() => {
      const plan = this.checkDeletion(id, paramSetIds);
      if (!plan) return { deleted: false, paramSetsDeleted: [] };
      const byId = new Map(plan.paramSets.map((p) => [p.id, p]));
      const chosen = [...new Set(paramSetIds)];
      const sha = new Map(
        this.paramSets.usedByExperiment(id).map((p) => [p.id, p.sha256] as [string, string]),
      );
      this.db.prepare('DELETE FROM experiments WHERE id = ?').run(id);
      const del = this.db.prepare('DELETE FROM param_sets WHERE id = ?');
      for (const p of chosen) del.run(p);
      return {
        deleted: true,
        paramSetsDeleted: chosen.map((p) => ({
          id: p,
          sha256: sha.get(p)!,
          freesBytes: this.paramSets.sharingWeights(sha.get(p)!, []) ? 0 : byId.get(p)!.bytes,
        })),
      };
    })();
  }

  /** The deletion plan, after checking that every named parameter set may go (throws if not). */
  checkDeletion(id: string, paramSetIds: readonly string[]): DeletionPlan | null {
    const plan = this.deletePlan(id);
    if (!plan) return null;
    const byId = new Map(plan.paramSets.map((p) => [p.id, p]));
    {
      for (const p of new Set(paramSetIds)) {
        const entry = byId.get(p);
        if (!entry)
          throw invalid(
            `parameter set ${p} is not one experiment ${id} produced or used; nothing was deleted`,
          );
        if (!entry.deletable)
          throw conflict(
            `parameter set "${entry.name}" is also used by ${entry.usedBy
              .slice(0, 3)
              .map((u) => `"${u.name}" (${u.role})`)
              .join(', ')}${entry.usedBy.length > 3 ? ', …' : ''}; nothing was deleted`,
          );
      }
    }
    return plan;
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
    finalByMethod: r.final_by_method ? (JSON.parse(r.final_by_method) as Record<string, number>) : {},
    seconds: r.seconds,
    backend: r.backend,
    origin: r.origin,
  };
}

function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter(Boolean))];
}
