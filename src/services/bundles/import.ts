import {
  parseArch,
  parseSpec,
  SpecError,
  type ExperimentAnalyses,
  type ExperimentSpec,
} from '../../shared/domain/index.js';
import type { BundleIntegrity, ImportReport, MetricPoint, RunRecord } from '../../shared/lab-api.js';
import { keyFingerprint, labSigningKey, signatureValid } from './signing.js';
import { cachedValues, type LabStore, type LogEntry, type NewParamSet } from '../store/index.js';
import { sha256Hex } from '../store/weights.js';
import {
  BUNDLE_SCHEMA_VERSION,
  MANIFEST,
  METRICS_CSV,
  METRICS_HEADER,
  PARAM_SETS,
  classifyPath,
  experimentFile,
  experimentRecordSchema,
  firstIssue,
  logSchema,
  manifestSchema,
  paramSetsSchema,
  parseCsv,
  parseCsvNumber,
  type ExperimentRecordFile,
  type Manifest,
  type ParamSetFile,
} from './format.js';
import { BundleError, DEFAULT_ZIP_LIMITS, readZip, type ZipLimits } from './zip.js';
import type { z } from 'zod';

export interface ImportOptions {
  limits?: Partial<ZipLimits>;
}

interface ParsedExperiment {
  id: string;
  spec: ExperimentSpec;
  record: ExperimentRecordFile;
  runs: RunRecord[];
  log: LogEntry[];
  metrics: MetricPoint[];
}

interface ParsedBundle {
  manifest: Manifest;
  integrity: BundleIntegrity;
  experiments: ParsedExperiment[];
  paramSets: ParamSetFile[];
  weights: Map<string, Buffer>;
}

/**
 * Imports a bundle made by exportBundle. Everything is read and checked first (zip structure,
 * manifest, every entry); then weights files are written and all rows go in one transaction,
 * so a bad bundle changes no record (weights files it wrote may stay, unreferenced, until
 * gcWeights). Experiments and parameter sets already present (same id) are left as they are,
 * which makes importing the same bundle twice a no-op.
 */
export async function importBundle(
  store: LabStore,
  buf: Buffer,
  opts: ImportOptions = {},
): Promise<ImportReport> {
  const limits = { ...DEFAULT_ZIP_LIMITS, ...opts.limits };
  const entries = await readZip(
    buf,
    (name) => (classifyPath(name) ? null : 'is not part of a bundle (unknown path)'),
    limits,
  );
  const bundle = parseBundle(entries, store.dataDir);
  return applyBundle(store, bundle);
}

function parseJson<T>(entries: Map<string, Buffer>, name: string, schema: z.ZodType<T>): T {
  const buf = entries.get(name);
  if (!buf) throw new BundleError('is missing', name);
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new BundleError(`is not valid JSON (${(e as Error).message})`, name);
  }
  const r = schema.safeParse(value);
  if (!r.success) throw new BundleError(firstIssue(r.error), name);
  return r.data;
}

/**
 * Every entry against the manifest's hashes, and the manifest against its signature (see
 * signing.ts). A bundle made before hashes were added passes as 'absent', and says so.
 */
function checkIntegrity(entries: Map<string, Buffer>, manifest: Manifest, dataDir: string): BundleIntegrity {
  if (!manifest.files) return { hashes: 'absent', signature: 'absent', keyFingerprint: null, ownKey: false };
  for (const [name, data] of entries) {
    if (name === MANIFEST || name.endsWith('/')) continue;
    const want = manifest.files[name];
    if (!want) throw new BundleError(`is not listed in ${MANIFEST}'s hashes: the bundle was altered`, name);
    if (sha256Hex(data) !== want)
      throw new BundleError(
        `does not match its hash in ${MANIFEST}: the bundle was altered after export`,
        name,
      );
  }
  for (const name of Object.keys(manifest.files))
    if (!entries.has(name))
      throw new BundleError(`is listed in ${MANIFEST} but missing: the bundle was altered`, name);
  const raw = JSON.parse(entries.get(MANIFEST)!.toString('utf8')) as Record<string, unknown>;
  const { signature, ...body } = raw;
  if (!manifest.signature)
    return { hashes: 'verified', signature: 'absent', keyFingerprint: null, ownKey: false };
  if (!signatureValid(JSON.stringify(body), manifest.signature))
    throw new BundleError('its signature does not match its content: the manifest was altered', MANIFEST);
  void signature;
  const fingerprint = keyFingerprint(manifest.signature.publicKey);
  let ownKey = false;
  try {
    ownKey = keyFingerprint(labSigningKey(dataDir).publicKey) === fingerprint;
  } catch {
    // no key here yet and none can be made: it is not ours
  }
  return { hashes: 'verified', signature: 'valid', keyFingerprint: fingerprint, ownKey };
}

