/**
 * IPC channel names (Electron) — the only two the preload may use. Apart from lab-api.ts so the
 * sandboxed preload does not bundle the request schemas.
 */
export const IPC = { request: 'lab:request', event: 'lab:event' } as const;
