import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TrainedCache } from '../../core/experiment.js';
import {
  ANALYSES_ARTIFACT,
  type ExperimentAnalyses,
  type ExperimentSpec,
  notFound,
  type TrainedSummary,
} from '../../shared/domain/index.js';
import type {
  DatasetRecord,
  ExperimentDetail,
  ExperimentSummary,
  MetricPoint,
  DeletionPlan,
  ParamSetListItem,
  ParamSetRecord,
  RunRecord,
  RunStatus,
} from '../../shared/lab-api.js';
import { ArtifactRepo, type ArtifactRecord } from './artifacts.js';
import { DatasetRepo, type NewDataset } from './datasets.js';
import { openDatabase, type Db, type OpenOptions } from './db.js';
import { ExperimentRepo, type ExperimentPatch, type ListQuery, type NewExperiment } from './experiments.js';
import { LogRepo, type LogEntry, type LogLevel } from './logs.js';
import { MetricRepo } from './metrics.js';
import { migrate } from './migrations.js';
import { ParamSetRepo, type NewParamSet, type ParamSetRole, type ParamSetWithSummary } from './param-sets.js';
import { plannedRuns, RunRepo, type RunPatch } from './runs.js';
import { storeTrainedCache, type TrainedCacheContext } from './trained-cache.js';
import { DiskReserve, isDiskFull } from './disk-space.js';
import { WeightsDir } from './weights.js';

export { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations.js';
export { ParamSetInUseError } from './param-sets.js';
export { cachedValues, plannedRuns } from './runs.js';
export type {
  ArtifactRecord,
  ExperimentPatch,
  ListQuery,
  LogEntry,
  LogLevel,
  NewDataset,
  NewExperiment,
  NewParamSet,
  ParamSetRole,
  ParamSetWithSummary,
  RunPatch,
  TrainedCacheContext,
};

/**
 * Rows written or deleted per transaction by the chunked operations: small enough that one chunk
 * holds the event loop for milliseconds, large enough that the per-transaction cost (a WAL frame
 * write) stays small against the rows.
 */
export const STORE_CHUNK = 250;

/** One turn of the event loop: lets pending requests (and timers) run between chunks of store work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The artifact kind of a method run's stored permutations. */
export const PERMUTATIONS_ARTIFACT = 'permutations';

/** Rows in each table; used by tests and by import to report what changed. */
export interface TableCounts {
  experiments: number;
  runs: number;
  metrics: number;
  logs: number;
  paramSets: number;
  datasets: number;
  artifacts: number;
}

/**
 * The lab's experiment store: one SQLite database (`<dataDir>/lab.db`) and a folder of weights
 * files (`<dataDir>/weights/`). Only the main process opens it; database calls are synchronous
 * (better-sqlite3), file calls (weights) are async.
 */
export class LabStore {
  readonly dataDir: string;
  readonly schemaVersion: number;
  private readonly weights: WeightsDir;
  private readonly experimentRepo: ExperimentRepo;
  private readonly runRepo: RunRepo;
  private readonly metricRepo: MetricRepo;
  private readonly logRepo: LogRepo;
  private readonly paramSetRepo: ParamSetRepo;
  private readonly datasetRepo: DatasetRepo;
  private readonly artifactRepo: ArtifactRepo;
  private closed = false;
  private readonly reserve: DiskReserve;

  private constructor(
    dataDir: string,
    private readonly db: Db,
  ) {
    this.dataDir = dataDir;
    this.schemaVersion = migrate(db);
    this.weights = new WeightsDir(join(dataDir, 'weights'));
    this.reserve = new DiskReserve(dataDir);
    this.runRepo = new RunRepo(db);
    this.metricRepo = new MetricRepo(db);
    this.logRepo = new LogRepo(db);
    this.paramSetRepo = new ParamSetRepo(db);
    this.experimentRepo = new ExperimentRepo(db, this.runRepo, this.logRepo, this.paramSetRepo);
    this.datasetRepo = new DatasetRepo(db);
    this.artifactRepo = new ArtifactRepo(db);
  }

  /** Opens (or creates) the store in `dataDir` and brings its schema up to date. */
  static open(dataDir: string, opts: OpenOptions = {}): LabStore {
    const dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    const db = openDatabase(join(dir, 'lab.db'), opts);
    try {
      return new LabStore(dir, db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Folds the WAL back into the database file (so a copy of lab.db alone is complete), then closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }

  /**
   * Makes every finished write durable: with synchronous=NORMAL a commit reaches the WAL but is
   * synced only at a checkpoint, so a power loss could drop the last ones. A passive checkpoint
   * syncs the WAL (and copies what it can into lab.db) without waiting for readers.
   */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /** Keeps a reserve of disk space for recording failures (see disk-space.ts); false when there is no room. */
  ensureDiskReserve(): boolean {
    return this.reserve.ensure();
  }

  /**
   * Runs `fn`; when it fails for lack of space, gives up the disk reserve and runs it once more
   * (so the record of a failure, at least, gets in). Other errors pass through.
   */
  withDiskReserve<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (!isDiskFull(e) || !this.reserve.release()) throw e;
      return fn();
    }
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** 'ok' or SQLite's list of problems. */
  integrityCheck(): string[] {
    return (this.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  }

  counts(): TableCounts {
    const n = (table: string): number =>
      (this.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      experiments: n('experiments'),
      runs: n('runs'),
      metrics: n('metrics'),
      logs: n('logs'),
      paramSets: n('param_sets'),
      datasets: n('datasets'),
      artifacts: n('artifacts'),
    };
  }

  private requireExperiment(id: string): void {
    if (!this.experimentRepo.exists(id)) throw notFound(`experiment ${id}`);
  }

  // ── experiments ──

  createExperiment(input: NewExperiment): ExperimentDetail {
    return this.experimentRepo.create(input);
  }

  getExperiment(id: string): ExperimentDetail | null {
    const e = this.experimentRepo.get(id);
    if (e) {
      e.analyses = this.getAnalyses(id);
      e.paramSets = this.paramSetRepo.linksOfExperiment(id);
    }
    return e;
  }

  /**
   * Details of many experiments (with analyses; without log lines or the run page's parameter-set
   * links), in the order asked; unknown ids left out.
   */
  getExperiments(ids: readonly string[]): ExperimentDetail[] {
    const list = this.experimentRepo.getMany(ids);
    const analyses = this.artifactRepo.latestOfKind(
      list.map((e) => e.id),
      ANALYSES_ARTIFACT,
    );
    for (const e of list) e.analyses = (analyses.get(e.id)?.meta as unknown as ExperimentAnalyses) ?? null;
    return list;
  }

  getExperimentSummary(id: string): ExperimentSummary | null {
    return this.experimentRepo.summary(id);
  }

  hasExperiment(id: string): boolean {
    return this.experimentRepo.exists(id);
  }

  listExperiments(query: Partial<ListQuery> = {}): { items: ExperimentSummary[]; total: number } {
    return this.experimentRepo.list(query);
  }

  updateExperiment(id: string, patch: ExperimentPatch): ExperimentSummary | null {
    return this.experimentRepo.update(id, patch);
  }

  /** What deleting it removes and which parameter sets could go too (each with who else used it). */
  deletePlan(id: string): DeletionPlan | null {
    return this.experimentRepo.deletePlan(id);
  }

  /**
   * Deletes an experiment with its runs, metrics, logs and artifacts. Its parameter sets stay unless
   * named in `paramSetIds`, and a named one another experiment used refuses the whole deletion.
   */
  deleteExperiment(id: string, paramSetIds: readonly string[] = []): boolean {
    return this.experimentRepo.delete(id, paramSetIds).deleted;
  }

  /**
   * deleteExperiment without holding the event loop: after checking the named parameter sets, the
   * experiment's metrics and runs go in small transactions with a turn of the event loop between
   * them, then the experiment itself; finally the weights files of the deleted sets that nothing
   * else references are removed. A crash half-way leaves the experiment with fewer runs, which
   * resuming plans again, or deleting finishes.
   */
  async deleteExperimentAndWeights(
    id: string,
    paramSetIds: readonly string[] = [],
  ): Promise<{ deleted: boolean; paramSetsDeleted: string[]; bytesFreed: number }> {
    // Refuses (and changes nothing) when a named set is used elsewhere or unknown.
    this.transaction(() => this.experimentRepo.checkDeletion(id, paramSetIds));
    await this.deleteRunsInChunks(id);
    const r = this.experimentRepo.delete(id, paramSetIds);
    const referenced = this.paramSetRepo.referencedSha256();
    const files = [...new Set(r.paramSetsDeleted.map((p) => p.sha256))].filter((s) => !referenced.has(s));
    const bytesFreed = await this.weights.remove(files);
    return { deleted: r.deleted, paramSetsDeleted: r.paramSetsDeleted.map((p) => p.id), bytesFreed };
  }

  /** An experiment's metrics, then its runs, in small transactions with a turn of the event loop between them. */
  private async deleteRunsInChunks(experimentId: string): Promise<void> {
    const runIds = this.runRepo.ids(experimentId);
    for (let i = 0; i < runIds.length; i += STORE_CHUNK) {
      const chunk = runIds.slice(i, i + STORE_CHUNK);
      this.transaction(() => {
        for (const runId of chunk) this.metricRepo.deleteForRun(runId);
      });
      await yieldToEventLoop();
    }
    for (let i = 0; i < runIds.length; i += STORE_CHUNK) {
      this.runRepo.deleteMany(runIds.slice(i, i + STORE_CHUNK));
      await yieldToEventLoop();
    }
  }

  // ── bundle imports (staged: see migration 006) ──

  /** Makes the experiments a bundle import wrote (createExperiment with `importing`) visible. */
  publishImported(ids: readonly string[]): number {
    return this.experimentRepo.publishImported(ids);
  }

  /** Removes an import's hidden experiment after it failed, without holding the event loop. */
  async discardImporting(id: string): Promise<void> {
    await this.deleteRunsInChunks(id);
    this.experimentRepo.deleteImporting(id);
  }

  /** At start-up (no import is running): removes what imports cut short by a crash left; returns their ids. */
  discardUnfinishedImports(): string[] {
    return this.transaction(() => {
      const ids = this.experimentRepo.importingIds();
      for (const id of ids) this.experimentRepo.deleteImporting(id);
      return ids;
    });
  }

  // ── runs ──

  /**
   * planRuns in small transactions with a turn of the event loop between them, so a spec with
   * thousands of targets does not hold every other client (the runs are queued only once all are
   * in; a crash half-way leaves an interrupted experiment whose resume plans the rest).
   */
  async planRunsInChunks(experimentId: string, spec: ExperimentSpec): Promise<void> {
    this.requireExperiment(experimentId);
    const planned = plannedRuns(spec);
    for (let i = 0; i < planned.length; i += STORE_CHUNK) {
      this.runRepo.planSome(experimentId, planned.slice(i, i + STORE_CHUNK));
      if (i + STORE_CHUNK < planned.length) await yieldToEventLoop();
    }
  }

  /** Queued runs for every phase the spec implies (idempotent: existing phases are kept); returns all runs. */
  planRuns(experimentId: string, spec: ExperimentSpec): RunRecord[] {
    this.requireExperiment(experimentId);
    return this.runRepo.plan(experimentId, spec);
  }

  /** Inserts runs recorded elsewhere (a bundle) with their ids; returns how many were new. */
  insertRuns(runs: RunRecord[]): number {
    return this.runRepo.insertRecords(runs);
  }

  getRun(id: string): RunRecord | null {
    return this.runRepo.get(id);
  }

  /** The experiment each of these runs belongs to (hidden imports included), for those that exist. */
  runOwners(runIds: readonly string[]): Map<string, string> {
    return this.runRepo.experimentsOf(runIds);
  }

  listRuns(experimentId: string): RunRecord[] {
    return this.runRepo.list(experimentId);
  }

  runByPhase(experimentId: string, phase: string): RunRecord | null {
    return this.runRepo.byPhaseOf(experimentId, phase);
  }

  updateRun(id: string, patch: RunPatch): RunRecord | null {
    return this.runRepo.update(id, patch);
  }

  /** Moves an experiment's runs whose status is in `from` to `to` (cancel, resume); returns how many. */
  setRunsStatus(experimentId: string, from: RunStatus[], to: RunStatus): number {
    return this.runRepo.setStatus(experimentId, from, to);
  }

  /** Closes an experiment's open runs at once (see RunRepo.closeOpen); returns the ids changed. */
  closeOpenRuns(
    experimentId: string,
    from: readonly RunStatus[],
    to: RunStatus,
    error: string | null,
    finishedAt: string | null,
    except: string | null = null,
  ): string[] {
    return this.runRepo.closeOpen(experimentId, from, to, error, finishedAt, except);
  }

  /** At start-up (no queue holds anything): every queued or running run becomes interrupted; returns the experiments touched. */
  interruptOpenRuns(): string[] {
    return this.transaction(() => this.runRepo.interruptOpen());
  }

  // ── metrics and logs ──

  appendMetrics(points: readonly MetricPoint[]): number {
    return this.metricRepo.append(points);
  }

  /** Writes points that must be new (see MetricRepo.insertNew); -1, or the index of the first that is not. */
  insertNewMetrics(points: readonly MetricPoint[]): number {
    return this.metricRepo.insertNew(points);
  }

  metrics(experimentIds: readonly string[], keys: readonly string[] = []): MetricPoint[] {
    return this.metricRepo.list(experimentIds, keys);
  }

  /** All points of these experiments, one run at a time, as [key, step, value, wallTime] rows (for export). */
  iterateMetricsByRun(experimentIds: readonly string[]): ReturnType<MetricRepo['iterateByRun']> {
    return this.metricRepo.iterateByRun(experimentIds);
  }

  appendLog(experimentId: string, level: LogLevel, message: string, at?: string): LogEntry {
    this.requireExperiment(experimentId);
    return this.logRepo.append(experimentId, level, message, at);
  }

  appendLogs(experimentId: string, entries: readonly LogEntry[]): number {
    return this.logRepo.appendMany(experimentId, entries);
  }

  /** The last `limit` entries, oldest first; all when limit is 0. */
  getLog(experimentId: string, limit = 0): LogEntry[] {
    return this.logRepo.list(experimentId, limit);
  }

  // ── weights and parameter sets ──

  /** Stores weights bytes once per content under weights/<sha256>.safetensors. */
  async putWeights(buf: Uint8Array): Promise<{ sha256: string; bytes: number }> {
    const { sha256, bytes } = await this.weights.put(buf);
    return { sha256, bytes };
  }

  /** The weights bytes, verified against their hash. */
  readWeights(sha256: string): Promise<Buffer> {
    return this.weights.read(sha256);
  }

  hasWeights(sha256: string): Promise<boolean> {
    return this.weights.has(sha256);
  }

  /** Where the weights file lives, for a process that reads it itself (a worker). */
  weightsPath(sha256: string): string {
    return this.weights.path(sha256);
  }

  listWeightFiles(): Promise<string[]> {
    return this.weights.list();
  }

  /** Writes weights that must hash to `sha256` (a bundle's); says whether the file is new. */
  putWeightsChecked(
    buf: Uint8Array,
    sha256: string,
  ): Promise<{ sha256: string; bytes: number; written: boolean }> {
    return this.weights.put(buf, sha256);
  }

  /**
   * Moves a file whose content was already hashed to `sha256` (a bundle's, unpacked in the data
   * folder) into the weights folder; when the weights are there already the file is removed.
   */
  adoptWeightsFile(path: string, sha256: string): Promise<{ written: boolean }> {
    return this.weights.adopt(path, sha256);
  }

  /** Whether these weights are here, refreshing the file's time so gcWeights leaves it for a record about to use it. */
  keepWeights(sha256: string): Promise<boolean> {
    return this.weights.keep(sha256);
  }

  /** Removes every temporary weights file (a write a crash or a full disk cut short); call before jobs start. */
  removeTempWeights(): Promise<number> {
    return this.weights.removeTemps();
  }

  /** Removes weights files no parameter set references (and stale temp files); files touched in the last `graceMs` stay. */
  gcWeights(graceMs?: number): Promise<{ removed: string[]; bytes: number }> {
    return this.weights.gc(this.paramSetRepo.referencedSha256(), graceMs);
  }

  addParamSet(p: NewParamSet): ParamSetRecord {
    return this.paramSetRepo.add(p);
  }

  /** Records that an experiment used (reused) a parameter set, so deleting another never takes it. */
  recordParamSetUse(paramSetId: string, experimentId: string, role: ParamSetRole): void {
    this.paramSetRepo.recordUse(paramSetId, experimentId, role);
  }

  /** The experiments that used a parameter set, and how. */
  paramSetUses(id: string): { experimentId: string; name: string; role: ParamSetRole }[] {
    return this.paramSetRepo.usesOf(id);
  }

  getParamSet(id: string): ParamSetRecord | null {
    return this.paramSetRepo.get(id);
  }

  listParamSets(): ParamSetRecord[] {
    return this.paramSetRepo.list();
  }

  /** Every parameter set with the experiment that made it and the other experiments that used it. */
  listParamSetsWithLinks(): ParamSetListItem[] {
    return this.paramSetRepo.listWithLinks();
  }

  /** Throws ParamSetInUseError while an experiment uses it as its source. */
  deleteParamSet(id: string): boolean {
    return this.paramSetRepo.delete(id);
  }

  /**
   * What a worker's trained-cache lookup is answered with: the newest stored training under the
   * key whose file is present, its weights file and its summary (from the record when the
   * training's own summary was not kept), or null.
   */
  trainedLookup(
    trainingKey: string,
  ): { paramSet: ParamSetRecord; path: string; summary: TrainedSummary } | null {
    const found = this.findTrainedByKey(trainingKey);
    if (!found) return null;
    const summary: TrainedSummary = this.trainedSummary(found.id) ?? {
      label: found.name,
      valAccuracy: found.valAccuracy ?? Number.NaN,
      valLoss: Number.NaN,
      testAccuracy: found.testAccuracy ?? Number.NaN,
      seconds: 0,
    };
    return { paramSet: found, path: this.weightsPath(found.sha256), summary };
  }

  /** The newest trained parameter set with this key whose weights file is present, or null. */
  findTrainedByKey(trainingKey: string): ParamSetRecord | null {
    const found = this.paramSetRepo
      .byTrainingKey(trainingKey)
      .find((p) => existsSync(this.weights.path(p.sha256)));
    if (!found) return null;
    const { summary: _summary, ...record } = found;
    return record;
  }

  listTrainedByKey(trainingKey: string): ParamSetRecord[] {
    return this.paramSetRepo.byTrainingKey(trainingKey).map(({ summary: _summary, ...r }) => r);
  }

  trainedSummary(paramSetId: string): TrainedSummary | null {
    return this.paramSetRepo.getWithSummary(paramSetId)?.summary ?? null;
  }

  /** Parameter sets that travel with these experiments in a bundle (sources and what they trained). */
  paramSetsForExperiments(experimentIds: readonly string[]): ParamSetWithSummary[] {
    return this.paramSetRepo.forExperiments(experimentIds);
  }

  /** One parameter set with its training summary, or null. */
  getParamSetWithSummary(id: string): ParamSetWithSummary | null {
    return this.paramSetRepo.getWithSummary(id);
  }

  /** The engine's TrainedCache over this store (for the CLI and tests; main keeps the DB to itself). */
  trainedCache(ctx: TrainedCacheContext): TrainedCache {
    return storeTrainedCache(this, ctx);
  }

  // ── datasets ──

  /** Registers a dataset; the same content hash is registered once (returns the existing record). */
  addDataset(d: NewDataset): DatasetRecord {
    return this.datasetRepo.add(d);
  }

  getDataset(id: string): DatasetRecord | null {
    return this.datasetRepo.get(id);
  }

  getDatasetByHash(contentHash: string): DatasetRecord | null {
    return this.datasetRepo.getByHash(contentHash);
  }

  listDatasets(): DatasetRecord[] {
    return this.datasetRepo.list();
  }

  deleteDataset(id: string): boolean {
    return this.datasetRepo.delete(id);
  }

  // ── artifacts ──

  addArtifact(a: Parameters<ArtifactRepo['add']>[0]): ArtifactRecord {
    return this.artifactRepo.add(a);
  }

  listArtifacts(experimentId: string): ArtifactRecord[] {
    return this.artifactRepo.list(experimentId);
  }

  /** An experiment's newest artifact of a kind, or null (read alone: every run's π_s are artifacts too). */
  latestArtifact(experimentId: string, kind: string): ArtifactRecord | null {
    return this.artifactRepo.latest(kind, { experimentId });
  }

  /** The experiment-level analyses last recorded for an experiment (an artifact), or null. */
  getAnalyses(experimentId: string): ExperimentAnalyses | null {
    // by kind in SQL: an experiment's other artifacts (its result, every run's π_s) can be large
    const latest = this.latestArtifact(experimentId, ANALYSES_ARTIFACT);
    return latest ? (latest.meta as unknown as ExperimentAnalyses) : null;
  }

  /**
   * A method run's π_1..π_T as the engine encoded them (src/core/perm-steps.ts, base64): what
   * rebuilding its transferred parameters at any step needs. One per run, the newest kept.
   */
  setRunPermutations(runId: string, perms: string): void {
    const run = this.runRepo.get(runId);
    if (!run) throw notFound(`run ${runId}`);
    this.transaction(() => {
      this.artifactRepo.removeForRun(runId, PERMUTATIONS_ARTIFACT);
      this.artifactRepo.add({
        experimentId: run.experimentId,
        runId,
        kind: PERMUTATIONS_ARTIFACT,
        meta: { format: 'perm-steps/1', base64: perms },
      });
    });
  }

  /** The encoded π_1..π_T of a method run, or null when the run stored none (see setRunPermutations). */
  runPermutations(runId: string): string | null {
    const a = this.artifactRepo.latest(PERMUTATIONS_ARTIFACT, { runId });
    const v = a?.meta.base64;
    return typeof v === 'string' ? v : null;
  }

  setAnalyses(experimentId: string, analyses: ExperimentAnalyses): void {
    this.artifactRepo.add({
      experimentId,
      kind: ANALYSES_ARTIFACT,
      meta: analyses as unknown as Record<string, unknown>,
    });
  }
}
