#!/usr/bin/env node
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBackendReport, initBackend } from '../core/backend.js';
import { previewDataset } from '../core/data/load.js';
import { runExperiment } from '../core/experiment.js';
import { buildModel } from '../core/models/index.js';
import { disposeParams } from '../core/params.js';
import { saveParams } from '../core/params-io.js';
import {
  parseSpec,
  SpecError,
  type BackendChoice,
  type ExperimentResult,
  type ExperimentSpec,
  listMethods,
  hasSweep,
} from '../shared/domain/index.js';
import { defaultDataDir } from '../services/data-dir.js';
import { acquireDataLock } from '../services/data-lock.js';
import { startHeadless } from '../services/host/headless.js';
import { HostError } from '../services/host/server.js';
import { runningServer } from '../services/host/server-file.js';
import { runRecorded } from '../services/jobs/in-process.js';
import { mapSpecFiles } from '../services/jobs/remote/job-files.js';
import { attachLogFile } from '../services/log.js';
import { LabStore } from '../services/store/index.js';
import {
  describeRefusals,
  estimateResources,
  refusals,
  type ResourceEstimate,
} from '../shared/domain/resource-estimate.js';
import { analysesSummary, writeFigures } from './figures.js';
import { progressPrinter } from './progress.js';
import { queueBanner, sweepCommand, workerCommand } from './sweep.js';
import { readToken } from '../services/jobs/remote/worker-agent.js';
import { summaryTable } from './summary.js';

const USAGE = `Trajectory Lab — learning transfer (${listMethods()
  .map((m) => m.label)
  .join(', ')})

usage:
  npm run lab -- run <spec.json> --out <dir> [--backend auto|tensorflow|webgpu|wasm|cpu] [--db <dataDir>] [--allow-large]
      run one experiment: train the source, train targets where a method needs them, transfer with every
      method; prints progress and a summary, writes <dir>/result.json. With --db, the run is
      also recorded in the lab's store in <dataDir> (the lab's data folder; "default" = the
      desktop's), where the lab's history shows it, and trained sources are reused from there;
      the lab (desktop or serve) must not have that folder open meanwhile
  npm run serve -- [--port <n>] [--host 127.0.0.1] [--data <dir>] [--concurrency <n>] [--allow-remote] [--queue redis://host:port]
      the lab without Electron: serves the built renderer and the API on a loopback port and
      prints the address to open (it carries a random access token). With --queue the phase
      jobs go to BullMQ for \`lab worker\`s anywhere, as with sweep (--token, --gateway-host,
      --gateway-port, --allow-remote, --advertise <url>)
  npm run serve -- list [--data <dir>]
      the address (with its token) of the lab serving that data folder
  npm run lab -- sweep <spec.json> --out <dir> [--db <dataDir>] [--concurrency <n>] [--queue redis://host:port] [--allow-large]
      run every point of the spec's "sweep" grid (lists of values per spec field; "pairs" of
      seeds, default the paper's three): one experiment per point, recorded in <dataDir>
      (default <dir>/lab); writes <dir>/points/NNN/result.json, summary.csv and sweep.json and
      prints mean ± std over seeds per group. Embedded queue by default (--concurrency phase
      jobs at once, default the cores); with --queue the phase jobs go to BullMQ for workers
      anywhere (--token, --gateway-host, --gateway-port, --allow-remote, --advertise <url>).
      Run the same command again to resume.
  npm run lab -- worker --queue redis://host:port [--concurrency <n>] [--token <t>|@file] [--data <dir>]
      take phase jobs from BullMQ (rediss:// for TLS, redis://:password@host for a password);
      the token is the host's (also TRAJECTORY_LAB_WORKER_TOKEN)
  npm run lab -- init-params <spec.json> --seed <n> --out <file.safetensors>
      write a seeded initialisation of the spec's model (for "init": { "file": … })
  npm run lab -- figures <result.json> --out <dir> [--target <n>]
      draw the analyses of a result (subsequent training, paths, plane, Assumption (P),
      permutation diagnostics, ensembles) as SVG with their CSV, target n (1-based, default 1)
  npm run lab -- check <spec.json> [--allow-large]
      validate a spec and print it with every default filled in (and its resource estimate)
  npm run lab -- backend [--backend …] [--json]
      try the backends in order and print each with the reason it was or was not picked
      (auto: tensorflow-gpu, webgpu on a real GPU, tensorflow, wasm, cpu), then the one in use

environment: TRAJECTORY_LAB_BACKEND picks the backend when the spec says "auto";
TRAJECTORY_LAB_WASM_THREADS sets the wasm backend's threads (default: every core, at most 8);
TRAJECTORY_LAB_DATA overrides the default data folder (${defaultDataDir()}).
`;