function parseBundle(entries: Map<string, Buffer>, dataDir: string): ParsedBundle {
  if (!entries.has(MANIFEST)) throw new BundleError(`has no ${MANIFEST}; it is not a Trajectory Lab bundle`);
  const manifest = parseJson(entries, MANIFEST, manifestSchema);
  const integrity = checkIntegrity(entries, manifest, dataDir);
  if (manifest.bundleSchemaVersion > BUNDLE_SCHEMA_VERSION) {
    throw new BundleError(
      `bundle schema version ${manifest.bundleSchemaVersion} is newer than this app reads (${BUNDLE_SCHEMA_VERSION}); it was made by ${manifest.app.name} ${manifest.app.version}`,
      MANIFEST,
    );
  }
  const listed = new Set(manifest.experimentIds);
  if (listed.size !== manifest.experimentIds.length)
    throw new BundleError('"experimentIds" lists an experiment twice', MANIFEST);

  // Every entry must belong to something the manifest lists.
  const paramSets = entries.has(PARAM_SETS) ? parseJson(entries, PARAM_SETS, paramSetsSchema) : [];
  const paramSetIds = new Set<string>();
  for (const p of paramSets) {
    if (paramSetIds.has(p.id)) throw new BundleError(`parameter set ${p.id} appears twice`, PARAM_SETS);
    paramSetIds.add(p.id);
    try {
      parseArch(p.arch, 'arch');
    } catch (e) {
      throw new BundleError(`parameter set ${p.id}: ${(e as Error).message}`, PARAM_SETS);
    }
  }
  const weights = new Map<string, Buffer>();
  for (const [name, data] of entries) {
    const where = classifyPath(name)!;
    if (where.kind === 'experiment' && !listed.has(where.id))
      throw new BundleError(`experiment ${where.id} is not listed in ${MANIFEST}`, name);
    if (where.kind === 'weights') {
      const got = sha256Hex(data);
      if (got !== where.sha256)
        throw new BundleError(`content has sha256 ${got}, not the one its name says`, name);
      const users = paramSets.filter((p) => p.sha256 === where.sha256);
      if (users.length === 0)
        throw new BundleError(`no parameter set in ${PARAM_SETS} uses these weights`, name);
      for (const p of users)
        if (p.bytes !== data.length)
          throw new BundleError(`is ${data.length} bytes but parameter set ${p.id} says ${p.bytes}`, name);
      weights.set(where.sha256, data);
    }
  }

  const runOwner = new Map<string, string>();
  const experiments: ParsedExperiment[] = manifest.experimentIds.map((id) => {
    const specName = experimentFile(id, 'spec.json');
    const specBuf = entries.get(specName);
    if (!specBuf) throw new BundleError(`is missing (listed in ${MANIFEST})`, specName);
    let spec: ExperimentSpec;
    try {
      spec = parseSpec(JSON.parse(specBuf.toString('utf8')));
    } catch (e) {
      throw new BundleError(
        e instanceof SpecError ? e.message : `is not valid JSON (${(e as Error).message})`,
        specName,
      );
    }
    const recordName = experimentFile(id, 'experiment.json');
    const record = parseJson(entries, recordName, experimentRecordSchema);
    if (record.id !== id)
      throw new BundleError(
        `says it is experiment ${record.id}, but sits in the folder of ${id}`,
        recordName,
      );
    const phases = new Set<string>();
    const runs: RunRecord[] = record.runs.map((r, i) => {
      if (r.experimentId !== id)
        throw new BundleError(`runs[${i}] belongs to experiment ${r.experimentId}`, recordName);
      if (runOwner.has(r.id)) throw new BundleError(`run ${r.id} appears twice in the bundle`, recordName);
      if (phases.has(r.phase)) throw new BundleError(`two runs have phase "${r.phase}"`, recordName);
      runOwner.set(r.id, id);
      phases.add(r.phase);
      const summary = r.summary as RunRecord['summary'];
      const cached = summary ? cachedValues(summary) : { best: r.best, final: r.final, test: r.test };
      // Nothing of an imported experiment runs here: what was under way when it was exported stopped there.
      const status = r.status === 'running' || r.status === 'queued' ? 'interrupted' : r.status;
      return { ...r, summary, status, ...cached };
    });
    const logName = experimentFile(id, 'log.json');
    const log = entries.has(logName) ? parseJson(entries, logName, logSchema) : [];
    return { id, spec, record, runs, log, metrics: [] };
  });

  const metricsBuf = entries.get(METRICS_CSV);
  if (metricsBuf) {
    const byId = new Map(experiments.map((e) => [e.id, e]));
    const seen = new Set<string>();
    let header = true;
    try {
      for (const { line, fields } of parseCsv(metricsBuf.toString('utf8'))) {
        if (header) {
          if (fields.join(',') !== METRICS_HEADER.join(','))
            throw new BundleError(`line 1: expected the header "${METRICS_HEADER.join(',')}"`, METRICS_CSV);
          header = false;
          continue;
        }
        if (fields.length !== METRICS_HEADER.length)
          throw new BundleError(
            `line ${line}: expected ${METRICS_HEADER.length} fields, found ${fields.length}`,
            METRICS_CSV,
          );
        const [experimentId, runId, key, stepText, valueText, wallText] = fields;
        const owner = runOwner.get(runId);
        if (!byId.has(experimentId))
          throw new BundleError(
            `line ${line}: experiment ${JSON.stringify(experimentId)} is not in the bundle`,
            METRICS_CSV,
          );
        if (owner !== experimentId)
          throw new BundleError(
            `line ${line}: run ${JSON.stringify(runId)} is not a run of experiment ${experimentId}`,
            METRICS_CSV,
          );
        if (key.length === 0 || key.length > 64)
          throw new BundleError(`line ${line}: the key must be 1 to 64 characters`, METRICS_CSV);
        const step = parseCsvNumber(stepText);
        const value = parseCsvNumber(valueText);
        const wallTime = parseCsvNumber(wallText);
        if (step === null || !Number.isSafeInteger(step))
          throw new BundleError(
            `line ${line}: step ${JSON.stringify(stepText)} is not an integer`,
            METRICS_CSV,
          );
        if (value === null)
          throw new BundleError(
            `line ${line}: value ${JSON.stringify(valueText)} is not a number`,
            METRICS_CSV,
          );
        if (wallTime === null || !Number.isSafeInteger(wallTime))
          throw new BundleError(
            `line ${line}: wall_time ${JSON.stringify(wallText)} is not an integer (unix ms)`,
            METRICS_CSV,
          );
        const k = `${runId}\u0000${key}\u0000${step}`;
        if (seen.has(k))
          throw new BundleError(
            `line ${line}: run ${runId} has a second value for ${key} at step ${step}`,
            METRICS_CSV,
          );
        seen.add(k);
        byId.get(experimentId)!.metrics.push({ runId, key, step, value, wallTime });
      }
    } catch (e) {
      if (e instanceof BundleError) throw e;
      throw new BundleError((e as Error).message, METRICS_CSV);
    }
    if (header) throw new BundleError('is empty (not even a header)', METRICS_CSV);
  }
  return { manifest, integrity, experiments, paramSets, weights };
}

