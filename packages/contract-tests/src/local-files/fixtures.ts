import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type InfrastructureError, isInfrastructureError, type LocalFileManager } from "@proj/ports";
import { expect } from "vitest";
import type { ContractHarness } from "../harness.js";

/**
 * The harness gives a manager over a fresh, empty root folder on the local disk (the suite reads
 * and arranges files there with `node:fs`). Some tests close the manager themselves, so `destroy`
 * must also accept an already closed one.
 */
export interface LocalFileManagerHarness extends ContractHarness<LocalFileManager> {
  /**
   * A manager whose root lies on a file system too small for a 4 MiB file, for the
   * `RESOURCE_EXHAUSTED` test, and how to release it after the manager is closed; skipped
   * (visibly) where the environment cannot provide one.
   */
  smallDisk?(): Promise<{ manager: LocalFileManager; release(): Promise<void> }>;
}

export type ManagerGetter = () => LocalFileManager;

/** A folder outside every root, for symlink targets; removed by the returned function. */
export async function outsideFolder(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await fs.mkdtemp(join(tmpdir(), "lfm-outside-"));
  await fs.writeFile(join(path, "secret.txt"), "outside the root");
  return { path, remove: () => fs.rm(path, { recursive: true, force: true }) };
}

/**
 * Every file below `folder` (paths relative to it), found with plain `node:fs`. Symbolic links are
 * listed, never followed: `readdir`'s own `recursive` walks into a link to a parent on newer Node
 * lines (26) until the path is too long.
 */
export async function filesOnDisk(folder: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await fs.readdir(join(folder, relative), { withFileTypes: true })) {
      const path = relative === "" ? entry.name : join(relative, entry.name);
      if (entry.isDirectory()) await walk(path);
      else found.push(path);
    }
  };
  await walk("");
  return found.sort();
}

/** Sets the modification time of every file below `folder` to `ageMs` ago. */
export async function ageFiles(folder: string, ageMs: number): Promise<void> {
  const when = new Date(Date.now() - ageMs);
  for (const relative of await filesOnDisk(folder)) await fs.utimes(join(folder, relative), when, when);
}

/** A data source that yields `chunks` chunks, then throws `failure`. */
export async function* chunksThenFailure(
  chunks: number,
  failure: Error = new Error("the data source broke midway"),
  size = 64 * 1024,
): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < chunks; i++) yield new Uint8Array(size).fill(i & 0xff);
  throw failure;
}

/**
 * Checks that `action` rejects the way a write whose data source failed must: with a taxonomy
 * error (never the source's raw error, nor a resolve), whose `cause` chain keeps `sourceError` so
 * the real reason is not lost.
 */
export async function expectSourceFailure(action: Promise<unknown>, sourceError: Error): Promise<void> {
  let failure: unknown;
  let rejected = false;
  try {
    await action;
  } catch (error) {
    rejected = true;
    failure = error;
  }
  expect(rejected, "the write resolved although its data source failed").toBe(true);
  expect(isInfrastructureError(failure), `expected an InfrastructureError, got ${String(failure)}`).toBe(
    true,
  );
  expect((failure as InfrastructureError).code).not.toBe("NOT_FOUND");
  const causes: unknown[] = [];
  for (let cause: unknown = failure; cause !== undefined && causes.length < 10; ) {
    causes.push(cause);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  expect(causes, "the data source's error is missing from the cause chain").toContain(sourceError);
}

export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
