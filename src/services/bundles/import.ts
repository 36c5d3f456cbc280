import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  parseArch,
  parseSpec,
  SpecError,
  type ExperimentAnalyses,
  type ExperimentSpec,
} from '../../shared/domain/index.js';
import type { ImportReport, MetricPoint, RunRecord } from '../../shared/lab-api.js';
import { logger } from '../log.js';
import { newId } from '../store/db.js';
import {
  cachedValues,
  plannedRuns,
  STORE_CHUNK,
  yieldToEventLoop,
  type LabStore,
  type NewParamSet,
} from '../store/index.js';
import {
  CsvSyntaxError,
  METRICS_CSV,
  METRICS_HEADER,
  PARAM_SETS,
  experimentFile,
  experimentRecordHeadSchema,
  weightsFile,
  firstIssue,
  logEntrySchema,
  logSchema,
  parseCsvNumber,
  readCsvRows,
  runSchema,
} from './format.js';
import { applySlot, importSlots, recordMemory } from './import-limits.js';
import { parseRecord, unpackBundle, type UnpackedBundle } from './unpack.js';
import { BundleError, DEFAULT_ZIP_LIMITS, type ZipLimits } from './zip.js';

const log = logger('bundles');

export interface ImportOptions {
  limits?: Partial<ZipLimits>;
}

/** Metric points and log lines written per transaction: each holds the event loop for milliseconds. */
const POINTS_PER_CHUNK = 2000;
/** A metrics.csv row is under 400 characters (two ids, a key of at most 64, three numbers). */
const MAX_CSV_ROW_CHARS = 64 * 1024;

/**
 * Imports a bundle made by exportBundle. Its zip is first unpacked to the data folder and every
 * entry checked against the manifest (unpack.ts); then its rows are written in small transactions
 * with turns of the event loop between them, under experiments marked as importing, which no
 * read sees. Its weights files are moved into place, then one last transaction adds the parameter
 * sets and makes the experiments visible. A failure deletes what was written (a crash leaves it
 * hidden, and the lab deletes it at start), so a bad bundle adds no record and no file (if that
 * last transaction fails, weights files stay, unreferenced, until gcWeights). Experiments and parameter sets already present (same id) are left as they are, which
 * makes importing the same bundle twice a no-op.
 */
export async function importBundle(
  store: LabStore,
  buf: Buffer,
  opts: ImportOptions = {},
): Promise<ImportReport> {
  const limits = { ...DEFAULT_ZIP_LIMITS, ...opts.limits };
  return importSlots.use(1, async () => {
    const bundle = await unpackBundle(buf, store.dataDir, limits, (sha) => store.hasWeights(sha));
    try {
      return await applySlot.use(1, () => applyBundle(store, bundle));
    } finally {
      await bundle.remove();
    }
  });
}

/** Reads an unpacked JSON record into memory within the records' shared budget, while `use` runs. */
async function withRecord<T>(
  bundle: UnpackedBundle,
  name: string,
  use: (text: string) => Promise<T> | T,
): Promise<T> {
  const file = bundle.files.get(name);
  if (!file) throw new BundleError('is missing', name);
  return recordMemory.use(file.bytes, async () => use(await readFile(file.path, 'utf8')));
}

