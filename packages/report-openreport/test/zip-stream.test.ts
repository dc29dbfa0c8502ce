import { crc32, inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ZipStream } from "../src/zip-stream.js";

async function archive(entries: Record<string, Buffer[]>): Promise<Buffer> {
  const zip = new ZipStream(1);
  const chunks: Buffer[] = [];
  for (const [name, content] of Object.entries(entries)) {
    for await (const chunk of zip.entry(name, content)) chunks.push(chunk);
  }
  for await (const chunk of zip.finish()) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Reads an archive the way unzip tools do: from the central directory, then each local entry. */
function unzip(bytes: Buffer): Map<string, Buffer> {
  const end = bytes.length - 22;
  expect(bytes.readUInt32LE(end)).toBe(0x06054b50);
  const count = bytes.readUInt16LE(end + 10);
  let at = bytes.readUInt32LE(end + 16);
  expect(at + bytes.readUInt32LE(end + 12)).toBe(end);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i += 1) {
    expect(bytes.readUInt32LE(at)).toBe(0x02014b50);
    const crc = bytes.readUInt32LE(at + 16);
    const compressedSize = bytes.readUInt32LE(at + 20);
    const size = bytes.readUInt32LE(at + 24);
    const nameLength = bytes.readUInt16LE(at + 28);
    const offset = bytes.readUInt32LE(at + 42);
    const name = bytes.toString("utf8", at + 46, at + 46 + nameLength);
    at += 46 + nameLength;

    expect(bytes.readUInt32LE(offset)).toBe(0x04034b50);
    expect(bytes.toString("utf8", offset + 30, offset + 30 + nameLength)).toBe(name);
    const dataStart = offset + 30 + nameLength + bytes.readUInt16LE(offset + 28);
    const data = inflateRawSync(bytes.subarray(dataStart, dataStart + compressedSize));
    const descriptor = dataStart + compressedSize;
    expect(bytes.readUInt32LE(descriptor)).toBe(0x08074b50);
    expect([
      bytes.readUInt32LE(descriptor + 4),
      bytes.readUInt32LE(descriptor + 8),
      bytes.readUInt32LE(descriptor + 12),
    ]).toEqual([crc, compressedSize, size]);
    expect(data.length).toBe(size);
    expect(crc32(data)).toBe(crc);
    files.set(name, data);
  }
  return files;
}

describe("ZipStream", () => {
  it("writes entries whose central directory, descriptors and CRCs agree with the inflated data", async () => {
    const big = Buffer.from("x".repeat(300_000) + "end");
    const files = unzip(
      await archive({
        "a.txt": [Buffer.from("hello "), Buffer.from("world")],
        "dir/ünïcode.xml": [big],
        "empty.bin": [],
      }),
    );
    expect([...files.keys()]).toEqual(["a.txt", "dir/ünïcode.xml", "empty.bin"]);
    expect(files.get("a.txt")!.toString()).toBe("hello world");
    expect(files.get("dir/ünïcode.xml")!.equals(big)).toBe(true);
    expect(files.get("empty.bin")!.length).toBe(0);
  });

  it("fails the entry with the content's own error", async () => {
    const boom = new Error("content broke");
    async function* content(): AsyncGenerator<Buffer> {
      yield Buffer.from("partial");
      throw boom;
    }
    const zip = new ZipStream(1);
    const caught = await (async () => {
      for await (const _ of zip.entry("x", content())) {
        // drain
      }
    })().catch((error: unknown) => error);
    expect(caught).toBe(boom);
  });
});
