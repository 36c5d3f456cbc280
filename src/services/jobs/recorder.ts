/**
 * What one job's worker messages mean for the store and the UI: engine phases move the planned
 * run rows ('pretrain:source', 'source', 'target:i', 'transfer:i:method') through running → done; metrics are
 * written in batches and pushed live; trained weights the worker wrote become parameter sets; the
 * end of the job settles every run that is still open.
 */
import {
  experimentAnalyses,
  parsePhase,
  type BackendInfo,
  type ExperimentResult,
  type MethodResult,
  type TrainedSummary,
} from '../../shared/domain/index.js';
import type { LabEvent, RunRecord, RunStatus } from '../../shared/lab-api.js';
import { diskFullMessage, isDiskFull } from '../store/disk-space.js';
import type {
  ArtifactMessage,
  CacheLoadMessage,
  CacheReplyMessage,
  FromWorker,
  ToWorker,
} from '../../shared/worker-protocol.js';
import type { LabStore, RunPatch } from '../store/index.js';
import { EtaEstimator } from './eta.js';
import { MetricBuffer } from './metric-buffer.js';
import type { JobObserver, JobOutcome } from './queue.js';
import { logger } from '../log.js';

const logError = (o: object, msg: string): void => logger('recorder').error(o, msg);

export interface RecorderOptions {
  store: LabStore;
  emit: (e: LabEvent) => void;
  experimentId: string;
  /** a worker told which backend it uses */
  onBackend?: (b: BackendInfo) => void;
  flushMs?: number;
  flushPoints?: number;
}

const OPEN: RunStatus[] = ['queued', 'running', 'interrupted'];

function nowIso(): string {
  return new Date().toISOString();
}

/** The run a phase's result belongs to in a finished ExperimentResult. */
function summaryFromResult(result: ExperimentResult, run: RunRecord): MethodResult | TrainedSummary | null {
  if (run.kind === 'source') return result.source;
  if (run.kind === 'pretrain')
    return (
      (run.targetIndex === null ? result.pretrain?.source : result.pretrain?.targets[run.targetIndex]) ?? null
    );
  const target = run.targetIndex === null ? undefined : result.targets[run.targetIndex];
  if (!target) return null;
  if (run.kind === 'target') return target.trained ?? null;
  return (run.method && target.methods[run.method as keyof typeof target.methods]) || null;
}

/**
 * 'source seed 101 (trained)', 'target seed 102 (trained)'; a pre-training's (saved under the role
 * 'target' whoever it pre-trains) says whose start it is: 'pre-trained source seed 101'.
 */
function trainedSetName(phase: string, role: string, label: string): string {
  const p = parsePhase(phase);
  if (p?.kind !== 'pretrain') return `${role} ${label} (trained)`;
  return `pre-trained ${p.of === 'source' ? 'source' : `target ${p.of + 1}`} ${label}`;
}

