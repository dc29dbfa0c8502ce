import { randomBytes } from "node:crypto";
import { type Dirent, promises as fs, type Stats } from "node:fs";
import { isAbsolute, join, resolve as resolvePath } from "node:path";
import type { Readable } from "node:stream";
import {
  cancelledError,
  closedError,
  InfrastructureError,
  type LocalFileInfo,
  type LocalFileManager,
  type OperationOptions,
  type SweepOptions,
  type TempFileOptions,
  throwIfAborted,
} from "@proj/ports";
import { writeAtomically } from "./atomic-write.js";
import { hasErrno, isMissing, mapLocalFsError } from "./map-local-fs-error.js";
import { checkRelativePath, resolveInside, TEMP_PREFIX } from "./paths.js";

export interface LocalFileManagerOptions {
  /** The folder every path is relative to; created when missing. */
  root: string;
  /**
   * Where `withTempFile` puts its files and what `sweep` clears by default: absolute, or relative
   * to the root. Default `.tmp` under the root.
   */
  tempDir?: string;
}

const TEMP_NAME_PART = /^[A-Za-z0-9._-]*$/;

function sortByPath(a: LocalFileInfo, b: LocalFileInfo): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function infoOf(path: string, stats: Stats): LocalFileInfo {
  return { path, size: stats.size, modifiedAt: stats.mtime };
}

/** `LocalFileManager` on the local disk. */
class LocalFsFileManager implements LocalFileManager {
  readonly root: string;
  readonly #tempDir: string;
  #realRoot: Promise<string> | undefined;
  #closed = false;

  constructor(options: LocalFileManagerOptions) {
    if (typeof options.root !== "string" || options.root.length === 0) {
      throw new InfrastructureError("INVALID_ARGUMENT", "local file manager needs a root folder");
    }
    this.root = resolvePath(options.root);
    const tempDir = options.tempDir ?? ".tmp";
    this.#tempDir = isAbsolute(tempDir) ? tempDir : resolvePath(this.root, tempDir);
  }

  async resolve(path: string): Promise<string> {
    this.#check();
    return this.#resolve(path);
  }

  async write(
    path: string,
    data: Uint8Array | string | Readable | AsyncIterable<Uint8Array>,
    options: OperationOptions = {},
  ): Promise<LocalFileInfo> {
    this.#check(options.signal, `write of file "${path}"`);
    const segments = checkRelativePath(path);
    const what = `write of file "${path}"`;
    try {
      const target = await this.#resolveSegments(segments, path);
      return infoOf(path, await writeAtomically(target, data, options.signal, what));
    } catch (error) {
      throw mapLocalFsError(error, what, { path });
    }
  }

