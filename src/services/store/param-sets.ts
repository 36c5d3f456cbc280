import { type ArchSpec, DomainError, parseArch, type TrainedSummary } from '../../shared/domain/index.js';
import type {
  ExperimentParamSet,
  ExperimentRef,
  ParamOrigin,
  ParamSetListItem,
  ParamSetRecord,
  ParamSetRole,
} from '../../shared/lab-api.js';
import { fromJson, newId, nowIso, toJson, type Db } from './db.js';
import { SHA256_PATTERN } from './weights.js';

interface ParamSetRow {
  id: string;
  name: string;
  arch: string;
  input_shape: string;
  classes: number;
  origin: ParamOrigin;
  seed: number | null;
  training_key: string | null;
  sha256: string;
  bytes: number;
  points: number;
  val_accuracy: number | null;
  test_accuracy: number | null;
  summary: string | null;
  dataset_hash: string | null;
  experiment_id: string | null;
  created_at: string;
}

export interface NewParamSet {
  id?: string;
  createdAt?: string;
  name: string;
  arch: ArchSpec;
  inputShape: number[];
  classes: number;
  origin: ParamOrigin;
  seed?: number | null;
  trainingKey?: string | null;
  sha256: string;
  bytes: number;
  points: number;
  valAccuracy?: number | null;
  testAccuracy?: number | null;
  datasetHash?: string | null;
  experimentId?: string | null;
  /** the engine's summary of the training, kept for the trained cache */
  summary?: TrainedSummary | null;
  /** how `experimentId` used it (recorded as a use); read from origin and name when not given */
  role?: ParamSetRole;
}

export type { ParamSetRole };

/** A parameter set as a bundle carries it: the record plus the training summary. */
export type ParamSetWithSummary = ParamSetRecord & { summary: TrainedSummary | null };

/** A 'conflict': the parameter set is still some experiment's source. */
export class ParamSetInUseError extends DomainError {
  constructor(
    readonly paramSetId: string,
    readonly experimentIds: string[],
  ) {
    super(
      'conflict',
      `parameter set ${paramSetId} is the source of ${experimentIds.length === 1 ? 'experiment' : `${experimentIds.length} experiments`} ${experimentIds.slice(0, 5).join(', ')}${experimentIds.length > 5 ? ', …' : ''}; delete ${experimentIds.length === 1 ? 'it' : 'them'} first`,
    );
    this.name = 'ParamSetInUseError';
  }
}

/**
 * Every use of a parameter set by an experiment (param_set_id, experiment_id, role): the recorded
 * uses, and each experiment's source whether or not a use was recorded for it.
 */
const USES_SQL = `SELECT param_set_id, experiment_id, role FROM param_set_uses
  UNION SELECT source_param_set_id, id, 'source' FROM experiments WHERE source_param_set_id IS NOT NULL`;

function toRecord(r: ParamSetRow): ParamSetWithSummary {
  return {
    id: r.id,
    name: r.name,
    arch: JSON.parse(r.arch) as ArchSpec,
    inputShape: JSON.parse(r.input_shape) as number[],
    classes: r.classes,
    origin: r.origin,
    seed: r.seed,
    trainingKey: r.training_key,
    sha256: r.sha256,
    bytes: r.bytes,
    points: r.points,
    valAccuracy: r.val_accuracy,
    testAccuracy: r.test_accuracy,
    datasetHash: r.dataset_hash,
    experimentId: r.experiment_id,
    createdAt: r.created_at,
    summary: fromJson<TrainedSummary | null>(r.summary, null),
  };
}

function withoutSummary(r: ParamSetWithSummary): ParamSetRecord {
  const { summary: _summary, ...rest } = r;
  return rest;
}

export class ParamSetRepo {
  constructor(private readonly db: Db) {}

