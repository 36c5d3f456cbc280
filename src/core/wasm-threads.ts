import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as wasmBackend from '@tensorflow/tfjs-backend-wasm';

/**
 * Multithreaded XNNPACK for the wasm backend in Node.js.
 *
 * @tensorflow/tfjs-backend-wasm 4.22 ships the threaded SIMD binary, and its Emscripten glue has
 * a Node `worker_threads` path, but tfjs never uses it in Node (tfjs issue 3830):
 * - the flag WASM_HAS_MULTITHREAD_SUPPORT answers false whenever IS_NODE;
 * - its init hands Emscripten the pthread worker script and the main script as Blob URLs, which
 *   Node's `Worker` cannot load;
 * - the C++ side caps the pool at emscripten_num_logical_cores() / 2 (it assumes two hyperthreads
 *   per core), read once while the module starts: on a 2-core machine that is 1 thread;
 * - a running pthread keeps its worker ref'd, so a process that used the pool never exits.
 *
 * This module registers a replacement factory for the 'wasm' backend that starts the threaded
 * binary with the worker script written to a file (named by its content hash, in the temp dir),
 * the glue's own file as the main script, the core count seen by the glue set to twice the
 * requested threads while it starts, and every pool worker unref'd afterwards. The kernels stay
 * those registered for 'wasm', so the kernel repairs of wasm-kernels.ts apply unchanged. If the
 * threaded start fails, the factory falls back to the package's own (single-threaded) one and
 * says why.
 */

/** Environment variable that sets the wasm thread count (1 = the stock single-threaded binary). */
export const WASM_THREADS_ENV = 'TRAJECTORY_LAB_WASM_THREADS';

/** The 8 pthread workers Emscripten pre-creates for this binary are the most the pool can use. */
export const MAX_WASM_THREADS = 8;

const require = createRequire(import.meta.url);

let requested: number | null = null;
let outcome: { threads: number; note?: string } | null = null;
let registeredFor: number | null = null;

function cores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Threads the wasm backend will use: the explicit setting, else TRAJECTORY_LAB_WASM_THREADS, else
 * every core (at most 8).
 */
export function wasmThreadsWanted(): number {
  let n = requested;
  if (n === null) {
    const env = process.env[WASM_THREADS_ENV]?.trim();
    if (env) {
      const v = Number(env);
      if (!Number.isInteger(v) || v < 1)
        throw new Error(`${WASM_THREADS_ENV}="${env}" is not a thread count (a whole number ≥ 1)`);
      n = v;
    } else n = cores();
  }
  return Math.max(1, Math.min(MAX_WASM_THREADS, n));
}

/**
 * Sets the thread count for the next initialisation of the wasm backend (null = back to the
 * default). A backend already running keeps its threads: re-initialise to change them.
 */
export function setWasmThreads(n: number | null): void {
  if (n !== null && (!Number.isInteger(n) || n < 1)) throw new Error(`wasm threads must be ≥ 1, got ${n}`);
  requested = n;
}

/** What the last start of the wasm backend got, with the reason when it fell back to 1 thread. */
export function wasmThreadsOutcome(): { threads: number; note?: string } | null {
  return outcome;
}

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread?: { runningWorkers: { unref(): void }[]; unusedWorkers: { unref(): void }[] };
  tfjs?: Record<string, unknown>;
}

