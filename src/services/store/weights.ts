import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const FILE_PATTERN = /^([0-9a-f]{64})\.safetensors$/;
const TEMP_PREFIX = '.tmp-';

export function sha256Hex(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * Weights files addressed by the sha256 of their bytes (`<dir>/<sha256>.safetensors`). A file is
 * written under a temporary name and renamed into place, so a crash never leaves a half-written
 * file under a real name, and identical weights are stored once.
 */
export class WeightsDir {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  path(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: "${sha256}"`);
    return join(this.dir, `${sha256}.safetensors`);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.path(sha256))).isFile();
    } catch {
      return false;
    }
  }

  /** Stores the bytes (once per content) and returns their address. */
  async put(
    buf: Uint8Array,
    expectedSha256?: string,
  ): Promise<{ sha256: string; bytes: number; written: boolean }> {
    const sha256 = sha256Hex(buf);
    if (expectedSha256 !== undefined && expectedSha256 !== sha256) {
      throw new Error(`weights have sha256 ${sha256}, expected ${expectedSha256}`);
    }
    const target = this.path(sha256);
    if (await this.has(sha256)) {
      await this.touch(target);
      return { sha256, bytes: buf.byteLength, written: false };
    }
    const temp = join(this.dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const fh = await open(temp, 'wx');
    try {
      await fh.writeFile(buf);
      await fh.sync();
    } catch (e) {
      // A full disk must not leave a partial temporary file behind (issue 8, item 3).
      await fh.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw e;
    }
    await fh.close();
    try {
      await rename(temp, target);
    } catch (e) {
      await unlink(temp).catch(() => undefined);
      throw e;
    }
    return { sha256, bytes: buf.byteLength, written: true };
  }

  /**
   * Takes a file the caller has hashed into the folder under its hash, by renaming it: it must be
   * on the same file system (the data folder). Already present: the file is removed.
   */
  async adopt(file: string, sha256: string): Promise<{ written: boolean }> {
    const target = this.path(sha256);
    if (await this.has(sha256)) {
      await this.touch(target);
      await unlink(file);
      return { written: false };
    }
    // On disk before a record can point at it, as put() makes sure too.
    const fh = await open(file, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(file, target);
    return { written: true };
  }

  /** Refreshes a file's time so a concurrent gc() sees a file someone is about to reference. */
  private async touch(file: string): Promise<void> {
    const now = new Date();
    await utimes(file, now, now);
  }

  /** Whether these weights are here, refreshing their time as a put() of them would. */
  async keep(sha256: string): Promise<boolean> {
    if (!(await this.has(sha256))) return false;
    await this.touch(this.path(sha256));
    return true;
  }

  /** The bytes, checked against their name so a damaged file is reported rather than decoded. */
  async read(sha256: string): Promise<Buffer> {
    let buf: Buffer;
    try {
      buf = await readFile(this.path(sha256));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw new Error(
          `weights ${sha256} are not in this lab's data folder (imported without weights, or removed)`,
        );
      throw new Error(`cannot read weights ${sha256}: ${code ?? (e as Error).message}`);
    }
    const got = sha256Hex(buf);
    if (got !== sha256)
      throw new Error(`weights file ${sha256}.safetensors is damaged: its content hashes to ${got}`);
    return buf;
  }

  /** sha256 of every weights file present. */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names
      .flatMap((n) => {
        const m = FILE_PATTERN.exec(n);
        return m ? [m[1]] : [];
      })
      .sort();
  }

  /** Removes every temporary file: at start, before any job writes, none of them is in use. */
  async removeTemps(): Promise<number> {
    let n = 0;
    for (const name of await readdir(this.dir))
      if (name.startsWith(TEMP_PREFIX))
        await unlink(join(this.dir, name)).then(
          () => n++,
          () => undefined,
        );
    return n;
  }

  /**
   * Removes these weights files now (the caller knows nothing references them); returns the bytes
   * freed. A file touched in the last few seconds stays for gc: a put() of the same content may be about
   * to be referenced.
   */
  async remove(sha256s: readonly string[], graceMs = 5_000): Promise<number> {
    let bytes = 0;
    for (const sha of sha256s) {
      const full = this.path(sha);
      const st = await stat(full).catch(() => null);
      if (!st || !st.isFile() || st.mtimeMs > Date.now() - graceMs) continue;
      await unlink(full).then(
        () => (bytes += st.size),
        () => undefined,
      );
    }
    return bytes;
  }

  /**
   * Removes weights files no one references, and temporary files left by a crash. Files touched in
   * the last `graceMs` are kept: a put() is followed by the row that references it, and gc must not
   * fall between the two.
   */
  async gc(
    referenced: ReadonlySet<string>,
    graceMs = 10 * 60 * 1000,
  ): Promise<{ removed: string[]; bytes: number }> {
    const removed: string[] = [];
    let bytes = 0;
    const cutoff = Date.now() - graceMs;
    for (const name of await readdir(this.dir)) {
      const m = FILE_PATTERN.exec(name);
      const isTemp = name.startsWith(TEMP_PREFIX);
      if (!isTemp && (!m || referenced.has(m[1]))) continue;
      const full = join(this.dir, name);
      const st = await stat(full).catch(() => null);
      if (!st || !st.isFile() || st.mtimeMs > cutoff) continue;
      await unlink(full).catch(() => undefined);
      if (m) removed.push(m[1]);
      bytes += st.size;
    }
    return { removed: removed.sort(), bytes };
  }
}
