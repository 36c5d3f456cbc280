/**
 * Specs arriving through the API are checked by the engine's own parser, and its SpecError
 * becomes a LabError whose `field` is the request's argument path ('spec.transfer.T').
 * Paths in a spec from the UI must be absolute: there is no spec file for them to be relative to.
 */
import { totalmem } from 'node:os';
import { isAbsolute } from 'node:path';
import { estimateResources, refusals, type ResourceEstimate } from '../shared/domain/resource-estimate.js';
import {
  parseArch,
  parseSpec,
  SpecError,
  type ArchSpec,
  type DatasetSpec,
  type ExperimentSpec,
} from '../core/spec.js';
import { LabRequestError } from '../shared/lab-api.js';

function invalid(field: string, message: string): LabRequestError {
  return new LabRequestError({ code: 'invalid', message, field });
}

function join(prefix: string, field: string): string {
  return field ? `${prefix}.${field}` : prefix;
}

export function parseSpecArg(input: unknown, argName = 'spec'): ExperimentSpec {
  let spec: ExperimentSpec;
  try {
    spec = parseSpec(input);
  } catch (e) {
    if (e instanceof SpecError) throw invalid(join(argName, e.field === '(spec)' ? '' : e.field), e.message);
    throw e;
  }
  if ('dir' in spec.dataset && !isAbsolute(spec.dataset.dir))
    throw invalid(`${argName}.dataset.dir`, 'must be an absolute path');
  if (spec.source.init.file !== undefined && !isAbsolute(spec.source.init.file))
    throw invalid(`${argName}.source.init.file`, 'must be an absolute path');
  spec.targets.forEach((t, i) => {
    if (t.init.file !== undefined && !isAbsolute(t.init.file))
      throw invalid(`${argName}.targets[${i}].init.file`, 'must be an absolute path');
  });
  return spec;
}

/**
 * Refuses a spec that cannot fit this machine (hard limits), or that is very likely a mistake
 * (soft limits) unless `allowLarge` accepts it knowingly. The error names the field and the estimate.
 */
export function checkResources(spec: ExperimentSpec, allowLarge = false, argName = 'spec'): ResourceEstimate {
  const estimate = estimateResources(spec, { memoryBytes: totalmem() });
  const refused = refusals(estimate, allowLarge);
  if (refused.length) {
    const first = refused[0];
    const soft = refused.every((f) => f.limit === 'soft');
    throw new LabRequestError({
      code: 'invalid',
      field: join(argName, first.field),
      message:
        refused.map((f) => `spec field "${f.field}": ${f.message}`).join('; ') +
        (soft ? '. To run it anyway, create it with allowLarge: true' : ''),
    });
  }
  return estimate;
}

/**
 * A dataset spec alone. The engine parses datasets as part of a spec, so wrap it in the smallest
 * valid one and map 'dataset.dir' back to '<argName>.dir'.
 */
export function parseDatasetArg(input: unknown, argName = 'spec'): DatasetSpec {
  const wrapper = {
    dataset: input,
    model: { arch: 'mlp', hidden: [1] },
    source: { init: { seed: 0 } },
    targets: [{ init: { seed: 1 } }],
  };
  try {
    const spec = parseSpec(wrapper);
    if ('dir' in spec.dataset && !isAbsolute(spec.dataset.dir))
      throw invalid(`${argName}.dir`, 'must be an absolute path');
    return spec.dataset;
  } catch (e) {
    if (e instanceof SpecError)
      throw invalid(
        join(argName, e.field.replace(/^dataset\.?/, '')),
        e.message.replace('"dataset.', `"${argName}.`).replace('"dataset"', `"${argName}"`),
      );
    throw e;
  }
}

export function parseArchArg(input: unknown, argName = 'arch'): ArchSpec {
  try {
    return parseArch(input, argName);
  } catch (e) {
    if (e instanceof SpecError) throw invalid(e.field, e.message);
    throw e;
  }
}
