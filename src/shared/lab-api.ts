/**
 * The lab API: the one place where a request, its arguments, its reply and every pushed event are
 * defined. Main (Electron IPC), the headless host (WebSocket), the preload (window.lab) and the
 * renderer all use this module; main and the host validate every request's arguments with the
 * schemas below before anything touches the store or a worker.
 *
 * Shapes of domain data (spec, results, backend info, phases) come from ./domain, which has no
 * dependencies, so the renderer bundle never pulls in the engine.
 */
import { z } from 'zod';
import type {
  BackendInfo,
  EngineEvent,
  ExperimentAnalyses,
  ExperimentSpec,
  MethodResult,
  RunKind,
  TrainedSummary,
} from './domain/index.js';

export const API_VERSION = 1;

// ───────────────────────────── records ─────────────────────────────

export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';
export const RUN_STATUSES: readonly RunStatus[] = [
  'queued',
  'running',
  'done',
  'failed',
  'cancelled',
  'interrupted',
];

/** A phase of an experiment that is a run: the source, a target's training (Oracle), one method on one target. */
export type { RunKind };

export interface RunRecord {
  id: string;
  experimentId: string;
  kind: RunKind;
  /** engine phase id: 'source', 'target:0', 'transfer:0:gmt' */
  phase: string;
  method: string | null;
  targetIndex: number | null;
  /** label of the initialisation (seed or parameter set) */
  label: string;
  seed: number | null;
  status: RunStatus;
  startedAt: string | null;
  finishedAt: string | null;
  seconds: number | null;
  backend: string | null;
  error: string | null;
  /** the method's result or the trained summary, once done */
  summary: MethodResult | TrainedSummary | null;
  /** cached summary values for tables: best, final and test accuracy */
  best: number | null;
  final: number | null;
  test: number | null;
}

export interface ExperimentSummary {
  id: string;
  name: string;
  tags: string[];
  notes: string;
  createdAt: string;
  /** derived from its runs: the worst of running > queued > failed > interrupted > cancelled > done */
  status: RunStatus;
  dataset: string;
  arch: string;
  methods: string[];
  targets: number;
  T: number;
  /** best validation accuracy per method (mean over targets), for the history table */
  bestByMethod: Record<string, number>;
  /** validation accuracy at t = T per method (mean over targets) */
  finalByMethod: Record<string, number>;
  seconds: number | null;
  backend: string | null;
  /** where it came from: run here, by the CLI, or imported from a bundle */
  origin: 'lab' | 'cli' | 'import';
}

export interface ExperimentDetail extends ExperimentSummary {
  spec: ExperimentSpec;
  runs: RunRecord[];
  /** the trained source used (a parameter set), once known */
  sourceParamSetId: string | null;
  log: { at: string; level: 'info' | 'warn' | 'error'; message: string }[];
  /** the experiment-level analyses (scratch baselines, planes, Assumption (P), ensembles), once run */
  analyses?: ExperimentAnalyses | null;
  /** the parameter sets it made (trained) or used (a reused source or target, an init), for links */
  paramSets?: ExperimentParamSet[];
}

/** How an experiment used a parameter set: as its source, one of its targets, an initialisation. */
export type ParamSetRole = 'source' | 'target' | 'init';

export interface ExperimentRef {
  experimentId: string;
  name: string;
}

/** A parameter set as an experiment's page links to it. */
export interface ExperimentParamSet {
  id: string;
  name: string;
  origin: ParamOrigin;
  /** this experiment made it (trained it) */
  made: boolean;
  /** how this experiment used it */
  roles: ParamSetRole[];
}

/** A parameter set in the Parameters list: who made it and who else used it. */
export interface ParamSetListItem extends ParamSetRecord {
  /** the experiment that made it; null when imported, or when that experiment was deleted */
  madeBy: ExperimentRef | null;
  /** the other experiments that used it, one entry per way each used it */
  usedBy: (ExperimentRef & { role: ParamSetRole })[];
}

