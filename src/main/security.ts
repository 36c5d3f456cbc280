/**
 * The desktop's hardening in one place: the Content-Security-Policy header on every response, no
 * new windows, no navigation away from the app, no permissions, and which frames may call the API.
 */
import { session, shell, type BrowserWindow, type WebContents, type WebFrameMain } from 'electron';
import { contentSecurityPolicy } from '../services/host/security.js';
import { externalLinkAllowed } from './external-links.js';

/**
 * The header CSP. The same policy (plus the headless host's socket) must be in index.html's meta
 * tag; a page is held to both. In development Vite's client needs its own socket for hot reload.
 */
export function desktopCsp(devServerUrl: string | null): string {
  if (!devServerUrl) return contentSecurityPolicy();
  const u = new URL(devServerUrl);
  return contentSecurityPolicy({ connect: [`ws://${u.host}`], inlineStyles: true });
}

export function installCsp(csp: string): void {
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    for (const k of Object.keys(headers))
      if (k.toLowerCase() === 'content-security-policy') delete headers[k];
    headers['Content-Security-Policy'] = [csp];
    headers['X-Content-Type-Options'] = ['nosniff'];
    callback({ responseHeaders: headers });
  });
  // The lab needs no camera, microphone, notifications or geolocation.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
}

/**
 * scheme://host[:port] of a URL. (URL.origin is "null" for a custom scheme such as app://, so it
 * cannot be compared.)
 */
export function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return null;
  }
}

/** `true` when `url` is the app's own page (same scheme, host and port as the app URL). */
function isAppUrl(url: string, appOrigin: string): boolean {
  return originOf(url) === appOrigin;
}

/** External links to the allowed hosts open in the user's browser (https only); everything else is dropped. */
export function lockNavigation(contents: WebContents, appOrigin: string): void {
  contents.setWindowOpenHandler(({ url }) => {
    if (externalLinkAllowed(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url, appOrigin)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url, appOrigin)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

/** Only our window's top frame, showing our page, may call the API. */
export function isTrustedSender(
  frame: WebFrameMain | null,
  win: BrowserWindow | null,
  appOrigin: string,
): boolean {
  if (!frame || !win || win.isDestroyed()) return false;
  if (frame !== win.webContents.mainFrame) return false;
  return isAppUrl(frame.url, appOrigin);
}