async function applyBundle(store: LabStore, bundle: ParsedBundle): Promise<ImportReport> {
  const report: ImportReport = {
    added: { experiments: 0, runs: 0, metrics: 0, paramSets: 0 },
    alreadyPresent: { experiments: 0, paramSets: 0 },
    experimentIds: bundle.manifest.experimentIds,
    integrity: bundle.integrity,
  };
  const newExperiments = bundle.experiments.filter((e) => !store.hasExperiment(e.id));
  const newExperimentIds = new Set(newExperiments.map((e) => e.id));
  const newParamSets = bundle.paramSets.filter((p) => !store.getParamSet(p.id));
  report.alreadyPresent.experiments = bundle.experiments.length - newExperiments.length;
  report.alreadyPresent.paramSets = bundle.paramSets.length - newParamSets.length;
  const bundleParamSets = new Set(bundle.paramSets.map((p) => p.id));

  // Checks against this store, before anything is written.
  for (const e of newExperiments) {
    const recordName = experimentFile(e.id, 'experiment.json');
    for (const r of e.runs) {
      const existing = store.getRun(r.id);
      if (existing)
        throw new BundleError(
          `run ${r.id} already exists here, in experiment ${existing.experimentId}`,
          recordName,
        );
    }
    const src = e.record.sourceParamSetId;
    if (src && !bundleParamSets.has(src) && !store.getParamSet(src)) {
      throw new BundleError(
        `its source parameter set ${src} is neither in ${PARAM_SETS} nor in this lab`,
        recordName,
      );
    }
  }

  try {
    // Weights of new sets, and of sets already here whose file is missing (an earlier import
    // without weights); never for a set whose local record names other content.
    const wanted = new Set(bundle.paramSets.map((p) => store.getParamSet(p.id)?.sha256 ?? p.sha256));
    for (const [sha, data] of bundle.weights) {
      if (!wanted.has(sha)) continue;
      await store.putWeightsChecked(data, sha);
    }
    store.transaction(() => {
      // Experiments first without their source link, then the parameter sets that point at them,
      // then the links: every foreign key holds at each step.
      for (const e of newExperiments) {
        store.createExperiment({
          id: e.id,
          spec: e.spec,
          name: e.record.name,
          tags: e.record.tags,
          notes: e.record.notes,
          origin: 'import',
          createdAt: e.record.createdAt,
        });
        report.added.runs += store.insertRuns(e.runs);
        if (e.runs.length === 0) {
          // A bundle may carry an experiment whose runs were never planned; nothing would ever
          // run it. Its runs are planned here, as stopped ones, so it can be resumed.
          report.added.runs += store.planRuns(e.id, e.spec).length;
          store.setRunsStatus(e.id, ['queued'], 'interrupted');
        }
        store.appendLogs(e.id, e.log);
        if (e.record.analyses) store.setAnalyses(e.id, e.record.analyses as unknown as ExperimentAnalyses);
        report.added.metrics += store.appendMetrics(e.metrics);
        report.added.experiments++;
      }
      for (const p of newParamSets) {
        const { summary, ...rest } = p;
        const input: NewParamSet = {
          ...rest,
          arch: parseArch(p.arch, 'arch'),
          // The experiment that trained it may not have come along; keep the set, drop the link.
          experimentId:
            p.experimentId && (newExperimentIds.has(p.experimentId) || store.hasExperiment(p.experimentId))
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
        report.added.paramSets++;
      }
      for (const e of newExperiments) {
        if (e.record.sourceParamSetId)
          store.updateExperiment(e.id, { sourceParamSetId: e.record.sourceParamSetId });
      }
    });
  } catch (e) {
    // Weights files written above stay: a concurrent import of the same bundle may have recorded
    // the very same (content-addressed) file. Unreferenced ones go with gcWeights().
    if (e instanceof BundleError) throw e;
    throw new BundleError(`could not be applied, nothing was imported: ${(e as Error).message}`);
  }
  return report;
}