export interface MetricPoint {
  runId: string;
  key: string;
  step: number;
  value: number;
  /** unix ms */
  wallTime: number;
}

export interface DatasetRecord {
  id: string;
  name: string;
  /** the spec that loads it (builtin or files on disk) */
  spec: ExperimentSpec['dataset'];
  contentHash: string | null;
  inputShape: number[] | null;
  classes: number | null;
  classNames: string[];
  trainCount: number | null;
  testCount: number | null;
  createdAt: string;
}

export interface DatasetPreview {
  name: string;
  inputShape: [number, number, number];
  classes: number;
  classNames: string[];
  trainCount: number;
  testCount: number;
  classCounts: number[];
  /** pixels base64 of h·w·c uint8, row-major HWC */
  samples: { label: number; pixels: string }[];
  contentHash: string;
}

export type ParamOrigin = 'init' | 'trained' | 'imported' | 'pretrained';

/** What deleting an experiment removes, and which parameter sets could go with it. */
export interface DeletionPlan {
  id: string;
  name: string;
  runs: number;
  metrics: number;
  logs: number;
  artifacts: number;
  /** every parameter set the experiment produced or used; none is deleted unless named */
  paramSets: DeletionParamSet[];
}

export interface DeletionParamSet {
  id: string;
  name: string;
  origin: ParamOrigin;
  bytes: number;
  /** bytes on disk that deleting it frees (0 when another set shares its weights file) */
  freesBytes: number;
  /** the other experiments that used it; it can be deleted only when there are none */
  usedBy: (ExperimentRef & { role: ParamSetRole })[];
  deletable: boolean;
}

export interface ParamSetRecord {
  id: string;
  name: string;
  /** the architecture spec (JSON) these parameters fit */
  arch: ExperimentSpec['model'];
  /** input shape and classes the parameters were made for */
  inputShape: number[];
  classes: number;
  origin: ParamOrigin;
  seed: number | null;
  /** the training key (engine) when origin = trained */
  trainingKey: string | null;
  /** sha256 of the weights file; the file lives in the data folder under weights/<sha256> */
  sha256: string;
  bytes: number;
  /** checkpoints held: 2 = θ^0 and θ^T, more when per-epoch checkpoints were kept */
  points: number;
  valAccuracy: number | null;
  testAccuracy: number | null;
  datasetHash: string | null;
  experimentId: string | null;
  createdAt: string;
}

export interface JobInfo {
  experimentId: string;
  state: 'queued' | 'running';
  position: number;
  pid: number | null;
}

export interface AppInfo {
  apiVersion: number;
  appVersion: string;
  /** 'electron' or 'headless' */
  host: 'electron' | 'headless';
  dataDir: string;
  /** the backend the workers use (probed once at start) */
  backend: BackendInfo | null;
  concurrency: number;
  /** where phase jobs run: 'embedded' (worker processes of the host) or the BullMQ queue's Redis URL (no password) */
  queue?: string;
  schemaVersion: number;
  /** what is wrong with the lab's storage (a full disk), for the UI to show; absent when all is well */
  storageWarning?: string;
}

export interface ImportReport {
  added: { experiments: number; runs: number; metrics: number; paramSets: number };
  alreadyPresent: { experiments: number; paramSets: number };
  experimentIds: string[];
  /** what the bundle's manifest proved: every entry hashed and the manifest signed (see README) */
  integrity?: BundleIntegrity;
}

export interface BundleIntegrity {
  /** 'absent' for bundles made before hashes (nothing could be checked) */
  hashes: 'verified' | 'absent';
  signature: 'valid' | 'absent';
  /** the signing key's fingerprint, to compare with the sender's */
  keyFingerprint: string | null;
  /** signed by this lab's own key */
  ownKey: boolean;
}

// ───────────────────────────── requests ─────────────────────────────

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a valid id');
const tag = z.string().trim().min(1).max(40);
const base64 = z
  .string()
  .max(400 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/=]*$/, 'not base64');

