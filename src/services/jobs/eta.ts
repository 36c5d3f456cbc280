/**
 * Time left in a phase from its own pace so far: (elapsed / steps done since the first report) ×
 * steps remaining. The first report only starts the clock (it includes start-up work that is not
 * the phase's pace); null until there is a pace to go by.
 */
export class EtaEstimator {
  private readonly starts = new Map<string, { at: number; done: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  estimate(phase: string, done: number, total: number): number | null {
    const t = this.now();
    const start = this.starts.get(phase);
    if (!start || done < start.done) {
      this.starts.set(phase, { at: t, done });
      return null;
    }
    if (done >= total) return 0;
    const stepped = done - start.done;
    if (stepped <= 0) return null;
    const perStep = (t - start.at) / 1000 / stepped;
    return Math.max(0, perStep * (total - done));
  }

  forget(phase: string): void {
    this.starts.delete(phase);
  }
}
