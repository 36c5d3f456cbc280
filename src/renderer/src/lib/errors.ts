import type { LabError } from '../../../shared/lab-api.js';

export interface UiError {
  message: string;
  field?: string;
  code?: LabError['code'];
}

function isLabError(x: unknown): x is LabError {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as LabError).message === 'string' &&
    typeof (x as LabError).code === 'string'
  );
}

/**
 * What went wrong, in the services' own words. A LabRequestError carries `.error`; over Electron's
 * IPC the preload rethrows the same shape as a plain object; a dropped socket is an Error. Callers branch on `code` and `field`, never on the message.
 */
export function toUiError(e: unknown): UiError {
  let err: UiError;
  if (typeof e === 'object' && e !== null && isLabError((e as { error?: unknown }).error)) {
    const le = (e as { error: LabError }).error;
    err = { message: le.message, field: le.field, code: le.code };
  } else if (isLabError(e)) {
    err = { message: e.message, field: e.field, code: e.code };
  } else if (e instanceof Error) {
    err = { message: e.message };
  } else {
    err = { message: String(e) };
  }
  if (!err.message.trim()) err.message = 'Something went wrong, and the lab gave no reason.';
  return err;
}