/**
 * The spec is validated by the domain's one parser (src/shared/domain/spec) in main, which names the
 * wrong field; here it only has to be a JSON object.
 */
const specInput = z.record(z.string(), z.unknown());

/**
 * Files the lab makes on request that are too large or too slow for a JSON reply. `serve` answers
 * `GET /api/download/<name>?<args>` (token required, like every /api path; `downloadPath`); the
 * desktop app saves them through a save dialog in main (`downloads.save`).
 */
export const downloadSchemas = {
  /** one method run's transferred parameters θ2^s at step s (0 … T), as safetensors */
  'params-at': z.object({ runId: id, step: z.coerce.number().int().min(0).max(1_000_000) }),
} as const;

export type DownloadName = keyof typeof downloadSchemas;
export type DownloadArgs<N extends DownloadName> = z.input<(typeof downloadSchemas)[N]>;
export { DOWNLOAD_PATH, downloadPath } from './download-paths.js';

/** A made file: its suggested name, type and bytes. */
export interface DownloadFile {
  fileName: string;
  contentType: string;
  bytes: Uint8Array;
}

/** Parses a download's name and arguments or throws a LabRequestError naming the field. */
export function validateDownload<N extends DownloadName>(
  name: string,
  args: unknown,
): { name: N; args: z.output<(typeof downloadSchemas)[N]> } {
  if (!Object.prototype.hasOwnProperty.call(downloadSchemas, name))
    throw new LabRequestError({ code: 'not-found', message: `no download "${name}"` });
  return {
    name: name as N,
    args: parseArgs(downloadSchemas[name as N], args ?? {}, `download ${name}`) as z.output<
      (typeof downloadSchemas)[N]
    >,
  };
}

export const requestSchemas = {
  'app.info': z.object({}),
  'datasets.list': z.object({}),
  'datasets.preview': z.object({ spec: specInput, perClass: z.number().int().min(0).max(32).default(6) }),
  'datasets.register': z.object({ spec: specInput, name: z.string().trim().min(1).max(120) }),
  'datasets.delete': z.object({ id }),
  'params.list': z.object({}),
  'params.import': z.object({
    name: z.string().trim().min(1).max(120),
    data: base64,
    origin: z.enum(['imported', 'pretrained']).default('imported'),
    arch: specInput,
    inputShape: z.array(z.number().int().positive()).length(3),
    classes: z.number().int().min(2).max(100000),
  }),
  'params.check': z.object({
    id,
    arch: specInput,
    inputShape: z.array(z.number().int().positive()).length(3),
    classes: z.number().int().min(2),
  }),
  'params.delete': z.object({ id }),
  'experiments.list': z.object({
    search: z.string().max(200).default(''),
    status: z.array(z.enum(RUN_STATUSES as unknown as [RunStatus, ...RunStatus[]])).default([]),
    tags: z.array(tag).default([]),
    dataset: z.string().max(200).default(''),
    arch: z.string().max(200).default(''),
    method: z.string().max(20).default(''),
    /** a column, or a method's metric: "best:gmt", "final:fgmt", "test:oracle" */
    sort: z
      .string()
      .regex(/^(createdAt|name|status|seconds|(best|final|test):[a-z0-9_-]{1,24})$/)
      .default('createdAt'),
    order: z.enum(['asc', 'desc']).default('desc'),
    limit: z.number().int().min(1).max(1000).default(200),
    offset: z.number().int().min(0).default(0),
  }),
  'experiments.get': z.object({ id }),
  /** many details at once (Compare); without log lines */
  'experiments.getMany': z.object({ ids: z.array(id).min(1).max(1000) }),
  'experiments.create': z.object({
    spec: specInput,
    name: z.string().trim().min(1).max(200),
    tags: z.array(tag).max(32).default([]),
    notes: z.string().max(20000).default(''),
    /** accept what is over a soft resource limit (issue 8, item 5); hard limits still refuse */
    allowLarge: z.boolean().default(false),
  }),
  'experiments.update': z.object({
    id,
    name: z.string().trim().min(1).max(200).optional(),
    tags: z.array(tag).max(32).optional(),
    notes: z.string().max(20000).optional(),
  }),
  'experiments.deletePlan': z.object({ id }),
  /** `paramSets`: the parameter sets to delete with it (from its deletePlan); none unless named */
  'experiments.delete': z.object({ id, paramSets: z.array(id).max(10000).default([]) }),
  'experiments.cancel': z.object({ id }),
  'experiments.resume': z.object({ id }),
  'experiments.rerun': z.object({ id }),
  'metrics.get': z.object({
    experimentIds: z.array(id).min(1).max(200),
    keys: z.array(z.string().max(64)).default([]),
  }),
  'jobs.list': z.object({}),
  'bundles.export': z.object({
    experimentIds: z.array(id).min(1).max(1000),
    includeWeights: z.boolean().default(false),
  }),
  'bundles.import': z.object({ data: base64 }),
  /** the desktop app: make a download (`downloadSchemas`) and save it where the user picks */
  'downloads.save': z.object({
    name: z.enum(Object.keys(downloadSchemas) as [DownloadName, ...DownloadName[]]),
    args: z.record(z.string(), z.union([z.string(), z.number()])),
  }),
} as const;

