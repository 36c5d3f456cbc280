import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { DatasetError } from './errors.js';

const gunzipAsync = promisify(gunzip);

/** A data file as stored on disk and its content (gunzipped when the file is gzip). */
export interface StoredFile {
  path: string;
  stored: Uint8Array;
  content: Uint8Array;
}

/** A plain Uint8Array over a Buffer's bytes (Buffer's slice() shares memory, Uint8Array's copies). */
function plain(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads a file; content is gunzipped when the bytes start with the gzip signature. */
export async function readStoredFile(path: string): Promise<StoredFile> {
  let stored: Uint8Array;
  try {
    stored = plain(await readFile(path));
  } catch (e) {
    throw new DatasetError(path, `cannot read the file (${(e as Error).message})`);
  }
  if (stored.length >= 2 && stored[0] === 0x1f && stored[1] === 0x8b) {
    try {
      const content = plain(await gunzipAsync(stored));
      return { path, stored, content };
    } catch (e) {
      throw new DatasetError(path, `gzip data is truncated or corrupt (zlib: ${(e as Error).message})`);
    }
  }
  return { path, stored, content: stored };
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** sha256 over the stored bytes of each file, in the given order. */
export function hashFiles(files: StoredFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f.stored);
  return h.digest('hex');
}

/** Finds the first existing path among candidates; null when none exists. */
export async function firstExisting(candidates: string[]): Promise<string | null> {
  for (const c of candidates) if (await exists(c)) return c;
  return null;
}

/** Class names from a text file with one name per line (blank lines ignored); null if absent. */
export async function readNamesFile(path: string, expected: number): Promise<string[] | null> {
  if (!(await exists(path))) return null;
  const text = await readFile(path, 'utf8');
  const names = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (names.length !== expected) {
    throw new DatasetError(path, `lists ${names.length} class names, expected ${expected} (one per line)`);
  }
  return names;
}
