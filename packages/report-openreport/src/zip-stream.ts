import { pipeline, Readable } from "node:stream";
import { crc32, createDeflateRaw, type ZlibOptions } from "node:zlib";

const LOCAL_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;
const CENTRAL_HEADER = 0x02014b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_EXTRA = 0x0001;
/** Sizes follow the data (bit 3), names are UTF-8 (bit 11). */
const FLAGS = 0x0808;
const DEFLATE = 8;
const VERSION = 20;
/** The version that reads ZIP64 records. */
const VERSION_ZIP64 = 45;
const MAX_32 = 0xffffffff;
const MAX_16 = 0xffff;
/**
 * Deflate runs on libuv's thread pool while this thread builds the next chunks of XML. A few chunks
 * of slack on each side let both run at once instead of taking turns; bounded, so memory stays flat.
 */
const AHEAD_CHUNKS = 4;
const AHEAD_BYTES = 256 * 1024;

interface CentralRecord {
  name: Buffer;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
}

function dosDateTime(date: Date): { time: number; date: number } {
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((date.getFullYear() - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

export interface ZipStreamOptions {
  /** zlib level, 0–9. */
  level: number;
  /**
   * Write every ZIP64 record even for a small archive (local extra fields, 8-byte data descriptors,
   * central extra fields, the ZIP64 end records): what the tests use to check the ZIP64 layout
   * without writing 4 GiB. Default false: ZIP64 records only where a size or offset needs them.
   */
  forceZip64?: boolean;
}

/**
 * A zip archive written front to back as a stream of buffers, one deflated entry at a time.
 *
 * Entry sizes are unknown until the entry's content ends, so each entry carries a data descriptor
 * after its data (general purpose bit 3) and the central directory repeats the sizes. Any size works:
 * an entry past 4 GiB gets a data descriptor with 8-byte sizes and a ZIP64 extra field in its central
 * record, an archive past 4 GiB (or 65,535 entries) gets the ZIP64 end records. Readers take sizes
 * from the central directory, which is written when they are known; like Go's `archive/zip`, the
 * local header of a streamed entry carries no ZIP64 field unless ZIP64 is forced, because whether the
 * entry will need one is unknown when it is written.
 */
export class ZipStream {
  private offset = 0;
  private readonly records: CentralRecord[] = [];
  private readonly stamp = dosDateTime(new Date());
  private readonly level: number;
  private readonly forceZip64: boolean;

  constructor(options: ZipStreamOptions) {
    this.level = options.level;
    this.forceZip64 = options.forceZip64 ?? false;
  }

  /**
   * Yields the bytes of one entry. `content` is pulled only as fast as the caller pulls the
   * compressed bytes, because deflate's buffers are bounded and `Readable.from` holds one chunk.
   */
  async *entry(
    name: string,
    content: AsyncIterable<Buffer> | Iterable<Buffer>,
    signal?: AbortSignal,
  ): AsyncGenerator<Buffer> {
    const nameBytes = Buffer.from(name, "utf8");
    const offset = this.offset;
    // In forced mode the local header announces ZIP64 (sizes 0xFFFFFFFF and an extra field of zeros),
    // which is what tells a reader that reads front to back that the descriptor has 8-byte sizes.
    const localExtra = this.forceZip64 ? zip64Extra([0, 0]) : Buffer.alloc(0);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(LOCAL_HEADER, 0);
    header.writeUInt16LE(this.forceZip64 ? VERSION_ZIP64 : VERSION, 4);
    header.writeUInt16LE(FLAGS, 6);
    header.writeUInt16LE(DEFLATE, 8);
    header.writeUInt16LE(this.stamp.time, 10);
    header.writeUInt16LE(this.stamp.date, 12);
    if (this.forceZip64) {
      header.writeUInt32LE(MAX_32, 18);
      header.writeUInt32LE(MAX_32, 22);
    }
    header.writeUInt16LE(nameBytes.length, 26);
    header.writeUInt16LE(localExtra.length, 28);
    yield* this.emit(Buffer.concat([header, nameBytes, localExtra]));

    let crc = 0;
    let size = 0;
    async function* measured(): AsyncGenerator<Buffer> {
      for await (const chunk of content) {
        crc = crc32(chunk, crc);
        size += chunk.length;
        yield chunk;
      }
    }
    // zlib streams pass stream options through to Transform; @types/node's ZlibOptions omits them.
    const deflate = createDeflateRaw({
      level: this.level,
      chunkSize: 64 * 1024,
      writableHighWaterMark: AHEAD_BYTES,
      readableHighWaterMark: AHEAD_BYTES,
    } as ZlibOptions);
    // Errors reach us through `deflate`, which the pipeline destroys with the source's error.
    pipeline(Readable.from(measured(), { highWaterMark: AHEAD_CHUNKS }), deflate, () => {});
    // Tears the entry down at once when the report stops, rather than when its next chunk is due.
    const stop = () => deflate.destroy(signal?.reason instanceof Error ? signal.reason : undefined);
    signal?.addEventListener("abort", stop, { once: true });
    let compressedSize = 0;
    try {
      for await (const chunk of deflate as AsyncIterable<Buffer>) {
        compressedSize += chunk.length;
        yield* this.emit(chunk);
      }
    } finally {
      signal?.removeEventListener("abort", stop);
    }

    const wide = this.forceZip64 || size >= MAX_32 || compressedSize >= MAX_32;
    const descriptor = Buffer.alloc(wide ? 24 : 16);
    descriptor.writeUInt32LE(DATA_DESCRIPTOR, 0);
    descriptor.writeUInt32LE(crc, 4);
    if (wide) {
      descriptor.writeBigUInt64LE(BigInt(compressedSize), 8);
      descriptor.writeBigUInt64LE(BigInt(size), 16);
    } else {
      descriptor.writeUInt32LE(compressedSize, 8);
      descriptor.writeUInt32LE(size, 12);
    }
    yield* this.emit(descriptor);
    this.records.push({ name: nameBytes, crc, compressedSize, size, offset });
  }

  /** Yields the central directory; the archive is complete after it. */
  async *finish(): AsyncGenerator<Buffer> {
    const start = this.offset;
    for (const record of this.records) {
      const zip64 =
        this.forceZip64 ||
        record.size >= MAX_32 ||
        record.compressedSize >= MAX_32 ||
        record.offset >= MAX_32;
      // All three 8-byte fields, with all three 32-bit fields set to 0xFFFFFFFF to point at them.
      const extra = zip64 ? zip64Extra([record.size, record.compressedSize, record.offset]) : Buffer.alloc(0);
      const header = Buffer.alloc(46);
      header.writeUInt32LE(CENTRAL_HEADER, 0);
      header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION, 4);
      header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION, 6);
      header.writeUInt16LE(FLAGS, 8);
      header.writeUInt16LE(DEFLATE, 10);
      header.writeUInt16LE(this.stamp.time, 12);
      header.writeUInt16LE(this.stamp.date, 14);
      header.writeUInt32LE(record.crc, 16);
      header.writeUInt32LE(zip64 ? MAX_32 : record.compressedSize, 20);
      header.writeUInt32LE(zip64 ? MAX_32 : record.size, 24);
      header.writeUInt16LE(record.name.length, 28);
      header.writeUInt16LE(extra.length, 30);
      header.writeUInt32LE(zip64 ? MAX_32 : record.offset, 42);
      yield* this.emit(Buffer.concat([header, record.name, extra]));
    }
    const count = this.records.length;
    const directorySize = this.offset - start;
    const zip64End = this.forceZip64 || count >= MAX_16 || directorySize >= MAX_32 || start >= MAX_32;
    if (zip64End) {
      const endOffset = this.offset;
      const record = Buffer.alloc(56);
      record.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY, 0);
      // The size of the record after this field.
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE(VERSION_ZIP64, 12);
      record.writeUInt16LE(VERSION_ZIP64, 14);
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(directorySize), 40);
      record.writeBigUInt64LE(BigInt(start), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(ZIP64_END_LOCATOR, 0);
      locator.writeBigUInt64LE(BigInt(endOffset), 8);
      locator.writeUInt32LE(1, 16);
      yield* this.emit(Buffer.concat([record, locator]));
    }
    // With ZIP64 end records, every field points to them: readers such as JSZip (exceljs) look for the
    // ZIP64 record only when a classic field is 0xFFFF or 0xFFFFFFFF.
    const end = Buffer.alloc(22);
    end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
    end.writeUInt16LE(zip64End ? MAX_16 : count, 8);
    end.writeUInt16LE(zip64End ? MAX_16 : count, 10);
    end.writeUInt32LE(zip64End ? MAX_32 : directorySize, 12);
    end.writeUInt32LE(zip64End ? MAX_32 : start, 16);
    yield* this.emit(end);
  }

  private *emit(bytes: Buffer): Generator<Buffer> {
    this.offset += bytes.length;
    yield bytes;
  }
}

/** A ZIP64 extended information extra field holding `values` as 8-byte integers. */
function zip64Extra(values: readonly number[]): Buffer {
  const extra = Buffer.alloc(4 + 8 * values.length);
  extra.writeUInt16LE(ZIP64_EXTRA, 0);
  extra.writeUInt16LE(8 * values.length, 2);
  for (const [i, value] of values.entries()) extra.writeBigUInt64LE(BigInt(value), 4 + 8 * i);
  return extra;
}
