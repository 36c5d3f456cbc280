/**
 * The built renderer, read-only: only regular files under one folder, never a path that leaves it
 * (`..`, encoded slashes, NUL, symlinks pointing out). Paths without an extension fall back to
 * index.html so the single-page app can own its routes.
 */
import { realpath, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export interface StaticFile {
  body: Buffer;
  type: string;
  /** index.html must never be cached (it names the hashed assets of this build) */
  isIndex: boolean;
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The file for a URL path, or null (not found or not allowed: the caller answers 404 either way). */
export async function staticFile(rootDir: string, urlPath: string): Promise<StaticFile | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((s) => s.length > 0);
  if (parts.some((s) => s === '..' || s === '.')) return null;
  const root = await realpath(rootDir).catch(() => null);
  if (!root) return null;
  let rel = parts.join('/');
  if (rel === '' || (extname(rel) === '' && !(await isFile(root, rel)))) rel = 'index.html';
  const candidate = resolve(join(root, rel));
  if (!inside(root, candidate)) return null;
  const real = await realpath(candidate).catch(() => null);
  if (!real || !inside(root, real)) return null;
  const st = await stat(real).catch(() => null);
  if (!st?.isFile()) return null;
  return {
    body: await readFile(real),
    type: TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream',
    isIndex: rel === 'index.html',
  };
}

async function isFile(root: string, rel: string): Promise<boolean> {
  const st = await stat(join(root, rel)).catch(() => null);
  return !!st?.isFile();
}