async function applyBundle(store: LabStore, bundle: UnpackedBundle): Promise<ImportReport> {
  const { manifest, paramSets } = bundle;
  const newIds = manifest.experimentIds.filter((id) => !store.hasExperiment(id));
  const newParamSets = paramSets.filter((p) => !store.getParamSet(p.id));
  const report: ImportReport = {
    added: { experiments: 0, runs: 0, metrics: 0, paramSets: 0 },
    alreadyPresent: {
      experiments: manifest.experimentIds.length - newIds.length,
      paramSets: paramSets.length - newParamSets.length,
    },
    experimentIds: manifest.experimentIds,
    integrity: bundle.integrity,
  };
  const staged: string[] = [];
  try {
    const sources = new Map<string, string | null>();
    const bundleParamSets = new Set(paramSets.map((p) => p.id));
    for (const id of newIds) {
      // An earlier import of it that failed and could not clean up left it hidden: it goes first.
      await store.discardImporting(id);
      const e = await stageExperiment(store, bundle, id, bundleParamSets, staged);
      sources.set(id, e.sourceParamSetId);
      report.added.runs += e.runs;
    }
    report.added.metrics = await stageMetrics(store, bundle, new Set(newIds));

    // Weights of new sets, and of sets already here whose file is missing (an earlier import
    // without weights); never for a set whose local record names other content. Only the last
    // transaction can still fail after this; the files would then stay, unreferenced, for gcWeights.
    const wanted = new Set(paramSets.map((p) => store.getParamSet(p.id)?.sha256 ?? p.sha256));
    for (const [sha, path] of bundle.weights) {
      if (!wanted.has(sha)) continue;
      if (path) await store.adoptWeightsFile(path, sha);
      else if (!(await store.keepWeights(sha)))
        throw new BundleError(
          'was removed from this lab while the bundle was imported; import it again',
          weightsFile(sha),
        );
    }

    store.transaction(() => {
      // Parameter sets may point at the new experiments and these at them: the experiments are
      // in, the sets go next, then the links; every foreign key holds at each step.
      for (const p of newParamSets) {
        const { summary, ...rest } = p;
        const input: NewParamSet = {
          ...rest,
          arch: parseArch(p.arch, 'arch'),
          // The experiment that trained it may not have come along; keep the set, drop the link.
          experimentId:
            p.experimentId && (sources.has(p.experimentId) || store.hasExperiment(p.experimentId))
              ? p.experimentId
              : null,
          summary: summary
            ? {
                label: summary.label,
                valAccuracy: summary.valAccuracy ?? Number.NaN,
                valLoss: summary.valLoss ?? Number.NaN,
                testAccuracy: summary.testAccuracy ?? Number.NaN,
                seconds: summary.seconds ?? 0,
              }
            : null,
        };
        store.addParamSet(input);
      }
      for (const [id, source] of sources)
        if (source) store.updateExperiment(id, { sourceParamSetId: source });
      store.publishImported(newIds);
    });
    report.added.experiments = newIds.length;
    report.added.paramSets = newParamSets.length;
    return report;
  } catch (e) {
    for (const id of staged)
      await store.discardImporting(id).catch((err: unknown) =>
        // Still hidden; the lab deletes it at its next start.
        log.warn({ err, experimentId: id }, 'removing a failed import left part of it behind'),
      );
    if (e instanceof BundleError) throw e;
    throw new BundleError(`could not be applied, nothing was imported: ${(e as Error).message}`);
  }
}

/**
 * Checks one experiment's spec, record and log and writes them under the importing mark, its runs
 * and log lines a chunk at a time; adds its id to `staged` as soon as there is something to delete.
 */
