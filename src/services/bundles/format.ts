import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RUN_KINDS, type RunKind } from '../../shared/domain/index.js';
import { RUN_STATUSES, type RunStatus } from '../../shared/lab-api.js';

/**
 * The bundle layout (a zip):
 *   manifest.json                      what made it, which experiments it holds
 *   experiments/<id>/spec.json         the experiment's spec
 *   experiments/<id>/experiment.json   its record: name, tags, notes, origin, runs
 *   experiments/<id>/log.json          its log
 *   metrics.csv                        experiment_id,run_id,key,step,value,wall_time — one row per point
 *   param-sets.json                    parameter sets: the sources used and what was trained
 *   weights/<sha256>.safetensors       their weights, when exported with weights
 * Bump BUNDLE_SCHEMA_VERSION when a reader of the old layout would misread the new one.
 */
export const BUNDLE_SCHEMA_VERSION = 1;

export const MANIFEST = 'manifest.json';
export const METRICS_CSV = 'metrics.csv';
export const PARAM_SETS = 'param-sets.json';
export const METRICS_HEADER = ['experiment_id', 'run_id', 'key', 'step', 'value', 'wall_time'] as const;

export const experimentFile = (id: string, file: 'spec.json' | 'experiment.json' | 'log.json'): string =>
  `experiments/${id}/${file}`;
export const weightsFile = (sha256: string): string => `weights/${sha256}.safetensors`;

const ID = '[A-Za-z0-9_-]{1,64}';
const EXPERIMENT_FILE = new RegExp(`^experiments/(${ID})/(spec\\.json|experiment\\.json|log\\.json)$`);
const EXPERIMENT_DIR = new RegExp(`^experiments/(${ID})/$`);
const WEIGHTS_FILE = /^weights\/([0-9a-f]{64})\.safetensors$/;

export type BundlePath =
  | { kind: 'manifest' | 'metrics' | 'paramSets' }
  | { kind: 'experiment'; id: string; file: 'spec.json' | 'experiment.json' | 'log.json' }
  | { kind: 'weights'; sha256: string }
  | { kind: 'dir' };

/** Where a name sits in the layout, or null for a name the layout does not have. */
export function classifyPath(name: string): BundlePath | null {
  if (name === MANIFEST) return { kind: 'manifest' };
  if (name === METRICS_CSV) return { kind: 'metrics' };
  if (name === PARAM_SETS) return { kind: 'paramSets' };
  if (name === 'experiments/' || name === 'weights/' || EXPERIMENT_DIR.test(name)) return { kind: 'dir' };
  const e = EXPERIMENT_FILE.exec(name);
  if (e) return { kind: 'experiment', id: e[1], file: e[2] as 'spec.json' | 'experiment.json' | 'log.json' };
  const w = WEIGHTS_FILE.exec(name);
  if (w) return { kind: 'weights', sha256: w[1] };
  return null;
}

// ───────────────────────────── schemas ─────────────────────────────

const id = z.string().regex(new RegExp(`^${ID}$`), 'not a valid id');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'not a lowercase hex sha256');
const isoTime = z.string().min(1).max(64);
const nullableNumber = z.number().nullable();

