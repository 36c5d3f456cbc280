import { type ArchSpec, DomainError, parseArch, type TrainedSummary } from '../../shared/domain/index.js';
import type { ParamOrigin, ParamSetRecord } from '../../shared/lab-api.js';
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
}

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

  referencedSha256(): Set<string> {
    return new Set(
      (this.db.prepare('SELECT DISTINCT sha256 FROM param_sets').all() as { sha256: string }[]).map(
        (r) => r.sha256,
      ),
    );
  }
}
