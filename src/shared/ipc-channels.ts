/**
 * IPC channel names (Electron) — the only ones the preload may use: the API's request and event
 * channels, and the desktop's lab-host setting. Apart from lab-api.ts so the sandboxed preload
 * does not bundle the request schemas.
 */
export const IPC = {
  request: 'lab:request',
  event: 'lab:event',
  remoteHostGet: 'lab:remote-host:get',
  remoteHostSet: 'lab:remote-host:set',
  remoteHostTest: 'lab:remote-host:test',
} as const;
