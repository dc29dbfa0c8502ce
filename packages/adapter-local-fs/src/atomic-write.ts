import { randomBytes } from "node:crypto";
import { promises as fs, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { type ObjectBodySource, objectBodyChunks, throwIfAborted } from "@proj/ports";
import type { OpenFolder } from "./confined-folder.js";
import { TEMP_PREFIX } from "./paths.js";

/** What `write` names its temporary files; `sweep` reclaims exactly these and nothing else. */
export const TEMP_FILE_NAME = /^\.~tmp-[0-9a-f]{16}$/;

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

/**
 * Streams `body` into a new file `name` of a checked folder (it must not exist: an exclusive create
 * never follows a symlink), flushed to disk before it resolves, and returns its stats. On any
 * failure the partial file is removed.
 */
export async function writeNewFile(
  folder: OpenFolder,
  name: string,
  body: ObjectBodySource,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Stats> {
  const path = folder.entry(name);
  const handle = await fs.open(path, "wx");
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
 * Replaces `name` in a checked folder atomically: the body goes to a temporary file in the same
 * folder, which is flushed and then renamed over the name, and the folder is flushed so the rename
 * survives a crash. Readers see the old file or the whole new one. A failed write removes its
 * temporary file; one left by a crash is reclaimed by `sweep`. Returns the new file's stats.
 */
export async function writeAtomically(
  folder: OpenFolder,
  name: string,
  body: ObjectBodySource,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Stats> {
  const temp = tempName();
  const stats = await writeNewFile(folder, temp, body, signal, what);
  try {
    throwIfAborted(signal, what);
    await fs.rename(folder.entry(temp), folder.entry(name));
  } catch (error) {
    await fs.unlink(folder.entry(temp)).catch(() => undefined);
    throw error;
  }
  await folder.handle.sync();
  return stats;
}
