/**
 * The built renderer is served from `app://lab/` rather than file://: a real origin, so the CSP's
 * 'self' means exactly the app's files and the API's sender check has something firm to compare.
 * Files come from one folder only (same traversal rules as the headless host).
 */
import { protocol } from 'electron';
import { staticFile } from '../services/host/static-files.js';

const APP_SCHEME = 'app';
const APP_HOST = 'lab';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

export function serveRenderer(rendererDir: string, csp: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host !== APP_HOST || (request.method !== 'GET' && request.method !== 'HEAD'))
      return new Response('not found', { status: 404 });
    const file = await staticFile(rendererDir, url.pathname);
    if (!file) return new Response('not found', { status: 404 });
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(file.body), {
      status: 200,
      headers: {
        'Content-Type': file.type,
        'Content-Security-Policy': csp,
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': file.isIndex ? 'no-store' : 'no-cache',
      },
    });
  });
}
