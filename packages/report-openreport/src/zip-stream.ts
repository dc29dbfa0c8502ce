import { constants, crc32, deflateRaw } from "node:zlib";

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
 * An entry's content is deflated in independent blocks of about this many bytes, several at once on
 * libuv's thread pool while this thread builds the next ones (see {@link ZipStream}).
 */
export const BLOCK_BYTES = 256 * 1024;
/**
 * Blocks being deflated at once. libuv's pool has 4 threads by default and file writes use it too,
 * so 2 leaves two for them. Memory held: this many blocks in and out plus the one being filled,
 * under 1 MB (the contract suite allows about 1 MB of rows ahead of a stalled output).
 */
export const BLOCKS_IN_FLIGHT = 2;
/** Back-references reach 32 KiB back: each block is primed with the 32 KiB before it. */
const WINDOW = 32 * 1024;
/** Output buffer of one block's deflate: one callback for most blocks (XML deflates 5–8 to 1). */
const OUT_CHUNK = 64 * 1024;
/** An empty fixed-Huffman block with BFINAL set: what ends a deflate stream of sync-flushed blocks. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** A deflate that never rejects, so one abandoned when the report stops cannot go unhandled. */
type Deflated = { ok: true; bytes: Buffer } | { ok: false; error: unknown };

function deflateBlock(block: Buffer, dictionary: Buffer | undefined, level: number): Promise<Deflated> {
  return new Promise((resolve) => {
    deflateRaw(
      block,
      // A sync flush ends the block on a byte boundary without BFINAL, so blocks can be concatenated.
      {
        level,
        chunkSize: OUT_CHUNK,
        finishFlush: constants.Z_SYNC_FLUSH,
        ...(dictionary ? { dictionary } : {}),
      },
      (error, bytes) => resolve(error ? { ok: false, error } : { ok: true, bytes }),
    );
  });
}

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
 *
 * Compression runs off this thread and in parallel, the way pigz does it: an entry's content is cut
 * into blocks of {@link BLOCK_BYTES}, each deflated on libuv's thread pool as its own raw deflate
 * stream, primed with the 32 KiB before it (so back-references still reach across the cut, and the
 * file is as small as one stream's) and ended with a sync flush instead of a final block. The blocks'
 * outputs, concatenated in order, followed by one empty final block, are a single valid deflate stream
 * that any reader inflates. Up to {@link BLOCKS_IN_FLIGHT} blocks are deflated at once while this
 * thread builds the next XML; the content is not pulled further until the oldest block is written.
 * The CRC-32 is computed here, chunk by chunk, as the content arrives.
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
   * Yields the bytes of one entry; `content` is bytes, or text written as UTF-8. A Buffer chunk is
   * copied before the next one is pulled, so its producer may reuse the buffer. It is pulled only as fast as the caller pulls the
   * compressed bytes: at most {@link BLOCKS_IN_FLIGHT} blocks, plus the one being gathered, are held.
   * When the signal fires the entry stops at its next chunk with the signal's reason; a block still
   * on the thread pool then finishes there (milliseconds) and its output is dropped.
   */
  async *entry(
    name: string,
    content: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
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
    let compressedSize = 0;
    const level = this.level;
    // Blocks being deflated, oldest first; their output is written in this order.
    const inFlight: Promise<Deflated>[] = [];
    // Block buffers are reused round a ring rather than allocated per block, so no megabyte buffers
    // wait for the garbage collector. When block n starts, at most BLOCKS_IN_FLIGHT - 1 blocks before
    // it are still being deflated, so block n - BLOCKS_IN_FLIGHT - 1's slot is free: its own deflate
    // is done, and so is that of the block after it, which used its tail as a dictionary.
    const ring: Buffer[] = [];
    let blocks = 0;
    let block: Buffer | undefined;
    let filled = 0;
    let previous: Buffer | undefined;
    const open = (): Buffer => {
      if (block === undefined) {
        const slot = blocks % (BLOCKS_IN_FLIGHT + 1);
        ring[slot] ??= Buffer.allocUnsafe(BLOCK_BYTES);
        block = ring[slot];
        filled = 0;
      }
      return block;
    };
    const seal = (): void => {
      const data = block!.subarray(0, filled);
      block = undefined;
      blocks += 1;
      crc = crc32(data, crc);
      size += data.length;
      const dictionary =
        previous === undefined ? undefined : previous.subarray(Math.max(0, previous.length - WINDOW));
      inFlight.push(deflateBlock(data, dictionary, level));
      // A block shorter than the window primes the next with less than it could; still correct.
      previous = data;
    };
    const takeOldest = async (): Promise<Buffer> => {
      const done = await inFlight.shift()!;
      if (!done.ok) throw done.error;
      compressedSize += done.bytes.length;
      return done.bytes;
    };
    for await (const item of content) {
      if (signal?.aborted) throw signal.reason;
      let chunk: string | Buffer = item;
      if (typeof chunk === "string") {
        // Text is encoded straight into the block when it surely fits (UTF-8 takes at most 3 bytes
        // per UTF-16 unit); only near a block's end is its exact length needed.
        if (chunk.length * 3 <= BLOCK_BYTES) {
          if (
            block !== undefined &&
            filled + chunk.length * 3 > BLOCK_BYTES &&
            (filled + chunk.length > BLOCK_BYTES || filled + Buffer.byteLength(chunk) > BLOCK_BYTES)
          ) {
            seal();
            // Back-pressure: the content is pulled only while fewer than BLOCKS_IN_FLIGHT blocks wait.
            if (inFlight.length >= BLOCKS_IN_FLIGHT) yield* this.emit(await takeOldest());
          }
          const target = open();
          filled += target.write(chunk, filled, "utf8");
          continue;
        }
        chunk = Buffer.from(chunk, "utf8");
      }
      for (let at = 0; at < chunk.length; ) {
        const copied = chunk.copy(open(), filled, at);
        filled += copied;
        at += copied;
        if (filled === BLOCK_BYTES) {
          seal();
          if (inFlight.length >= BLOCKS_IN_FLIGHT) yield* this.emit(await takeOldest());
        }
      }
    }
    if (block !== undefined && filled > 0) seal();
    while (inFlight.length > 0) {
      if (signal?.aborted) throw signal.reason;
      yield* this.emit(await takeOldest());
    }
    compressedSize += FINAL_BLOCK.length;
    yield* this.emit(FINAL_BLOCK);

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
