/**
 * Metric points arrive one by one from a worker; the database wants them in batches. Points are
 * written (one transaction) every `intervalMs` or once `maxPoints` are waiting, whichever comes
 * first, and subscribers get exactly what was written.
 */
import type { MetricPoint } from '../../shared/lab-api.js';

export interface MetricBufferOptions {
  write: (points: MetricPoint[]) => void;
  intervalMs?: number;
  maxPoints?: number;
}

export class MetricBuffer {
  private points: MetricPoint[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly intervalMs: number;
  private readonly maxPoints: number;

  constructor(private readonly o: MetricBufferOptions) {
    this.intervalMs = o.intervalMs ?? 250;
    this.maxPoints = o.maxPoints ?? 200;
  }

  push(p: MetricPoint): void {
    this.points.push(p);
    if (this.points.length >= this.maxPoints) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.points.length === 0) return;
    const batch = this.points;
    this.points = [];
    this.o.write(batch);
  }
}
