import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BACKEND_ENV, initBackend } from '../../src/core/backend.js';
import { gradient } from '../../src/core/evaluate.js';
import { runExperiment } from '../../src/core/experiment.js';
import { buildModel, type Model } from '../../src/core/models/index.js';
import { disposeParams } from '../../src/core/params.js';
import { rng } from '../../src/core/random.js';
import {
  parseSpec,
  type ArchSpec,
  type ExperimentResult,
  type MethodResult,
} from '../../src/shared/domain/index.js';
import { sgdStep } from '../../src/core/train.js';
import { probeDawnReadback, summarizeAdapter } from '../../src/core/webgpu.js';

/**
 * The webgpu backend (tfjs-backend-webgpu on Dawn) must compute what the reference cpu backend
 * computes: training steps of a dense and a conv net, gradients, and a whole tiny experiment.
 * Without a GPU this runs on Mesa's lavapipe (a Vulkan driver on the CPU, Mesa ≥ 25; .ci/run
 * installs it from bookworm-backports); where no adapter exists, every test here that needs one
 * reports itself skipped with the reason. Sizes are tiny because lavapipe compiles each shader
 * on the CPU (MESA_SHADER_CACHE_DIR keeps them between runs).
 */

process.env.MESA_SHADER_CACHE_DIR ??= join(tmpdir(), 'trajectory-lab-mesa-shader-cache');
const REL = 1e-4;
const ROOT = new URL('../..', import.meta.url).pathname;

const unavailable: string | false = await initBackend('webgpu').then(
  () => false,
  (e: Error) =>
    `no usable WebGPU here (${e.message}); CI installs Mesa ≥ 25 lavapipe (mesa-vulkan-drivers from bookworm-backports)`,
);
const needsGpu = { skip: unavailable, timeout: 5 * 60_000 };

type Arr = { data: Float32Array; shape: number[] };

function randn(shape: number[], seed: number, scale = 1): Arr {
  const r = rng(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = r.normal() * scale;
  return { data, shape };
}

const T = (a: Arr): tf.Tensor => tf.tensor(a.data, a.shape, 'float32');

/** Runs `fn` on cpu then webgpu from the same host arrays; reads back asynchronously; checks for leaks. */
async function onBoth(fn: () => tf.Tensor[]): Promise<{ cpu: Arr[]; webgpu: Arr[] }> {
  const out: Record<string, Arr[]> = {};
  for (const b of ['cpu', 'webgpu'] as const) {
    await initBackend(b);
    const before = tf.memory().numTensors;
    const ts = tf.tidy(fn);
    out[b] = await Promise.all(
      ts.map(async (t) => ({ data: (await t.data()) as Float32Array, shape: t.shape })),
    );
    tf.dispose(ts);
    assert.equal(tf.memory().numTensors, before, `${b}: tensors leaked`);
  }
  return { cpu: out.cpu, webgpu: out.webgpu };
}

function assertClose(actual: Arr, expected: Arr, what: string, rel = REL): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.data.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected.data[i]));
    maxDiff = Math.max(maxDiff, Math.abs(actual.data[i] - expected.data[i]));
  }
  assert.ok(Number.isFinite(maxDiff), `${what}: non-finite values`);
  assert.ok(
    maxDiff <= rel * Math.max(maxAbs, 1e-3),
    `${what}: max |webgpu − cpu| = ${maxDiff} vs max |cpu| = ${maxAbs}`,
  );
}

const DENSE: { arch: ArchSpec; input: [number, number, number] } = {
  arch: { arch: 'mlp', hidden: [24, 16] },
  input: [6, 6, 1],
};
const CONV: { arch: ArchSpec; input: [number, number, number] } = {
  arch: {
    arch: 'cnn',
    layers: [
      { type: 'conv', filters: 4, kernel: 3, relu: true },
      { type: 'maxpool', size: 2 },
      { type: 'conv', filters: 6, kernel: 3, stride: 2, relu: true },
      { type: 'flatten' },
      { type: 'dense', units: 12, relu: true },
    ],
  },
  input: [8, 8, 3],
};

/** The model and its seeded init as host arrays, so both backends start from the same numbers. */
async function fixture(
  net: typeof DENSE,
  batch: number,
): Promise<{ model: Model; names: string[]; init: Arr[]; x: Arr; y: Int32Array }> {
  await initBackend('cpu');
  const model = buildModel(net.arch, net.input, 10);
  const params = model.init(7);
  const names = model.params.map((p) => p.name);
  const init = await Promise.all(
    names.map(async (n) => ({ data: (await params[n].data()) as Float32Array, shape: params[n].shape })),
  );
  disposeParams(params);
  const y = new Int32Array(batch);
  for (let i = 0; i < batch; i++) y[i] = (i * 7 + 3) % 10;
  return { model, names, init, x: randn([batch, ...net.input], 11), y };
}

