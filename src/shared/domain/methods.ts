/**
 * The transfer methods as the lab knows them, without tensors: name, label, display order, colour,
 * whether it needs the target actually trained, and its cost in gradient evaluations. The spec
 * parser, the cost model, the store's run plan, the wizard, tables and charts all read this list;
 * src/core/methods adds the tensor side under the same names.
 *
 * Adding a method: one entry in BUILTIN_METHODS here, its implementation in src/core/methods
 * (the METHODS record there is typed by MethodName, so the compiler asks for it).
 */

export interface MethodInfo {
  name: string;
  label: string;
  /** one line for the wizard */
  description: string;
  /** where it is listed and coloured: lower first */
  order: number;
  /** fallback colour of its curves (a CSS variable `--m-<name>` overrides it) */
  colour: string;
  /** needs θ2 actually trained with the source's settings (Oracle): the run plan adds a target phase */
  needsTrainedTarget: boolean;
  /** minibatch gradients for a trajectory of length T, each averaged over gradBatches minibatches */
  gradientEvaluations(T: number, gradBatches: number): number;
}

const BUILTIN_METHODS = [
  {
    name: 'naive',
    label: 'Naive',
    description: 'No permutation: adds the source’s updates as they are. A lower reference, free.',
    order: 3,
    colour: '#6b7280',
    needsTrainedTarget: false,
    gradientEvaluations: () => 0,
  },
  {
    name: 'oracle',
    label: 'Oracle',
    description: 'Matches with the actually trained target — an upper reference that needs full training.',
    order: 2,
    colour: '#8b3fd9',
    needsTrainedTarget: true,
    gradientEvaluations: () => 0,
  },
  {
    name: 'gmt',
    label: 'GMT',
    description: 'Gradient matching along the trajectory (Alg. 1). Best quality; O(T²) gradients.',
    order: 0,
    colour: '#2563eb',
    needsTrainedTarget: false,
    gradientEvaluations: (T: number, gradBatches: number) => T * (T + 1) * gradBatches,
  },
  {
    name: 'fgmt',
    label: 'FGMT',
    description: 'Fast GMT (Alg. 2): reuses earlier gradient pairs. O(T) gradients.',
    order: 1,
    colour: '#e8590c',
    needsTrainedTarget: false,
    gradientEvaluations: (T: number, gradBatches: number) => 2 * T * gradBatches,
  },
] as const satisfies readonly MethodInfo[];

export type MethodName = (typeof BUILTIN_METHODS)[number]['name'];

const registry = new Map<string, MethodInfo>(BUILTIN_METHODS.map((m) => [m.name, m]));

/**
 * Adds a method at run time (tests, plug-ins); returns a function that removes it again. Code
 * that lists methods reads the registry when it runs, so a registered method shows up everywhere.
 */
export function registerMethod(info: MethodInfo): () => void {
  if (registry.has(info.name)) throw new Error(`method "${info.name}" is already registered`);
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(info.name)) throw new Error(`bad method name "${info.name}"`);
  registry.set(info.name, info);
  return () => void registry.delete(info.name);
}

/** Names in declaration order: the spec's default `transfer.methods` and the engine's run order. */
export function methodNames(): MethodName[] {
  return [...registry.keys()] as MethodName[];
}

/** All methods in display order (wizard options, legends, tables). */
export function listMethods(): MethodInfo[] {
  return [...registry.values()].sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

export function isMethodName(name: string): name is MethodName {
  return registry.has(name);
}

export function methodInfo(name: string): MethodInfo | undefined {
  return registry.get(name);
}

/** A method's label, or the name itself for one the registry does not know (an old bundle's). */
export function methodLabel(name: string): string {
  return registry.get(name)?.label ?? name;
}

export function needsTrainedTarget(methods: readonly string[]): boolean {
  return methods.some((m) => registry.get(m)?.needsTrainedTarget);
}

export function gradientEvaluations(method: string, T: number, gradBatches: number): number {
  return registry.get(method)?.gradientEvaluations(T, gradBatches) ?? 0;
}

/** Sorts method names (and other group names after them) in display order. */
export function compareMethodNames(a: string, b: string): number {
  const oa = registry.get(a)?.order ?? Number.MAX_SAFE_INTEGER;
  const ob = registry.get(b)?.order ?? Number.MAX_SAFE_INTEGER;
  return oa - ob || a.localeCompare(b);
}
