import * as tf from '@tensorflow/tfjs';
import type { BackendAttempt, BackendChoice, BackendInfo } from '../shared/domain/index.js';
import { errText, importOptional, isNotInstalled } from './optional-import.js';
import { registerWasmKernels } from './wasm-kernels.js';
import { adapterLabel, initWebgpu } from './webgpu.js';

/**
 * Picks and initialises the TensorFlow.js backend.
 *
 * 'auto' tries, in order: @tensorflow/tfjs-node-gpu (libtensorflow with CUDA), webgpu (Dawn, see
 * webgpu.ts; only on an adapter that is not a CPU emulator), @tensorflow/tfjs-node (libtensorflow
 * on the CPU), wasm (XNNPACK, with the kernel repairs of wasm-kernels.ts), cpu (plain JavaScript,
 * last resort). The native and GPU packages may be missing or find no device, so each is loaded
 * dynamically, and BackendInfo.tried says for every backend why it was or was not picked.
 *
 * Precedence: an explicit choice (spec `backend` or CLI flag) wins; the environment variable
 * TRAJECTORY_LAB_BACKEND only replaces 'auto'.
 */
export const BACKEND_ENV = 'TRAJECTORY_LAB_BACKEND';

const CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu'];

interface Attempt {
  info?: BackendInfo;
  /** why this backend was not used */
  skipped?: string;
}

let current: { choice: BackendChoice; info: BackendInfo } | null = null;
let pending: { choice: BackendChoice; promise: Promise<BackendInfo> } | null = null;

export async function initBackend(
  choice: BackendChoice = 'auto',
  onLog?: (msg: string) => void,
): Promise<BackendInfo> {
  const effective = resolveChoice(choice);
  if (current && current.choice === effective && tf.getBackend() === current.info.name) return current.info;
  // Concurrent callers asking for the same thing share one initialisation.
  if (pending && pending.choice === effective) return pending.promise;
  const promise = select(
    effective,
    choice !== effective ? [`${BACKEND_ENV}=${effective} replaced 'auto'`] : [],
  )
    .then((info) => {
      current = { choice: effective, info };
      for (const n of info.notes) onLog?.(n);
      onLog?.(describeBackend(info));
      return info;
    })
    .finally(() => {
      if (pending?.promise === promise) pending = null;
    });
  pending = { choice: effective, promise };
  return promise;
}

/** One line for logs and the UI: "backend wasm … (CPU, SIMD, 1 thread)", "backend webgpu … (GPU NVIDIA …, 1 thread)". */
export function describeBackend(info: BackendInfo): string {
  const bits = [info.device === 'gpu' ? 'GPU' : 'CPU'];
  if (info.adapter) bits[0] += ` ${info.adapter}`;
  if (info.simd !== undefined) bits.push(info.simd ? 'SIMD' : 'no SIMD');
  bits.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  return `backend ${info.name} ${info.version} (${bits.join(', ')})`;
}

/** The CLI's `backend` answer: one line per backend considered, then the one in use. */
export function formatBackendReport(info: BackendInfo): string {
  const lines = (info.tried ?? []).map(
    (t) => `${t.picked ? 'picked ' : 'skipped'} ${t.backend.padEnd(14)} ${t.reason}`,
  );
  lines.push(
    '',
    describeBackend(info),
    ...info.notes.filter((n) => !/ skipped: /.test(n)).map((n) => `  ${n}`),
  );
  return lines.join('\n');
}

function resolveChoice(choice: BackendChoice): BackendChoice {
  if (!CHOICES.includes(choice))
    throw new Error(`unknown backend "${choice}" (choose one of ${CHOICES.join(', ')})`);
  if (choice !== 'auto') return choice;
  const env = typeof process !== 'undefined' ? process.env[BACKEND_ENV]?.trim() : undefined;
  if (!env) return 'auto';
  if (!CHOICES.includes(env as BackendChoice)) {
    throw new Error(`${BACKEND_ENV}="${env}" is not a backend (choose one of ${CHOICES.join(', ')})`);
  }
  return env as BackendChoice;
}

