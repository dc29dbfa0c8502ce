import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { createOpenReportGeneratorWith } from "../src/openreport-report-generator.js";
import { BLOCK_BYTES, BLOCKS_IN_FLIGHT, ZipStream } from "../src/zip-stream.js";
import { collect } from "./collect.js";
import { loadExcelJs } from "./readers.js";

const MAX_32 = 0xffffffff;
const python = await promisify(execFile)("python3", ["-c", "import zipfile"]).then(
  () => true,
  () => false,
);

async function archive(entries: Record<string, (Buffer | string)[]>, forceZip64 = false): Promise<Buffer> {
  const zip = new ZipStream({ level: 1, forceZip64 });
  const chunks: Buffer[] = [];
  for (const [name, content] of Object.entries(entries)) {
    for await (const chunk of zip.entry(name, content)) chunks.push(chunk);
  }
  for await (const chunk of zip.finish()) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The ZIP64 extended information field of an extra block, as 8-byte values, if there is one. */
function zip64Values(extra: Buffer): bigint[] | undefined {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const size = extra.readUInt16LE(at + 2);
    if (id === 0x0001) {
      return Array.from({ length: size / 8 }, (_, i) => extra.readBigUInt64LE(at + 4 + 8 * i));
    }
    at += 4 + size;
  }
  return undefined;
}

interface Unzipped {
  files: Map<string, Buffer>;
  zip64End: boolean;
  zip64Entries: number;
}

/**
 * Reads an archive the way unzip tools do: from the end of central directory (following the ZIP64
 * locator when the classic record points there), then each central record (taking 0xFFFFFFFF fields
 * from its ZIP64 extra field) and its local entry, checking descriptors, sizes and CRCs.
 */
function unzip(bytes: Buffer): Unzipped {
  const end = bytes.length - 22;
  expect(bytes.readUInt32LE(end)).toBe(0x06054b50);
  let count = bytes.readUInt16LE(end + 10);
  let directorySize = bytes.readUInt32LE(end + 12);
  let at = bytes.readUInt32LE(end + 16);
  let directoryEnd = end;
  const zip64End = bytes.readUInt32LE(end - 20) === 0x07064b50;
  if (zip64End) {
    const locator = end - 20;
    expect(bytes.readUInt32LE(locator)).toBe(0x07064b50);
    expect(bytes.readUInt32LE(locator + 16), "total disks").toBe(1);
    const record = Number(bytes.readBigUInt64LE(locator + 8));
    expect(record).toBe(locator - 56);
    expect(bytes.readUInt32LE(record)).toBe(0x06064b50);
    expect(bytes.readBigUInt64LE(record + 4)).toBe(44n);
    expect([bytes.readUInt16LE(record + 12), bytes.readUInt16LE(record + 14)]).toEqual([45, 45]);
    count = Number(bytes.readBigUInt64LE(record + 32));
    expect(Number(bytes.readBigUInt64LE(record + 24))).toBe(count);
    directorySize = Number(bytes.readBigUInt64LE(record + 40));
    at = Number(bytes.readBigUInt64LE(record + 48));
    directoryEnd = record;
  }
  expect(at + directorySize).toBe(directoryEnd);
  const files = new Map<string, Buffer>();
  let zip64Entries = 0;
  for (let i = 0; i < count; i += 1) {
    expect(bytes.readUInt32LE(at)).toBe(0x02014b50);
    const crc = bytes.readUInt32LE(at + 16);
    let compressedSize = bytes.readUInt32LE(at + 20);
    let size = bytes.readUInt32LE(at + 24);
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    let offset = bytes.readUInt32LE(at + 42);
    const name = bytes.toString("utf8", at + 46, at + 46 + nameLength);
    const extra = bytes.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
    const wide = zip64Values(extra);
    if (wide !== undefined) {
      zip64Entries += 1;
      expect(bytes.readUInt16LE(at + 6), "version needed for ZIP64").toBe(45);
      // In the order the spec gives, one value per 32-bit field set to 0xFFFFFFFF.
      const fields = [size, compressedSize, offset];
      expect(wide.length).toBe(fields.filter((field) => field === MAX_32).length);
      let next = 0;
      if (size === MAX_32) size = Number(wide[next++]);
      if (compressedSize === MAX_32) compressedSize = Number(wide[next++]);
      if (offset === MAX_32) offset = Number(wide[next++]);
    }
    at += 46 + nameLength + extraLength;

    expect(bytes.readUInt32LE(offset)).toBe(0x04034b50);
    expect(bytes.toString("utf8", offset + 30, offset + 30 + nameLength)).toBe(name);
    const localExtraLength = bytes.readUInt16LE(offset + 28);
    const localZip64 = zip64Values(
      bytes.subarray(offset + 30 + nameLength, offset + 30 + nameLength + localExtraLength),
    );
    const dataStart = offset + 30 + nameLength + localExtraLength;
    const data = inflateRawSync(bytes.subarray(dataStart, dataStart + compressedSize));
    const descriptor = dataStart + compressedSize;
    expect(bytes.readUInt32LE(descriptor)).toBe(0x08074b50);
    // A local ZIP64 field announces a descriptor with 8-byte sizes.
    const described =
      localZip64 === undefined
        ? [
            bytes.readUInt32LE(descriptor + 4),
            bytes.readUInt32LE(descriptor + 8),
            bytes.readUInt32LE(descriptor + 12),
          ]
        : [
            bytes.readUInt32LE(descriptor + 4),
            Number(bytes.readBigUInt64LE(descriptor + 8)),
            Number(bytes.readBigUInt64LE(descriptor + 16)),
          ];
    expect(described).toEqual([crc, compressedSize, size]);
    expect(data.length).toBe(size);
    expect(crc32(data)).toBe(crc);
    files.set(name, data);
  }
  return { files, zip64End, zip64Entries };
}