async function readSpec(path: string | undefined, backend?: string): Promise<ExperimentSpec> {
  if (!path) throw new UsageError('missing <spec.json>');
  const json = await readJson(path);
  if (hasSweep(json)) throw new UsageError(`spec ${path} has a "sweep" section: run it with \`lab sweep\``);
  if (backend) json.backend = backend;
  return resolvePaths(parseSpec(json), resolve(path, '..'));
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(
      `cannot read spec ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`spec ${path} is not valid JSON: ${jsonErrorWhere(text, (e as Error).message)}`);
  }
  return json;
}

/** The resource estimate, or a UsageError naming the field when the spec is past a limit. */
function checkSpecResources(spec: ExperimentSpec, allowLarge: boolean): ResourceEstimate {
  const estimate = estimateResources(spec, { memoryBytes: totalmem() });
  const refused = refusals(estimate, allowLarge);
  if (refused.length) throw new UsageError(describeRefusals(refused).replace('allowLarge', '--allow-large'));
  return estimate;
}

/** Paths inside a spec are relative to the spec file, so examples work from any directory. */
function resolvePaths(spec: ExperimentSpec, base: string): ExperimentSpec {
  const abs = (p: string): string => resolve(base, p);
  const out = mapSpecFiles(spec, abs);
  if ('dir' in out.dataset) out.dataset = { ...out.dataset, dir: abs(out.dataset.dir) };
  return out;
}

class UsageError extends Error {}

/**
 * V8 reports a JSON syntax error by character offset ("… at position 57"); people edit specs by
 * line, so say the line and column and show the line with a caret.
 */
function jsonErrorWhere(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  const msg = message.replace(/ in JSON at position \d+.*$/s, '').replace(/ at position \d+.*$/s, '');
  const pos = m ? Number(m[1]) : /end of JSON input/.test(message) ? text.length : -1;
  if (pos < 0) return message;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const col = pos - lineStart + 1;
  const lineText = text.slice(lineStart).split('\n')[0].replace(/\r$/, '');
  return `${msg} at line ${line}, column ${col}\n  ${lineText}\n  ${' '.repeat(col - 1)}^`;
}

/** Creates the output folder, saying in words what is in the way (mkdir's ENOTDIR/EEXIST name no path). */
async function makeOutDir(out: string): Promise<void> {
  try {
    await mkdir(out, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EEXIST')
      throw new UsageError(
        `--out ${out}: a file is in the way (this path or a folder above it is a regular file)`,
      );
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
      throw new UsageError(`--out ${out}: cannot create the folder here (${code})`);
    throw e;
  }
}

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      backend: { type: 'string' },
      seed: { type: 'string' },
      db: { type: 'string' },
      data: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      concurrency: { type: 'string' },
      target: { type: 'string' },
      'allow-remote': { type: 'boolean' },
      json: { type: 'boolean' },
      queue: { type: 'string' },
      token: { type: 'string' },
      'gateway-host': { type: 'string' },
      'gateway-port': { type: 'string' },
      advertise: { type: 'string' },
      gateway: { type: 'string' },
      'lock-ms': { type: 'string' },
      'allow-large': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    if (String((e as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS'))
      throw new UsageError((e as Error).message);
    throw e;
  }

  const values = parsed.values;
  // The command is the first positional, so `lab --help`, `lab -h` and `lab run --help` all work.
  const [command, ...positionals] = parsed.positionals;
  if (!command || command === 'help' || values.help) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 1;
  }
  switch (command) {
    case 'run': {
      const spec = await readSpec(positionals[0], values.backend);
      checkSpecResources(spec, !!values['allow-large']);
      if (!values.out) throw new UsageError('missing --out <dir>');
      const out = resolve(values.out);
      await makeOutDir(out);
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort(new Error('interrupted (Ctrl-C)')));
      let result;
      if (values.db !== undefined) {
        const dataDir = values.db === 'default' ? defaultDataDir() : resolve(values.db);
        // While this runs, a lab opening the folder would take our running runs for abandoned
        // ones (and we its): one process at a time.
        const lock = acquireDataLock(dataDir, {
          role: 'npm run lab -- run --db',
          hint: 'stop it, or record into another folder with --db',
        });
        const detachLog = attachLogFile(dataDir);
        let store: LabStore;
        try {
          store = LabStore.open(dataDir);
        } catch (e) {
          detachLog();
          lock.release();
          throw e;
        }
        try {
          const name = spec.name ?? basename(positionals[0]!, '.json');
          const recorded = await runRecorded({
            store,
            spec,
            name,
            origin: 'cli',
            onEvent: progressPrinter(),
            signal: controller.signal,
          });
          result = recorded.result;
          process.stdout.write(`recorded as experiment ${recorded.experimentId} in ${dataDir}\n`);
        } finally {
          try {
            store.close();
          } finally {
            detachLog();
            lock.release();
          }
        }
      } else {
        result = await runExperiment(spec, { onEvent: progressPrinter(), signal: controller.signal });
      }
      await writeFile(join(out, 'result.json'), JSON.stringify(result, null, 2) + '\n');
      process.stdout.write(summaryTable(result) + '\n');
      const analyses = analysesSummary(result);
      if (analyses) process.stdout.write(analyses + '\n');
      process.stdout.write(`wrote ${join(out, 'result.json')}\n`);
      return 0;
    }
    case 'init-params': {
      const spec = await readSpec(positionals[0]);
      if (!values.out) throw new UsageError('missing --out <file.safetensors>');
      if (values.seed === undefined || !/^\d+$/.test(values.seed))
        throw new UsageError('missing or bad --seed <non-negative integer>');
      await initBackend(spec.backend);
      const preview = await previewDataset(spec.dataset, 0);
      const model = buildModel(spec.model, preview.inputShape, preview.classes);
      const seed = Number(values.seed);
      const params = model.init(seed);
      const sha = await saveParams(resolve(values.out), params, {
        arch: JSON.stringify(spec.model),
        origin: 'init',
        seed: String(seed),
      });
      disposeParams(params);
      process.stdout.write(`wrote ${values.out} (${model.describe}, seed ${seed}, sha256 ${sha})\n`);
      return 0;
    }
    case 'figures': {
      if (!positionals[0]) throw new UsageError('missing <result.json>');
      if (!values.out) throw new UsageError('missing --out <dir>');
      const result = JSON.parse(await readFile(positionals[0], 'utf8')) as ExperimentResult;
      const target = (intOption(values.target, 'target', 1, 100_000) ?? 1) - 1;
      const files = await writeFigures(result, resolve(values.out), target);
      process.stdout.write(
        files.length
          ? `wrote ${files.length} files to ${values.out}: ${files.join(', ')}\n`
          : 'the result has no analyses to draw\n',
      );
      return 0;
    }
    case 'check': {
      const spec = await readSpec(positionals[0], values.backend);
      const estimate = checkSpecResources(spec, !!values['allow-large']);
      process.stdout.write(JSON.stringify(spec, null, 2) + '\n');
      process.stderr.write(
        `estimate: ${estimate.parameters} parameters, ~${(estimate.memoryBytes / 1e9).toFixed(2)} GB at peak, ${estimate.flops.toExponential(2)} floating-point operations\n`,
      );
      return 0;
    }
    case 'backend': {
      const info = await initBackend((values.backend ?? 'auto') as BackendChoice);
      process.stdout.write((values.json ? JSON.stringify(info, null, 2) : formatBackendReport(info)) + '\n');
      return 0;
    }
    case 'serve':
      if (positionals[0] === 'list') return listServers(values);
      if (positionals.length)
        throw new UsageError(`unknown serve argument "${positionals[0]}" (did you mean "list"?)`);
      return serve(values);
    case 'sweep': {
      const path = positionals[0];
      if (!path) throw new UsageError('missing <spec.json>');
      if (!values.out) throw new UsageError('missing --out <dir>');
      const json = await readJson(path);
      if (!hasSweep(json)) throw new UsageError(`spec ${path} has no "sweep" section (use run)`);
      if (values.backend) json.backend = values.backend;
      const out = resolve(values.out);
      await mkdir(out, { recursive: true });
      const base = resolve(path, '..');
      return sweepCommand({
        json,
        name: (typeof json.name === 'string' ? json.name : null) ?? basename(path, '.json'),
        out,
        dataDir: values.db
          ? values.db === 'default'
            ? defaultDataDir()
            : resolve(values.db)
          : join(out, 'lab'),
        toSpec: (doc) => {
          const spec = resolvePaths(parseSpec(doc), base);
          checkSpecResources(spec, !!values['allow-large']);
          return spec;
        },
        concurrency: intOption(values.concurrency, 'concurrency', 1, 256),
        queue: values.queue,
        token: values.token,
        gatewayHost: values['gateway-host'],
        gatewayPort: intOption(values['gateway-port'], 'gateway-port', 0, 65535),
        allowRemote: !!values['allow-remote'],
        advertise: values.advertise,
        appVersion: await appVersion(),
      });
    }
    case 'worker': {
      if (!values.queue) throw new UsageError('missing --queue redis://host:port');
      return workerCommand({
        queue: values.queue,
        concurrency: intOption(values.concurrency, 'concurrency', 1, 256) ?? availableParallelism(),
        token: values.token,
        dataDir: values.data ? resolve(values.data) : undefined,
        gateway: values.gateway,
        lockMs: intOption(values['lock-ms'], 'lock-ms', 1000, 3_600_000),
      });
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function intOption(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

async function appVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

/** `serve -- list`: the address (token included) of the lab running on this data folder. */
function listServers(values: { data?: string }): number {
  const dataDir = values.data ? resolve(values.data) : defaultDataDir();
  const info = runningServer(dataDir);
  if (!info) {
    process.stderr.write(`no lab is serving ${dataDir}\n`);
    return 1;
  }
  process.stdout.write(`${info.url}  (pid ${info.pid}, since ${info.startedAt}, data in ${info.dataDir})\n`);
  return 0;
}

/** Runs until Ctrl-C (or SIGTERM); then stops the workers (their runs become interrupted) and closes the store. */
async function serve(values: {
  data?: string;
  port?: string;
  host?: string;
  concurrency?: string;
  'allow-remote'?: boolean;
  queue?: string;
  token?: string;
  'gateway-host'?: string;
  'gateway-port'?: string;
  advertise?: string;
}): Promise<number> {
  const dataDir = values.data ? resolve(values.data) : defaultDataDir();
  let lab;
  try {
    lab = await startHeadless({
      dataDir,
      host: values.host,
      port: intOption(values.port, 'port', 0, 65535),
      allowRemote: !!values['allow-remote'],
      concurrency: intOption(values.concurrency, 'concurrency', 1, 64),
      appVersion: await appVersion(),
      ...(values.queue
        ? {
            queue: {
              url: values.queue,
              token: values.token ? await readToken(values.token) : undefined,
              gatewayHost: values['gateway-host'],
              gatewayPort: intOption(values['gateway-port'], 'gateway-port', 0, 65535),
              allowRemote: !!values['allow-remote'],
              advertise: values.advertise,
            },
          }
        : {}),
    });
  } catch (e) {
    if (e instanceof HostError) throw new UsageError(e.message);
    throw e;
  }
  const out = process.stdout;
  out.write(`Trajectory Lab (headless) — data in ${dataDir}\n`);
  if (lab.remote) out.write(queueBanner(values.queue!, lab.remote));
  if (!lab.hasRenderer)
    out.write(
      `warning: no built renderer found; run "npm run build:renderer" (npm run serve does it) — the API works without it\n`,
    );
  out.write(
    `listening on ${lab.server.host}:${lab.server.port}; press Ctrl-C to stop\nopen ${lab.server.url}\n`,
  );
  await new Promise<void>((resolveStop) => {
    const stop = (): void => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  out.write('stopping…\n');
  await lab.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof SpecError) {
      process.stderr.write(`error: ${e.message}\n`);
      if (e instanceof UsageError) process.stderr.write(`run "npm run lab -- help" for usage\n`);
      process.exit(2);
    }
    process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
    if (process.env.TRAJECTORY_LAB_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  },
);
