import { promises as fs } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { collectBytes, expectErrorCode } from "../harness.js";
import type { ManagerGetter } from "./fixtures.js";

export function fileTests(manager: ManagerGetter): void {
  describe("write, read, stat, exists, delete", () => {
    it("writes bytes and returns the file's info", async () => {
      const before = Date.now();
      const info = await manager().write("report.bin", new Uint8Array([1, 2, 3, 4]));
      expect(info.path).toBe("report.bin");
      expect(info.size).toBe(4);
      expect(info.modifiedAt).toBeInstanceOf(Date);
      expect(info.modifiedAt.getTime()).toBeGreaterThanOrEqual(before - 2000);
      expect([...(await fs.readFile(join(manager().root, "report.bin")))]).toEqual([1, 2, 3, 4]);
    });

    it("writes a string as UTF-8", async () => {
      await manager().write("text.txt", "héllo 日本");
      expect(await fs.readFile(join(manager().root, "text.txt"), "utf8")).toBe("héllo 日本");
    });

    it("writes a Node Readable and an async iterable", async () => {
      await manager().write("readable.txt", Readable.from(["one ", "two ", "three"]));
      expect(Buffer.from(await manager().read("readable.txt")).toString()).toBe("one two three");
      async function* parts() {
        yield new Uint8Array([104, 105]);
        yield new Uint8Array([33]);
      }
      const info = await manager().write("iterable.txt", parts());
      expect(info.size).toBe(3);
      expect(Buffer.from(await manager().read("iterable.txt")).toString()).toBe("hi!");
    });

    it("creates missing parent folders", async () => {
      const info = await manager().write("deep/er/and/deeper/file.txt", "x");
      expect(info.path).toBe("deep/er/and/deeper/file.txt");
      expect(await fs.readFile(join(manager().root, "deep/er/and/deeper/file.txt"), "utf8")).toBe("x");
    });

    it("replaces an existing file", async () => {
      await manager().write("replace.txt", "a much longer first version");
      await manager().write("replace.txt", "second");
      expect(Buffer.from(await manager().read("replace.txt")).toString()).toBe("second");
      expect((await manager().stat("replace.txt")).size).toBe(6);
    });

    it("reads a file through createReadStream", async () => {
      const bytes = Buffer.alloc(300_000, 7);
      await manager().write("stream.bin", bytes);
      const stream = await manager().createReadStream("stream.bin");
      expect((await collectBytes(stream)).equals(bytes)).toBe(true);
    });

    it("rejects read and createReadStream of a missing file with NOT_FOUND", async () => {
      await expectErrorCode(manager().read("missing.txt"), "NOT_FOUND");
      await expectErrorCode(manager().createReadStream("missing.txt"), "NOT_FOUND");
      await expectErrorCode(manager().read("missing-folder/missing.txt"), "NOT_FOUND");
    });

    it("reports stat of a file, and NOT_FOUND for a missing one", async () => {
      await manager().write("nested/stat.txt", "12345");
      const info = await manager().stat("nested/stat.txt");
      expect(info).toEqual({ path: "nested/stat.txt", size: 5, modifiedAt: expect.any(Date) });
      await expectErrorCode(manager().stat("nested/missing.txt"), "NOT_FOUND");
    });

    it("answers exists with true or false", async () => {
      expect(await manager().exists("maybe.txt")).toBe(false);
      await manager().write("maybe.txt", "x");
      expect(await manager().exists("maybe.txt")).toBe(true);
    });

    it("deletes a file with true, and resolves false for a missing one", async () => {
      await manager().write("doomed.txt", "x");
      expect(await manager().delete("doomed.txt")).toBe(true);
      expect(await manager().exists("doomed.txt")).toBe(false);
      expect(await manager().delete("doomed.txt")).toBe(false);
      expect(await manager().delete("never/was.txt")).toBe(false);
    });
  });

  describe("list", () => {
    it("lists files, not folders, recursively, sorted by path, relative to the root", async () => {
      for (const path of ["b.txt", "a/z.txt", "a/b/c.txt", "a-b.txt", "a0.txt", "A.txt", "a/b.txt"]) {
        await manager().write(path, path);
      }
      await fs.mkdir(join(manager().root, "empty-folder"));
      const listed = await manager().list();
      expect(listed.map((file) => file.path)).toEqual(
        ["A.txt", "a-b.txt", "a/b.txt", "a/b/c.txt", "a/z.txt", "a0.txt", "b.txt"].sort(),
      );
      const first = listed.find((file) => file.path === "a/b/c.txt");
      expect(first?.size).toBe(Buffer.byteLength("a/b/c.txt"));
      expect(first?.modifiedAt).toBeInstanceOf(Date);
    });

    it("lists the files under a folder with paths relative to the root", async () => {
      await manager().write("docs/one.txt", "1");
      await manager().write("docs/sub/two.txt", "2");
      await manager().write("other/three.txt", "3");
      expect((await manager().list("docs")).map((file) => file.path)).toEqual([
        "docs/one.txt",
        "docs/sub/two.txt",
      ]);
    });

    it("lists a missing folder as empty", async () => {
      expect(await manager().list("no/such/folder")).toEqual([]);
    });

    it("lists an empty root as empty", async () => {
      expect(await manager().list()).toEqual([]);
    });
  });
}
