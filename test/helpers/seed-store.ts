/**
 * Fills a lab data folder directly through the store (no engine, no worker): experiments with
 * done runs, summaries and curves shaped like real ones, for browser tests of the history,
 * run and compare screens, and for the 1,000-experiment / 100k-point performance check.
 * Numbers are synthetic (seeded), not results.
 */
import type { MetricPoint, RunRecord } from '../../src/shared/lab-api.js';
import { LabStore } from '../../src/services/store/index.js';

const METHODS = ['naive', 'oracle', 'gmt', 'fgmt'] as const;
const CEIL: Record<string, number> = { naive: 0.55, oracle: 0.8, gmt: 0.8, fgmt: 0.79 };

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

export interface SeedOptions {
  experiments: number;
  /** transfer steps per experiment (T) */
  T?: number;
  targets?: number;
  epochs?: number;
  /** training loss points per training run (per-step curve) */
  trainPoints?: number;
  /** lr values cycled over experiments (a spec field that varies, for scatter/parallel views) */
  lrs?: number[];
  seed?: number;
  namePrefix?: string;
  tags?: (i: number) => string[];
  /** experiment i gets spec variant i % variants: with variants < experiments, some experiments
   * repeat the same computation (same source and target), as the lab's reuse makes them */
  variants?: number;
  /** experiment i trains its own source (seed 101 + i), so no two repeat a computation: Compare
   * pools every run (the heaviest case) instead of counting the repeats once */
  distinctSources?: boolean;
}

const sourceSeed = (i: number, o: SeedOptions): number => (o.distinctSources ? 101 + i : 101);

export function seedSpec(i: number, o: SeedOptions): Record<string, unknown> {
  const lrs = o.lrs ?? [0.01, 0.02, 0.05];
  return {
    dataset: { builtin: 'fashion-mnist-mini' },
    model: { arch: 'mlp', hidden: [[64, 128, 256, 512][i % 4]] },
    source: {
      init: { seed: sourceSeed(i, o) },
      train: { epochs: o.epochs ?? 3, batchSize: 128, lr: lrs[i % lrs.length], momentum: 0.9 },
    },
    targets: Array.from({ length: o.targets ?? 1 }, (_, k) => ({ init: { seed: 102 + k } })),
    transfer: { T: o.T ?? 10, methods: [...METHODS] },
  };
}

