import type { MetricPoint } from '../../../shared/lab-api.js';

export interface StepValue {
  step: number;
  value: number;
  /** when it was recorded (unix ms), where known: for a seconds x-axis */
  wall?: number;
}

/**
 * Metric points by run, key and step. Live 'metrics' events and metrics.get replies both land
 * here; a repeated (run, key, step) overwrites (a resumed run re-reports steps), so the order in
 * which a reply and events arrive does not matter. Kept outside Vue's reactivity (thousands of
 * points) — views watch `version` instead.
 */
export class MetricStore {
  private readonly byRun = new Map<string, Map<string, Map<number, number>>>();
  private readonly walls = new Map<string, Map<number, number>>();
  private sorted = new Map<string, StepValue[]>();
  version = 0;

  /** Adds points; returns how many were new or changed. */
  add(
    points: readonly (Pick<MetricPoint, 'runId' | 'key' | 'step' | 'value'> & { wallTime?: number })[],
  ): number {
    let changed = 0;
    for (const p of points) {
      if (!Number.isFinite(p.step)) continue;
      if (p.wallTime !== undefined && Number.isFinite(p.wallTime)) {
        const id = `${p.runId}\u0000${p.key}`;
        let w = this.walls.get(id);
        if (!w) this.walls.set(id, (w = new Map()));
        w.set(p.step, p.wallTime);
      }
      let keys = this.byRun.get(p.runId);
      if (!keys) this.byRun.set(p.runId, (keys = new Map()));
      let steps = keys.get(p.key);
      if (!steps) keys.set(p.key, (steps = new Map()));
      const old = steps.get(p.step);
      if (old === p.value || (Number.isNaN(old) && Number.isNaN(p.value))) continue;
      steps.set(p.step, p.value);
      this.sorted.delete(`${p.runId}\u0000${p.key}`);
      changed++;
    }
    if (changed) this.version++;
    return changed;
  }

  /** Points of one run and key, by step. */
  series(runId: string, key: string): StepValue[] {
    const id = `${runId}\u0000${key}`;
    let s = this.sorted.get(id);
    if (!s) {
      const steps = this.byRun.get(runId)?.get(key);
      const walls = this.walls.get(id);
      s = steps
        ? [...steps]
            .map(([step, value]): StepValue => {
              const wall = walls?.get(step);
              return wall === undefined ? { step, value } : { step, value, wall };
            })
            .sort((a, b) => a.step - b.step)
        : [];
      this.sorted.set(id, s);
    }
    return s;
  }

  keys(runId?: string): string[] {
    const out = new Set<string>();
    const runs =
      runId === undefined ? [...this.byRun.values()] : [this.byRun.get(runId)].filter((x) => x !== undefined);
    for (const keys of runs) for (const k of keys.keys()) out.add(k);
    return [...out].sort();
  }

  has(runId: string): boolean {
    return this.byRun.has(runId);
  }

  removeRun(runId: string): void {
    if (!this.byRun.delete(runId)) return;
    for (const k of [...this.sorted.keys()]) if (k.startsWith(`${runId}\u0000`)) this.sorted.delete(k);
    for (const k of [...this.walls.keys()]) if (k.startsWith(`${runId}\u0000`)) this.walls.delete(k);
    this.version++;
  }

  clear(): void {
    this.byRun.clear();
    this.walls.clear();
    this.sorted = new Map();
    this.version++;
  }
}

/** The step with the highest value (first one on ties, as early stopping picks); null when empty. */
export function bestPoint(points: readonly StepValue[], higherIsBetter = true): StepValue | null {
  let best: StepValue | null = null;
  for (const p of points) {
    if (!Number.isFinite(p.value)) continue;
    if (best === null || (higherIsBetter ? p.value > best.value : p.value < best.value)) best = p;
  }
  return best;
}

/** Whether a larger value of this metric is better (accuracies) or worse (losses). */
export function higherIsBetter(key: string): boolean {
  return !/loss|error/i.test(key);
}
