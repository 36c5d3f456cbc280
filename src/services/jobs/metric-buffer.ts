/**
 * Metric points arrive one by one from a worker; the database wants them in batches. Points are
 * written (one transaction) every `intervalMs` or once `maxPoints` are waiting, whichever comes
 * first, and subscribers get exactly what was written.
 *
 * A failed write never escapes (a flush from the timer has nobody to catch it): the points wait
 * for the next timer flush (not every push: a failing write may have waited on a busy database),
 * up to `maxBacklog` of them, beyond which that batch is dropped. `onError` hears of the first
 * failure in a row and of every drop.
 */
import type { MetricPoint } from '../../shared/lab-api.js';
import { logger } from '../log.js';

const log = logger('metrics');

export interface MetricBufferOptions {
  write: (points: MetricPoint[]) => void;
  intervalMs?: number;
  maxPoints?: number;
  /** points kept waiting while writes fail (default 20 × maxPoints) */
  maxBacklog?: number;
  /** writes started failing, or `dropped` points were given up (0: they wait for the next flush) */
  onError?: (error: unknown, dropped: number) => void;
}

export class MetricBuffer {
  private points: MetricPoint[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly intervalMs: number;
  private readonly maxPoints: number;
  private readonly maxBacklog: number;
  private failing = false;

  constructor(private readonly o: MetricBufferOptions) {
    this.intervalMs = o.intervalMs ?? 250;
    this.maxPoints = o.maxPoints ?? 200;
    this.maxBacklog = o.maxBacklog ?? 20 * this.maxPoints;
  }

  /** points waiting to be written */
  get pending(): number {
    return this.points.length;
  }

  push(p: MetricPoint): void {
    this.points.push(p);
    if (this.points.length >= this.maxPoints && !this.failing) this.flush();
    else this.schedule();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.points.length === 0) return;
    const batch = this.points;
    this.points = [];
    try {
      this.o.write(batch);
      this.failing = false;
    } catch (e) {
      const keep = batch.length <= this.maxBacklog;
      if (keep) {
        this.points = batch;
        this.schedule();
      }
      if (!this.failing || !keep) this.report(e, keep ? 0 : batch.length);
      this.failing = true;
    }
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  private report(e: unknown, dropped: number): void {
    try {
      if (this.o.onError) this.o.onError(e, dropped);
      else
        log.error(
          { err: e, dropped },
          `writing metrics failed${dropped ? `; ${dropped} points dropped` : ''}`,
        );
    } catch {
      // reporting must not throw either
    }
  }
}
