/**
 * `npm run bench` — not part of the tests, never gates CI. Every figure is a ratio against a
 * baseline measured in the same run on the same machine (scipy for assignment, PyTorch for
 * training; Debian's python3-scipy / python3-torch when installed).
 * `npm run bench -- --quick` for smaller sizes; `--only assignment|training` for one part;
 * `--gpu` for the webgpu backend against PyTorch on the same device (bench/gpu.ts) instead.
 */
import { benchAssignment } from './assignment.js';
import { benchGpu } from './gpu.js';
import { benchTraining } from './training.js';

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;

async function main(): Promise<void> {
  console.log(`Trajectory Lab benchmarks (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}`);
  if (process.argv.includes('--gpu')) {
    console.log('\n== webgpu (Dawn) vs wasm and PyTorch on the same device ==');
    return benchGpu({ quick });
  }
  if (!only || only === 'assignment') {
    console.log('\n== linear assignment: JS solver vs scipy.optimize.linear_sum_assignment ==');
    await benchAssignment({ quick });
  }
  if (!only || only === 'training') {
    console.log('\n== 2-MLP training: TensorFlow.js vs PyTorch CPU ==');
    await benchTraining({ quick });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
