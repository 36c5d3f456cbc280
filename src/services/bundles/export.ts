import { sha256Hex } from '../store/weights.js';
import { labSigningKey, signManifest } from './signing.js';
import { paramSetRefs } from '../param-set-refs.js';
import { version_core as tfjsVersion } from '@tensorflow/tfjs';
import type { LabStore } from '../store/index.js';
import { invalid, notFound } from '../../shared/domain/index.js';
import {
  BUNDLE_SCHEMA_VERSION,
  MANIFEST,
  METRICS_CSV,
  METRICS_HEADER,
  PARAM_SETS,
  appIdentity,
  csvField,
  experimentFile,
  weightsFile,
  type ExperimentRecordFile,
  type Manifest,
} from './format.js';
import { writeZip, type ZipFileToWrite } from './zip.js';

export interface ExportOptions {
  /** add the weights files of the parameter sets (sources, trained targets) */
  includeWeights?: boolean;
  /** the bundle's creation time (tests pin it) */
  now?: Date;
}

/**
 * One zip with the given experiments: specs, records with their runs, logs, every metric point,
 * the parameter sets they used or trained and, optionally, their weights. Ids are kept, so
 * importing the bundle anywhere is idempotent.
 */
export async function exportBundle(
  store: LabStore,
  experimentIds: readonly string[],
  opts: ExportOptions = {},
): Promise<Buffer> {
  const ids = [...new Set(experimentIds)];
  if (ids.length === 0) throw invalid('nothing to export: no experiment ids given', 'experimentIds');
  const now = opts.now ?? new Date();
  const files: ZipFileToWrite[] = [];
  const json = (name: string, value: unknown): void => {
    files.push({ name, data: Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8') });
  };

  const backends = new Set<string>();
  for (const id of ids) {
    const e = store.getExperiment(id);
    if (!e) throw notFound(`experiment ${id}`);
    for (const r of e.runs) if (r.backend) backends.add(r.backend);
    const record: ExperimentRecordFile = {
      id: e.id,
      name: e.name,
      tags: e.tags,
      notes: e.notes,
      createdAt: e.createdAt,
      origin: e.origin,
      sourceParamSetId: e.sourceParamSetId,
      runs: e.runs.map((r) => ({ ...r, summary: r.summary as Record<string, unknown> | null })),
      ...(e.analyses ? { analyses: e.analyses as unknown as Record<string, unknown> } : {}),
    };
    json(experimentFile(id, 'spec.json'), e.spec);
    json(experimentFile(id, 'experiment.json'), record);
    json(experimentFile(id, 'log.json'), store.getLog(id));
  }

  files.push({ name: METRICS_CSV, data: metricsCsv(store, ids) });

  const paramSets = store.paramSetsForExperiments(ids);
  // Sets a spec names by id (`init.paramSet`) travel with it, so the bundle runs where it lands.
  for (const id of ids) {
    for (const ref of paramSetRefs(store.getExperiment(id)!.spec)) {
      const set = paramSets.some((p) => p.id === ref.id) ? null : store.getParamSetWithSummary(ref.id);
      if (set) paramSets.push(set);
    }
  }
  json(PARAM_SETS, paramSets);
  if (opts.includeWeights) {
    for (const sha of new Set(paramSets.map((p) => p.sha256))) {
      // Sets imported without weights have none here either; the bundle says so by leaving them out.
      if (!(await store.hasWeights(sha))) continue;
      files.push({ name: weightsFile(sha), data: await store.readWeights(sha), compress: false });
    }
  }

  const app = appIdentity();
  const manifest: Manifest = {
    bundleSchemaVersion: BUNDLE_SCHEMA_VERSION,
    app: { name: app.name, version: app.version },
    engine: { version: app.version, tfjs: tfjsVersion },
    backends: [...backends].sort(),
    experimentIds: ids,
    created: now.toISOString(),
    includesWeights: !!opts.includeWeights,
    files: Object.fromEntries(files.map((f) => [f.name, sha256Hex(f.data)])),
  };
  // Signed over exactly the text written before the signature is added (see signing.ts).
  const signature = signManifest(JSON.stringify(manifest), labSigningKey(store.dataDir));
  json(MANIFEST, { ...manifest, signature });
  // The manifest first, so a reader can tell what it holds from the start of the file.
  files.unshift(files.pop()!);
  return writeZip(files, now);
}

function metricsCsv(store: LabStore, ids: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`${METRICS_HEADER.join(',')}\n`, 'utf8')];
  for (const { experimentId, runId, rows } of store.iterateMetricsByRun(ids)) {
    if (rows.length === 0) continue;
    const prefix = `${csvField(experimentId)},${csvField(runId)},`;
    const lines = rows.map(
      ([key, step, value, wallTime]) => `${prefix}${csvField(key)},${step},${String(value)},${wallTime}\n`,
    );
    parts.push(Buffer.from(lines.join(''), 'utf8'));
  }
  return Buffer.concat(parts);
}

/** A file name for the bundle: the experiment's name, or how many there are, and the date. */
export function bundleFileName(
  store: LabStore,
  experimentIds: readonly string[],
  now: Date = new Date(),
): string {
  const date = now.toISOString().slice(0, 10);
  const ids = [...new Set(experimentIds)];
  const first = ids.length === 1 ? store.getExperimentSummary(ids[0]) : null;
  const slug = (first?.name ?? '')
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .toLowerCase();
  const what = first ? slug || first.id : `${ids.length}-experiments`;
  return `trajectory-lab-${what}-${date}.zip`;
}