export function jobRecorder(o: RecorderOptions): JobObserver {
  const { store, emit, experimentId } = o;
  const eta = new EtaEstimator();
  let backendName: string | null = null;
  /**
   * The trained set last found for each training ('source', 'target:0'; '' when the worker did
   * not say), to attach to the 'reused' phase that follows: phase jobs of one experiment look
   * things up at the same time.
   */
  const hits = new Map<string, { paramSetId: string; summary: TrainedSummary }>();
  const hitFor = (phase: string) => hits.get(phase) ?? hits.get('') ?? null;
  const metrics = new MetricBuffer({
    intervalMs: o.flushMs,
    maxPoints: o.flushPoints,
    write: (points) => {
      store.appendMetrics(points);
      emit({ type: 'metrics', experimentId, points });
    },
    onError: (e, dropped) =>
      warn(
        `writing metrics failed (${(e as Error).message ?? String(e)}); ${dropped ? `${dropped} points were dropped` : 'they are kept for the next try'}`,
      ),
  });

  const runFor = (phase: string): RunRecord | null => store.runByPhase(experimentId, phase);

  const experimentChanged = (): void => {
    const s = store.getExperimentSummary(experimentId);
    if (s) emit({ type: 'experiment.updated', experiment: s });
  };

  const patchRun = (run: RunRecord, patch: RunPatch): RunRecord | null => {
    const updated = store.updateRun(run.id, patch);
    if (updated) emit({ type: 'run.updated', run: updated });
    return updated;
  };

  const log = (level: 'info' | 'warn' | 'error', message: string): void => {
    const entry = store.appendLog(experimentId, level, message);
    emit({ type: 'log', experimentId, level, message, at: entry.at });
  };

  const onPhase = (phase: string, state: 'start' | 'done' | 'reused', seconds?: number): void => {
    const run = runFor(phase);
    if (!run) return; // 'data' and anything the plan does not know
    if (state === 'start') {
      eta.forget(phase);
      patchRun(run, {
        status: 'running',
        startedAt: nowIso(),
        finishedAt: null,
        error: null,
        backend: backendName,
      });
    } else if (state === 'done') {
      // A method's run is done with its result ('method-done', right after), so the experiment
      // never looks finished while a result is still on its way.
      if (run.kind === 'transfer') return;
      patchRun(run, {
        status: 'done',
        finishedAt: nowIso(),
        ...(seconds !== undefined ? { seconds } : {}),
        backend: backendName ?? run.backend,
      });
    } else if (run.status !== 'done') {
      // Reused from the trained cache (or a finished method of an earlier attempt).
      const summary = run.kind === 'transfer' ? run.summary : (hitFor(phase)?.summary ?? null);
      patchRun(run, {
        status: 'done',
        finishedAt: nowIso(),
        seconds: 0,
        ...(summary ? { summary: { ...summary, reused: true } as TrainedSummary } : {}),
      });
    }
    const hit = hitFor(phase);
    if (state === 'reused' && phase === 'source' && hit)
      store.updateExperiment(experimentId, { sourceParamSetId: hit.paramSetId });
    experimentChanged();
  };

  /** A warning in the experiment's log, or on stderr when the store itself is what fails. */
  const warn = (message: string): void => {
    try {
      log('warn', message);
    } catch (e) {
      logError({ err: e, experimentId }, `${message} (and the experiment's log could not be written)`);
    }
  };

  /** Always replies: the worker waits for the answer before it trains or reuses. A failed lookup is a miss. */
  const onCacheLoad = (msg: CacheLoadMessage, reply: (m: ToWorker) => void): void => {
    let hit: CacheReplyMessage['hit'] = null;
    const slot = msg.phase ?? '';
    hits.delete(slot);
    try {
      const lookup = store.trainedLookup(msg.key);
      if (lookup) {
        const { paramSet: found, summary } = lookup;
        hit = { path: lookup.path, sha256: found.sha256, summary };
        hits.set(slot, { paramSetId: found.id, summary });
        // Counted as used now: from here on, deleting the experiment that trained it must not take it.
        store.recordParamSetUse(
          found.id,
          experimentId,
          found.name.startsWith('source ') ? 'source' : 'target',
        );
      }
    } catch (e) {
      hit = null;
      hits.delete(slot);
      warn(`looking up trained parameters failed (${(e as Error).message ?? String(e)}); training again`);
    }
    reply({ type: 'cache-reply', requestId: msg.requestId, hit });
  };

  const onArtifact = (msg: ArtifactMessage, reply: (m: ToWorker) => void): void => {
    try {
      const { reused: _reused, ...summary } = msg.summary;
      const spec = store.getExperiment(experimentId)?.spec;
      if (!spec) throw new Error(`experiment ${experimentId} is gone`);
      const record =
        store.listTrainedByKey(msg.key).find((p) => p.sha256 === msg.sha256) ??
        store.addParamSet({
          name: trainedSetName(msg.phase, msg.role, summary.label),
          arch: spec.model,
          inputShape: msg.inputShape,
          classes: msg.classes,
          origin: 'trained',
          seed: msg.seed,
          trainingKey: msg.key,
          sha256: msg.sha256,
          bytes: msg.bytes,
          points: msg.points,
          summary,
          datasetHash: msg.datasetHash,
          experimentId,
        });
      store.recordParamSetUse(record.id, experimentId, msg.role);
      if (msg.role === 'source') store.updateExperiment(experimentId, { sourceParamSetId: record.id });
      const run = runFor(msg.phase);
      if (run) patchRun(run, { summary });
      reply({ type: 'artifact-saved', requestId: msg.requestId, paramSetId: record.id, error: null });
      experimentChanged();
    } catch (e) {
      reply({
        type: 'artifact-saved',
        requestId: msg.requestId,
        paramSetId: null,
        error: (e as Error).message,
      });
    }
  };

  /** Closes every run still open when the job ends. */
  const settle = (outcome: JobOutcome): void => {
    const runs = store.listRuns(experimentId);
    const at = nowIso();
    if (outcome.kind === 'done') {
      for (const run of runs) {
        if (run.status === 'done' && run.summary) continue;
        const summary = summaryFromResult(outcome.result, run);
        if (summary)
          patchRun(run, {
            status: 'done',
            summary,
            finishedAt: run.finishedAt ?? at,
            backend: run.backend ?? backendName,
          });
        else if (run.status !== 'done') log('warn', `run ${run.phase} did not report a result`);
      }
      store.addArtifact({
        experimentId,
        kind: 'result',
        meta: outcome.result as unknown as Record<string, unknown>,
      });
      const analyses = experimentAnalyses(outcome.result);
      if (analyses) store.setAnalyses(experimentId, analyses);
      log('info', `finished in ${outcome.result.seconds.toFixed(1)} s on ${outcome.result.backend.name}`);
      return;
    }
    const open = runs.filter((r) => OPEN.includes(r.status));
    // One statement for all open runs, then one event each: thousands of targets close at once.
    const close = (
      to: RunStatus,
      error: string | null,
      except: string | null = null,
      finishedAt: string | null = at,
    ): void => {
      const changed = new Set(store.closeOpenRuns(experimentId, OPEN, to, error, finishedAt, except));
      for (const run of store.listRuns(experimentId))
        if (changed.has(run.id)) emit({ type: 'run.updated', run });
    };
    if (outcome.kind === 'interrupted') {
      close('interrupted', null, null, null);
      log('warn', `interrupted: ${outcome.reason}`);
      return;
    }
    if (outcome.kind === 'cancelled') {
      close('cancelled', outcome.reason);
      log('warn', `cancelled: ${outcome.reason}`);
      return;
    }
    // Failed: the run that was running carries the error (or the first open one, when the worker
    // died before any phase started); the rest did not get to run.
    const culprit =
      (outcome.phase ? open.find((r) => r.phase === outcome.phase) : undefined) ??
      open.find((r) => r.status === 'running') ??
      open[0];
    if (culprit) patchRun(culprit, { status: 'failed', finishedAt: at, error: outcome.error });
    // Phase jobs run side by side: those still running stop now (and get an end time); the rest never ran.
    close('cancelled', `not finished: ${culprit?.phase ?? 'an earlier phase'} failed`, culprit?.id ?? null);
    log('error', `failed: ${outcome.error}`);
  };

  return {
    started(pid) {
      log('info', `worker started${pid ? ` (pid ${pid})` : ''}`);
      experimentChanged();
    },

    message(msg: FromWorker, reply) {
      switch (msg.type) {
        case 'backend':
          backendName = msg.backend.name;
          o.onBackend?.(msg.backend);
          log(
            'info',
            `backend: ${msg.backend.name} ${msg.backend.version} (${msg.backend.device}${msg.backend.adapter ? ` ${msg.backend.adapter}` : ''}, ${msg.backend.threads} thread${msg.backend.threads === 1 ? '' : 's'})`,
          );
          for (const n of msg.backend.notes) log('info', `backend: ${n}`);
          return;
        case 'phase':
          if (msg.state !== 'start') metrics.flush();
          onPhase(msg.phase, msg.state, msg.seconds);
          return;
        case 'progress': {
          const run = runFor(msg.phase);
          emit({
            type: 'progress',
            experimentId,
            runId: run?.id ?? null,
            phase: msg.phase,
            done: msg.done,
            total: msg.total,
            ...(msg.detail ? { detail: msg.detail } : {}),
            etaSeconds: eta.estimate(msg.phase, msg.done, msg.total),
          });
          return;
        }
        case 'metric': {
          const run = runFor(msg.phase);
          if (run)
            metrics.push({
              runId: run.id,
              key: msg.key,
              step: msg.step,
              value: msg.value,
              wallTime: msg.wallTime,
            });
          return;
        }
        case 'method-done': {
          const run = store
            .listRuns(experimentId)
            .find(
              (r) => r.kind === 'transfer' && r.targetIndex === msg.target && r.method === msg.result.method,
            );
          if (run) {
            patchRun(run, {
              status: 'done',
              summary: msg.result,
              seconds: msg.result.seconds,
              finishedAt: nowIso(),
              backend: backendName ?? run.backend,
            });
            // Without them the run's parameters at a step cannot be rebuilt; the result stands.
            if (msg.perms)
              try {
                store.setRunPermutations(run.id, msg.perms);
              } catch (e) {
                warn(`the permutations of ${run.phase} were not stored: ${(e as Error).message}`);
              }
          }
          experimentChanged();
          return;
        }
        case 'log':
          log(msg.level, msg.message);
          return;
        case 'cache-load':
          onCacheLoad(msg, reply);
          return;
        case 'artifact':
          onArtifact(msg, reply);
          return;
      }
    },

    ended(outcome) {
      // A job that ran out of space must still end as failed, with that cause, where the UI
      // shows it (issue 8, item 3): the disk reserve is given up for these writes if need be.
      const cause =
        outcome.kind === 'failed' && isDiskFull({ message: outcome.error }) ? outcome.error : null;
      // The phase stays: with phase jobs it names the run that ran out of space.
      const recorded: JobOutcome =
        cause && outcome.kind === 'failed'
          ? { ...outcome, error: diskFullMessage(store.dataDir, cause) }
          : outcome;
      try {
        store.withDiskReserve(() => {
          metrics.flush();
          store.transaction(() => settle(recorded));
        });
      } catch (e) {
        if (!isDiskFull(e)) throw e;
        // Not even the outcome fits: record the failure alone, which needs the least room.
        store.withDiskReserve(() =>
          store.transaction(() => settle({ kind: 'failed', error: diskFullMessage(store.dataDir, e) })),
        );
      }
      // A finished result is durable once ended returns, not at the next automatic checkpoint.
      try {
        store.checkpoint();
      } catch (e) {
        warn(`could not checkpoint the database: ${(e as Error).message}`);
      }
      experimentChanged();
    },
  };
}
