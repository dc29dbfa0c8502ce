import { randomBytes } from "node:crypto";
import { promises as fs, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type ObjectBodySource, objectBodyChunks, throwIfAborted } from "@proj/ports";
import { isMissing } from "./map-local-fs-error.js";
import { TEMP_PREFIX } from "./paths.js";

export function tempName(): string {
  return `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`;
}

/** Writes a whole buffer; `FileHandle.write` may write less than asked. */
async function writeFully(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Makes a rename or a new entry in `folder` survive a crash. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await fs.open(folder, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Streams `body` into a new file at `path` (which must not exist), flushed to disk before it
 * resolves, and returns its stats. On any failure the partial file is removed. `createFolder`
 * creates a missing folder.
 */
export async function writeNewFile(
  path: string,
  body: ObjectBodySource,
  signal: AbortSignal | undefined,
  what: string,
  createFolder = false,
): Promise<Stats> {
  const handle = await fs.open(path, "wx").catch(async (error: unknown) => {
    // Creating the folder only when the open finds it missing saves a call per write.
    if (!createFolder || !isMissing(error)) throw error;
    await fs.mkdir(dirname(path), { recursive: true });
    return fs.open(path, "wx");
  });
  try {
    for await (const chunk of objectBodyChunks(body, signal, what)) {
      await writeFully(handle, chunk);
    }
    await handle.sync();
    const stats = await handle.stat();
    await handle.close();
    return stats;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.unlink(path).catch(() => undefined);
    throw error;
  }
}

/**
 * Replaces `target` atomically: the body goes to a temporary file in the same folder, which is
 * flushed and then renamed over the target, and the folder is flushed so the rename survives a
 * crash. Readers see the old file or the whole new one. A failed write removes its temporary file;
 * one left by a crash is removed by the next sweep of the folder. Missing folders are created.
 * Returns the new file's stats.
 */
export async function writeAtomically(
  target: string,
  body: ObjectBodySource,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Stats> {
  const folder = dirname(target);
  const temp = join(folder, tempName());
  const stats = await writeNewFile(temp, body, signal, what, true);
  try {
    throwIfAborted(signal, what);
    await fs.rename(temp, target);
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncFolder(folder);
  return stats;
}
