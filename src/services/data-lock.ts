/**
 * One process at a time per data folder. The desktop app, `npm run serve` and the CLI's
 * `run --db` each treat every run they did not start as abandoned (and mark it interrupted), so
 * two of them on one folder would wreck each other's runs. The lock is `<dataDir>/lab.lock`,
 * holding the owner's pid; a lock whose process is gone (a crash, a kill -9) is taken over.
 */
import { randomBytes } from 'node:crypto';
import {
  linkSync,
  mkdirSync,
  openSync,
  closeSync,
  fsyncSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'lab.lock';

interface LockInfo {
  pid: number;
  role: string;
  host: string;
  nonce: string;
  startedAt: string;
}

export interface DataLock {
  readonly dataDir: string;
  readonly path: string;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): void;
}

/** The data folder is held by another live process (or by this one, opened twice). */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number | null,
    readonly role: string | null,
    hint: string,
    /** set when the holder is on another machine, whose pids cannot be checked from here */
    readonly foreignHost: string | null = null,
  ) {
    const who =
      pid === null
        ? 'another process'
        : `process ${pid}${pid === process.pid ? ' (this one)' : ''}${role ? ` (${role})` : ''}`;
    const where = foreignHost ? ` on ${foreignHost}` : '';
    const stale = foreignHost
      ? `; if it is not running there any more, delete ${join(dataDir, LOCK_FILE)}`
      : '';
    super(`the lab data folder ${dataDir} is in use by ${who}${where}; ${hint}${stale}`);
    this.name = 'DataDirInUseError';
  }
}

export interface AcquireOptions {
  /** what the holder is, shown to whoever is refused ("desktop app", "npm run serve") */
  role: string;
  /** how the refused one gets on ("stop it or use --data <another folder>") */
  hint?: string;
}

/** Locks this process holds, by path: released on exit even when nobody called release(). */
const held = new Map<string, string>();
let exitHook = false;

function readRaw(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function parse(raw: string): LockInfo | null {
  try {
    const v = JSON.parse(raw) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && Number.isInteger(v.pid) && v.pid > 0 && typeof v.nonce === 'string') {
      return {
        pid: v.pid,
        role: String(v.role ?? ''),
        host: String(v.host ?? ''),
        nonce: v.nonce,
        startedAt: String(v.startedAt ?? ''),
      };
    }
  } catch {
    // not ours, or written half: treated as stale below
  }
  return null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lock's owner may still be running. */
function ownerAlive(path: string, info: LockInfo): boolean {
  // Another machine's pid says nothing here (a shared folder): assume it is alive.
  if (info.host && info.host !== hostname()) return true;
  if (info.pid === process.pid) return held.get(path) !== undefined;
  return pidAlive(info.pid);
}

/**
 * Creates the lock file with its content in one step (a hard link of a finished temp file fails
 * when the name exists), so nobody ever reads a half-written lock. Filesystems without hard links
 * get an exclusive create instead.
 */
function tryCreate(path: string, raw: string): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, raw, { flag: 'wx' });
  try {
    linkSync(temp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EXDEV') throw e;
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e2;
    }
    try {
      writeSync(fd, raw);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return true;
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
  }
}

/**
 * Removes a stale lock, unless someone replaced it since we read it: the file is moved aside
 * first and compared, and a fresh lock caught in the move is put back.
 */
function removeStale(path: string, staleRaw: string): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    if (readRaw(aside) !== staleRaw) {
      try {
        linkSync(aside, path);
      } catch {
        // another lock appeared meanwhile; the next attempt reads that one
      }
    }
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // already gone
    }
  }
}

function releaseAllOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const [path, raw] of held) {
      try {
        if (readRaw(path) === raw) unlinkSync(path);
      } catch {
        // exiting anyway
      }
    }
  });
}

/** Takes `<dataDir>/lab.lock` for this process, or throws DataDirInUseError naming its holder. */
export function acquireDataLock(dataDir: string, o: AcquireOptions): DataLock {
  const dir = resolve(dataDir);
  const hint = o.hint ?? 'stop it, or use another data folder (--data or TRAJECTORY_LAB_DATA)';
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const mine: LockInfo = {
    pid: process.pid,
    role: o.role,
    host: hostname(),
    nonce: randomBytes(12).toString('hex'),
    startedAt: new Date().toISOString(),
  };
  const raw = JSON.stringify(mine) + '\n';
  for (let attempt = 0; attempt < 8; attempt++) {
    if (tryCreate(path, raw)) {
      held.set(path, raw);
      releaseAllOnExit();
      let released = false;
      return {
        dataDir: dir,
        path,
        release() {
          if (released) return;
          released = true;
          held.delete(path);
          try {
            if (readRaw(path) === raw) unlinkSync(path);
          } catch {
            // a lock we cannot remove is stale for the next one (our pid will be gone)
          }
        },
      };
    }
    const current = readRaw(path);
    if (current === null) continue; // released meanwhile
    const info = parse(current);
    if (info && ownerAlive(path, info)) {
      throw new DataDirInUseError(
        dir,
        info.pid,
        info.role || null,
        hint,
        info.host && info.host !== hostname() ? info.host : null,
      );
    }
    removeStale(path, current);
  }
  throw new DataDirInUseError(dir, null, null, hint);
}
