#!/usr/bin/env node
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../core/backend.js';
import { previewDataset } from '../core/data/load.js';
import { runExperiment } from '../core/experiment.js';
import { buildModel } from '../core/models/index.js';
import { disposeParams } from '../core/params.js';
import { saveParams } from '../core/params-io.js';
import {
  parseSpec,
  SpecError,
  type BackendChoice,
  type ExperimentSpec,
  listMethods,
} from '../shared/domain/index.js';
import { defaultDataDir } from '../services/data-dir.js';
import { acquireDataLock } from '../services/data-lock.js';
import { startHeadless } from '../services/host/headless.js';
import { HostError } from '../services/host/server.js';
import { runRecorded } from '../services/jobs/in-process.js';
import { LabStore } from '../services/store/index.js';
import { progressPrinter } from './progress.js';
import { summaryTable } from './summary.js';

const USAGE = `Trajectory Lab — learning transfer (${listMethods()
  .map((m) => m.label)
  .join(', ')})

usage:
  npm run lab -- run <spec.json> --out <dir> [--backend auto|tensorflow|wasm|cpu] [--db <dataDir>]
      run one experiment: train the source, train targets where a method needs them, transfer with every
      method; prints progress and a summary, writes <dir>/result.json. With --db, the run is
      also recorded in the lab's store in <dataDir> (the lab's data folder; "default" = the
      desktop's), where the lab's history shows it, and trained sources are reused from there;
      the lab (desktop or serve) must not have that folder open meanwhile
  npm run serve -- [--port <n>] [--host 127.0.0.1] [--data <dir>] [--concurrency <n>] [--allow-remote]
      the lab without Electron: serves the built renderer and the API on a loopback port and
      prints the address to open (it carries a random access token)
  npm run lab -- init-params <spec.json> --seed <n> --out <file.safetensors>
      write a seeded initialisation of the spec's model (for "init": { "file": … })
  npm run lab -- check <spec.json>
      validate a spec and print it with every default filled in
  npm run lab -- backend [--backend …]
      print the TensorFlow.js backend that would be used

environment: TRAJECTORY_LAB_BACKEND picks the backend when the spec says "auto";
TRAJECTORY_LAB_DATA overrides the default data folder (${defaultDataDir()}).
`;

async function readSpec(path: string | undefined, backend?: string): Promise<ExperimentSpec> {
  if (!path) throw new UsageError('missing <spec.json>');
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
    throw new UsageError(`spec ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (backend) json.backend = backend;
  return resolvePaths(parseSpec(json), resolve(path, '..'));
}

/** Paths inside a spec are relative to the spec file, so examples work from any directory. */
function resolvePaths(spec: ExperimentSpec, base: string): ExperimentSpec {
  const abs = (p: string): string => resolve(base, p);
  if ('dir' in spec.dataset) spec.dataset = { ...spec.dataset, dir: abs(spec.dataset.dir) };
  if (spec.source.init.file) spec.source.init.file = abs(spec.source.init.file);
  for (const t of spec.targets) if (t.init.file) t.init.file = abs(t.init.file);
  return spec;
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
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
      'allow-remote': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (!command || command === 'help' || values.help) {
    process.stdout.write(USAGE);
    return command ? 0 : 1;
  }
  switch (command) {
    case 'run': {
      const spec = await readSpec(positionals[0], values.backend);
      if (!values.out) throw new UsageError('missing --out <dir>');
      const out = resolve(values.out);
      await mkdir(out, { recursive: true });
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
        let store: LabStore;
        try {
          store = LabStore.open(dataDir);
        } catch (e) {
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
            lock.release();
          }
        }
      } else {
        result = await runExperiment(spec, { onEvent: progressPrinter(), signal: controller.signal });
      }
      await writeFile(join(out, 'result.json'), JSON.stringify(result, null, 2) + '\n');
      process.stdout.write(summaryTable(result) + '\n');
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
    case 'check': {
      const spec = await readSpec(positionals[0], values.backend);
      process.stdout.write(JSON.stringify(spec, null, 2) + '\n');
      return 0;
    }
    case 'backend': {
      const info = await initBackend((values.backend ?? 'auto') as BackendChoice);
      process.stdout.write(JSON.stringify(info, null, 2) + '\n');
      return 0;
    }
    case 'serve':
      return serve(values);
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

/** Runs until Ctrl-C (or SIGTERM); then stops the workers (their runs become interrupted) and closes the store. */
async function serve(values: {
  data?: string;
  port?: string;
  host?: string;
  concurrency?: string;
  'allow-remote'?: boolean;
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
    });
  } catch (e) {
    if (e instanceof HostError) throw new UsageError(e.message);
    throw e;
  }
  const out = process.stdout;
  out.write(`Trajectory Lab (headless) — data in ${dataDir}\n`);
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
