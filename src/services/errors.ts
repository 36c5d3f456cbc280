/**
 * The one boundary where errors become the API's: a DomainError (raised by the store, the
 * services and the spec parser) keeps its code and field; anything else is 'internal'.
 */
import { isDomainError } from '../shared/domain/index.js';
import { LabRequestError, type LabError } from '../shared/lab-api.js';

export function toLabError(e: unknown): LabError {
  if (isDomainError(e)) return { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) };
  if (e instanceof LabRequestError) return e.error;
  // A LabRequestError that crossed a process or realm boundary keeps its shape but not its class.
  const maybe = (e as { error?: Partial<LabError> } | null)?.error;
  if (maybe && typeof maybe.code === 'string' && typeof maybe.message === 'string') return maybe as LabError;
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'internal', message };
}
