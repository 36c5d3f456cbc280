/** Turns anything thrown while answering a request into the LabError the caller sees. */
import { LabRequestError, type LabError } from '../shared/lab-api.js';

export class NotFoundError extends LabRequestError {
  constructor(what: string) {
    super({ code: 'not-found', message: `${what} not found` });
  }
}

export function toLabError(e: unknown): LabError {
  if (e instanceof LabRequestError) return e.error;
  // A LabRequestError that crossed a process or realm boundary keeps its shape but not its class.
  const maybe = (e as { error?: Partial<LabError> } | null)?.error;
  if (maybe && typeof maybe.code === 'string' && typeof maybe.message === 'string') return maybe as LabError;
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'internal', message };
}
