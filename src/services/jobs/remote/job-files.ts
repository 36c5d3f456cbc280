/**
 * The files a job names on the host — parameter files (`init.file`), trained endpoints
 * (`source.trained`, `targets[].trained`, with checkpoints), a given validation split and the
 * weights of parameter sets named by id — travel to a remote worker by content: the host lists
 * them by sha256 in the job, the worker downloads each through the gateway (verified) and runs
 * the task on its local copies, then puts the host's paths back into what it reports, so results
 * and logs read as they would on the host.
 */
import type { ExperimentSpec } from '../../../shared/domain/index.js';
import type { PhaseTask } from '../task-runner.js';

/** A copy of the spec with every file path it names passed through `f`. */
export function mapSpecFiles(spec: ExperimentSpec, f: (path: string) => string): ExperimentSpec {
  const init = <T extends { file?: string }>(i: T): T =>
    i.file === undefined ? i : { ...i, file: f(i.file) };
  const trained = <T extends { file: string; checkpoints?: string[] } | undefined>(t: T): T =>
    t === undefined
      ? t
      : { ...t, file: f(t.file), ...(t.checkpoints ? { checkpoints: t.checkpoints.map(f) } : {}) };
  const vi = spec.datasetOptions.validationIndices;
  return {
    ...spec,
    datasetOptions: { ...spec.datasetOptions, ...(vi === undefined ? {} : { validationIndices: f(vi) }) },
    source: {
      ...spec.source,
      init: init(spec.source.init),
      ...(spec.source.trained ? { trained: trained(spec.source.trained) } : {}),
    },
    targets: spec.targets.map((t) => ({
      ...t,
      init: init(t.init),
      ...(t.trained ? { trained: trained(t.trained) } : {}),
    })),
  };
}

/** Every host file a task needs: the spec's files and the resolved parameter sets' weights. */
export function taskFiles(task: PhaseTask): string[] {
  const out = new Set<string>();
  mapSpecFiles(task.spec, (p) => (out.add(p), p));
  for (const p of Object.values(task.paramSets ?? {})) out.add(p);
  return [...out];
}

/** The task with each host path replaced by the worker's local copy. */
export function localTask(task: PhaseTask, local: ReadonlyMap<string, string>): PhaseTask {
  const f = (p: string): string => local.get(p) ?? p;
  return {
    ...task,
    spec: mapSpecFiles(task.spec, f),
    ...(task.paramSets
      ? { paramSets: Object.fromEntries(Object.entries(task.paramSets).map(([id, p]) => [id, f(p)])) }
      : {}),
  };
}

/**
 * `value` with every occurrence of a local path (in any string, at any depth) replaced by the
 * host's path, so a result, a summary's `fromFile` or a log line names the file the host knows.
 */
export function hostPaths<T>(value: T, local: ReadonlyMap<string, string>): T {
  if (local.size === 0) return value;
  // Longest first, so a path that is a prefix of another never cuts it.
  const pairs = [...local]
    .map(([host, mine]) => [mine, host] as const)
    .sort((a, b) => b[0].length - a[0].length);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      let s = v;
      for (const [mine, host] of pairs) if (s.includes(mine)) s = s.split(mine).join(host);
      return s;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
