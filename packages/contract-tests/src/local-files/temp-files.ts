import { promises as fs } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { ageFiles, filesOnDisk, type ManagerGetter } from "./fixtures.js";

const HOUR = 3_600_000;

async function pathExists(path: string): Promise<boolean> {
  return fs.lstat(path).then(
    () => true,
    () => false,
  );
}

export function tempFileTests(manager: ManagerGetter): void {
  describe("withTempFile", () => {
    it("hands over a fresh absolute path where no file exists yet, and returns the result", async () => {
      let seen = "";
      const result = await manager().withTempFile(async (path) => {
        seen = path;
        expect(isAbsolute(path)).toBe(true);
        expect(await pathExists(path)).toBe(false);
        await fs.writeFile(path, "work in progress");
        return 42;
      });
      expect(result).toBe(42);
      expect(await pathExists(seen)).toBe(false);
    });

    it("hands each call a different path", async () => {
      const paths = await Promise.all(
        Array.from({ length: 5 }, () => manager().withTempFile(async (path) => path)),
      );
      expect(new Set(paths).size).toBe(5);
    });

    it("removes the file and rethrows when work throws", async () => {
      let seen = "";
      const failure = new Error("work failed");
      await expect(
        manager().withTempFile(async (path) => {
          seen = path;
          await fs.writeFile(path, "half done");
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(seen).not.toBe("");
      expect(await pathExists(seen)).toBe(false);
    });

    it("removes a folder that work created at the path", async () => {
      let seen = "";
      await manager().withTempFile(async (path) => {
        seen = path;
        await fs.mkdir(join(path, "inner"), { recursive: true });
        await fs.writeFile(join(path, "inner", "x.txt"), "x");
      });
      expect(await pathExists(seen)).toBe(false);
    });

    it("resolves when work never created the file", async () => {
      await expect(manager().withTempFile(async () => "nothing written")).resolves.toBe("nothing written");
    });

    it("applies the prefix and extension to the generated name", async () => {
      const name = await manager().withTempFile(async (path) => basename(path), {
        prefix: "export-",
        extension: ".xlsx",
      });
      expect(name.startsWith("export-")).toBe(true);
      expect(name.endsWith(".xlsx")).toBe(true);
    });

    for (const [label, options] of [
      ["an extension with a slash", { extension: "/../x" }],
      ["an extension with a backslash", { extension: "\\x" }],
      ["a prefix with a slash", { prefix: "../" }],
      ["a prefix with a NUL byte", { prefix: "a\u0000" }],
      ["a prefix with a space", { prefix: "a b" }],
    ] as const) {
      it(`rejects ${label} with INVALID_ARGUMENT without calling work`, async () => {
        let called = false;
        await expectErrorCode(
          manager().withTempFile(async () => {
            called = true;
          }, options),
          "INVALID_ARGUMENT",
        );
        expect(called).toBe(false);
      });
    }

    it("places the path in the temporary folder that sweep clears by default", async () => {
      let folder = "";
      await manager().withTempFile(async (path) => {
        folder = dirname(path);
        await fs.writeFile(join(folder, "left-behind.tmp"), "a crashed job's file");
      });
      await ageFiles(folder, 2 * HOUR);
      expect(await manager().sweep({ olderThanMs: HOUR })).toBe(1);
      expect(await pathExists(join(folder, "left-behind.tmp"))).toBe(false);
    });
  });

  describe("sweep", () => {
    it("removes the files older than the age, keeps the newer ones, and returns how many", async () => {
      const root = manager().root;
      for (const path of ["work/old-1.txt", "work/old-2.txt", "work/nested/old-3.txt", "work/new.txt"]) {
        await manager().write(path, path);
      }
      await manager().write("elsewhere/old.txt", "outside the swept folder");
      await ageFiles(join(root, "work"), 2 * HOUR);
      await ageFiles(join(root, "elsewhere"), 2 * HOUR);
      const now = new Date();
      await fs.utimes(join(root, "work/new.txt"), now, now);

      expect(await manager().sweep({ olderThanMs: HOUR, path: "work" })).toBe(3);
      expect(await filesOnDisk(join(root, "work"))).toEqual(["new.txt"]);
      expect(await manager().exists("elsewhere/old.txt")).toBe(true);
    });

    it("returns 0 for a missing folder", async () => {
      expect(await manager().sweep({ olderThanMs: 0, path: "no/such/folder" })).toBe(0);
    });

    it("returns 0 when nothing is old enough", async () => {
      await manager().write("fresh/file.txt", "x");
      expect(await manager().sweep({ olderThanMs: HOUR, path: "fresh" })).toBe(0);
      expect(await manager().exists("fresh/file.txt")).toBe(true);
    });
  });
}
