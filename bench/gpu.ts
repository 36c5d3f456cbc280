/**
 * `npm run bench -- --gpu`: the webgpu backend (Dawn) against baselines measured in the same run.
 *
 * 1. Training steps/s of the 2-MLP (784→H→10, batch 128, SGD momentum 0.9) through trainModel on
 *    webgpu, on the engine's CPU backend (wasm), and in PyTorch on the same device: CUDA when
 *    PyTorch sees one, else the CPU (which is where an emulated adapter such as lavapipe computes).
 * 2. A whole experiment (examples/quick.json; `--quick`: a reduced copy) on webgpu and on wasm:
 *    seconds, where they went, and whether the two agree.
 *
 * On a CPU emulator the figures measure the emulator, not a GPU, and are labelled so. Nothing here
 * fails on a timing; without an adapter it says why and that nothing was measured.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/core/backend.js';
import { runExperiment } from '../src/core/experiment.js';
import { buildModel } from '../src/core/models/index.js';
import {
  parseSpec,
  type BackendInfo,
  type ExperimentResult,
  type ExperimentSpec,
  type MethodResult,
} from '../src/shared/domain/index.js';
import { runTorch, trainSteps, type TorchResult } from './training.js';

const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '—');

function quickSpec(quick: boolean): ExperimentSpec {
  const json = JSON.parse(readFileSync(new URL('../examples/quick.json', import.meta.url), 'utf8'));
  if (quick) {
    json.name = 'quick.json reduced for --quick';
    json.datasetOptions = { ...(json.datasetOptions ?? {}), trainLimit: 1000 };
    json.source.train.epochs = 2;
    json.transfer.T = 4;
    json.evalLimit = 500;
  }
  return parseSpec(json);
}

function torchOnSameDevice(hidden: number, steps: number, info: BackendInfo): TorchResult | string {
  const probe = runTorch(1, 1, ['--hidden', '8', '--device', 'cuda', '--warmup', '0']);
  if (typeof probe !== 'string') return runTorch(0, steps, ['--hidden', String(hidden), '--device', 'cuda']);
  if (info.device === 'gpu')
    return `PyTorch sees no CUDA device (${probe}); the same-device baseline was not measured`;
  // an emulated adapter computes on the CPU: PyTorch's CPU path with its default threads is the same device
  return runTorch(0, steps, ['--hidden', String(hidden)]);
}

async function timeExperiment(spec: ExperimentSpec, backend: 'webgpu' | 'wasm'): Promise<ExperimentResult> {
  await initBackend(backend);
  const before = tf.memory().numTensors;
  const r = await runExperiment({ ...spec, backend }, {});
  if (tf.memory().numTensors !== before)
    console.log(`  (${backend}: ${tf.memory().numTensors - before} tensors left behind)`);
  return r;
}

export async function benchGpu(opts: { quick: boolean }): Promise<void> {
  let info: BackendInfo;
  try {
    info = await initBackend('webgpu');
  } catch (e) {
    console.log(`webgpu is not available: ${(e as Error).message}`);
    console.log('GPU figures: not measured.');
    return;
  }
  const emulated = info.device !== 'gpu';
  console.log(describeBackend(info));
  if (emulated)
    console.log(
      '  NOTE: this adapter is a CPU emulator; the figures below measure the emulator on this CPU, not a GPU.',
    );

  const hidden = opts.quick ? 512 : 4096;
  const steps = opts.quick ? 5 : 20;
  console.log(`\n-- training steps/s: 2-MLP 784-${hidden}-10, batch 128, SGD momentum 0.9 --`);
  const model = buildModel({ arch: 'mlp', hidden: [hidden] }, [28, 28, 1], 10);
  const rows: [string, number][] = [];
  const gpuSps = await trainSteps(model, 2, steps);
  rows.push([`tfjs webgpu (${emulated ? 'CPU emulator' : 'GPU'})`, gpuSps]);
  const wasm = await initBackend('wasm');
  rows.push([
    `tfjs wasm (${wasm.simd ? 'SIMD, ' : ''}${wasm.threads} thread${wasm.threads === 1 ? '' : 's'})`,
    await trainSteps(model, 1, steps),
  ]);
  const torch = torchOnSameDevice(hidden, steps, info);
  if (typeof torch === 'string') console.log(`  PyTorch baseline: ${torch}`);
  else
    rows.push([
      `PyTorch ${torch.torch} on ${torch.device ?? 'cpu'} (${torch.threads} thread${torch.threads === 1 ? '' : 's'})`,
      torch.stepsPerSec,
    ]);
  const base = typeof torch === 'string' ? undefined : torch.stepsPerSec;
  for (const [name, sps] of rows)
    console.log(`  ${name.padEnd(52)} ${f2(sps).padStart(8)}${base ? `  ${f2(sps / base)}× PyTorch` : ''}`);

  const spec = quickSpec(opts.quick);
  console.log(`\n-- whole experiment: ${spec.name} --`);
  const results = {
    webgpu: await timeExperiment(spec, 'webgpu'),
    wasm: await timeExperiment(spec, 'wasm'),
  };
  for (const [name, r] of Object.entries(results)) {
    const phases = Object.entries(r.targets[0]?.methods ?? {})
      .map(([m, res]) => `${m} ${f2((res as MethodResult).seconds)} s`)
      .join(', ');
    console.log(
      `  ${name.padEnd(7)} ${f2(r.seconds).padStart(8)} s  (source trained in ${f2(r.source.seconds)} s; ${phases})`,
    );
  }
  console.log(`  webgpu / wasm: ${f2(results.webgpu.seconds / results.wasm.seconds)}× the time`);
  console.log(
    '  PyTorch whole-experiment baseline: not measured (the methods exist only in this TypeScript engine)',
  );
  const T = spec.transfer.T;
  for (const m of spec.transfer.methods) {
    const a = (results.webgpu.targets[0].methods as Record<string, MethodResult>)[m];
    const b = (results.wasm.targets[0].methods as Record<string, MethodResult>)[m];
    if (a && b)
      console.log(
        `  ${m.padEnd(7)} validation accuracy at T: webgpu ${f2(100 * a.valAccuracy[T])} %, wasm ${f2(100 * b.valAccuracy[T])} %`,
      );
  }
}