  async read(path: string, options: OperationOptions = {}): Promise<Uint8Array> {
    const what = `read of file "${path}"`;
    this.#check(options.signal, what);
    const absolute = await this.#resolve(path);
    try {
      return await fs.readFile(absolute, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      if (options.signal?.aborted) throw cancelledError(options.signal, what);
      throw mapLocalFsError(error, what, { path });
    }
  }

  async createReadStream(path: string): Promise<Readable> {
    const what = `read of file "${path}"`;
    this.#check();
    const absolute = await this.#resolve(path);
    try {
      // Opening first makes a missing file reject here, not as a stream error later.
      const handle = await fs.open(absolute, "r");
      return handle.createReadStream();
    } catch (error) {
      throw mapLocalFsError(error, what, { path });
    }
  }

  async exists(path: string): Promise<boolean> {
    this.#check();
    const absolute = await this.#resolve(path);
    try {
      return (await fs.stat(absolute)).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw mapLocalFsError(error, `check of file "${path}"`, { path });
    }
  }

  async stat(path: string): Promise<LocalFileInfo> {
    const what = `stat of file "${path}"`;
    this.#check();
    const absolute = await this.#resolve(path);
    let stats: Stats;
    try {
      stats = await fs.stat(absolute);
    } catch (error) {
      throw mapLocalFsError(error, what, { path });
    }
    if (!stats.isFile())
      throw new InfrastructureError("INVALID_ARGUMENT", `${what} failed: it is not a file`);
    return infoOf(path, stats);
  }

  async delete(path: string): Promise<boolean> {
    this.#check();
    const absolute = await this.#resolve(path);
    try {
      await fs.unlink(absolute);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw mapLocalFsError(error, `delete of file "${path}"`, { path });
    }
  }

  async list(folder?: string): Promise<LocalFileInfo[]> {
    this.#check();
    const start = folder === undefined ? await this.#realRootPath() : await this.#resolve(folder);
    const prefix = folder === undefined ? "" : `${folder}/`;
    const files: LocalFileInfo[] = [];
    try {
      await walkFiles(start, prefix, async (absolute, relative, name) => {
        if (name.startsWith(TEMP_PREFIX)) return;
        try {
          // lstat: a symlink is not listed, so its target (maybe outside the root) is never examined.
          const stats = await fs.lstat(absolute);
          if (stats.isFile()) files.push(infoOf(relative, stats));
        } catch (error) {
          // Deleted while listing: it is simply not there any more.
          if (!isMissing(error)) throw error;
        }
      });
    } catch (error) {
      throw mapLocalFsError(error, `list of folder "${folder ?? ""}"`, { path: folder ?? "" });
    }
    return files.sort(sortByPath);
  }

  async withTempFile<T>(
    work: (absolutePath: string) => Promise<T>,
    options: TempFileOptions = {},
  ): Promise<T> {
    this.#check();
    const prefix = options.prefix ?? "";
    const extension = options.extension ?? "";
    for (const [name, value] of [
      ["prefix", prefix],
      ["extension", extension],
    ] as const) {
      if (typeof value !== "string" || !TEMP_NAME_PART.test(value)) {
        throw new InfrastructureError(
          "INVALID_ARGUMENT",
          `temporary file ${name} ${JSON.stringify(value)} may hold only letters, digits, ".", "-" and "_"`,
        );
      }
    }
    try {
      await fs.mkdir(this.#tempDir, { recursive: true });
    } catch (error) {
      throw mapLocalFsError(error, "creation of the temporary folder");
    }
    const path = join(this.#tempDir, `${prefix}${randomBytes(12).toString("hex")}${extension}`);
    let result: T;
    try {
      result = await work(path);
    } catch (error) {
      await fs.rm(path, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
    try {
      await fs.rm(path, { recursive: true, force: true });
    } catch (error) {
      throw mapLocalFsError(error, "removal of a temporary file");
    }
    return result;
  }

  async sweep(options: SweepOptions): Promise<number> {
    this.#check();
    const { olderThanMs } = options;
    if (typeof olderThanMs !== "number" || !Number.isFinite(olderThanMs) || olderThanMs < 0) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        "sweep needs olderThanMs, a number of milliseconds ≥ 0",
      );
    }
    const folder = options.path === undefined ? this.#tempDir : await this.#resolve(options.path);
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    try {
      await walkFiles(folder, "", async (absolute) => {
        try {
          const stats = await fs.lstat(absolute);
          if (stats.mtimeMs >= cutoff) return;
          await fs.unlink(absolute);
          removed++;
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      });
    } catch (error) {
      throw mapLocalFsError(error, `sweep of folder "${options.path ?? this.#tempDir}"`);
    }
    return removed;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(signal?: AbortSignal, what = "file operation"): void {
    if (this.#closed) throw closedError("local file manager");
    throwIfAborted(signal, what);
  }

  #realRootPath(): Promise<string> {
    this.#realRoot ??= (async () => {
      await fs.mkdir(this.root, { recursive: true });
      return fs.realpath(this.root);
    })().catch((error: unknown) => {
      this.#realRoot = undefined;
      throw mapLocalFsError(error, "opening of the root folder");
    });
    return this.#realRoot;
  }

  async #resolve(path: string): Promise<string> {
    return this.#resolveSegments(checkRelativePath(path), path);
  }

  async #resolveSegments(segments: readonly string[], path: string): Promise<string> {
    return resolveInside(await this.#realRootPath(), segments, path);
  }
}

/**
 * Calls `visit` for every entry below `folder` that is not a folder, without following symlinks.
 * A missing folder (or a file where a folder was expected) has no entries.
 */
export async function walkFiles(
  folder: string,
  relativePrefix: string,
  visit: (absolute: string, relative: string, name: string) => Promise<void>,
): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(folder, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error) || hasErrno(error, "ENOTDIR")) return;
    throw error;
  }
  for (const entry of entries) {
    const absolute = join(folder, entry.name);
    const relative = `${relativePrefix}${entry.name}`;
    if (entry.isDirectory()) await walkFiles(absolute, `${relative}/`, visit);
    else await visit(absolute, relative, entry.name);
  }
}

/** A `LocalFileManager` over `options.root`. */
export function createLocalFileManager(options: LocalFileManagerOptions): LocalFileManager {
  return new LocalFsFileManager(options);
}
