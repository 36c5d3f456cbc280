/**
 * Zips written byte by byte from data already deflated, for tests that need entries far larger
 * than the zip (deflate bombs): the data is never held or compressed whole.
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';

export interface DeflatedEntry {
  name: string;
  /** raw deflate data */
  deflated: Buffer;
  /** CRC-32 and length of the inflated bytes, as the headers give them */
  crc: number;
  size: number;
}

/** A small entry, deflated here. */
export function deflatedEntry(name: string, data: Buffer): DeflatedEntry {
  return { name, deflated: deflateRawSync(data), crc: crc32(data) >>> 0, size: data.length };
}

/**
 * `chunk` repeated `times` times, deflated: the chunk is compressed once with a full flush (which
 * resets the compressor, so the block stands alone), that block is repeated and an empty final
 * block closes the stream.
 */
export function repeatedEntry(name: string, chunk: Buffer, times: number): DeflatedEntry {
  const block = deflateRawSync(chunk, { finishFlush: constants.Z_FULL_FLUSH });
  const finalEmptyBlock = Buffer.from([0x03, 0x00]);
  let crc = 0;
  for (let i = 0; i < times; i++) crc = crc32(chunk, crc);
  return {
    name,
    deflated: Buffer.concat([...Array<Buffer>(times).fill(block), finalEmptyBlock]),
    crc: crc >>> 0,
    size: chunk.length * times,
  };
}

/** A zip of these entries (deflate, UTF-8 names, regular files 0644) with honest headers. */
export function zipOfDeflated(entries: readonly DeflatedEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, deflated, crc, size } of entries) {
    const n = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(deflated.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(n.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(0x031e, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x800, 8);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt16LE(0x21, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(deflated.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(n.length, 28);
    cd.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, n, deflated);
    central.push(cd, n);
    offset += local.length + n.length + deflated.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBuf, end]);
}
