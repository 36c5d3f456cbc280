import type { DatasetSpec } from '../../shared/domain/index.js';
import type { DatasetRecord } from '../../shared/lab-api.js';
import { fromJson, newId, nowIso, toJson, type Db } from './db.js';
import { datasetLabel, datasetLocation } from './describe.js';

interface DatasetRow {
  id: string;
  name: string;
  format: string;
  location: string | null;
  spec: string;
  content_hash: string | null;
  input_shape: string | null;
  classes: number | null;
  class_names: string;
  train_count: number | null;
  test_count: number | null;
  created_at: string;
}

export interface NewDataset {
  id?: string;
  createdAt?: string;
  /** defaults to the engine's name for the spec */
  name?: string;
  spec: DatasetSpec;
  contentHash?: string | null;
  inputShape?: number[] | null;
  classes?: number | null;
  classNames?: string[];
  trainCount?: number | null;
  testCount?: number | null;
}

function toRecord(r: DatasetRow): DatasetRecord {
  return {
    id: r.id,
    name: r.name,
    spec: JSON.parse(r.spec) as DatasetSpec,
    contentHash: r.content_hash,
    inputShape: fromJson<number[] | null>(r.input_shape, null),
    classes: r.classes,
    classNames: JSON.parse(r.class_names) as string[],
    trainCount: r.train_count,
    testCount: r.test_count,
    createdAt: r.created_at,
  };
}

export class DatasetRepo {
  constructor(private readonly db: Db) {}

  /**
   * Registers a dataset. The same content (by hash) is registered once: adding it again returns
   * the existing record, whatever folder it was found in this time.
   */
  add(d: NewDataset): DatasetRecord {
    if (d.contentHash) {
      const existing = this.getByHash(d.contentHash);
      if (existing) return existing;
    }
    const { format, location } = datasetLocation(d.spec);
    const row: DatasetRow = {
      id: d.id ?? newId(),
      name: d.name ?? datasetLabel(d.spec),
      format,
      location,
      spec: toJson(d.spec),
      content_hash: d.contentHash ?? null,
      input_shape: d.inputShape ? toJson(d.inputShape) : null,
      classes: d.classes ?? null,
      class_names: toJson(d.classNames ?? []),
      train_count: d.trainCount ?? null,
      test_count: d.testCount ?? null,
      created_at: d.createdAt ?? nowIso(),
    };
    this.db
      .prepare(
        `INSERT INTO datasets (id, name, format, location, spec, content_hash, input_shape, classes, class_names, train_count, test_count, created_at)
        VALUES (@id, @name, @format, @location, @spec, @content_hash, @input_shape, @classes, @class_names, @train_count, @test_count, @created_at)`,
      )
      .run(row);
    return toRecord(row);
  }

  get(id: string): DatasetRecord | null {
    const r = this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow | undefined;
    return r ? toRecord(r) : null;
  }

  getByHash(contentHash: string): DatasetRecord | null {
    const r = this.db.prepare('SELECT * FROM datasets WHERE content_hash = ?').get(contentHash) as
      DatasetRow | undefined;
    return r ? toRecord(r) : null;
  }

  list(): DatasetRecord[] {
    return (
      this.db.prepare('SELECT * FROM datasets ORDER BY name COLLATE NOCASE, created_at').all() as DatasetRow[]
    ).map(toRecord);
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id).changes > 0;
  }
}
