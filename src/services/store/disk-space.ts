/**
 * Running out of disk (issue 8, item 3). SQLite needs a little room to record anything — even that
 * a job failed — so the data folder keeps a reserve file that is given up the moment a write fails
 * for lack of space: the failure, its cause and the end of the job can then be recorded, and the
 * lab can start on a full disk and say why. The reserve is made again once there is room.
 */
import { closeSync, openSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const RESERVE_FILE = 'disk-reserve.bin';
/** A second reserve, given up only by a lab starting on a full disk (its lock and recovery need room). */
export const START_RESERVE_FILE = 'disk-reserve-start.bin';
/** Enough for the writes that record a failure (a few WAL frames, a log line) many times over. */
export const RESERVE_BYTES = 4 * 1024 * 1024;

/** True for SQLite's "database or disk is full" and the OS's "no space left on device". */
export function isDiskFull(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | null;
  if (!err) return false;
  if (err.code === 'SQLITE_FULL' || err.code === 'ENOSPC' || err.code === 'EDQUOT') return true;
  return /database or disk is full|ENOSPC|no space left on device/i.test(err.message ?? '');
}

/** Free bytes for this user on the disk holding `dir`, or null when the OS will not say. */
export function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

export function describeFree(dir: string): string {
  const free = freeBytes(dir);
  return free === null ? 'free space unknown' : `${(free / 1048576).toFixed(1)} MiB free`;
}

/** What the UI shows for a job or a start that ran out of space. */
export function diskFullMessage(dataDir: string, cause: unknown): string {
  const why = (cause as Error)?.message ?? String(cause);
  return `out of disk space: the disk holding ${dataDir} is full (${describeFree(dataDir)}; ${why}). Free some space, then resume`;
}

export class DiskReserve {
  readonly path: string;

  constructor(
    private readonly dataDir: string,
    private readonly bytes = RESERVE_BYTES,
    name = RESERVE_FILE,
  ) {
    this.path = join(dataDir, name);
  }

  /**
   * Makes the reserve when it is missing and the disk has room for it and as much again
   * (it must not take the last space itself). Returns whether the reserve is in place.
   */
  ensure(): boolean {
    try {
      const fd = openSync(this.path, 'wx');
      try {
        const free = freeBytes(this.dataDir);
        if (free !== null && free < 2 * this.bytes)
          throw Object.assign(new Error('no room'), { code: 'ENOSPC' });
        const chunk = Buffer.alloc(64 * 1024);
        for (let done = 0; done < this.bytes; done += chunk.length) writeSync(fd, chunk);
      } catch (e) {
        closeSync(fd);
        unlinkSync(this.path);
        if (isDiskFull(e)) return false;
        throw e;
      }
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return true;
      if (isDiskFull(e)) return false;
      throw e;
    }
  }

  /** Gives the reserve's space back to the disk; true when there was one. */
  release(): boolean {
    try {
      unlinkSync(this.path);
      return true;
    } catch {
      return false;
    }
  }
}
