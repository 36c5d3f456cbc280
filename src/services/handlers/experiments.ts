/**
 * experiments.*, metrics.get and jobs.list: the history, and the life of a run (create → queue →
 * worker; cancel; resume an interrupted one without redoing finished phases; rerun as new).
 */
import { resolveParamSets } from '../param-set-refs.js';
import { conflict, type MethodName, type MethodResult, notFound } from '../../shared/domain/index.js';
import type { FinishedMethod } from '../../shared/worker-protocol.js';
import { checkResources, parseSpecArg } from '../spec-input.js';
import type { HandlerTable, ServiceContext } from './context.js';

export function experimentHandlers(
  ctx: ServiceContext,
): HandlerTable<
  | 'experiments.list'
  | 'experiments.get'
  | 'experiments.getMany'
  | 'experiments.create'
  | 'experiments.update'
  | 'experiments.deletePlan'
  | 'experiments.delete'
  | 'experiments.cancel'
  | 'experiments.resume'
  | 'experiments.rerun'
  | 'metrics.get'
  | 'jobs.list'
> {
  const { store, queue } = ctx;
  const mustExist = (id: string): void => {
    if (!store.hasExperiment(id)) throw notFound(`experiment ${id}`);
  };
  const announce = (id: string): void => {
    const s = store.getExperimentSummary(id);
    if (s) ctx.emit({ type: 'experiment.updated', experiment: s });
  };

  /** Waits for a cancelled job's worker to be gone, so its rows are settled before we touch them. */
  const stopped = async (id: string): Promise<void> => {
    for (let i = 0; queue.has(id) && i < 200; i++) await new Promise((r) => setTimeout(r, 25));
    if (queue.has(id)) throw conflict(`experiment ${id} is still stopping; try again`);
  };

  return {
    'experiments.list': (args) => store.listExperiments(args),

    'experiments.get': ({ id }) => {
      const e = store.getExperiment(id);
      if (!e) throw notFound(`experiment ${id}`);
      return e;
    },

    'experiments.getMany': ({ ids }) => {
      const items = store.getExperiments(ids);
      const found = new Set(items.map((e) => e.id));
      return { items, missing: ids.filter((id) => !found.has(id)) };
    },

    'experiments.create': async ({ spec: specArg, name, tags, notes, allowLarge }) => {
      const spec = parseSpecArg(specArg);
      checkResources(spec, allowLarge);
      resolveParamSets(store, spec); // an unknown set is refused now, naming its field
      const e = store.createExperiment({ spec, name, tags, notes, origin: 'lab' });
      // In chunks: thousands of targets must not hold the other clients (issue 8, item 2).
      await store.planRunsInChunks(e.id, e.spec);
      const id = e.id;
      store.appendLog(id, 'info', 'created and queued');
      announce(id);
      ctx.enqueue(id);
      return { id };
    },

    'experiments.update': ({ id, name, tags, notes }) => {
      mustExist(id);
      const s = store.updateExperiment(id, { name, tags, notes });
      if (!s) throw notFound(`experiment ${id}`);
      ctx.emit({ type: 'experiment.updated', experiment: s });
      return s;
    },

    'experiments.deletePlan': ({ id }) => {
      const plan = store.deletePlan(id);
      if (!plan) throw notFound(`experiment ${id}`);
      return plan;
    },

    'experiments.delete': async ({ id, paramSets }) => {
      mustExist(id);
      if (queue.has(id)) {
        queue.cancel(id, 'the experiment was deleted');
        await stopped(id);
      }
      const r = await store.deleteExperimentAndWeights(id, paramSets);
      if (r.deleted) ctx.emit({ type: 'experiment.deleted', id });
      return r;
    },

    'experiments.cancel': ({ id }) => {
      mustExist(id);
      return { cancelled: queue.cancel(id) };
    },

    'experiments.resume': ({ id }) => {
      const e = store.getExperiment(id);
      if (!e) throw notFound(`experiment ${id}`);
      if (queue.has(id)) throw conflict(`experiment ${id} is already queued or running`);
      // Phases the spec implies but that have no run yet (all of them, for an experiment imported
      // without runs) are planned first, so they count as open.
      const runs = store.planRuns(id, e.spec);
      const open = runs.filter((r) => r.status !== 'done');
      if (open.length === 0) throw conflict(`experiment ${id} has nothing left to run`);
      // Methods that finished are handed back to the engine; trained source/targets come back
      // through the trained cache (by training key), so neither is computed again.
      const finished: FinishedMethod[] = runs
        .filter(
          (r) =>
            r.kind === 'transfer' && r.status === 'done' && r.summary && r.method && r.targetIndex !== null,
        )
        .map((r) => ({
          target: r.targetIndex!,
          method: r.method as MethodName,
          result: r.summary as MethodResult,
        }));
      store.transaction(() => {
        for (const r of open)
          store.updateRun(r.id, { status: 'queued', error: null, startedAt: null, finishedAt: null });
      });
      store.appendLog(
        id,
        'info',
        `resumed: ${runs.length - open.length} of ${runs.length} phases already done`,
      );
      for (const r of store.listRuns(id))
        if (r.status === 'queued') ctx.emit({ type: 'run.updated', run: r });
      announce(id);
      ctx.enqueue(id, finished);
      return { id };
    },

    'experiments.rerun': ({ id }) => {
      const e = store.getExperiment(id);
      if (!e) throw notFound(`experiment ${id}`);
      const newId = store.transaction(() => {
        const copy = store.createExperiment({
          spec: e.spec,
          name: `${e.name} (rerun)`,
          tags: e.tags,
          notes: e.notes,
          origin: 'lab',
        });
        store.planRuns(copy.id, copy.spec);
        return copy.id;
      });
      store.appendLog(newId, 'info', `rerun of ${id}`);
      announce(newId);
      ctx.enqueue(newId);
      return { id: newId };
    },

    'metrics.get': ({ experimentIds, keys }) => store.metrics(experimentIds, keys),

    'jobs.list': () => queue.list(),
  };
}
