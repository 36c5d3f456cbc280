import * as tf from '@tensorflow/tfjs';
import { errText, importOptional, isNotInstalled } from './optional-import.js';

/**
 * The GPU path that needs no libtensorflow: @tensorflow/tfjs-backend-webgpu on Dawn, the WebGPU
 * implementation the npm package `webgpu` ships prebuilt for Linux (Vulkan), macOS (Metal) and
 * Windows (D3D12).
 *
 * Order matters: tfjs-backend-webgpu registers itself only if `navigator.gpu` exists when it is
 * imported, and `tf.setBackend('webgpu')` answers false (it does not throw) when Dawn finds no
 * adapter. The adapter is looked at before the backend is even loaded, so that 'auto' can pass
 * over a CPU emulator (Mesa's lavapipe, SwiftShader) without creating a device on it: those run
 * the shaders on the CPU, correct but slower than wasm. Asked for explicitly they are used.
 *
 * In Node every readback on this backend must be asynchronous (see readback.ts). Inside
 * Electron Dawn cannot work at all if Electron refuses external ArrayBuffers (its V8 memory cage,
 * electron#35801): dawn.node hands out mapped GPU memory only through
 * napi_create_external_arraybuffer. That is checked in a child process before Dawn is loaded here.
 */

export interface AdapterSummary {
  /** the driver's own words, e.g. "NVIDIA GeForce RTX 4090" or "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" */
  description: string;
  vendor: string;
  architecture: string;
  device: string;
  /** a software rasteriser that computes on the CPU */
  emulator: boolean;
}

export type WebgpuAttempt =
  { ok: true; version: string; adapter: AdapterSummary; notes: string[] } | { ok: false; reason: string };

interface AdapterInfoLike {
  description?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
  isFallbackAdapter?: boolean;
}

/** lavapipe reports itself as "llvmpipe"; SwiftShader and WARP are the other CPU implementations. */
const EMULATOR = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b/i;

export function summarizeAdapter(info: AdapterInfoLike): AdapterSummary {
  const description = (info.description ?? '').trim();
  const vendor = (info.vendor ?? '').trim();
  const architecture = (info.architecture ?? '').trim();
  const device = (info.device ?? '').trim();
  const emulator =
    !!info.isFallbackAdapter ||
    architecture.toLowerCase() === 'software' ||
    EMULATOR.test(`${description} ${device} ${vendor}`);
  return { description, vendor, architecture, device, emulator };
}

/** "NVIDIA GeForce RTX 4090 (nvidia, lovelace)", or "llvmpipe: Mesa 25.0.7 (…) — a CPU emulator". */
export function adapterLabel(a: AdapterSummary): string {
  const name = a.description || a.device || a.vendor || 'unnamed adapter';
  const extra = [a.vendor, a.architecture].filter((s) => s && !name.includes(s));
  return `${name}${extra.length ? ` (${extra.join(', ')})` : ''}${a.emulator ? ' — a CPU emulator' : ''}`;
}

interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<{ info?: AdapterInfoLike } | null>;
}

let gpu: GpuLike | null = null;
let electronProbe: Promise<string | null> | null = null;

const CAGE =
  "Electron's V8 memory cage forbids the external ArrayBuffers dawn.node returns for mapped GPU memory (electron#35801)";

/**
 * `explicit`: webgpu was asked for by name. Then a CPU emulator is accepted, and inside Electron
 * Dawn is checked in a child process; 'auto' in Electron does not spawn that check (a packaged app
 * whose RunAsNode fuse is off would start a second instance of itself) and passes Dawn over.
 */
