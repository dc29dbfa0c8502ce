import { promises as fs } from "node:fs";
import { join } from "node:path";
import { expectErrorCode } from "@proj/contract-tests";
import type { LocalFileManager } from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalFileManager } from "../src/index.js";
import { canMakeImmutable, newTempFolder, whileImmutable } from "./helpers.js";

let root: string;
let manager: LocalFileManager;

beforeEach(async () => {
  root = await newTempFolder();
  manager = createLocalFileManager({ root });
});

afterEach(async () => {
  await manager.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("local file manager", () => {
  it("creates a missing root on first use", async () => {
    const nested = createLocalFileManager({ root: join(root, "not", "yet") });
    await nested.write("a.txt", "x");
    expect(await fs.readFile(join(root, "not", "yet", "a.txt"), "utf8")).toBe("x");
  });

  it("puts temporary files under <root>/.tmp by default", async () => {
    const path = await manager.withTempFile(async (p) => p);
    expect(path.startsWith(join(root, ".tmp"))).toBe(true);
  });

  it("accepts an absolute temporary folder outside the root, and sweeps it by default", async () => {
    const temp = await newTempFolder();
    const withTemp = createLocalFileManager({ root, tempDir: temp });
    try {
      const path = await withTemp.withTempFile(async (p) => p);
      expect(path.startsWith(temp)).toBe(true);
      await fs.writeFile(join(temp, "old"), "x");
      const past = new Date(Date.now() - 60_000);
      await fs.utimes(join(temp, "old"), past, past);
      expect(await withTemp.sweep({ olderThanMs: 1000 })).toBe(1);
    } finally {
      await fs.rm(temp, { recursive: true, force: true });
    }
  });

  it("refuses the names it reserves for temporary files", async () => {
    await expectErrorCode(manager.write(".~tmp-0011", "x"), "INVALID_ARGUMENT");
  });

  it("does not list the temporary files of writes in progress", async () => {
    await manager.write("a/file.txt", "x");
    await fs.writeFile(join(root, "a", ".~tmp-0123456789abcdef"), "partial");
    expect((await manager.list()).map((file) => file.path)).toEqual(["a/file.txt"]);
  });

  it("does not list symlinks, so an outside target is never examined", async () => {
    await manager.write("real.txt", "x");
    await fs.symlink("/etc/hostname", join(root, "link"));
    expect((await manager.list()).map((file) => file.path)).toEqual(["real.txt"]);
  });

  it("refuses a negative sweep age", async () => {
    await expectErrorCode(manager.sweep({ olderThanMs: -1 }), "INVALID_ARGUMENT");
  });

  it("refuses a folder where a file is expected", async () => {
    await manager.write("folder/file.txt", "x");
    await expectErrorCode(manager.read("folder"), "INVALID_ARGUMENT");
    await expectErrorCode(manager.stat("folder"), "INVALID_ARGUMENT");
    expect(await manager.exists("folder")).toBe(false);
  });

  it.skipIf(!canMakeImmutable)("maps a refused write to PERMISSION_DENIED and leaves no file", async () => {
    await fs.mkdir(join(root, "locked"));
    await whileImmutable(join(root, "locked"), async () => {
      await expectErrorCode(manager.write("locked/new.txt", "x"), "PERMISSION_DENIED");
    });
    expect(await fs.readdir(join(root, "locked"))).toEqual([]);
  });
});
