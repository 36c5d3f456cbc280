import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { DomainError } from '../../shared/domain/index.js';

/** A bundle that cannot be imported; the message names the entry when one is at fault. */
export class BundleError extends DomainError {
  constructor(
    message: string,
    readonly entry?: string,
  ) {
    super('invalid', entry === undefined ? `bundle: ${message}` : `bundle entry "${entry}": ${message}`);
    this.name = 'BundleError';
  }
}

export interface ZipLimits {
  /** entries in the zip, directories included */
  maxEntries: number;
  /** uncompressed bytes of one entry */
  maxEntryBytes: number;
  /** uncompressed bytes of all entries together */
  maxTotalBytes: number;
}

/**
 * A bundle reaches the lab as at most 400 MiB of base64 (the API's cap), so about 300 MiB of zip,
 * and weights (most of a bundle) are stored uncompressed. Everything is inflated into memory, so
 * the limits keep a small deflate bomb from growing into gigabytes: 400 MiB for one entry, 800 MiB
 * for all of them.
 */
export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 100_000,
  maxEntryBytes: 400 * 1024 * 1024,
  maxTotalBytes: 800 * 1024 * 1024,
};

export interface ZipFileToWrite {
  name: string;
  data: Buffer;
  /** false for data that does not shrink (float weights) */
  compress?: boolean;
}

export async function writeZip(files: readonly ZipFileToWrite[], mtime: Date): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const f of files)
    zip.addBuffer(f.data, f.name, { mtime, mode: 0o100644, compress: f.compress ?? true });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** What the caller's layout says of a name: null when it is a known file, else why not. */
export type NameCheck = (name: string, isDirectory: boolean) => string | null;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const UNICODE_PATH_EXTRA = 0x7075;

/** Entries as the central directory lists them, before any byte of data is read. */
interface RawEntry {
  entry: yauzl.Entry;
  name: string;
  isDirectory: boolean;
}

function describeZipError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `the zip is truncated or corrupt (${msg})`;
}

/** Why an entry name is unsafe to use as a path, or null. */
function unsafeName(name: string): string | null {
  if (name.length === 0) return 'has an empty name';
  if (name.includes('\0')) return 'has a NUL character in its name';
  if (name.includes('\\')) return 'has a backslash in its name (only "/" separates folders)';
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return 'is an absolute path';
  const parts = name.replace(/\/$/, '').split('/');
  if (parts.includes('..')) return 'climbs out of the bundle ("..")';
  if (parts.some((p) => p === '' || p === '.')) return 'has an empty or "." path segment';
  return null;
}

function decodeName(entry: yauzl.Entry): string {
  const raw = (entry as unknown as { fileNameRaw: Buffer }).fileNameRaw;
  const utf8 = (entry.generalPurposeBitFlag & 0x800) !== 0;
  if (!utf8 && raw.some((b) => b >= 0x80)) {
    throw new BundleError(
      `an entry name is neither UTF-8 flagged nor ASCII (${JSON.stringify(raw.toString('latin1'))})`,
    );
  }
  const name = raw.toString('utf8');
  if (utf8 && Buffer.compare(Buffer.from(name, 'utf8'), raw) !== 0)
    throw new BundleError(`an entry name is not valid UTF-8 (${JSON.stringify(name)})`);
  return name;
}

/**
 * Reads every entry of a zip held in memory after checking the whole central directory: names
 * (no absolute paths, "..", backslashes, duplicates; known to `check`), types (no symlinks or
 * devices: the unix mode in the external attributes), encryption and sizes against `limits`. Sizes
 * are checked again while inflating, so a lying header cannot smuggle in more data, and each
 * entry's CRC-32 is verified.
 */