export async function initWebgpu(opts: { explicit: boolean }): Promise<WebgpuAttempt> {
  const inElectron = typeof process !== 'undefined' && !!process.versions?.electron;
  const g = globalThis as { navigator?: { gpu?: unknown } };
  // A browser (or Electron renderer) brings its own navigator.gpu; in Node it comes from Dawn.
  if (!g.navigator?.gpu) {
    if (inElectron && !opts.explicit)
      return {
        ok: false,
        reason: `not tried in an Electron process: ${CAGE}; choose backend webgpu to check this Electron, or use tfjs-node-gpu, or \`npm run serve\` whose workers run under Node`,
      };
    if (inElectron) {
      electronProbe ??= probeDawnReadback();
      const refused = await electronProbe;
      if (refused)
        return {
          ok: false,
          reason: `Dawn (the \`webgpu\` package) cannot read GPU memory back in this Electron process: ${refused}. ${CAGE}; use tfjs-node-gpu, or \`npm run serve\` whose workers run under Node`,
        };
    }
    let dawn: Record<string, unknown>;
    try {
      dawn = await importOptional('webgpu');
    } catch (e) {
      return {
        ok: false,
        reason: isNotInstalled(e, 'webgpu')
          ? 'the `webgpu` package (Dawn for Node) is not installed'
          : `the \`webgpu\` package failed to load: ${errText(e)}`,
      };
    }
    const create = dawn.create as ((flags: string[]) => GpuLike) | undefined;
    if (typeof create !== 'function') return { ok: false, reason: 'the `webgpu` package has no create()' };
    gpu ??= create([]);
    // GPUBufferUsage, GPUMapMode… which the backend reads as globals, as in a browser
    for (const [k, v] of Object.entries((dawn.globals as object | undefined) ?? {}))
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  } else {
    gpu = g.navigator.gpu as GpuLike;
  }

  let adapter: { info?: AdapterInfoLike } | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { ok: false, reason: `requesting a WebGPU adapter failed: ${errText(e)}` };
  }
  if (!adapter)
    return {
      ok: false,
      reason:
        'no WebGPU adapter: Dawn found no Vulkan/Metal/D3D12 device it accepts (without a GPU on Linux, Mesa ≥ 25 lavapipe from mesa-vulkan-drivers provides one)',
    };
  const summary = summarizeAdapter(adapter.info ?? {});
  if (summary.emulator && !opts.explicit)
    return {
      ok: false,
      reason: `the only adapter is a CPU emulator (${adapterLabel(summary)}), slower than wasm; set TRAJECTORY_LAB_BACKEND=webgpu to use it anyway`,
    };

  if (!g.navigator) g.navigator = { gpu };
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  try {
    await importOptional('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return {
      ok: false,
      reason: isNotInstalled(e, '@tensorflow/tfjs-backend-webgpu')
        ? `@tensorflow/tfjs-backend-webgpu is not installed (install @tensorflow/tfjs-backend-webgpu@${tf.version_core})`
        : `@tensorflow/tfjs-backend-webgpu failed to load: ${errText(e)}`,
    };
  }
  if (!tf.findBackendFactory('webgpu'))
    return {
      ok: false,
      reason: '@tensorflow/tfjs-backend-webgpu was loaded before navigator.gpu existed and did not register',
    };
  try {
    if (!(await tf.setBackend('webgpu')))
      return { ok: false, reason: `the webgpu backend did not initialise on ${adapterLabel(summary)}` };
  } catch (e) {
    return { ok: false, reason: `the webgpu backend failed on ${adapterLabel(summary)}: ${errText(e)}` };
  }
  // One tiny kernel and a readback: a device that initialises but cannot compute or map memory
  // would otherwise fail in the middle of a run.
  try {
    const t = tf.tidy(() => tf.add(tf.tensor1d([1, 2, 3]), tf.scalar(1)));
    const v = await t.data();
    t.dispose();
    if (v[0] !== 2 || v[1] !== 3 || v[2] !== 4) throw new Error(`1+[1,2,3] gave [${Array.from(v)}]`);
  } catch (e) {
    return {
      ok: false,
      reason: `the webgpu backend cannot compute on ${adapterLabel(summary)}: ${errText(e)}`,
    };
  }
  const notes = [
    'webgpu: every readback is asynchronous (tfjs-backend-webgpu reads synchronously only through OffscreenCanvas)',
  ];
  if (summary.emulator)
    notes.push(
      `webgpu: ${adapterLabel(summary)}: correct but slower than wasm; use it to check the GPU path, not to train`,
    );
  return { ok: true, version: await packageVersion(), adapter: summary, notes };
}

async function packageVersion(): Promise<string> {
  try {
    const { createRequire } = await import('node:module');
    const { readFile } = await import('node:fs/promises');
    const require = createRequire(import.meta.url);
    const main = require.resolve('@tensorflow/tfjs-backend-webgpu');
    const pkg = main.slice(0, main.lastIndexOf('/dist/')) + '/package.json';
    return (JSON.parse(await readFile(pkg, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Runs Dawn in a child of this executable (ELECTRON_RUN_AS_NODE in Electron, so it has the same
 * V8 and the same memory cage) and maps one buffer for reading. Resolves to null when that works,
 * else to the reason. A separate process, because a refused external ArrayBuffer may take the
 * whole process down rather than throw.
 */
export async function probeDawnReadback(
  execPath: string = process.execPath,
  timeoutMs = 30_000,
): Promise<string | null> {
  const { execFile } = await import('node:child_process');
  const { createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  let entry: string;
  try {
    entry = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch (e) {
    return `the \`webgpu\` package is not installed (${errText(e)})`;
  }
  const script = `
const { create, globals } = await import(process.argv[1]);
const say = (o) => process.stdout.write(JSON.stringify(o));
try {
  const adapter = await create([]).requestAdapter();
  if (!adapter) { say({ ok: true, note: 'no adapter' }); process.exit(0); }
  const device = await adapter.requestDevice();
  const buf = device.createBuffer({ size: 16, usage: globals.GPUBufferUsage.MAP_READ | globals.GPUBufferUsage.COPY_DST });
  await buf.mapAsync(globals.GPUMapMode.READ);
  new Float32Array(buf.getMappedRange()).slice();
  buf.unmap();
  device.destroy();
  say({ ok: true });
} catch (e) {
  say({ ok: false, reason: String(e && e.message || e) });
}
process.exit(0);
`;
  return new Promise((resolve) => {
    execFile(
      execPath,
      ['--input-type=module', '-e', script, entry],
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: timeoutMs, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        try {
          const r = JSON.parse(String(stdout)) as { ok: boolean; reason?: string };
          resolve(r.ok ? null : `mapping a buffer failed: ${r.reason}`);
        } catch {
          const tail = String(stderr).trim().split('\n').slice(-2).join(' ');
          resolve(
            `the probe process ${err?.signal ? `was killed by ${err.signal}` : `exited with code ${err?.code ?? 0}`}${tail ? `: ${tail}` : ''}`,
          );
        }
      },
    );
  });
}
