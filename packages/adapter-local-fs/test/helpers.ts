import { execFile, execFileSync } from "node:child_process";
import { promises as fs, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export async function newTempFolder(): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), "local-fs-test-"));
}

export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Whether `chattr +i` works here (root on a file system with attributes); decided once, synchronously. */
export const canMakeImmutable: boolean = (() => {
  if (!isRoot) return false;
  const folder = mkdtempSync(join(tmpdir(), "local-fs-chattr-"));
  try {
    execFileSync("chattr", ["+i", folder], { stdio: "ignore" });
    execFileSync("chattr", ["-i", folder], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
})();

/** Makes `folder` refuse changes even to root for the duration of `work`. */
export async function whileImmutable<T>(folder: string, work: () => Promise<T>): Promise<T> {
  await run("chattr", ["+i", folder]);
  try {
    return await work();
  } finally {
    await run("chattr", ["-i", folder]);
  }
}

/** Whether a tmpfs can be mounted here (root with the mount capability); decided once. */
export const canMountTmpfs: boolean = (() => {
  if (!isRoot) return false;
  const folder = mkdtempSync(join(tmpdir(), "local-fs-mount-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", folder], { stdio: "ignore" });
    execFileSync("umount", [folder], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
})();

/** A real 1 MiB file system (tmpfs) mounted on a fresh folder, and how to unmount and remove it. */
export async function mountSmallDisk(): Promise<{ path: string; release: () => Promise<void> }> {
  const path = await newTempFolder();
  await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", path]);
  return {
    path,
    release: async () => {
      await run("umount", [path]);
      await fs.rm(path, { recursive: true, force: true });
    },
  };
}