export async function readZip(
  buf: Buffer,
  check: NameCheck,
  limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): Promise<Map<string, Buffer>> {
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((res, rej) =>
      yauzl.fromBuffer(
        buf,
        { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true },
        (err, z) => (err ? rej(err) : res(z)),
      ),
    );
  } catch (e) {
    throw new BundleError(`not a readable zip file: ${describeZipError(e)}`);
  }
  try {
    if (zip.entryCount > limits.maxEntries)
      throw new BundleError(`has ${zip.entryCount} entries; at most ${limits.maxEntries} are allowed`);
    const entries = await listEntries(zip);
    const seen = new Set<string>();
    let total = 0;
    for (const { entry, name, isDirectory } of entries) {
      const unsafe = unsafeName(name);
      if (unsafe) throw new BundleError(unsafe, name);
      if (seen.has(name)) throw new BundleError('appears twice in the zip', name);
      seen.add(name);
      const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
      const type = mode & S_IFMT;
      if (type === S_IFLNK) throw new BundleError('is a symbolic link', name);
      if (type !== 0 && type !== S_IFREG && type !== S_IFDIR)
        throw new BundleError(`is not a regular file (unix mode ${mode.toString(8)})`, name);
      if (type === S_IFDIR && !isDirectory)
        throw new BundleError('is marked as a folder but its name does not end with "/"', name);
      if (entry.extraFields.some((f) => f.id === UNICODE_PATH_EXTRA))
        throw new BundleError('carries a second (Info-ZIP unicode) name, which is not accepted', name);
      if (entry.isEncrypted()) throw new BundleError('is encrypted', name);
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
        throw new BundleError(
          `uses compression method ${entry.compressionMethod}; only stored and deflate are supported`,
          name,
        );
      const why = check(name, isDirectory);
      if (why) throw new BundleError(why, name);
      if (entry.uncompressedSize > limits.maxEntryBytes)
        throw new BundleError(
          `is ${entry.uncompressedSize} bytes; at most ${limits.maxEntryBytes} are allowed per entry`,
          name,
        );
      total += entry.uncompressedSize;
      if (total > limits.maxTotalBytes)
        throw new BundleError(`its entries hold more than ${limits.maxTotalBytes} bytes uncompressed`);
    }
    const out = new Map<string, Buffer>();
    // Headers can lie; the running total of what was really inflated is held to the limit too.
    let inflated = 0;
    for (const { entry, name, isDirectory } of entries) {
      if (isDirectory) continue;
      const data = await readEntry(
        zip,
        entry,
        name,
        limits.maxEntryBytes,
        limits.maxTotalBytes - inflated,
        limits.maxTotalBytes,
      );
      inflated += data.length;
      out.set(name, data);
    }
    return out;
  } finally {
    zip.close();
  }
}

function listEntries(zip: yauzl.ZipFile): Promise<RawEntry[]> {
  return new Promise((res, rej) => {
    const out: RawEntry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      try {
        const name = decodeName(entry);
        out.push({ entry, name, isDirectory: name.endsWith('/') });
      } catch (e) {
        rej(e);
        return;
      }
      zip.readEntry();
    });
    zip.on('end', () => res(out));
    zip.on('error', (e: unknown) =>
      rej(e instanceof BundleError ? e : new BundleError(`not a readable zip file: ${describeZipError(e)}`)),
    );
    zip.readEntry();
  });
}

/** Inflates one entry, stopping as soon as it passes `maxBytes` or the bundle's remaining budget. */
function readEntry(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  name: string,
  maxBytes: number,
  budget: number,
  maxTotal: number,
): Promise<Buffer> {
  return new Promise((res, rej) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) return rej(new BundleError(`cannot be read: ${describeZipError(err)}`, name));
      const chunks: Buffer[] = [];
      let size = 0;
      let stopped = false;
      stream.on('data', (c: Buffer) => {
        if (stopped) return;
        size += c.length;
        const why =
          size > maxBytes
            ? new BundleError(`inflates to more than ${maxBytes} bytes`, name)
            : size > budget
              ? new BundleError(`its entries inflate to more than ${maxTotal} bytes`)
              : null;
        if (why) {
          stopped = true;
          chunks.length = 0;
          stream.destroy();
          rej(why);
          return;
        }
        chunks.push(c);
      });
      stream.on('error', (e: unknown) =>
        rej(new BundleError(`cannot be read: ${describeZipError(e)}`, name)),
      );
      stream.on('end', () => {
        const data = Buffer.concat(chunks);
        // yauzl does not check CRCs; a flipped bit in stored data would otherwise pass unnoticed.
        if (crc32(data) >>> 0 !== entry.crc32)
          return rej(new BundleError('is corrupt (CRC-32 does not match)', name));
        res(data);
      });
    });
  });
}
