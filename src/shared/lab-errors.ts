/**
 * Errors of the lab API. Apart from lab-api.ts (which carries the zod schemas) so browser code —
 * the WebSocket client, the renderer — can throw and read them without bundling the validators.
 */

/** A failed request: `field` names the argument that was wrong, when one was. */
export interface LabError {
  code: 'invalid' | 'not-found' | 'conflict' | 'unavailable' | 'internal' | 'forbidden';
  message: string;
  field?: string;
}

export class LabRequestError extends Error {
  constructor(readonly error: LabError) {
    super(error.message);
    this.name = 'LabRequestError';
  }
}