function workerScript(dir: string): string {
  const { wasmWorkerContents } = require(join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  // The string comes from a template literal that turned the script's "\n" escapes into real
  // newlines inside string literals; put them back (tfjs does the same before making its Blob).
  const text = wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const folder = join(os.tmpdir(), 'trajectory-lab');
  const file = join(folder, `tfjs-wasm-${wasmBackend.version_wasm}-${hash}.worker.cjs`);
  if (!existsSync(file)) {
    mkdirSync(folder, { recursive: true });
    // Written under a private name and renamed, so a concurrent process never loads half a file.
    const part = `${file}.${process.pid}.part`;
    writeFileSync(part, text);
    renameSync(part, file);
  }
  return file;
}

async function startThreaded(threads: number): Promise<EmscriptenModule> {
  const dir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const glue = join(dir, 'tfjs-backend-wasm-threaded-simd.js');
  const factory = require(glue) as (cfg: object) => Promise<EmscriptenModule>;
  const worker = workerScript(dir);
  // The C++ static initialiser computes the pool cap as (logical cores / 2) from os.cpus() while
  // the module starts; make it see enough cores for the count asked for, then restore.
  const nodeOs = require('node:os') as { cpus: typeof os.cpus };
  const realCpus = nodeOs.cpus;
  nodeOs.cpus = () => {
    const one = realCpus()[0];
    return Array.from({ length: 2 * threads }, () => one);
  };
  let mod: EmscriptenModule;
  try {
    mod = await factory({
      locateFile: (path: string, prefix: string) =>
        path.endsWith('.worker.js')
          ? worker
          : path.endsWith('.wasm')
            ? join(dir, 'tfjs-backend-wasm-threaded-simd.wasm')
            : prefix + path,
      // a path, not a Blob: the worker reads it with fs and evaluates it
      mainScriptUrlOrBlob: glue,
    });
  } finally {
    nodeOs.cpus = realCpus;
  }
  mod.tfjs = {
    init: mod.cwrap('init', null, []),
    initWithThreadsCount: mod.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: mod.cwrap('get_threads_count', 'number', []),
    registerTensor: mod.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: mod.cwrap('dispose_data', null, ['number']),
    dispose: mod.cwrap('dispose', null, []),
  };
  return mod;
}

/** Workers of started pthreads are ref'd by Emscripten; the pool's live forever, so let them go. */
function unrefWorkers(mod: EmscriptenModule): void {
  for (const w of [...(mod.PThread?.runningWorkers ?? []), ...(mod.PThread?.unusedWorkers ?? [])]) w.unref();
}

/**
 * Makes the next tf.setBackend('wasm') start with `wasmThreadsWanted()` threads. Call after
 * importing @tensorflow/tfjs-backend-wasm and before setBackend; a no-op when nothing changed.
 * With 1 thread the package's own factory is used.
 */
export function prepareWasmThreads(): number {
  const threads = wasmThreadsWanted();
  if (registeredFor === threads) return threads;
  const stock = stockFactory();
  const wasmAny = wasmBackend as unknown as {
    BackendWasm: new (m: EmscriptenModule) => tf.KernelBackend;
  };
  tf.removeBackend('wasm');
  if (threads === 1) {
    tf.registerBackend('wasm', stock, 2);
    wasmBackend.setThreadsCount(1);
    outcome = { threads: 1 };
  } else {
    tf.registerBackend(
      'wasm',
      async () => {
        wasmBackend.setThreadsCount(threads);
        try {
          const mod = await startThreaded(threads);
          const backend = new wasmAny.BackendWasm(mod);
          unrefWorkers(mod);
          outcome = { threads: wasmBackend.getThreadsCount() };
          return backend;
        } catch (e) {
          wasmBackend.setThreadsCount(1);
          outcome = {
            threads: 1,
            note: `wasm: the threaded binary did not start (${e instanceof Error ? e.message : String(e)}); 1 thread`,
          };
          return stock();
        }
      },
      2,
    );
  }
  registeredFor = threads;
  return threads;
}

let stockWasmFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | null = null;
function stockFactory(): () => tf.KernelBackend | Promise<tf.KernelBackend> {
  if (!stockWasmFactory) {
    const f = tf.findBackendFactory('wasm');
    if (!f) throw new Error('the wasm backend is not registered; import @tensorflow/tfjs-backend-wasm first');
    stockWasmFactory = f;
  }
  return stockWasmFactory;
}