async function stageExperiment(
  store: LabStore,
  bundle: UnpackedBundle,
  id: string,
  bundleParamSets: ReadonlySet<string>,
  staged: string[],
): Promise<{ sourceParamSetId: string | null; runs: number }> {
  const specName = experimentFile(id, 'spec.json');
  const spec = await withRecord(bundle, specName, (text) => {
    try {
      return parseSpec(JSON.parse(text));
    } catch (e) {
      throw new BundleError(
        e instanceof SpecError ? e.message : `is not valid JSON (${(e as Error).message})`,
        specName,
      );
    }
  });
  const recordName = experimentFile(id, 'experiment.json');
  const result = await withRecord(bundle, recordName, async (text) => {
    const record = parseRecord(text, recordName, experimentRecordHeadSchema);
    if (record.id !== id)
      throw new BundleError(
        `says it is experiment ${record.id}, but sits in the folder of ${id}`,
        recordName,
      );
    const src = record.sourceParamSetId;
    if (src && !bundleParamSets.has(src) && !store.getParamSet(src))
      throw new BundleError(
        `its source parameter set ${src} is neither in ${PARAM_SETS} nor in this lab`,
        recordName,
      );
    store.createExperiment({
      id,
      spec,
      name: record.name,
      tags: record.tags,
      notes: record.notes,
      origin: 'import',
      createdAt: record.createdAt,
      importing: true,
    });
    staged.push(id);
    const runs = await stageRuns(store, id, spec, record.runs, recordName, new Set(staged));
    if (record.analyses) store.setAnalyses(id, record.analyses as unknown as ExperimentAnalyses);
    return { sourceParamSetId: src, runs };
  });
  const logName = experimentFile(id, 'log.json');
  if (bundle.files.has(logName))
    await withRecord(bundle, logName, async (text) => {
      const entries = parseRecord(text, logName, logSchema);
      for (let i = 0; i < entries.length; i += POINTS_PER_CHUNK) {
        const chunk = entries.slice(i, i + POINTS_PER_CHUNK).map((raw, k) => {
          const r = logEntrySchema.safeParse(raw);
          if (!r.success) throw new BundleError(firstIssue(r.error, [i + k]), logName);
          return r.data;
        });
        store.appendLogs(id, chunk);
        await yieldToEventLoop();
      }
    });
  return result;
}

/**
 * The runs of a record, checked and written STORE_CHUNK at a time. A bundle may carry an
 * experiment whose runs were never planned; nothing would ever run it, so its runs are planned
 * here, as stopped ones, so it can be resumed.
 */
async function stageRuns(
  store: LabStore,
  experimentId: string,
  spec: ExperimentSpec,
  raw: readonly unknown[],
  recordName: string,
  stagedHere: ReadonlySet<string>,
): Promise<number> {
  const ids = new Set<string>();
  const phases = new Set<string>();
  const check = (value: unknown, i: number): RunRecord => {
    const parsed = runSchema.safeParse(value);
    if (!parsed.success) throw new BundleError(firstIssue(parsed.error, ['runs', i]), recordName);
    const r = parsed.data;
    if (r.experimentId !== experimentId)
      throw new BundleError(`runs[${i}] belongs to experiment ${r.experimentId}`, recordName);
    if (ids.has(r.id)) throw new BundleError(`run ${r.id} appears twice in the bundle`, recordName);
    if (phases.has(r.phase)) throw new BundleError(`two runs have phase "${r.phase}"`, recordName);
    ids.add(r.id);
    phases.add(r.phase);
    const summary = r.summary as RunRecord['summary'];
    const cached = summary ? cachedValues(summary) : { best: r.best, final: r.final, test: r.test };
    // Nothing of an imported experiment runs here: what was under way when it was exported stopped there.
    const status = r.status === 'running' || r.status === 'queued' ? 'interrupted' : r.status;
    return { ...r, summary, status, ...cached };
  };
  const planned: RunRecord[] | null = raw.length
    ? null
    : plannedRuns(spec).map((p) => ({
        ...p,
        id: newId(),
        experimentId,
        status: 'interrupted',
        startedAt: null,
        finishedAt: null,
        seconds: null,
        backend: null,
        error: null,
        summary: null,
        best: null,
        final: null,
        test: null,
      }));
  const total = planned ? planned.length : raw.length;
  let added = 0;
  for (let i = 0; i < total; i += STORE_CHUNK) {
    const chunk = planned
      ? planned.slice(i, i + STORE_CHUNK)
      : raw.slice(i, i + STORE_CHUNK).map((v, k) => check(v, i + k));
    const owners = store.runOwners(chunk.map((r) => r.id));
    for (const r of chunk) {
      const owner = owners.get(r.id);
      if (owner)
        throw new BundleError(
          stagedHere.has(owner)
            ? `run ${r.id} appears twice in the bundle`
            : `run ${r.id} already exists here, in experiment ${owner}`,
          recordName,
        );
    }
    added += store.insertRuns(chunk);
    await yieldToEventLoop();
  }
  return added;
}

