import { promises as fs } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { LocalFileManager } from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { filesOnDisk, type ManagerGetter, outsideFolder } from "./fixtures.js";

/**
 * Paths every manager must refuse. The symlinks named here are arranged by `beforeEach`:
 * `link-out` → the outside folder, `link-secret` → a file in it, `inner/link-up` → `../..`
 * (relative, climbing out of the root), `alias` → `real` (inside the root, allowed).
 */
const ESCAPES: ReadonlyArray<[string, string]> = [
  ["empty", ""],
  ["a lone ..", ".."],
  ["a leading ..", "../outside.txt"],
  ["a .. climbing out from a folder", "a/../../b"],
  ["a .. that stays inside", "a/../b"],
  ["a trailing ..", "a/.."],
  ["dots and ..", "a/./../.."],
  ["an absolute POSIX path", "/etc/passwd"],
  ["the file-system root", "/"],
  ["a double leading slash", "//server/share"],
  ["a Windows drive path", "C:\\Windows\\win.ini"],
  ["a drive path with a forward slash", "c:/windows/win.ini"],
  ["a UNC path", "\\\\server\\share\\x"],
  ["a backslash", "a\\b"],
  ["a backslash ..", "..\\outside.txt"],
  ["a NUL byte", "a\u0000b"],
  ["a NUL byte after a valid name", "report.txt\u0000.png"],
  ["an encoded ../", "%2e%2e%2fetc%2fpasswd"],
  ["an encoded slash", "a%2Fb"],
  ["an encoded slash in lower case", "a%2fb"],
  ["an encoded backslash", "a%5Cb"],
  ["a double-encoded slash", "a%252Fb"],
  ["a symlinked folder pointing outside", "link-out/secret.txt"],
  ["a new file under a symlinked folder pointing outside", "link-out/new.txt"],
  ["the symlinked folder itself", "link-out"],
  ["a symlink to an outside file", "link-secret"],
  ["a relative symlink climbing out", "inner/link-up/etc/passwd"],
];

/** Every method that takes a path. `write` is the one that must not touch anything. */
const CALLS: ReadonlyArray<[string, (manager: LocalFileManager, path: string) => Promise<unknown>]> = [
  ["resolve", (m, p) => m.resolve(p)],
  ["write", (m, p) => m.write(p, "written through an escape")],
  ["read", (m, p) => m.read(p)],
  ["createReadStream", (m, p) => m.createReadStream(p)],
  ["exists", (m, p) => m.exists(p)],
  ["stat", (m, p) => m.stat(p)],
  ["delete", (m, p) => m.delete(p)],
  ["list", (m, p) => m.list(p)],
  ["sweep", (m, p) => m.sweep({ olderThanMs: 0, path: p })],
];

export function pathTests(manager: ManagerGetter): void {
  describe("path checks", () => {
    let outside: Awaited<ReturnType<typeof outsideFolder>>;

    beforeEach(async () => {
      outside = await outsideFolder();
      const root = manager().root;
      await fs.mkdir(join(root, "inner"), { recursive: true });
      await fs.mkdir(join(root, "real"), { recursive: true });
      await fs.writeFile(join(root, "real", "inside.txt"), "inside");
      await fs.symlink(outside.path, join(root, "link-out"));
      await fs.symlink(join(outside.path, "secret.txt"), join(root, "link-secret"));
      await fs.symlink("../..", join(root, "inner", "link-up"));
      await fs.symlink("real", join(root, "alias"));
    });

    afterEach(async () => {
      await outside.remove();
    });

    it("has an absolute root", () => {
      expect(isAbsolute(manager().root)).toBe(true);
    });

    it("resolves a relative path to an absolute path under the root", async () => {
      const resolved = await manager().resolve("some/file.txt");
      expect(isAbsolute(resolved)).toBe(true);
      expect(await fs.realpath(join(resolved, "..", ".."))).toBe(await fs.realpath(manager().root));
      expect(resolved.endsWith(join("some", "file.txt"))).toBe(true);
    });

    it("accepts names that merely contain dots, spaces, unicode or percent signs", async () => {
      for (const path of ["a..b.txt", "...", "dir/.hidden", "with space/ünï 日本.txt", "100%.txt", "a%20b"]) {
        await manager().write(path, path);
        expect(Buffer.from(await manager().read(path)).toString()).toBe(path);
      }
    });

    it("follows a symlink that stays inside the root", async () => {
      expect(Buffer.from(await manager().read("alias/inside.txt")).toString()).toBe("inside");
      await manager().write("alias/written.txt", "via alias");
      expect(await fs.readFile(join(manager().root, "real", "written.txt"), "utf8")).toBe("via alias");
    });

    it(`refuses a corpus of ${ESCAPES.length} escaping paths in every method, touching nothing`, async () => {
      expect(ESCAPES.length).toBeGreaterThanOrEqual(20);
      const root = manager().root;
      const rootBefore = await filesOnDisk(root);
      const outsideBefore = await filesOnDisk(outside.path);
      for (const [label, path] of ESCAPES) {
        for (const [name, call] of CALLS) {
          try {
            await expectErrorCode(() => call(manager(), path), "INVALID_ARGUMENT");
          } catch (error) {
            throw new Error(`${name}(${JSON.stringify(path)}) [${label}]: ${(error as Error).message}`, {
              cause: error,
            });
          }
        }
      }
      expect(await filesOnDisk(root)).toEqual(rootBefore);
      expect(await filesOnDisk(outside.path)).toEqual(outsideBefore);
      expect(await fs.readFile(join(outside.path, "secret.txt"), "utf8")).toBe("outside the root");
    });

    it("refuses a symlink replaced to point outside after it was first used", async () => {
      await manager().write("alias/first.txt", "inside");
      const root = manager().root;
      await fs.rm(join(root, "alias"));
      await fs.symlink(outside.path, join(root, "alias"));
      await expectErrorCode(manager().write("alias/second.txt", "escaped"), "INVALID_ARGUMENT");
      await expectErrorCode(manager().read("alias/secret.txt"), "INVALID_ARGUMENT");
      expect(await filesOnDisk(outside.path)).toEqual(["secret.txt"]);
    });
  });
}
