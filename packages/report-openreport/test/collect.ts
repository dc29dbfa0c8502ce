import { Writable } from "node:stream";
import type { GenerateReportOptions, ReportDefinition, ReportGenerator } from "@proj/ports";

/** An in-memory output. */
export class MemoryOutput extends Writable {
  readonly chunks: Buffer[] = [];

  constructor(options: { highWaterMark?: number } = {}) {
    super({ highWaterMark: options.highWaterMark ?? 16 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Generates into memory and returns the bytes, checking `byteSize` against them. */
export async function collect(
  generator: ReportGenerator,
  definition: ReportDefinition,
  options: GenerateReportOptions,
): Promise<Buffer> {
  const output = new MemoryOutput();
  const result = await generator.generate(definition, output, options);
  const bytes = output.bytes();
  if (result.byteSize !== bytes.length)
    throw new Error(`byteSize ${result.byteSize} != ${bytes.length} written`);
  return bytes;
}
