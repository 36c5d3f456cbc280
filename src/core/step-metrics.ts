import type { TrainStep } from './train.js';

/**
 * Training loss and accuracy per SGD step, as a training records them. A long training would
 * write hundreds of thousands of points per run (ImageNet-sized epochs), so at most
 * `MAX_STEP_POINTS` are kept per key: beyond that each point is the mean of `stride` consecutive
 * steps, placed at the last of them, and the stride is recorded with the curve (`trainStride`) so
 * every chart can say the curve was thinned and by how much. Nothing is dropped silently.
 */
export const MAX_STEP_POINTS = 5000;

export interface StepPoint {
  step: number;
  loss: number;
  /** NaN when the optimiser counted no hits */
  accuracy: number;
  /** unix ms of the last step the point covers */
  at: number;
}

export class StepThinner {
  /** steps per recorded point: 1 keeps every step */
  readonly stride: number;
  private loss = 0;
  private accuracy = 0;
  private n = 0;

  constructor(
    private readonly totalSteps: number,
    maxPoints = MAX_STEP_POINTS,
  ) {
    this.stride = Math.max(1, Math.ceil(totalSteps / Math.max(1, maxPoints)));
  }

  /** Steps in order, as the trainer hands them over; returns the points to record. */
  push(steps: readonly TrainStep[]): StepPoint[] {
    if (this.stride === 1) return steps.map((s) => ({ ...s }));
    const out: StepPoint[] = [];
    for (const s of steps) {
      this.loss += s.loss;
      this.accuracy += s.accuracy;
      this.n++;
      // a bucket ends every `stride` steps, and at the training's last step
      if (s.step % this.stride === 0 || s.step === this.totalSteps) {
        out.push({ step: s.step, loss: this.loss / this.n, accuracy: this.accuracy / this.n, at: s.at });
        this.loss = this.accuracy = this.n = 0;
      }
    }
    return out;
  }
}
