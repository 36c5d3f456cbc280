/**
 * The lab's one error type. The store, the services and the spec parser raise it in domain terms
 * (something was not found, is invalid, conflicts with the current state, or cannot be reached);
 * hosts map it to their wire format at one boundary (src/services/errors.ts), and the UI branches
 * on `code` and `field`, never on message text.
 */

export type DomainErrorCode = 'not-found' | 'invalid' | 'conflict' | 'unavailable';
export const DOMAIN_ERROR_CODES: readonly DomainErrorCode[] = [
  'not-found',
  'invalid',
  'conflict',
  'unavailable',
];

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** the input field at fault, as a path ('spec.transfer.T', 'experimentIds') */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** `${what} not found`, e.g. notFound('experiment e1'). */
export function notFound(what: string, field?: string): DomainError {
  return new DomainError('not-found', `${what} not found`, field);
}

export function invalid(message: string, field?: string): DomainError {
  return new DomainError('invalid', message, field);
}

export function conflict(message: string, field?: string): DomainError {
  return new DomainError('conflict', message, field);
}

/** A resource that exists but cannot be used now: the lab is shutting down, a worker is gone. */
export function unavailable(message: string): DomainError {
  return new DomainError('unavailable', message);
}

/** True for a DomainError, also one that crossed a realm and kept only its shape. */
export function isDomainError(e: unknown): e is DomainError {
  if (e instanceof DomainError) return true;
  const o = e as { code?: unknown; message?: unknown; name?: unknown } | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    o.name === 'DomainError' &&
    typeof o.message === 'string' &&
    DOMAIN_ERROR_CODES.includes(o.code as DomainErrorCode)
  );
}