/** The order 'auto' tries; each entry's attempt explains itself when it does not succeed. */
const AUTO_ORDER: readonly (readonly [string, () => Promise<Attempt>])[] = [
  ['tensorflow-gpu', () => tryTensorflow(true)],
  ['webgpu', () => tryWebgpu(false)],
  ['tensorflow', () => tryTensorflow(false)],
  ['wasm', () => tryWasm()],
  ['cpu', () => tryCpu()],
];

const NOT_TRIED = 'not tried';

async function select(choice: BackendChoice, notes: string[]): Promise<BackendInfo> {
  const finish = (a: Attempt, tried: BackendAttempt[]): BackendInfo => ({
    ...a.info!,
    tried,
    notes: [
      ...notes,
      ...tried
        .filter((t) => !t.picked && !t.reason.startsWith(NOT_TRIED))
        .map((t) => `${t.backend} skipped: ${t.reason}`),
      ...a.info!.notes,
    ],
  });
  const explicit = async (label: string, attempt: () => Promise<Attempt>): Promise<BackendInfo> => {
    const a = await attempt();
    if (!a.info) throw new Error(`backend '${label}' is not available: ${a.skipped}`);
    return finish(a, [{ backend: label, picked: true, reason: `asked for explicitly (${origin(notes)})` }]);
  };
  switch (choice) {
    case 'cpu':
      return explicit('cpu', tryCpu);
    case 'wasm':
      return explicit('wasm', tryWasm);
    case 'webgpu':
      return explicit('webgpu', () => tryWebgpu(true));
    case 'tensorflow': {
      const gpu = await tryTensorflow(true);
      const tried: BackendAttempt[] = [
        { backend: 'tensorflow-gpu', picked: !!gpu.info, reason: gpu.skipped ?? 'asked for explicitly' },
      ];
      if (gpu.info) return finish(gpu, tried);
      const cpu = await tryTensorflow(false);
      if (!cpu.info) throw new Error(`backend 'tensorflow' is not available: ${gpu.skipped}; ${cpu.skipped}`);
      return finish(cpu, [...tried, { backend: 'tensorflow', picked: true, reason: 'asked for explicitly' }]);
    }
    case 'auto': {
      const tried: BackendAttempt[] = [];
      for (const [i, [label, attempt]] of AUTO_ORDER.entries()) {
        const a = await attempt();
        if (!a.info) {
          tried.push({ backend: label, picked: false, reason: a.skipped! });
          continue;
        }
        tried.push({
          backend: label,
          picked: true,
          reason:
            i === 0
              ? 'first in the order'
              : `the first available after ${tried.map((t) => t.backend).join(', ')}`,
        });
        for (const [later] of AUTO_ORDER.slice(i + 1))
          tried.push({ backend: later, picked: false, reason: `${NOT_TRIED}: ${label} comes first` });
        return finish(a, tried);
      }
      throw new Error('no backend initialised'); // unreachable: cpu always does
    }
  }
}

function origin(notes: string[]): string {
  return notes.some((n) => n.includes(BACKEND_ENV)) ? BACKEND_ENV : 'spec or --backend';
}

async function tryTensorflow(gpu: boolean): Promise<Attempt> {
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  if (typeof process === 'undefined' || !process.versions?.node) return { skipped: `${pkg} needs Node.js` };
  let mod: Record<string, unknown>;
  try {
    mod = await importOptional(pkg);
  } catch (e) {
    return {
      skipped: isNotInstalled(e, pkg)
        ? `${pkg} is not installed (an optional dependency whose libtensorflow download failed or was skipped)`
        : `${pkg} failed to load: ${errText(e)}`,
    };
  }
  try {
    if (!(await tf.setBackend('tensorflow')))
      return { skipped: `${pkg} loaded but the 'tensorflow' backend did not initialise` };
  } catch (e) {
    return { skipped: `${pkg} loaded but the 'tensorflow' backend failed: ${errText(e)}` };
  }
  const be = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
  const onGpu = !!be.isUsingGpuDevice;
  const notes: string[] = [];
  if (gpu && !onGpu) notes.push(`${pkg} found no CUDA device; libtensorflow runs on the CPU`);
  const { availableParallelism, cpus } = await import('node:os');
  const intraOp = Number(process.env.TF_NUM_INTRAOP_THREADS);
  const pkgVersion = (mod.version as Record<string, string> | undefined)?.['tfjs-node'];
  return {
    info: {
      name: 'tensorflow',
      version: versionString(pkg, pkgVersion),
      // libtensorflow's intra-op pool defaults to every core unless TF_NUM_INTRAOP_THREADS is set
      threads:
        intraOp > 0
          ? intraOp
          : typeof availableParallelism === 'function'
            ? availableParallelism()
            : cpus().length,
      device: onGpu ? 'gpu' : 'cpu',
      notes,
    },
  };
}

