import * as tf from '@tensorflow/tfjs';
import type { BackendChoice, BackendInfo } from '../shared/domain/index.js';
import { registerWasmKernels } from './wasm-kernels.js';

/**
 * Picks and initialises the TensorFlow.js backend.
 *
 * 'auto' tries, in order: @tensorflow/tfjs-node-gpu (libtensorflow with CUDA),
 * @tensorflow/tfjs-node (libtensorflow on the CPU), wasm (XNNPACK, with the kernel repairs of
 * wasm-kernels.ts), cpu (plain JavaScript, last resort). The native packages are optional
 * dependencies, so they are imported dynamically and every one that is skipped says why in
 * BackendInfo.notes. 'webgpu' is never picked by 'auto': it needs @tensorflow/tfjs-backend-webgpu
 * and the `webgpu` (Dawn) package, and an explicit choice.
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

/** One line for logs and the UI: "wasm 4.22.0 (SIMD, 1 thread)". */
export function describeBackend(info: BackendInfo): string {
  const bits = [info.device === 'gpu' ? 'GPU' : 'CPU'];
  if (info.simd !== undefined) bits.push(info.simd ? 'SIMD' : 'no SIMD');
  bits.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  return `backend ${info.name} ${info.version} (${bits.join(', ')})`;
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

async function select(choice: BackendChoice, notes: string[]): Promise<BackendInfo> {
  const finish = (a: Attempt): BackendInfo => ({ ...a.info!, notes: [...notes, ...a.info!.notes] });
  const fail = (a: Attempt, what: string): never => {
    throw new Error(`backend '${what}' is not available: ${a.skipped}`);
  };
  switch (choice) {
    case 'cpu':
      return finish(await tryCpu());
    case 'wasm': {
      const a = await tryWasm();
      return a.info ? finish(a) : fail(a, 'wasm');
    }
    case 'webgpu': {
      const a = await tryWebgpu();
      return a.info ? finish(a) : fail(a, 'webgpu');
    }
    case 'tensorflow': {
      const gpu = await tryTensorflow(true);
      if (gpu.info) return finish(gpu);
      const cpu = await tryTensorflow(false);
      if (cpu.info)
        return finish({ info: { ...cpu.info, notes: [`tensorflow-gpu skipped: ${gpu.skipped}`] } });
      throw new Error(`backend 'tensorflow' is not available: ${gpu.skipped}; ${cpu.skipped}`);
    }
    case 'auto': {
      const skipped: string[] = [];
      for (const [label, attempt] of [
        ['tensorflow-gpu', () => tryTensorflow(true)],
        ['tensorflow', () => tryTensorflow(false)],
        ['wasm', tryWasm],
      ] as const) {
        const a = await attempt();
        if (a.info) return finish({ info: { ...a.info, notes: [...skipped, ...a.info.notes] } });
        skipped.push(`${label} skipped: ${a.skipped}`);
      }
      const c = await tryCpu();
      return finish({ info: { ...c.info!, notes: [...skipped, ...c.info!.notes] } });
    }
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}

function isNotInstalled(e: unknown, pkg: string): boolean {
  const code = (e as { code?: string })?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && errText(e).includes(pkg);
}

/** Dynamic import of an optional package whose name TypeScript must not resolve at build time. */
function importOptional(pkg: string): Promise<Record<string, unknown>> {
  return import(/* @vite-ignore */ pkg) as Promise<Record<string, unknown>>;
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
  if (!threadsSupported)
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

async function tryWebgpu(): Promise<Attempt> {
  const missing: string[] = [];
  let dawn: Record<string, unknown> | null = null;
  try {
    dawn = await importOptional('webgpu');
  } catch (e) {
    missing.push(
      isNotInstalled(e, 'webgpu')
        ? 'the `webgpu` package (Dawn for Node) is not installed'
        : `webgpu failed to load: ${errText(e)}`,
    );
  }
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (dawn && !g.navigator?.gpu) {
    // tfjs-backend-webgpu registers itself only if navigator.gpu exists when it is imported.
    const create = dawn.create as ((flags: string[]) => unknown) | undefined;
    if (typeof create !== 'function') {
      missing.push('the `webgpu` package has no create()');
    } else {
      Object.assign(globalThis, (dawn.globals as object | undefined) ?? {});
      const gpu = create([]);
      if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      else g.navigator = { gpu };
    }
  }
  let version: string | undefined;
  if (!missing.length) {
    try {
      const mod = await importOptional('@tensorflow/tfjs-backend-webgpu');
      version = mod.version_webgpu as string | undefined;
    } catch (e) {
      missing.push(
        isNotInstalled(e, '@tensorflow/tfjs-backend-webgpu')
          ? '@tensorflow/tfjs-backend-webgpu is not installed'
          : `@tensorflow/tfjs-backend-webgpu failed to load: ${errText(e)}`,
      );
    }
  }
  if (missing.length) {
    return {
      skipped: `${missing.join('; ')} (install @tensorflow/tfjs-backend-webgpu@${tf.version_core} and webgpu to use it)`,
    };
  }
  // setBackend returns false, not throws, when Dawn finds no adapter.
  let ok = false;
  try {
    ok = await tf.setBackend('webgpu');
  } catch (e) {
    return { skipped: `the webgpu backend failed: ${errText(e)}` };
  }
  if (!ok)
    return { skipped: 'no WebGPU adapter was found (no GPU, or no Vulkan/Metal/D3D driver Dawn accepts)' };
  return {
    info: {
      name: 'webgpu',
      version: versionString('@tensorflow/tfjs-backend-webgpu', version),
      threads: 1,
      device: 'gpu',
      notes: [],
    },
  };
}

function versionString(pkg?: string, pkgVersion?: string): string {
  const core = `tfjs-core ${tf.version_core}`;
  if (!pkg) return core;
  return `${core}, ${pkg.replace('@tensorflow/', '')} ${pkgVersion ?? 'unknown'}`;
}