const ENTRIES = {
  "a.txt": [Buffer.from("hello "), Buffer.from("world")],
  "dir/ünïcode.xml": [Buffer.from(`${"x".repeat(300_000)}end`)],
  "empty.bin": [],
};

describe("ZipStream", () => {
  it("writes entries whose central directory, descriptors and CRCs agree with the inflated data", async () => {
    const { files, zip64End, zip64Entries } = unzip(await archive(ENTRIES));
    expect([...files.keys()]).toEqual(["a.txt", "dir/ünïcode.xml", "empty.bin"]);
    expect(files.get("a.txt")!.toString()).toBe("hello world");
    expect(files.get("dir/ünïcode.xml")!.equals(Buffer.concat(ENTRIES["dir/ünïcode.xml"]))).toBe(true);
    expect(files.get("empty.bin")!.length).toBe(0);
    // Small archives stay classic zip, for readers without ZIP64.
    expect([zip64End, zip64Entries]).toEqual([false, 0]);
  });

  it("writes well-formed ZIP64 records (local and central extra fields, 8-byte descriptors, end records) when forced", async () => {
    const { files, zip64End, zip64Entries } = unzip(await archive(ENTRIES, true));
    expect([zip64End, zip64Entries]).toEqual([true, 3]);
    expect(files.get("a.txt")!.toString()).toBe("hello world");
    expect(files.get("dir/ünïcode.xml")!.equals(Buffer.concat(ENTRIES["dir/ünïcode.xml"]))).toBe(true);
  });

  it("fails the entry with the content's own error", async () => {
    const boom = new Error("content broke");
    async function* content(): AsyncGenerator<Buffer> {
      yield Buffer.from("partial");
      throw boom;
    }
    const zip = new ZipStream({ level: 1 });
    const caught = await (async () => {
      for await (const _ of zip.entry("x", content())) {
        // drain
      }
    })().catch((error: unknown) => error);
    expect(caught).toBe(boom);
  });
});