async function tryWasm(): Promise<Attempt> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    return { skipped: `@tensorflow/tfjs-backend-wasm failed to load: ${errText(e)}` };
  }
  registerWasmKernels();
  // Node: the threaded binary, with the thread count of wasm-threads.ts (tfjs itself runs 1 thread).
  const threading =
    typeof process !== 'undefined' && process.versions?.node ? await import('./wasm-threads.js') : null;
  try {
    threading?.prepareWasmThreads();
  } catch (e) {
    return { skipped: errText(e) };
  }
  try {
    if (!(await tf.setBackend('wasm'))) return { skipped: 'the wasm backend did not initialise' };
  } catch (e) {
    return { skipped: `the wasm backend failed: ${errText(e)}` };
  }
  const simd = !!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const threadsSupported = !!(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  let threads = 1;
  try {
    threads = wasm.getThreadsCount();
  } catch {
    // not initialised through the threaded binary: one thread
  }
  const notes = [
    'wasm: kernel repairs installed (src/core/wasm-kernels.ts): matMul with transposed inputs, copy-free Identity, Conv2DBackpropInput via Conv2D, the missing Conv2DBackpropFilter',
  ];
  const threaded = threading?.wasmThreadsOutcome();
  if (threaded?.note) notes.push(threaded.note);
  if (threading && !threaded?.note)
    notes.push(
      threads > 1
        ? `wasm: threaded SIMD binary on worker_threads, ${threads} threads (${threading.WASM_THREADS_ENV} sets the count)`
        : `wasm: 1 thread (${threading.WASM_THREADS_ENV} sets more)`,
    );
  else if (!threadsSupported)
    notes.push(
      'wasm: multithreading is unavailable here (Node.js, or a page without cross-origin isolation); 1 thread',
    );
  return {
    info: {
      name: 'wasm',
      version: versionString('@tensorflow/tfjs-backend-wasm', wasm.version_wasm),
      threads,
      device: 'cpu',
      simd,
      notes,
    },
  };
}

async function tryCpu(): Promise<Attempt> {
  await tf.setBackend('cpu');
  // The cpu backend prints a "install tfjs-node" banner on first use; BackendInfo says it instead.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return {
    info: {
      name: 'cpu',
      version: versionString(),
      threads: 1,
      device: 'cpu',
      notes: ['cpu: the plain JavaScript backend, far too slow for real training (about 1 GFLOP/s)'],
    },
  };
}

async function tryWebgpu(explicit: boolean): Promise<Attempt> {
  const r = await initWebgpu({ explicit });
  if (!r.ok) return { skipped: r.reason };
  return {
    info: {
      name: 'webgpu',
      version: versionString('@tensorflow/tfjs-backend-webgpu', r.version),
      // the host thread drives the device; an emulator computes on the CPU, whatever the API
      threads: 1,
      device: r.adapter.emulator ? 'cpu' : 'gpu',
      adapter: adapterLabel(r.adapter),
      notes: r.notes,
    },
  };
}

function versionString(pkg?: string, pkgVersion?: string): string {
  const core = `tfjs-core ${tf.version_core}`;
  if (!pkg) return core;
  return `${core}, ${pkg.replace('@tensorflow/', '')} ${pkgVersion ?? 'unknown'}`;
}