for (const [label, net] of [
  ['dense', DENSE],
  ['conv', CONV],
] as const) {
  test(`${label}: three SGD steps (momentum, weight decay) on webgpu match cpu`, needsGpu, async () => {
    const f = await fixture(net, 16);
    const r = await onBoth(() => {
      let theta = f.init.map(T);
      let bufs: tf.Tensor[] | null = null;
      const losses: tf.Tensor[] = [];
      const x = T(f.x) as tf.Tensor4D;
      const y = tf.tensor1d(f.y, 'int32');
      for (let s = 0; s < 3; s++) {
        const o = sgdStep(f.model, f.names, theta, bufs, x, y, {
          lr: 0.05,
          momentum: 0.9,
          weightDecay: 5e-4,
        });
        theta = o.theta;
        bufs = o.bufs;
        losses.push(o.loss);
      }
      return [...theta, ...bufs!, tf.stack(losses)];
    });
    r.cpu.forEach((c, i) => assertClose(r.webgpu[i], c, `${label} output ${i}`));
  });

  test(`${label}: gradients of the cross-entropy on webgpu match cpu`, needsGpu, async () => {
    const f = await fixture(net, 12);
    const r = await onBoth(() => {
      const theta = Object.fromEntries(f.names.map((n, i) => [n, T(f.init[i])]));
      const g = gradient(f.model, theta, T(f.x) as tf.Tensor4D, tf.tensor1d(f.y, 'int32'));
      return f.names.map((n) => g[n]);
    });
    r.cpu.forEach((c, i) => assertClose(r.webgpu[i], c, `${label} ∂L/∂${f.names[i]}`));
  });
}

const TINY = {
  name: 'webgpu vs cpu',
  dataset: { builtin: 'fashion-mnist-mini' },
  datasetOptions: { trainLimit: 300 },
  model: { arch: 'mlp', hidden: [32] },
  source: {
    init: { seed: 1 },
    train: { epochs: 2, batchSize: 50, lr: 0.05, momentum: 0.9, weightDecay: 0, lrSchedule: 'constant' },
  },
  targets: [{ init: { seed: 2 } }],
  transfer: { T: 3, batchSize: 64, methods: ['naive', 'oracle', 'gmt', 'fgmt'] },
  evalLimit: 200,
};

function close(a: number, b: number, rel = REL): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-3);
}

test(
  `${BACKEND_ENV}=webgpu npm run lab -- run: a tiny experiment (all four methods) matches cpu`,
  needsGpu,
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlab-webgpu-'));
    try {
      const specFile = join(dir, 'tiny.json');
      writeFileSync(specFile, JSON.stringify(TINY));
      const cli = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'run', specFile, '--out', join(dir, 'out')],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 4 * 60_000,
          env: { ...process.env, [BACKEND_ENV]: 'webgpu' },
        },
      );
      assert.equal(cli.status, 0, cli.stderr.slice(-2000));
      const webgpu = JSON.parse(readFileSync(join(dir, 'out', 'result.json'), 'utf8')) as ExperimentResult;

      await initBackend('cpu');
      const before = tf.memory().numTensors;
      const cpu = await runExperiment(parseSpec({ ...TINY, backend: 'cpu' }), {});
      assert.equal(tf.memory().numTensors, before, 'cpu: the experiment leaked tensors');

      assert.equal(webgpu.backend.name, 'webgpu');
      assert.ok(webgpu.backend.adapter, 'the result names the adapter');
      assert.ok(
        close(webgpu.source.valLoss, cpu.source.valLoss),
        `source val loss ${webgpu.source.valLoss} vs ${cpu.source.valLoss}`,
      );
      assert.equal(webgpu.source.valAccuracy, cpu.source.valAccuracy);
      for (const name of TINY.transfer.methods) {
        const w = (webgpu.targets[0].methods as Record<string, MethodResult>)[name];
        const c = (cpu.targets[0].methods as Record<string, MethodResult>)[name];
        assert.ok(w && c, `${name} ran on both`);
        c.valLoss.forEach((l, t) =>
          assert.ok(close(w.valLoss[t], l), `${name} val loss at t=${t}: ${w.valLoss[t]} vs ${l}`),
        );
        assert.deepEqual(w.valAccuracy, c.valAccuracy, `${name} validation accuracy curve`);
        assert.equal(w.testAccuracy, c.testAccuracy, `${name} test accuracy`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('auto never picks a CPU emulator; asked for explicitly it is used and named', needsGpu, async () => {
  const info = await initBackend('webgpu');
  assert.ok(info.adapter && info.adapter.length > 0, 'the adapter is reported');
  if (!/CPU emulator/.test(info.adapter!)) return; // a real GPU: auto may well pick it
  assert.equal(info.device, 'cpu', 'an emulator computes on the CPU');
  const saved = process.env[BACKEND_ENV];
  delete process.env[BACKEND_ENV];
  try {
    const auto = await initBackend('auto');
    assert.notEqual(auto.name, 'webgpu');
    const w = auto.tried?.find((t) => t.backend === 'webgpu');
    assert.ok(w && !w.picked && /CPU emulator/.test(w.reason), `webgpu in auto: ${JSON.stringify(w)}`);
    const order = auto.tried!.map((t) => t.backend);
    assert.deepEqual(order, ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
  } finally {
    if (saved !== undefined) process.env[BACKEND_ENV] = saved;
  }
});

test("Electron's check: Dawn maps a buffer in a child process of this executable", needsGpu, async () => {
  // Under Node external ArrayBuffers are allowed, so the probe must succeed; in Electron the same
  // probe is what turns electron#35801 into a reported fallback instead of a crash.
  assert.equal(await probeDawnReadback(), null);
});

test('without a Vulkan driver, webgpu is refused with the reason and auto falls through', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'backend', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        ...process.env,
        VK_ICD_FILENAMES: '/nonexistent.json',
        VK_DRIVER_FILES: '/nonexistent.json',
        [BACKEND_ENV]: '',
      },
    });
  const explicit = run(['--backend', 'webgpu']);
  assert.equal(explicit.status, 1, explicit.stdout + explicit.stderr);
  assert.match(explicit.stderr, /backend 'webgpu' is not available: .*(no WebGPU adapter|not installed)/);
  const auto = run([]);
  assert.equal(auto.status, 0, auto.stderr);
  assert.match(auto.stdout, /skipped webgpu +.*(no WebGPU adapter|not installed)/);
  assert.match(auto.stdout, /picked +(wasm|tensorflow|cpu) /);
});