export type RequestName = keyof typeof requestSchemas;
export type RequestArgs<N extends RequestName> = z.input<(typeof requestSchemas)[N]>;
export type ParsedArgs<N extends RequestName> = z.output<(typeof requestSchemas)[N]>;

export interface ReplyTypes {
  'app.info': AppInfo;
  'datasets.list': DatasetRecord[];
  'datasets.preview': DatasetPreview;
  'datasets.register': DatasetRecord;
  'datasets.delete': { deleted: boolean };
  'params.list': ParamSetListItem[];
  'params.import': ParamSetRecord;
  /** null when the parameter set fits, else why not */
  'params.check': { fits: boolean; reason: string | null };
  'params.delete': { deleted: boolean };
  'experiments.list': { items: ExperimentSummary[]; total: number };
  'experiments.get': ExperimentDetail;
  /** in the order asked, `log` left empty; ids with no experiment are listed in `missing` */
  'experiments.getMany': { items: ExperimentDetail[]; missing: string[] };
  'experiments.create': { id: string };
  'experiments.update': ExperimentSummary;
  'experiments.deletePlan': DeletionPlan;
  'experiments.delete': { deleted: boolean; paramSetsDeleted: string[]; bytesFreed: number };
  'experiments.cancel': { cancelled: boolean };
  'experiments.resume': { id: string };
  'experiments.rerun': { id: string };
  'metrics.get': MetricPoint[];
  'jobs.list': JobInfo[];
  /** the zip as base64 and a suggested file name */
  'bundles.export': { fileName: string; data: string; bytes: number };
  'bundles.import': ImportReport;
  /** where it was saved; null when the user cancelled the dialog */
  'downloads.save': { savedTo: string | null; fileName: string; bytes: number };
}

export type Reply<N extends RequestName> = ReplyTypes[N];

// ───────────────────────────── events ─────────────────────────────

export type LabEvent =
  | { type: 'experiment.updated'; experiment: ExperimentSummary }
  | { type: 'experiment.deleted'; id: string }
  | { type: 'run.updated'; run: RunRecord }
  | { type: 'metrics'; experimentId: string; points: MetricPoint[] }
  | {
      type: 'progress';
      experimentId: string;
      runId: string | null;
      phase: string;
      done: number;
      total: number;
      detail?: string;
      etaSeconds: number | null;
    }
  | { type: 'log'; experimentId: string; level: 'info' | 'warn' | 'error'; message: string; at: string }
  | { type: 'jobs'; jobs: JobInfo[] };

