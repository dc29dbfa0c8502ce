import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { throwIfAborted } from "@proj/ports";
import { type Body, bodyChunks } from "./body.js";
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
 * resolves. On any failure the partial file is removed. `onChunk` sees every byte written.
 */
export async function writeNewFile(
  path: string,
  body: Body,
  signal: AbortSignal | undefined,
  what: string,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  const handle = await fs.open(path, "wx");
  let size = 0;
  try {
    for await (const chunk of bodyChunks(body, signal, what)) {
      onChunk?.(chunk);
      await writeFully(handle, chunk);
      size += chunk.byteLength;
    }
    await handle.sync();
    await handle.close();
    return size;
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
 * one left by a crash is removed by the next sweep of the folder.
 */
export async function writeAtomically(
  target: string,
  body: Body,
  signal: AbortSignal | undefined,
  what: string,
): Promise<void> {
  const folder = dirname(target);
  const temp = join(folder, tempName());
  await writeNewFile(temp, body, signal, what);
  try {
    throwIfAborted(signal, what);
    await fs.rename(temp, target);
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncFolder(folder);
}
