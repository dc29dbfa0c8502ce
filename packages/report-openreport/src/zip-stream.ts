import { pipeline, Readable } from "node:stream";
import { crc32, createDeflateRaw } from "node:zlib";
import { InfrastructureError } from "@proj/ports";

const LOCAL_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
/** Sizes follow the data (bit 3), names are UTF-8 (bit 11). */
const FLAGS = 0x0808;
const DEFLATE = 8;
const VERSION = 20;
const MAX_32 = 0xffffffff;

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

/**
 * A zip archive written front to back as a stream of buffers, one deflated entry at a time.
 *
 * Entry sizes are unknown until the entry's content ends, so each entry carries a data descriptor
 * after its data (general purpose bit 3) and the central directory repeats the sizes. There is no
 * ZIP64: an entry or archive past 4 GiB is refused with `RESOURCE_EXHAUSTED` rather than written
 * corrupt.
 */
export class ZipStream {
  private offset = 0;
  private readonly records: CentralRecord[] = [];
  private readonly stamp = dosDateTime(new Date());

  constructor(private readonly level: number) {}

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
    const header = Buffer.alloc(30);
    header.writeUInt32LE(LOCAL_HEADER, 0);
    header.writeUInt16LE(VERSION, 4);
    header.writeUInt16LE(FLAGS, 6);
    header.writeUInt16LE(DEFLATE, 8);
    header.writeUInt16LE(this.stamp.time, 10);
    header.writeUInt16LE(this.stamp.date, 12);
    header.writeUInt16LE(nameBytes.length, 26);
    yield* this.emit(Buffer.concat([header, nameBytes]));

    let crc = 0;
    let size = 0;
    async function* measured(): AsyncGenerator<Buffer> {
      for await (const chunk of content) {
        crc = crc32(chunk, crc);
        size += chunk.length;
        if (size > MAX_32) throw tooLarge(name);
        yield chunk;
      }
    }
    const deflate = createDeflateRaw({ level: this.level, chunkSize: 64 * 1024 });
    // Errors reach us through `deflate`, which the pipeline destroys with the source's error.
    pipeline(Readable.from(measured(), { highWaterMark: 1 }), deflate, () => {});
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

    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(DATA_DESCRIPTOR, 0);
    descriptor.writeUInt32LE(crc, 4);
    descriptor.writeUInt32LE(compressedSize, 8);
    descriptor.writeUInt32LE(size, 12);
    yield* this.emit(descriptor);
    this.records.push({ name: nameBytes, crc, compressedSize, size, offset });
  }

  /** Yields the central directory; the archive is complete after it. */
  async *finish(): AsyncGenerator<Buffer> {
    const start = this.offset;
    for (const record of this.records) {
      const header = Buffer.alloc(46);
      header.writeUInt32LE(CENTRAL_HEADER, 0);
      header.writeUInt16LE(VERSION, 4);
      header.writeUInt16LE(VERSION, 6);
      header.writeUInt16LE(FLAGS, 8);
      header.writeUInt16LE(DEFLATE, 10);
      header.writeUInt16LE(this.stamp.time, 12);
      header.writeUInt16LE(this.stamp.date, 14);
      header.writeUInt32LE(record.crc, 16);
      header.writeUInt32LE(record.compressedSize, 20);
      header.writeUInt32LE(record.size, 24);
      header.writeUInt16LE(record.name.length, 28);
      header.writeUInt32LE(record.offset, 42);
      yield* this.emit(Buffer.concat([header, record.name]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
    end.writeUInt16LE(this.records.length, 8);
    end.writeUInt16LE(this.records.length, 10);
    end.writeUInt32LE(this.offset - start, 12);
    end.writeUInt32LE(start, 16);
    yield* this.emit(end);
  }

  private *emit(bytes: Buffer): Generator<Buffer> {
    this.offset += bytes.length;
    if (this.offset > MAX_32) throw tooLarge("the archive");
    yield bytes;
  }
}

function tooLarge(what: string): InfrastructureError {
  return new InfrastructureError(
    "RESOURCE_EXHAUSTED",
    `${what} passed 4 GiB, the limit of a zip archive without ZIP64`,
    { retryable: false },
  );
}
