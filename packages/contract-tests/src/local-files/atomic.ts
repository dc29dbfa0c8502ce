import { promises as fs } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep } from "../harness.js";
import {
  ageFiles,
  chunksThenFailure,
  expectSourceFailure,
  filesOnDisk,
  type ManagerGetter,
} from "./fixtures.js";

const HOUR = 3_600_000;

/** A whole version is `length` copies of one byte; anything else is a torn read. */
function version(byte: number, length: number): Buffer {
  return Buffer.alloc(length, byte);
}

function isWholeVersion(bytes: Buffer, versions: ReadonlyArray<Buffer>): boolean {
  return versions.some((candidate) => candidate.equals(bytes));
}

export function atomicTests(manager: ManagerGetter): void {
  describe("atomic writes", () => {
    it("never shows a concurrent reader a partial file", { timeout: 120_000 }, async () => {
      const versions = [version(0x41, 4 * 1024 * 1024), version(0x42, 3 * 1024 * 1024 + 17)];
      await manager().write("big.bin", versions[0] as Buffer);
      const absolute = await manager().resolve("big.bin");
      let writing = true;
      let reads = 0;
      const reader = (async () => {
        while (writing) {
          const bytes = await fs.readFile(absolute);
          reads++;
          if (!isWholeVersion(bytes, versions)) throw new Error(`torn read of ${bytes.byteLength} bytes`);
          await sleep(0);
        }
      })();
      try {
        for (let round = 0; round < 12; round++) {
          const next = versions[round % 2 === 0 ? 1 : 0] as Buffer;
          // Chunked, so a non-atomic write would leave a partly written file visible for a while.
          async function* chunked() {
            for (let offset = 0; offset < next.byteLength; offset += 256 * 1024) {
              yield next.subarray(offset, offset + 256 * 1024);
              await sleep(1);
            }
          }
          await manager().write("big.bin", chunked());
        }
      } finally {
        writing = false;
        await reader;
      }
      expect(reads).toBeGreaterThan(0);
    });

    it("keeps the old file when a write fails midway, and leaves no temporary file after a sweep", async () => {
      const root = manager().root;
      await manager().write("kept/data.bin", "old content");
      const broken = new Error("the data source broke midway");
      await expectSourceFailure(manager().write("kept/data.bin", chunksThenFailure(8, broken)), broken);
      expect(Buffer.from(await manager().read("kept/data.bin")).toString()).toBe("old content");

      // Age everything left in the folder, then make the old file fresh again: a sweep must leave
      // exactly the old file.
      const folder = join(root, "kept");
      await ageFiles(folder, 2 * HOUR);
      const now = new Date();
      await fs.utimes(join(folder, "data.bin"), now, now);
      await manager().sweep({ olderThanMs: HOUR, path: "kept" });
      expect(await filesOnDisk(folder)).toEqual(["data.bin"]);
      expect(await fs.readFile(join(folder, "data.bin"), "utf8")).toBe("old content");
    });

    it("leaves no file when a first write fails midway", async () => {
      const broken = new Error("the data source broke before the end");
      await expectSourceFailure(manager().write("never/data.bin", chunksThenFailure(4, broken)), broken);
      expect(await manager().exists("never/data.bin")).toBe(false);
      await ageFiles(manager().root, 2 * HOUR);
      await manager().sweep({ olderThanMs: HOUR, path: "never" });
      expect((await manager().list()).filter((file) => file.path.startsWith("never/"))).toEqual([]);
    });

    it("rejects a cancelled write with CANCELLED and keeps the old file", async () => {
      await manager().write("cancelled.txt", "old");
      const controller = new AbortController();
      async function* slow() {
        yield new Uint8Array(1024).fill(1);
        controller.abort();
        for (let i = 0; i < 200; i++) {
          await sleep(20);
          yield new Uint8Array(1024).fill(2);
        }
      }
      const started = Date.now();
      await expectErrorCode(
        manager().write("cancelled.txt", slow(), { signal: controller.signal }),
        "CANCELLED",
      );
      expect(Date.now() - started).toBeLessThan(3000);
      expect(Buffer.from(await manager().read("cancelled.txt")).toString()).toBe("old");
    });

    it("rejects a write with an already aborted signal and writes nothing", async () => {
      await expectErrorCode(
        manager().write("aborted.txt", "x", { signal: AbortSignal.abort() }),
        "CANCELLED",
      );
      expect(await manager().exists("aborted.txt")).toBe(false);
    });
  });
}
