/** Who may talk to the headless host: loopback binds, the token, the Host and Origin headers. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function tokenMatches(given: string | null | undefined, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The cookie that carries the token after the first page load; per port, as two labs may share a host name. */
export function tokenCookieName(port: number): string {
  return `tlab-token-${port}`;
}

/**
 * The token a request presents, as a well-kept local server takes it (Jupyter's rules): the
 * `Authorization: token …` header, the cookie set on the first page load, or `?token=` in the URL.
 */
export function presentedToken(
  headers: { authorization?: string; cookie?: string },
  url: URL,
  port: number,
): string | null {
  const auth = /^token\s+(\S+)$/i.exec(headers.authorization ?? '');
  if (auth) return auth[1];
  const name = tokenCookieName(port);
  for (const part of (headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return url.searchParams.get('token');
}

/** Set on the page that came with a valid `?token=`: HttpOnly (no script reads it), SameSite=Strict. */
export function tokenCookie(port: number, token: string): string {
  return `${tokenCookieName(port)}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
}

/**
 * On a loopback bind only loopback names may appear in Host: a web page that rebinds its own
 * DNS name to 127.0.0.1 then cannot reach us under that name.
 */
export function hostHeaderAllowed(
  hostHeader: string | undefined,
  port: number,
  loopbackOnly: boolean,
): boolean {
  if (!hostHeader) return false;
  if (!loopbackOnly) return true;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader);
  if (!m) return false;
  if (m[2] !== undefined && Number(m[2]) !== port) return false;
  return isLoopback(m[1]!);
}

/** A WebSocket from a browser carries Origin; it must be this very host (same scheme, host and port). */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true; // not a browser (tests, scripts): the token decides
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === hostHeader;
  } catch {
    return false;
  }
}

/**
 * The renderer's Content-Security-Policy, sent as a header (the desktop and the headless host);
 * index.html carries the same policy in a meta tag and a page is held to both. Scripts and styles
 * from the app only (no inline, no eval), no frames, no plugins; it may connect to itself and to
 * the API socket. `inlineStyles` is for Vite's dev server only, which injects <style> elements.
 */
export function contentSecurityPolicy(o: { connect?: string[]; inlineStyles?: boolean } = {}): string {
  const connect = o.connect ?? [];
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self'${o.inlineStyles ? " 'unsafe-inline'" : ''}`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self'${connect.length ? ' ' + connect.join(' ') : ''}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}