  /** Records a parameter set whose weights were stored with putWeights (or arrive with a bundle). */
  add(p: NewParamSet): ParamSetRecord {
    if (!SHA256_PATTERN.test(p.sha256))
      throw new Error(`parameter set "${p.name}": sha256 "${p.sha256}" is not a hex sha256`);
    if (!Number.isInteger(p.points) || p.points < 1)
      throw new Error(`parameter set "${p.name}": points must be a positive integer, got ${p.points}`);
    if (!Array.isArray(p.inputShape) || !p.inputShape.every((n) => Number.isInteger(n) && n > 0)) {
      throw new Error(
        `parameter set "${p.name}": inputShape must be positive integers, got ${JSON.stringify(p.inputShape)}`,
      );
    }
    const row: ParamSetRow = {
      id: p.id ?? newId(),
      name: p.name,
      arch: toJson(parseArch(p.arch, 'arch')),
      input_shape: toJson(p.inputShape),
      classes: p.classes,
      origin: p.origin,
      seed: p.seed ?? null,
      training_key: p.trainingKey ?? null,
      sha256: p.sha256,
      bytes: p.bytes,
      points: p.points,
      val_accuracy: p.valAccuracy ?? p.summary?.valAccuracy ?? null,
      test_accuracy: p.testAccuracy ?? p.summary?.testAccuracy ?? null,
      summary: p.summary ? toJson(p.summary) : null,
      dataset_hash: p.datasetHash ?? null,
      experiment_id: p.experimentId ?? null,
      created_at: p.createdAt ?? nowIso(),
    };
    this.db
      .prepare(
        `INSERT INTO param_sets (id, name, arch, input_shape, classes, origin, seed, training_key, sha256, bytes, points,
          val_accuracy, test_accuracy, summary, dataset_hash, experiment_id, created_at)
        VALUES (@id, @name, @arch, @input_shape, @classes, @origin, @seed, @training_key, @sha256, @bytes, @points,
          @val_accuracy, @test_accuracy, @summary, @dataset_hash, @experiment_id, @created_at)`,
      )
      .run(row);
    if (row.experiment_id)
      this.recordUse(
        row.id,
        row.experiment_id,
        p.role ?? (p.origin === 'init' ? 'init' : p.name.startsWith('source ') ? 'source' : 'target'),
      );
    return withoutSummary(toRecord(row));
  }

  get(id: string): ParamSetRecord | null {
    const r = this.getWithSummary(id);
    return r ? withoutSummary(r) : null;
  }

  getWithSummary(id: string): ParamSetWithSummary | null {
    const r = this.db.prepare('SELECT * FROM param_sets WHERE id = ?').get(id) as ParamSetRow | undefined;
    return r ? toRecord(r) : null;
  }

  list(): ParamSetRecord[] {
    return (
      this.db.prepare('SELECT * FROM param_sets ORDER BY created_at DESC, id').all() as ParamSetRow[]
    ).map((r) => withoutSummary(toRecord(r)));
  }

