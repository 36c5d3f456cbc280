import type { ExperimentSpec, InitSpec } from '../shared/domain/index.js';
import { LabRequestError } from '../shared/lab-errors.js';
import type { LabStore } from './store/index.js';

/**
 * Specs name stored parameter sets by id (`init: { paramSet }`), never by the path of their weights
 * file, so an experiment exported in a bundle and imported elsewhere still runs. The id becomes a
 * file only when a job starts: the worker gets an id → weights-file map with its start message.
 */

/** Every `init.paramSet` of a spec with the field that names it. */
export function paramSetRefs(spec: ExperimentSpec): { field: string; id: string }[] {
  const out: { field: string; id: string }[] = [];
  const visit = (init: InitSpec, field: string): void => {
    if (init.paramSet !== undefined) out.push({ field: `${field}.paramSet`, id: init.paramSet });
  };
  visit(spec.source.init, 'source.init');
  spec.targets.forEach((t, i) => visit(t.init, `targets[${i}].init`));
  return out;
}

/** id → absolute weights path for every set the spec names; an unknown id is refused naming its field. */
export function resolveParamSets(store: LabStore, spec: ExperimentSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { field, id } of paramSetRefs(spec)) {
    const set = store.getParamSet(id);
    if (!set)
      throw new LabRequestError({
        code: 'invalid',
        message: `spec field "${field}": no parameter set with id ${id} in this lab`,
        field: `spec.${field}`,
      });
    out[id] = store.weightsPath(set.sha256);
  }
  return out;
}

/** The engine hook that turns an id into its file, from a resolved map. */
export function paramSetResolver(map: Record<string, string> | undefined): (id: string) => Promise<string> {
  return async (id) => {
    const path = map?.[id];
    if (!path) throw new Error(`parameter set ${id} was not resolved by the lab`);
    return path;
  };
}