export const manifestSchema = z.object({
  bundleSchemaVersion: z.number().int().min(1),
  app: z.object({ name: z.string().min(1).max(100), version: z.string().min(1).max(50) }),
  engine: z
    .object({ version: z.string().max(50), tfjs: z.string().max(50) })
    .partial()
    .optional(),
  backends: z.array(z.string().max(200)).max(1000).optional(),
  experimentIds: z.array(id).min(1).max(100_000),
  created: isoTime,
  includesWeights: z.boolean().optional(),
  /** sha256 of every other entry, by name (issue 8, item 9); absent in bundles made before */
  files: z.record(z.string().max(300), sha256).optional(),
  signature: z
    .object({
      algorithm: z.literal('ed25519'),
      publicKey: z.string().max(200),
      value: z.string().max(200),
    })
    .optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const runSchema = z.object({
  id,
  experimentId: id,
  kind: z.enum(RUN_KINDS as unknown as [RunKind, ...RunKind[]]),
  phase: z.string().min(1).max(100),
  method: z.string().max(40).nullable(),
  targetIndex: z.number().int().min(0).nullable(),
  label: z.string().max(500),
  seed: z.number().int().nullable(),
  status: z.enum(RUN_STATUSES as unknown as [RunStatus, ...RunStatus[]]),
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
  seconds: nullableNumber,
  backend: z.string().max(500).nullable(),
  error: z.string().max(100_000).nullable(),
  summary: z.record(z.string(), z.unknown()).nullable(),
  best: nullableNumber,
  final: nullableNumber,
  test: nullableNumber,
});

export const experimentRecordSchema = z.object({
  id,
  name: z.string().trim().min(1).max(200),
  tags: z.array(z.string().trim().min(1).max(40)).max(32),
  notes: z.string().max(20_000),
  createdAt: isoTime,
  origin: z.enum(['lab', 'cli', 'import']),
  sourceParamSetId: id.nullable(),
  runs: z.array(runSchema).max(100_000),
  /** experiment-level analyses (ExperimentAnalyses), when it ran any */
  analyses: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type ExperimentRecordFile = z.infer<typeof experimentRecordSchema>;

/** experimentRecordSchema with the runs left to check a few at a time (runSchema), between turns of the event loop. */
export const experimentRecordHeadSchema = experimentRecordSchema.extend({
  runs: z.array(z.unknown()).max(100_000),
});

/** log.json: its entries are checked a few at a time (logEntrySchema), between turns of the event loop. */
export const logSchema = z.array(z.unknown()).max(10_000_000);
export const logEntrySchema = z.object({
  at: isoTime,
  level: z.enum(['info', 'warn', 'error']),
  message: z.string().max(100_000),
});

const trainedSummarySchema = z.object({
  label: z.string().max(500),
  valAccuracy: z.number().nullable(),
  valLoss: z.number().nullable(),
  testAccuracy: z.number().nullable(),
  seconds: z.number().nullable(),
});

export const paramSetSchema = z.object({
  id,
  name: z.string().min(1).max(200),
  arch: z.record(z.string(), z.unknown()),
  inputShape: z.array(z.number().int().positive()).max(8),
  classes: z.number().int().min(1).max(1_000_000),
  origin: z.enum(['init', 'trained', 'imported', 'pretrained']),
  seed: z.number().int().nullable(),
  trainingKey: z.string().max(200).nullable(),
  sha256,
  bytes: z.number().int().min(0),
  points: z.number().int().min(1),
  valAccuracy: nullableNumber,
  testAccuracy: nullableNumber,
  datasetHash: z.string().max(200).nullable(),
  experimentId: id.nullable(),
  createdAt: isoTime,
  summary: trainedSummarySchema.nullable().optional(),
});
export const paramSetsSchema = z.array(paramSetSchema).max(100_000);
export type ParamSetFile = z.infer<typeof paramSetSchema>;

/** The first problem zod found, as "field: message"; `at` is where the checked value sits in its file. */
export function firstIssue(error: z.ZodError, at: (string | number)[] = []): string {
  const issue = error.issues[0];
  const path = [...at, ...issue.path]
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  return path ? `"${path}" ${issue.message}` : issue.message;
}

// ───────────────────────────── CSV ─────────────────────────────

/** Text that is not CSV as parseCsv reads it; the message starts with the line. */
export class CsvSyntaxError extends Error {
  override name = 'CsvSyntaxError';
}

export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * RFC 4180 rows (quoted fields may hold commas, quotes and newlines); yields each row with its
 * 1-based line number (from `firstLine`) for error messages. Rows without quotes (nearly all)
 * take a split fast path.
 */
export function* parseCsv(text: string, firstLine = 1): Generator<{ line: number; fields: string[] }> {
  let i = 0;
  let line = firstLine;
  const n = text.length;
  while (i < n) {
    let end = text.indexOf('\n', i);
    if (end < 0) end = n;
    let row = text.slice(i, end);
    if (!row.includes('"')) {
      if (row.endsWith('\r')) row = row.slice(0, -1);
      if (row.includes('\r')) throw new CsvSyntaxError(`line ${line}: stray carriage return`);
      yield { line, fields: row.split(',') };
      i = end + 1;
      line++;
      continue;
    }
    const parsed = parseQuotedRow(text, i, line);
    yield { line, fields: parsed.fields };
    i = parsed.next;
    line = parsed.line;
  }
}

/**
 * Where the last complete row of `text` ends (after a line break with balanced quotes before it;
 * 0: no complete row) and how many line breaks come before that.
 */
function completeRows(text: string): { end: number; lines: number } {
  let end = 0;
  let lines = 0;
  let seen = 0;
  let quotes = 0;
  let q = text.indexOf('"');
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', nl + 1)) {
    seen++;
    while (q >= 0 && q < nl) {
      quotes++;
      q = text.indexOf('"', q + 1);
    }
    if (quotes % 2 === 0) {
      end = nl + 1;
      lines = seen;
    }
  }
  return { end, lines };
}

/**
 * parseCsv over text that arrives in pieces (a file stream), holding only the rows of one piece
 * (a quoted field may span lines, so rows end at a line break with balanced quotes). Text that is
 * not a complete row after `maxRowChars` characters is refused, so a file without line breaks is
 * not gathered into memory.
 */
export async function* readCsvRows(
  pieces: AsyncIterable<string>,
  maxRowChars: number,
): AsyncGenerator<{ line: number; fields: string[] }> {
  let pending = '';
  let line = 1;
  for await (const piece of pieces) {
    const text = pending + piece;
    const { end, lines } = completeRows(text);
    for (const row of parseCsv(text.slice(0, end), line)) yield row;
    line += lines;
    pending = text.slice(end);
    if (pending.length > maxRowChars)
      throw new CsvSyntaxError(
        `line ${line}: a row longer than ${maxRowChars} characters (or a quote left open)`,
      );
  }
  for (const row of parseCsv(pending, line)) yield row;
}

/** One row that has quotes in it, from `i`; returns its fields, where the next row starts and its line. */
function parseQuotedRow(
  text: string,
  i: number,
  line: number,
): { fields: string[]; next: number; line: number } {
  const start = line;
  const n = text.length;
  const fields: string[] = [];
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) throw new CsvSyntaxError(`line ${start}: a quoted field is not closed`);
        const c = text[i];
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\n') line++;
        field += c;
        i++;
      }
      if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r')
        throw new CsvSyntaxError(`line ${start}: text after a closing quote`);
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
      field = text.slice(i, j);
      if (field.includes('"')) throw new CsvSyntaxError(`line ${start}: a quote inside an unquoted field`);
      i = j;
    }
    fields.push(field);
    if (i < n && text[i] === ',') {
      i++;
      continue;
    }
    break;
  }
  if (text[i] === '\r') i++;
  if (i < n && text[i] !== '\n') throw new CsvSyntaxError(`line ${start}: stray carriage return`);
  return { fields, next: i + 1, line: line + 1 };
}

/** Numbers as String(number) writes them, including NaN and ±Infinity (a diverged loss). */
const NUMBER = /^(?:-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|-?Infinity)$/;

export function parseCsvNumber(s: string): number | null {
  return NUMBER.test(s) ? Number(s) : null;
}

// ───────────────────────────── app identity ─────────────────────────────

let appInfo: { name: string; version: string } | null = null;

/**
 * The app's name and version from its package.json, found by walking up from this module: the
 * same in a checkout (src/services/bundles), a build (out/main) and a packaged app (app.asar).
 */
export function appIdentity(): { name: string; version: string } {
  if (appInfo) return appInfo;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name && pkg.version) {
        appInfo = { name: pkg.name, version: pkg.version };
        return appInfo;
      }
    }
    const up = dirname(dir);
    if (up === dir) return (appInfo = { name: 'trajectory-lab', version: 'unknown' });
    dir = up;
  }
}