  /** Parameter sets with this training key, newest first (a key can be trained in two labs and merged by import). */
  byTrainingKey(trainingKey: string): ParamSetWithSummary[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM param_sets WHERE training_key = ? AND origin = 'trained' ORDER BY created_at DESC, id`,
        )
        .all(trainingKey) as ParamSetRow[]
    ).map(toRecord);
  }

  /** The parameter sets that belong with these experiments in a bundle: their sources and what they trained. */
  forExperiments(experimentIds: readonly string[]): ParamSetWithSummary[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM param_sets WHERE experiment_id IN (SELECT value FROM json_each(@ids))
           OR id IN (SELECT source_param_set_id FROM experiments WHERE id IN (SELECT value FROM json_each(@ids)))
         ORDER BY created_at, id`,
      )
      .all({ ids: toJson(experimentIds) }) as ParamSetRow[];
    return rows.map(toRecord);
  }

  /** Experiments that use this parameter set as their source. */
  usedBy(id: string): string[] {
    return (
      this.db
        .prepare('SELECT id FROM experiments WHERE source_param_set_id = ? ORDER BY created_at')
        .all(id) as { id: string }[]
    ).map((r) => r.id);
  }

  /** Deletes the record (its weights file stays until gcWeights); refuses while an experiment uses it. */
  delete(id: string): boolean {
    return this.db.transaction(() => {
      const users = this.usedBy(id);
      if (users.length) throw new ParamSetInUseError(id, users);
      return this.db.prepare('DELETE FROM param_sets WHERE id = ?').run(id).changes > 0;
    })();
  }

  /**
   * Records that an experiment used a parameter set (saved it, or reused it from the trained cache).
   * Uses are what deleting counts: a set another experiment used never goes with one experiment.
   * A use of something not (or no longer) there is not recorded.
   */
  recordUse(paramSetId: string, experimentId: string, role: ParamSetRole): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO param_set_uses (param_set_id, experiment_id, role)
         SELECT @p, @e, @role WHERE EXISTS (SELECT 1 FROM param_sets WHERE id = @p)
           AND EXISTS (SELECT 1 FROM experiments WHERE id = @e)`,
      )
      .run({ p: paramSetId, e: experimentId, role });
  }

  /** Every experiment that used this parameter set, with how (a source counts whether or not a use was recorded). */
  usesOf(id: string): { experimentId: string; name: string; role: ParamSetRole }[] {
    return this.db
      .prepare(
        `SELECT e.id AS experimentId, e.name AS name, u.role AS role FROM (${USES_SQL}) u
         JOIN experiments e ON e.id = u.experiment_id WHERE u.param_set_id = @id ORDER BY e.created_at, e.id, u.role`,
      )
      .all({ id }) as { experimentId: string; name: string; role: ParamSetRole }[];
  }

  /** Every parameter set with the experiment that made it and the others that used it (one query each). */
  listWithLinks(): ParamSetListItem[] {
    const made = new Map(
      (
        this.db
          .prepare(
            'SELECT p.id AS id, e.id AS experimentId, e.name AS name FROM param_sets p JOIN experiments e ON e.id = p.experiment_id',
          )
          .all() as ({ id: string } & ExperimentRef)[]
      ).map(({ id, ...ref }) => [id, ref]),
    );
    const uses = new Map<string, (ExperimentRef & { role: ParamSetRole })[]>();
    for (const u of this.db
      .prepare(
        `SELECT u.param_set_id AS id, e.id AS experimentId, e.name AS name, u.role AS role FROM (
           ${USES_SQL}) u
         JOIN experiments e ON e.id = u.experiment_id ORDER BY e.created_at, e.id, u.role`,
      )
      .all() as ({ id: string } & ExperimentRef & { role: ParamSetRole })[]) {
      const { id, ...use } = u;
      // the maker's own use (its source, its trained target) is what "made by" says
      if (made.get(id)?.experimentId === use.experimentId) continue;
      let list = uses.get(id);
      if (!list) uses.set(id, (list = []));
      list.push(use);
    }
    return this.list().map((p) => ({ ...p, madeBy: made.get(p.id) ?? null, usedBy: uses.get(p.id) ?? [] }));
  }

  /** The parameter sets an experiment made or used, with how it used each (its page links them). */
  linksOfExperiment(experimentId: string): ExperimentParamSet[] {
    const roles = new Map<string, ParamSetRole[]>();
    for (const u of this.db
      .prepare(`SELECT param_set_id AS id, role FROM (${USES_SQL}) WHERE experiment_id = ? ORDER BY role`)
      .all(experimentId) as { id: string; role: ParamSetRole }[]) {
      const list = roles.get(u.id) ?? [];
      if (!list.includes(u.role)) list.push(u.role);
      roles.set(u.id, list);
    }
    return this.usedByExperiment(experimentId).map((p) => ({
      id: p.id,
      name: p.name,
      origin: p.origin,
      made: p.experimentId === experimentId,
      roles: roles.get(p.id) ?? [],
    }));
  }

  /** The parameter sets an experiment produced or used. */
  usedByExperiment(experimentId: string): ParamSetRecord[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM param_sets WHERE id IN (
             SELECT param_set_id FROM param_set_uses WHERE experiment_id = @e
             UNION SELECT source_param_set_id FROM experiments WHERE id = @e
             UNION SELECT id FROM param_sets WHERE experiment_id = @e)
           ORDER BY created_at, id`,
        )
        .all({ e: experimentId }) as ParamSetRow[]
    ).map((r) => withoutSummary(toRecord(r)));
  }

  /** Other parameter sets that share this weights file (deleting one of them frees nothing). */
  sharingWeights(sha256: string, except: readonly string[]): number {
    return (
      this.db
        .prepare(
          'SELECT COUNT(*) AS n FROM param_sets WHERE sha256 = @sha AND id NOT IN (SELECT value FROM json_each(@except))',
        )
        .get({ sha: sha256, except: toJson(except) }) as { n: number }
    ).n;
  }

  referencedSha256(): Set<string> {
    return new Set(
      (this.db.prepare('SELECT DISTINCT sha256 FROM param_sets').all() as { sha256: string }[]).map(
        (r) => r.sha256,
      ),
    );
  }
}