describe("ZipStream's parallel block deflate", () => {
  // Text and bytes mixed, over many blocks (the ring of block buffers is reused several times), with
  // multi-byte characters at and near every block boundary, a string too long to encode in place,
  // a buffer longer than a block, empty chunks, and text repeating from one block into the next
  // (back-references across the cut, through the primed dictionary).
  function mixedContent(): (Buffer | string)[] {
    const parts: (Buffer | string)[] = [];
    for (let i = 0; parts.length < 400; i += 1) {
      parts.push(
        `<row r="${i}"><c><is><t>Grüße ${i} €𝄞 ${"x".repeat(i % 97)}</t></is></c></row>`.repeat(
          1 + (i % 700),
        ),
      );
      if (i % 37 === 0) parts.push("");
      if (i % 53 === 0) parts.push(Buffer.from(`bytes ${i} ñ`.repeat(i % 3000)));
    }
    parts.push("ü".repeat(BLOCK_BYTES)); // over a third of a block: encoded apart, copied in pieces
    parts.push(Buffer.alloc(BLOCK_BYTES * 2 + 17, 0x41)); // spans three blocks
    parts.push("end €");
    return parts;
  }
  const expected = (parts: (Buffer | string)[]) =>
    Buffer.concat(parts.map((part) => (typeof part === "string" ? Buffer.from(part, "utf8") : part)));

  it("inflates to exactly the content, CRC and sizes agreeing, over more blocks than the ring holds", async () => {
    const content = mixedContent();
    const want = expected(content);
    expect(want.length).toBeGreaterThan(BLOCK_BYTES * (BLOCKS_IN_FLIGHT + 3));
    const { files } = unzip(await archive({ "big.xml": content, "small.txt": ["ab", Buffer.from("c")] }));
    expect(files.get("big.xml")!.equals(want)).toBe(true);
    expect(files.get("small.txt")!.toString()).toBe("abc");
  });

  it("compresses about as well as one deflate stream (the blocks are primed with the 32 KiB before them)", async () => {
    const content = mixedContent();
    const bytes = await archive({ "big.xml": content });
    const single = deflateRawSync(expected(content), { level: 1 }).length;
    // Central directory: compressed size at offset 20 of the only record.
    const compressed = bytes.readUInt32LE(bytes.length - 22 - 46 - "big.xml".length + 20);
    expect(compressed / single).toBeLessThan(1.01);
  });

  it.skipIf(!python)("is read by Python's zipfile (inflate and CRC)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "report-blocks-"));
    try {
      const path = join(dir, "blocks.zip");
      await writeFile(path, await archive({ "big.xml": mixedContent() }));
      const { stdout } = await promisify(execFile)("python3", [
        "-c",
        "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(z.testzip(), len(z.read('big.xml')))",
        path,
      ]);
      expect(stdout.trim()).toBe(`None ${expected(mixedContent()).length}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops on abort with blocks still deflating: rejects with the reason, returns the content, leaves nothing unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (error: unknown) => unhandled.push(error);
    process.on("unhandledRejection", onUnhandled);
    try {
      for (let run = 0; run < 20; run += 1) {
        const controller = new AbortController();
        let pulled = 0;
        let returned = false;
        async function* content(): AsyncGenerator<string> {
          try {
            for (;;) {
              pulled += 1;
              // Aborts once a few blocks are on the thread pool, at a different point each run.
              if (pulled === 8 * (BLOCKS_IN_FLIGHT + 1) + run) controller.abort(new Error(`stop ${run}`));
              yield `<row>${"y".repeat(64 * 1024)}</row>`;
            }
          } finally {
            returned = true;
          }
        }
        const zip = new ZipStream({ level: 1 });
        let written = 0;
        const caught = await (async () => {
          for await (const chunk of zip.entry("x", content(), controller.signal)) written += chunk.length;
        })().catch((error: unknown) => error);
        expect((caught as Error).message).toBe(`stop ${run}`);
        expect(returned).toBe(true);
        expect(written).toBeGreaterThan(0);
      }
      // The abandoned blocks finish on the pool within milliseconds; their results go nowhere.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("an XLSX written with ZIP64 records", () => {
  const columns = [
    { header: "Name", key: "name", type: "string" as const },
    { header: "Count", key: "count", type: "integer" as const },
  ];
  const rows = Array.from({ length: 2_000 }, (_, i) => ({ name: `row ${i}`, count: i }));

  async function zip64Xlsx(): Promise<Buffer> {
    return collect(
      createOpenReportGeneratorWith({ forceZip64: true }),
      { sheets: [{ name: "Big", columns, rows }] },
      { format: "xlsx" },
    );
  }

  it("is read back by exceljs (JSZip reads ZIP64; SheetJS 0.18 does not)", async () => {
    const bytes = await zip64Xlsx();
    expect(unzip(bytes).zip64End).toBe(true);
    expect((await loadExcelJs(bytes)).getWorksheet("Big")!.getCell("B2001").value).toBe(1_999);
  });

  it.skipIf(!python)("passes Python's zipfile integrity test (the reader openpyxl uses)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "report-zip64-"));
    try {
      const path = join(dir, "zip64.xlsx");
      await writeFile(path, await zip64Xlsx());
      const { stdout } = await promisify(execFile)("python3", [
        "-c",
        "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(z.testzip(), len(z.namelist()))",
        path,
      ]);
      expect(stdout.trim()).toBe("None 6");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
