import { createHash } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
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
 * and weights (most of a bundle) are stored uncompressed. Entries are streamed to files in the data
 * folder, never held whole in memory, so these limits bound the disk and time a small deflate bomb
 * can claim: 400 MiB for one entry, 800 MiB for all of them.
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

/** yauzl 3's option for an entry's bytes as stored (@types/yauzl describes yauzl 2). */
const RAW_DATA = { decodeFileData: false } as unknown as yauzl.ZipFileOptions;

/** Inflated bytes handed on at a time: few enough round trips to zlib's thread, little memory. */
const INFLATE_CHUNK_BYTES = 256 * 1024;

/** Entries as the central directory lists them, before any byte of data is read. */
interface RawEntry {
  entry: yauzl.Entry;
  name: string;
  isDirectory: boolean;
}

/** An entry of a checked zip: its name and the uncompressed size its header gives (yauzl holds the data to it). */
export interface ZipEntryInfo {
  name: string;
  isDirectory: boolean;
  size: number;
}

/** What streaming one entry found: its length and sha256 (hex), both of the inflated bytes. */
export interface EntryDigest {
  bytes: number;
  sha256: string;
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

/** Why the central directory's record of an entry is refused, or null. */
function entryProblem(raw: RawEntry, check: NameCheck, limits: ZipLimits): string | null {
  const { entry, name, isDirectory } = raw;
  const unsafe = unsafeName(name);
  if (unsafe) return unsafe;
  const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
  const type = mode & S_IFMT;
  if (type === S_IFLNK) return 'is a symbolic link';
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR)
    return `is not a regular file (unix mode ${mode.toString(8)})`;
  if (type === S_IFDIR && !isDirectory) return 'is marked as a folder but its name does not end with "/"';
  if (entry.extraFields.some((f) => f.id === UNICODE_PATH_EXTRA))
    return 'carries a second (Info-ZIP unicode) name, which is not accepted';
  if (entry.isEncrypted()) return 'is encrypted';
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
    return `uses compression method ${entry.compressionMethod}; only stored and deflate are supported`;
  const why = check(name, isDirectory);
  if (why) return why;
  if (entry.uncompressedSize > limits.maxEntryBytes)
    return `is ${entry.uncompressedSize} bytes; at most ${limits.maxEntryBytes} are allowed per entry`;
  return null;
}

/**
 * A zip held in memory whose whole central directory was checked before any byte of data is read:
 * names (no absolute paths, "..", backslashes, duplicates; known to `check`), types (no symlinks or
 * devices: the unix mode in the external attributes), encryption and sizes against `limits`.
 * Entries are then streamed one at a time, their sizes checked again as they inflate (a lying
 * header cannot smuggle in more data) and their CRC-32 and sha256 computed on the way.
 */
export class CheckedZip {
  /** bytes really inflated so far, held to limits.maxTotalBytes whatever the headers said */
  private inflated = 0;

