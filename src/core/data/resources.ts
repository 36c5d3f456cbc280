/**
 * Where the bundled resources live. Tests and the CLI run from the source tree, the Electron build
 * from out/, a packaged app from somewhere else again: so walk up from this module (then from the
 * working directory) to the first folder holding resources/datasets, unless
 * TRAJECTORY_LAB_RESOURCES names the resources folder outright.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatasetError } from './errors.js';

export const RESOURCES_ENV = 'TRAJECTORY_LAB_RESOURCES';

function walkUp(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'resources', 'datasets'))) return join(dir, 'resources');
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function moduleDir(): string | null {
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    // bundled to CommonJS or loaded from a non-file URL: fall back to the working directory
    return null;
  }
}

/** The resources folder (the one containing datasets/). */
function resourcesDir(): string {
  const env = process.env[RESOURCES_ENV];
  if (env) {
    if (!existsSync(join(env, 'datasets'))) {
      throw new DatasetError(env, `${RESOURCES_ENV} points here but there is no datasets/ folder in it`);
    }
    return resolve(env);
  }
  const from = moduleDir();
  const found = (from && walkUp(from)) ?? walkUp(process.cwd());
  if (!found) {
    throw new DatasetError(
      from ?? process.cwd(),
      `cannot find resources/datasets in this folder, its parents, or those of ${process.cwd()}; set ${RESOURCES_ENV} to the resources folder`,
    );
  }
  return found;
}

/** Folder of a bundled dataset. */
export function builtinDatasetDir(name: string): string {
  const dir = join(resourcesDir(), 'datasets', name);
  if (!existsSync(dir)) throw new DatasetError(dir, `bundled dataset "${name}" is missing`);
  return dir;
}
