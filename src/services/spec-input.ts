/**
 * Specs arriving through the API are checked by the domain's one parser; its SpecError (a
 * DomainError 'invalid') is renamed to the request's argument path ('spec.transfer.T').
 * Paths in a spec from the UI must be absolute: there is no spec file for them to be relative to.
 */
import { isAbsolute } from 'node:path';
import {
  invalid,
  parseArch,
  parseDataset,
  parseSpec,
  SpecError,
  type ArchSpec,
  type DatasetSpec,
  type ExperimentSpec,
} from '../shared/domain/index.js';

function join(prefix: string, field: string): string {
  return prefix && field ? `${prefix}.${field}` : prefix || field;
}

/** Runs `parse`, naming a SpecError's field under `argName` ('spec' + 'transfer.T'). */
function underArg<T>(argName: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof SpecError) throw invalid(e.message, join(argName, e.field === '(spec)' ? '' : e.field));
    throw e;
  }
}

function checkAbsolute(path: string | undefined, field: string): void {
  if (path !== undefined && !isAbsolute(path)) throw invalid('must be an absolute path', field);
}

export function parseSpecArg(input: unknown, argName = 'spec'): ExperimentSpec {
  const spec = underArg(argName, () => parseSpec(input));
  if ('dir' in spec.dataset) checkAbsolute(spec.dataset.dir, `${argName}.dataset.dir`);
  checkAbsolute(spec.source.init.file, `${argName}.source.init.file`);
  spec.targets.forEach((t, i) => checkAbsolute(t.init.file, `${argName}.targets[${i}].init.file`));
  return spec;
}

/** A dataset spec alone; errors name '<argName>.dir' and so on. */
export function parseDatasetArg(input: unknown, argName = 'spec'): DatasetSpec {
  const spec = underArg('', () => parseDataset(input, argName));
  if ('dir' in spec) checkAbsolute(spec.dir, `${argName}.dir`);
  return spec;
}

export function parseArchArg(input: unknown, argName = 'arch'): ArchSpec {
  return underArg('', () => parseArch(input, argName));
}
