import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';

export type Db = Database.Database;

/**
 * Opens the lab database with the settings every connection needs: WAL so readers never wait for
 * the writer, synchronous=NORMAL (durable at checkpoints, safe against corruption in WAL mode) and
 * foreign keys, which SQLite leaves off unless asked on each connection.
 */
export interface OpenOptions {
  /** better-sqlite3 built for another ABI (Electron's); Node's own build otherwise */
  nativeBinding?: string;
}

export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  const db = new Database(path, opts.nativeBinding ? { nativeBinding: opts.nativeBinding } : {});
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** 16 url-safe characters (96 random bits); ids travel in bundles, so they are never reused. */
export function newId(): string {
  return randomBytes(12).toString('base64url');
}

export function nowIso(): string {
  return new Date().toISOString();
}

export function toJson(v: unknown): string {
  return JSON.stringify(v);
}

export function fromJson<T>(text: string | null, fallback: T): T {
  if (text === null || text === undefined) return fallback;
  return JSON.parse(text) as T;
}

/** Escapes a user string for `LIKE ? ESCAPE '\'`. */
export function likePattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