  private constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly raw: ReadonlyMap<string, yauzl.Entry>,
    readonly entries: readonly ZipEntryInfo[],
    private readonly limits: ZipLimits,
  ) {}

  static async open(
    buf: Buffer,
    check: NameCheck,
    limits: ZipLimits = DEFAULT_ZIP_LIMITS,
  ): Promise<CheckedZip> {
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
      const listed = await listEntries(zip);
      const raw = new Map<string, yauzl.Entry>();
      let total = 0;
      for (const r of listed) {
        const why = raw.has(r.name) ? 'appears twice in the zip' : entryProblem(r, check, limits);
        if (why) throw new BundleError(why, r.name);
        raw.set(r.name, r.entry);
        total += r.entry.uncompressedSize;
        if (total > limits.maxTotalBytes)
          throw new BundleError(`its entries hold more than ${limits.maxTotalBytes} bytes uncompressed`);
      }
      const entries = listed.map((r) => ({
        name: r.name,
        isDirectory: r.isDirectory,
        size: r.entry.uncompressedSize,
      }));
      return new CheckedZip(zip, raw, entries, limits);
    } catch (e) {
      zip.close();
      throw e;
    }
  }

  close(): void {
    this.zip.close();
  }

  /**
   * Streams one entry into `sink` (a file): stops as soon as it passes `maxBytes` (at most the
   * per-entry limit) or the bundle's total, and fails when its CRC-32 does not match. Errors of
   * the zip are BundleErrors naming the entry; the sink's own (a full disk) pass through as they are.
   */
  async pipe(name: string, sink: Writable, maxBytes = this.limits.maxEntryBytes): Promise<EntryDigest> {
    const entry = this.raw.get(name);
    if (!entry) throw new BundleError('is missing', name);
    // The entry's bytes as stored, inflated here rather than by yauzl: its inflater hands out 16 KiB
    // pieces, and a 399 MiB entry then took seconds of thread-pool round trips.
    const stored = await new Promise<Readable>((res, rej) =>
      this.zip.openReadStream(entry, RAW_DATA, (err, s) =>
        err || !s ? rej(new BundleError(`cannot be read: ${describeZipError(err)}`, name)) : res(s),
      ),
    );
    const source: Readable[] =
      entry.compressionMethod === 8
        ? [stored, createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES })]
        : [stored];
    let zipFailed = false;
    for (const s of source) s.once('error', () => (zipFailed = true));
    // A header that lies about the size is cut short where it stops being true.
    const cap = Math.min(maxBytes, this.limits.maxEntryBytes, entry.uncompressedSize);
    const meter = new EntryMeter(name, cap, this.inflated, this.limits.maxTotalBytes);
    try {
      await pipeline([...source, meter, sink]);
    } catch (e) {
      if (e instanceof BundleError) throw e;
      if (zipFailed) throw new BundleError(`cannot be read: ${describeZipError(e)}`, name);
      throw e;
    } finally {
      this.inflated += meter.bytes;
    }
    if (meter.bytes !== entry.uncompressedSize)
      throw new BundleError(
        `holds ${meter.bytes} bytes, not the ${entry.uncompressedSize} its header says`,
        name,
      );
    // yauzl does not check CRCs; a flipped bit in stored data would otherwise pass unnoticed.
    if (meter.crc !== entry.crc32) throw new BundleError('is corrupt (CRC-32 does not match)', name);
    return { bytes: meter.bytes, sha256: meter.sha256() };
  }

  /** One entry in memory, for records of at most `maxBytes`. */
  async read(name: string, maxBytes: number): Promise<{ data: Buffer } & EntryDigest> {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    const digest = await this.pipe(name, sink, maxBytes);
    return { data: Buffer.concat(chunks), ...digest };
  }
}

/** Counts, CRCs and hashes the bytes of one entry as they pass, failing at the first byte over a limit. */
class EntryMeter extends Transform {
  bytes = 0;
  crc = 0;
  private readonly hash = createHash('sha256');

  constructor(
    private readonly name: string,
    private readonly maxBytes: number,
    private readonly inflatedBefore: number,
    private readonly maxTotal: number,
  ) {
    super();
  }

  override _transform(
    chunk: Buffer,
    _enc: BufferEncoding,
    done: (e?: Error | null, c?: Buffer) => void,
  ): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes)
      return done(new BundleError(`inflates to more than ${this.maxBytes} bytes`, this.name));
    if (this.inflatedBefore + this.bytes > this.maxTotal)
      return done(new BundleError(`its entries inflate to more than ${this.maxTotal} bytes`));
    this.crc = crc32(chunk, this.crc);
    this.hash.update(chunk);
    done(null, chunk);
  }

  sha256(): string {
    return this.hash.digest('hex');
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

/** Every file entry of a small zip, in memory (tests and tools; a bundle import streams instead). */
export async function readZip(
  buf: Buffer,
  check: NameCheck,
  limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): Promise<Map<string, Buffer>> {
  const zip = await CheckedZip.open(buf, check, limits);
  try {
    const out = new Map<string, Buffer>();
    for (const e of zip.entries) if (!e.isDirectory) out.set(e.name, (await zip.read(e.name, e.size)).data);
    return out;
  } finally {
    zip.close();
  }
}