/**
 * metrics.csv, streamed from its unpacked file: every row is checked; those of the experiments
 * being added are written POINTS_PER_CHUNK at a time (a (run, key, step) given twice is refused by
 * the store, so no set of them is kept here). Rows of experiments already present are skipped.
 */
async function stageMetrics(
  store: LabStore,
  bundle: UnpackedBundle,
  adding: ReadonlySet<string>,
): Promise<number> {
  const file = bundle.files.get(METRICS_CSV);
  if (!file) return 0;
  const listed = new Set(bundle.manifest.experimentIds);
  let points: MetricPoint[] = [];
  let lines: number[] = [];
  let added = 0;
  const flush = async (): Promise<void> => {
    const dup = store.insertNewMetrics(points);
    if (dup >= 0) {
      const p = points[dup];
      throw new BundleError(
        `line ${lines[dup]}: run ${p.runId} has a second value for ${p.key} at step ${p.step}`,
        METRICS_CSV,
      );
    }
    added += points.length;
    points = [];
    lines = [];
    await yieldToEventLoop();
  };
  let header = true;
  let lastRun = '';
  let lastOwner: string | null = null;
  const text = createReadStream(file.path, { encoding: 'utf8' });
  try {
    for await (const { line, fields } of readCsvRows(text, MAX_CSV_ROW_CHARS)) {
      if (header) {
        if (fields.join(',') !== METRICS_HEADER.join(','))
          throw new BundleError(`line 1: expected the header "${METRICS_HEADER.join(',')}"`, METRICS_CSV);
        header = false;
        continue;
      }
      const { experimentId, point } = metricRow(line, fields, listed);
      if (!adding.has(experimentId)) continue;
      if (point.runId !== lastRun)
        [lastRun, lastOwner] = [point.runId, store.runOwners([point.runId]).get(point.runId) ?? null];
      if (lastOwner !== experimentId)
        throw new BundleError(
          `line ${line}: run ${JSON.stringify(point.runId)} is not a run of experiment ${experimentId}`,
          METRICS_CSV,
        );
      points.push(point);
      lines.push(line);
      if (points.length >= POINTS_PER_CHUNK) await flush();
    }
    if (header) throw new BundleError('is empty (not even a header)', METRICS_CSV);
    if (points.length) await flush();
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw new BundleError(e.message, METRICS_CSV);
    throw e;
  } finally {
    text.destroy();
  }
  return added;
}

/** One row of metrics.csv, checked but for whether its run is one of its experiment's. */
function metricRow(
  line: number,
  fields: string[],
  listed: ReadonlySet<string>,
): { experimentId: string; point: MetricPoint } {
  const fail = (why: string): never => {
    throw new BundleError(`line ${line}: ${why}`, METRICS_CSV);
  };
  if (fields.length !== METRICS_HEADER.length)
    fail(`expected ${METRICS_HEADER.length} fields, found ${fields.length}`);
  const [experimentId, runId, key, stepText, valueText, wallText] = fields;
  if (!listed.has(experimentId)) fail(`experiment ${JSON.stringify(experimentId)} is not in the bundle`);
  if (key.length === 0 || key.length > 64) fail('the key must be 1 to 64 characters');
  const step = parseCsvNumber(stepText);
  const value = parseCsvNumber(valueText);
  const wallTime = parseCsvNumber(wallText);
  if (step === null || !Number.isSafeInteger(step))
    fail(`step ${JSON.stringify(stepText)} is not an integer`);
  if (value === null) fail(`value ${JSON.stringify(valueText)} is not a number`);
  if (wallTime === null || !Number.isSafeInteger(wallTime))
    fail(`wall_time ${JSON.stringify(wallText)} is not an integer (unix ms)`);
  return { experimentId, point: { runId, key, step: step!, value: value!, wallTime: wallTime! } };
}