/** Returns the experiment ids, oldest first, and how many metric points were written. */
export function seedStore(dataDir: string, o: SeedOptions): { ids: string[]; points: number } {
  const store = LabStore.open(dataDir);
  const ids: string[] = [];
  let points = 0;
  const T = o.T ?? 10;
  const epochs = o.epochs ?? 3;
  const targets = o.targets ?? 1;
  const trainPoints = o.trainPoints ?? 0;
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  try {
    store.transaction(() => {
      for (let i = 0; i < o.experiments; i++) {
        const r = rng((o.seed ?? 7) * 100_003 + (o.variants ? i % o.variants : i));
        const spec = seedSpec(o.variants ? i % o.variants : i, o);
        const created = new Date(t0 + i * 60_000).toISOString();
        const e = store.createExperiment({
          spec,
          name: `${o.namePrefix ?? 'seeded'} ${String(i + 1).padStart(4, '0')}`,
          createdAt: created,
          tags: o.tags?.(i) ?? [],
        });
        ids.push(e.id);
        const start = Date.parse(created);
        const runs: RunRecord[] = [];
        const metrics: MetricPoint[] = [];
        const quality = 0.9 + 0.1 * r();
        const src = sourceSeed(o.variants ? i % o.variants : i, o);
        const mk = (p: Partial<RunRecord> & Pick<RunRecord, 'id' | 'kind' | 'phase'>): RunRecord => ({
          experimentId: e.id,
          method: null,
          targetIndex: null,
          label: `seed ${src}`,
          seed: src,
          status: 'done',
          startedAt: new Date(start).toISOString(),
          finishedAt: new Date(start + 60_000).toISOString(),
          seconds: 60,
          backend: 'wasm',
          error: null,
          summary: null,
          best: null,
          final: null,
          test: null,
          ...p,
        });
        const trainCurve = (runId: string, acc: number): void => {
          for (let ep = 1; ep <= epochs; ep++) {
            const a = acc * (1 - 0.5 * Math.exp(-ep)) + 0.01 * (r() - 0.5);
            metrics.push(
              { runId, key: 'valAccuracy', step: ep, value: a, wallTime: start + ep * 1000 },
              { runId, key: 'valLoss', step: ep, value: 2.3 * (1 - a) + 0.1, wallTime: start + ep * 1000 },
            );
          }
          if (trainPoints) {
            const spe = Math.max(1, Math.round(trainPoints / epochs));
            metrics.push({ runId, key: 'stepsPerEpoch', step: 0, value: spe, wallTime: start });
            for (let s = 1; s <= trainPoints; s++)
              metrics.push({
                runId,
                key: 'trainLoss',
                step: s,
                value: 2.3 * Math.exp(-s / (trainPoints / 3)) + 0.2 + 0.05 * r(),
                wallTime: start + s * 10,
              });
          }
        };
        const srcAcc = 0.85 * quality;
        runs.push(
          mk({
            id: `${e.id}-source`,
            kind: 'source',
            phase: 'source',
            summary: {
              label: `seed ${src}`,
              valAccuracy: srcAcc,
              valLoss: 0.45,
              testAccuracy: srcAcc - 0.01,
              seconds: 30,
            },
            final: srcAcc,
            best: srcAcc,
            test: srcAcc - 0.01,
          }),
        );
        trainCurve(`${e.id}-source`, srcAcc);
        for (let k = 0; k < targets; k++) {
          const tgtAcc = 0.86 * quality;
          const label = `seed ${102 + k}`;
          runs.push(
            mk({
              id: `${e.id}-target-${k}`,
              kind: 'target',
              phase: `target:${k}`,
              targetIndex: k,
              label,
              seed: 102 + k,
              summary: {
                label,
                valAccuracy: tgtAcc,
                valLoss: 0.42,
                testAccuracy: tgtAcc - 0.01,
                seconds: 30,
              },
              final: tgtAcc,
              best: tgtAcc,
              test: tgtAcc - 0.01,
            }),
          );
          trainCurve(`${e.id}-target-${k}`, tgtAcc);
          for (const m of METHODS) {
            const runId = `${e.id}-${k}-${m}`;
            const ceil = CEIL[m] * quality;
            const va: number[] = [];
            const vl: number[] = [];
            for (let t = 0; t <= T; t++) {
              const a = 0.1 + (ceil - 0.1) * (1 - Math.exp((-3 * t) / T)) + 0.01 * (r() - 0.5);
              va.push(a);
              vl.push(2.3 * (1 - a) + 0.05);
              metrics.push(
                { runId, key: 'valAccuracy', step: t, value: a, wallTime: start + 1000 + t * 400 },
                { runId, key: 'valLoss', step: t, value: vl[t], wallTime: start + 1000 + t * 400 },
              );
            }
            let bestStep = 0;
            va.forEach((v, t) => v > va[bestStep] && (bestStep = t));
            const grads = m === 'gmt' ? T * (T + 1) : m === 'fgmt' ? 2 * T : 0;
            runs.push(
              mk({
                id: runId,
                kind: 'transfer',
                phase: `transfer:${k}:${m}`,
                method: m,
                targetIndex: k,
                label,
                seed: 102 + k,
                summary: {
                  method: m,
                  valAccuracy: va,
                  valLoss: vl,
                  testAccuracy: va[T] - 0.005,
                  bestStep,
                  testAccuracyAtBest: va[bestStep] - 0.005,
                  seconds: 5,
                  phases: {},
                  gradientEvaluations: grads,
                },
                final: va[T],
                best: va[bestStep],
                test: va[T] - 0.005,
                seconds: 5,
              }),
            );
          }
        }
        store.insertRuns(runs);
        store.appendMetrics(metrics);
        points += metrics.length;
      }
    });
  } finally {
    store.close();
  }
  return { ids, points };
}
