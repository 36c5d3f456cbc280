/**
 * Runs a sweep on a lab service: one experiment per grid point, tagged as the sweep's, all queued
 * at once so the queue (embedded or BullMQ) runs their phase jobs as wide as it can and trains a
 * shared source once. Running the same sweep again resumes it: finished points are read back,
 * unfinished ones resume without redoing a finished phase.
 */
import { createHash } from 'node:crypto';
import type { ExperimentSummary, LabEvent } from '../../shared/lab-api.js';
import type { LabService } from '../lab-service.js';
import {
  type ExperimentResult,
  type ExperimentSpec,
  expandSweep,
  groupTag,
  pointTag,
  sweepTag,
  type SweepPoint,
} from '../../shared/domain/index.js';

export interface SweepRunOptions {
  service: LabService;
  /** the spec document with its `sweep` section */
  json: Record<string, unknown>;
  name: string;
  /** validates one point's spec (and resolves its paths) */
  toSpec: (json: Record<string, unknown>, point: SweepPoint) => ExperimentSpec;
  /** a point ended (done, failed, cancelled) */
  onPoint?: (p: SweepPointOutcome, ended: number, total: number) => void;
}

export interface SweepPointOutcome {
  point: SweepPoint;
  experimentId: string;
  status: ExperimentSummary['status'];
  result: ExperimentResult | null;
  /** read back from an earlier run of the sweep */
  earlier: boolean;
}

export function sweepId(json: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(json)).digest('hex').slice(0, 12);
}

/** "<sweep name> [<point label>]", shortened to the 120 characters a name may have (the label wins). */
function pointName(name: string, label: string): string {
  const full = `${name} [${label}]`;
  if (full.length <= 120) return full;
  const room = Math.max(0, 120 - label.length - 4);
  return `${name.slice(0, room)}… [${label}]`.slice(0, 120);
}

const ENDED = new Set(['done', 'failed', 'cancelled', 'interrupted']);

export async function runSweep(
  o: SweepRunOptions,
): Promise<{ sweepId: string; points: SweepPointOutcome[] }> {
  const { service } = o;
  const { store } = service;
  const id = sweepId(o.json);
  const points = expandSweep(o.json);
  const specs = points.map((p) => {
    try {
      return o.toSpec(p.spec, p);
    } catch (e) {
      throw new Error(`sweep point ${p.index} (${p.label}): ${(e as Error).message}`);
    }
  });
  const earlier = store.listExperiments({ tags: [sweepTag(id)], limit: 100_000 }).items;
  const ids: string[] = [];
  const pending = new Set<string>();
  const alreadyDone = new Set<string>();
  for (const p of points) {
    const found = earlier.find((e) => e.tags.includes(pointTag(p.index)));
    if (found?.status === 'done') {
      ids.push(found.id);
      alreadyDone.add(found.id);
      continue;
    }
    if (found) {
      await service.request('experiments.resume', { id: found.id });
      ids.push(found.id);
    } else {
      const { id: eid } = (await service.request('experiments.create', {
        spec: specs[p.index],
        name: pointName(o.name, p.label),
        tags: [sweepTag(id), pointTag(p.index), groupTag(id, p.groupIndex)],
      })) as { id: string };
      ids.push(eid);
    }
    pending.add(ids[p.index]!);
  }

  const outcome = (p: SweepPoint): SweepPointOutcome => {
    const experimentId = ids[p.index]!;
    const s = store.getExperimentSummary(experimentId);
    const meta = store.latestArtifact(experimentId, 'result')?.meta;
    return {
      point: p,
      experimentId,
      status: s?.status ?? 'failed',
      result: s?.status === 'done' && meta ? (meta as unknown as ExperimentResult) : null,
      earlier: alreadyDone.has(experimentId),
    };
  };
  let ended = 0;
  for (const p of points) if (alreadyDone.has(ids[p.index]!)) o.onPoint?.(outcome(p), ++ended, points.length);

  await new Promise<void>((resolve) => {
    const check = (e: LabEvent): void => {
      if (e.type !== 'experiment.updated' || !pending.has(e.experiment.id)) return;
      if (!ENDED.has(e.experiment.status) || service.queue.has(e.experiment.id)) return;
      pending.delete(e.experiment.id);
      const p = points[ids.indexOf(e.experiment.id)]!;
      o.onPoint?.(outcome(p), ++ended, points.length);
      if (pending.size === 0) resolve();
    };
    const off = service.onEvent(check);
    // Points that ended before we listened.
    const sweepOnce = (): void => {
      for (const eid of [...pending]) {
        const s = store.getExperimentSummary(eid);
        if (s && ENDED.has(s.status) && !service.queue.has(eid))
          check({ type: 'experiment.updated', experiment: s });
      }
    };
    const timer = setInterval(sweepOnce, 1000);
    sweepOnce();
    const done = (): void => {
      clearInterval(timer);
      off();
    };
    if (pending.size === 0) {
      done();
      resolve();
    } else
      void new Promise<void>((r) => {
        const t = setInterval(() => {
          if (pending.size === 0) {
            clearInterval(t);
            r();
          }
        }, 200);
      }).then(done);
  });
  return { sweepId: id, points: points.map(outcome) };
}