export type { EngineEvent };

export { LabRequestError, type LabError } from './lab-errors.js';
import { LabRequestError, type LabError } from './lab-errors.js';

/** What `window.lab` offers the renderer, in Electron and in a browser alike. */
export interface LabApi {
  request<N extends RequestName>(name: N, args: RequestArgs<N>): Promise<Reply<N>>;
  /** returns an unsubscribe function */
  onEvent(listener: (e: LabEvent) => void): () => void;
  /** 'electron' or 'browser' */
  readonly transport: 'electron' | 'browser';
  /** the desktop's lab host setting (Electron only: a page in a browser is already on its host) */
  readonly remoteHost?: RemoteHostApi;
}

// ───────────────────────────── the desktop's lab host ─────────────────────────────

/**
 * The desktop app can drive a lab on another machine (`npm run serve` there, e.g. a GPU cluster's
 * host): its main process then forwards every request and event to that host's WebSocket API
 * with the host's token, instead of to the lab in this process. The setting lives in main (the
 * token never comes back to the renderer); these are its arguments and replies.
 */
const hostUrl = z.string().trim().min(1).max(2048);
const hostToken = z.string().trim().min(1).max(1024);
export const remoteHostSchemas = {
  /** null: back to this machine's lab. No token: keep the saved one, or take `?token=` from the URL. */
  set: z.union([z.null(), z.object({ url: hostUrl, token: hostToken.optional() }).strict()]),
  /** the values in the form; no token: the saved one, or `?token=` in the URL */
  test: z.object({ url: hostUrl, token: hostToken.optional() }).strict(),
} as const;
export type RemoteHostInput = z.input<typeof remoteHostSchemas.test>;

export interface RemoteHostState {
  /** the host's address (scheme, host and port); null: the lab in this app */
  url: string | null;
  hasToken: boolean;
  /**
   * how the saved token is kept: 'encrypted' with the OS keychain (Electron safeStorage), or
   * 'plaintext' in a file only you can read, where no keychain is available; null: no token saved
   */
  tokenStorage: 'encrypted' | 'plaintext' | null;
  /** 'local', or the link to the host (`unauthorized`: it refused the token) */
  connection: 'local' | 'connecting' | 'open' | 'closed' | 'unauthorized';
}

export type RemoteHostTest = { ok: true; info: AppInfo } | { ok: false; error: string };

export interface RemoteHostApi {
  get(): Promise<RemoteHostState>;
  set(input: z.input<typeof remoteHostSchemas.set>): Promise<RemoteHostState>;
  /** connects with these values once and asks app.info, without saving anything */
  test(input: RemoteHostInput): Promise<RemoteHostTest>;
}

/** Parses a request's arguments or throws a LabRequestError naming the field. */
export function validateRequest<N extends RequestName>(
  name: string,
  args: unknown,
): { name: N; args: ParsedArgs<N> } {
  if (!Object.prototype.hasOwnProperty.call(requestSchemas, name)) {
    throw new LabRequestError({ code: 'invalid', message: `unknown request "${name}"` });
  }
  return { name: name as N, args: parseArgs(requestSchemas[name as N], args ?? {}, name) as ParsedArgs<N> };
}

/** Parses arguments with a schema of this contract or throws a LabRequestError naming the field. */
export function parseArgs<S extends z.ZodType>(schema: S, args: unknown, what: string): z.output<S> {
  const r = schema.safeParse(args);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.');
    throw new LabRequestError({
      code: 'invalid',
      message: `${what}: ${field ? `"${field}" ` : ''}${issue.message}`,
      field: field || undefined,
    });
  }
  return r.data;
}

export { IPC } from './ipc-channels.js';

/** The WebSocket frames of the headless host. */
export type WsClientFrame = { kind: 'request'; id: number; name: string; args: unknown };
export type WsServerFrame =
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: LabError }
  | { kind: 'event'; event: LabEvent };