test('adapters that compute on the CPU are recognised as emulators', () => {
  const cases: [Parameters<typeof summarizeAdapter>[0], boolean][] = [
    [
      {
        vendor: 'mesa',
        architecture: 'software',
        device: 'llvmpipe-llvm-15',
        description: 'llvmpipe: Mesa 25.0.7',
        isFallbackAdapter: true,
      },
      true,
    ],
    [{ vendor: 'google', device: 'SwiftShader Device (Subzero)', description: 'SwiftShader Device' }, true],
    [{ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' }, true],
    [{ vendor: 'nvidia', architecture: 'lovelace', description: 'NVIDIA GeForce RTX 4090' }, false],
    [{ vendor: 'apple', architecture: 'metal-3', description: 'Apple M2' }, false],
    [{ vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' }, false],
    [
      {
        vendor: 'intel',
        architecture: 'gen-12lp',
        description: 'Intel(R) Xe Graphics',
        isFallbackAdapter: false,
      },
      false,
    ],
  ];
  for (const [info, emulator] of cases)
    assert.equal(summarizeAdapter(info).emulator, emulator, JSON.stringify(info));
});

test('in Electron: auto passes Dawn over with the reason; asked for, a Dawn that cannot map buffers is refused', () => {
  // No Electron binary here: a stand-in executable answers the probe the way Electron's memory
  // cage would (a refused external ArrayBuffer), or dies, as a hard failure might.
  const dir = mkdtempSync(join(tmpdir(), 'tlab-fake-electron-'));
  try {
    const refuses = join(dir, 'refuses');
    writeFileSync(
      refuses,
      `#!/bin/sh\nprintf '%s' '{"ok":false,"reason":"External buffers are not allowed"}'\n`,
      { mode: 0o755 },
    );
    const crashes = join(dir, 'crashes');
    writeFileSync(crashes, '#!/bin/sh\necho "Trace/breakpoint trap" >&2\nkill -TRAP $$\n', { mode: 0o755 });
    for (const [fake, why] of [
      [refuses, /mapping a buffer failed: External buffers are not allowed/],
      [crashes, /the probe process was killed by SIGTRAP/],
    ] as const) {
      const script = `
        Object.defineProperty(process.versions, 'electron', { value: '45.0.0' });
        process.execPath = ${JSON.stringify(fake)};
        const { initBackend } = await import('./src/core/backend.ts');
        const auto = await initBackend('auto');
        const explicit = await initBackend('webgpu').then(() => 'picked', (e) => e.message);
        console.log(JSON.stringify({ tried: auto.tried, explicit }));`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, [BACKEND_ENV]: '' },
      });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        tried: { backend: string; picked: boolean; reason: string }[];
        explicit: string;
      };
      const w = out.tried.find((t) => t.backend === 'webgpu')!;
      assert.equal(w.picked, false);
      assert.match(w.reason, /not tried in an Electron process: .*electron#35801/);
      assert.ok(
        out.tried.some((t) => t.picked && t.backend !== 'webgpu'),
        JSON.stringify(out.tried),
      );
      assert.match(out.explicit, /backend 'webgpu' is not available: .*electron#35801/);
      assert.match(out.explicit, why);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
