import type { Readable } from "node:stream";
import type { Closeable, OperationOptions } from "./resources.js";

export interface LocalFileInfo {
  /** Relative to the root, with `/` separators. */
  path: string;
  size: number;
  modifiedAt: Date;
}

export interface TempFileOptions {
  /** Appended to the generated name, e.g. `.xlsx`. Letters, digits, `.`, `-`, `_` only. */
  extension?: string;
  /** Prefix of the generated name. Same characters as `extension`. */
  prefix?: string;
}

export interface SweepOptions {
  /** Files last modified longer ago than this are removed. */
  olderThanMs: number;
  /** Folder to sweep, relative to the root. Default: the temporary folder. */
  path?: string;
}

/**
 * Files under one root folder on the local disk, mostly temporary working files.
 *
 * Contract:
 * - Every path is relative to the root, with `/` separators. A path that is empty, absolute, holds
 *   a `..` segment, a NUL byte, a backslash or a percent-encoded separator, or that resolves
 *   (through a symlink) outside the root is `INVALID_ARGUMENT`, and nothing is touched.
 * - `write` is atomic: a reader sees the old file or the whole new one, never a part; a write that
 *   fails or is cancelled leaves the old file (or no file) and no temporary file after the next
 *   `sweep`. Missing parent folders are created.
 * - `read`/`createReadStream` of a missing file is `NOT_FOUND`; `delete` of a missing file resolves
 *   to false. `list` returns the files (not folders) under a folder, recursively, sorted by path;
 *   a missing folder lists as empty.
 * - `withTempFile` hands `work` a fresh absolute path inside the temporary folder (no file exists
 *   there yet) and removes whatever is at that path when `work` settles, resolved or thrown.
 * - `sweep` removes files older than the age and returns how many.
 * - Disk full is `RESOURCE_EXHAUSTED`; permission denied is `PERMISSION_DENIED`.
 */
export interface LocalFileManager extends Closeable {
  /** Absolute path of the root folder. */
  readonly root: string;
  /** Absolute path for a relative one, after the checks above. */
  resolve(path: string): Promise<string>;
  write(
    path: string,
    data: Uint8Array | string | Readable | AsyncIterable<Uint8Array>,
    options?: OperationOptions,
  ): Promise<LocalFileInfo>;
  read(path: string, options?: OperationOptions): Promise<Uint8Array>;
  createReadStream(path: string): Promise<Readable>;
  exists(path: string): Promise<boolean>;
  stat(path: string): Promise<LocalFileInfo>;
  delete(path: string): Promise<boolean>;
  list(folder?: string): Promise<LocalFileInfo[]>;
  withTempFile<T>(work: (absolutePath: string) => Promise<T>, options?: TempFileOptions): Promise<T>;
  sweep(options: SweepOptions): Promise<number>;
}
