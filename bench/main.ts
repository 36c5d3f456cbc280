/**
 * `npm run bench` — not part of the tests, never gates CI. Every figure is a ratio against a
 * baseline measured in the same run on the same machine (scipy for assignment, PyTorch for
 * training; Debian's python3-scipy / python3-torch when installed).
 * `npm run bench -- --quick` for smaller sizes; `--only assignment|training|floors` for one part,
 * or `--only <floor>` (a prefix: `--only similarity`, `--only eval`) for one row of the floors;
 * `--reps N` (≥ 3) interleaved pairs per floor; `--rows a,b` picks floors (assignment, evaluation,
 * step, similarity, experiment, threads); `--threads N` for both sides of the floors (default: the
 * wasm backend's, TRAJECTORY_LAB_WASM_THREADS or every core); `--gpu` for the webgpu backend
 * against PyTorch on the same device (bench/gpu.ts) instead.
 */
import { benchAssignment } from './assignment.js';
import { benchFloors, FLOOR_ROWS } from './floors.js';
import { benchGpu } from './gpu.js';
import { benchTraining } from './training.js';

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const flag = (name: string): number | undefined => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : undefined;
};

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
  // `--only eval` and `--only similarity` name floors by a prefix; the parts' own names come first
  const floorRows =
    only && !['assignment', 'training', 'floors'].includes(only)
      ? FLOOR_ROWS.filter((r) => r.startsWith(only))
      : [];
  if (only && only !== 'floors' && !['assignment', 'training'].includes(only) && floorRows.length === 0)
    throw new Error(
      `--only ${only}: not a part (assignment, training, floors) nor a floor (${FLOOR_ROWS.join(', ')})`,
    );
  if (!only || only === 'floors' || floorRows.length > 0) {
    console.log('\n== Floors of issue 9: engine vs PyTorch/scipy, interleaved ==');
    const rowsAt = process.argv.indexOf('--rows');
    await benchFloors({
      quick,
      reps: flag('--reps'),
      threads: flag('--threads'),
      rows: floorRows.length ? floorRows : rowsAt >= 0 ? process.argv[rowsAt + 1].split(',') : undefined,
    });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
