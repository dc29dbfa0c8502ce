import { randomBytes } from "node:crypto";
import { promises as fs, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { isAbsolute, join, relative, resolve as resolvePath, sep } from "node:path";
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
import { TEMP_FILE_NAME, writeAtomically } from "./atomic-write.js";
import {
  Confinement,
  entriesOf,
  isSymlink,
  type OpenFolder,
  openSubfolder,
  removeTree,
} from "./confined-folder.js";
import { isMissing, mapLocalFsError } from "./map-local-fs-error.js";
import { checkRelativePath, isUsablePath } from "./paths.js";

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

function notFound(path: string): InfrastructureError {
  return new InfrastructureError("NOT_FOUND", `file "${path}" does not exist`, { details: { path } });
}

function notAFile(what: string, path: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", `${what} failed: it is not a file`, {
    retryable: false,
    details: { path },
  });
}

/** A caller's path split into the folder segments and the last name. */
function split(path: string): { folder: string[]; name: string } {
  const folder = checkRelativePath(path);
  const name = folder.pop() as string;
  return { folder, name };
}

/** Where the temporary folder is: below the root (checked like a caller's path) or a root of its own. */
interface TempPlace {
  confinement: Confinement;
  segments: string[];
  shown: string;
}

/** `LocalFileManager` on the local disk. */
class LocalFsFileManager implements LocalFileManager {
  readonly root: string;
  readonly #tempDir: string;
  #confinement: Promise<Confinement> | undefined;
  #tempPlace: Promise<TempPlace> | undefined;
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
    const { folder: segments, name } = split(path);
    const confinement = await this.#rootConfinement();
    try {
      const folder = await confinement.openFolder(segments, path, false);
      if (!folder) return join(confinement.realRoot, ...segments, name);
      try {
        const stats = await fs.lstat(folder.entry(name)).catch(() => undefined);
        if (!stats?.isSymbolicLink()) return join(folder.realPath, name);
        const target = await confinement.followLink(folder, name, path);
        await target.folder.close();
        return join(target.folder.realPath, target.name);
      } finally {
        await folder.close();
      }
    } catch (error) {
      throw mapLocalFsError(error, `resolve of path "${path}"`, { path });
    }
  }

  async write(
    path: string,
    data: Uint8Array | string | Readable | AsyncIterable<Uint8Array>,
    options: OperationOptions = {},
  ): Promise<LocalFileInfo> {
    const what = `write of file "${path}"`;
    this.#check(options.signal, what);
    const { folder: segments, name } = split(path);
    try {
      const confinement = await this.#rootConfinement();
      let folder = (await confinement.openFolder(segments, path, true)) as OpenFolder;
      let target = name;
      try {
        // A symlink in the root is followed to where it leads (inside the root, or refused).
        if (await isSymlink(folder.entry(name))) {
          const resolved = await confinement.followLink(folder, name, path);
          await folder.close();
          folder = resolved.folder;
          target = resolved.name;
        }
        return infoOf(path, await writeAtomically(folder, target, data, options.signal, what));
      } finally {
        await folder.close();
      }
    } catch (error) {
      throw mapLocalFsError(error, what, { path });
    }
  }

  async read(path: string, options: OperationOptions = {}): Promise<Uint8Array> {
    const what = `read of file "${path}"`;
    this.#check(options.signal, what);
    const { folder, name } = split(path);
    try {
      const handle = await this.#openFile(folder, name, path, what);
      try {
        return await handle.readFile(options.signal ? { signal: options.signal } : {});
      } finally {
        await handle.close().catch(() => undefined);
      }
    } catch (error) {
      if (options.signal?.aborted) throw cancelledError(options.signal, what);
      throw mapLocalFsError(error, what, { path });
    }
  }

  async createReadStream(path: string): Promise<Readable> {
    const what = `read of file "${path}"`;
    this.#check();
    const { folder, name } = split(path);
    try {
      // Opening first makes a missing file reject here, not as a stream error later.
      const handle = await this.#openFile(folder, name, path, what);
      return handle.createReadStream();
    } catch (error) {
      throw mapLocalFsError(error, what, { path });
    }
  }

  async exists(path: string): Promise<boolean> {
    this.#check();
    const { folder, name } = split(path);
    try {
      return (await this.#statOf(folder, name, path))?.isFile() ?? false;
    } catch (error) {
      throw mapLocalFsError(error, `check of file "${path}"`, { path });
    }
  }

  async stat(path: string): Promise<LocalFileInfo> {
    const what = `stat of file "${path}"`;
    this.#check();
    const { folder, name } = split(path);
    let stats: Stats | undefined;
    try {
      stats = await this.#statOf(folder, name, path);
    } catch (error) {
      throw mapLocalFsError(error, what, { path });
    }
    if (!stats) throw notFound(path);
    if (!stats.isFile()) throw notAFile(what, path);
    return infoOf(path, stats);
  }

  async delete(path: string): Promise<boolean> {
    this.#check();
    const { folder: segments, name } = split(path);
    try {
      const confinement = await this.#rootConfinement();
      const folder = await confinement.openFolder(segments, path, false);
      if (!folder) return false;
      try {
        const stats = await fs.lstat(folder.entry(name)).catch((error: unknown) => {
          if (isMissing(error)) return undefined;
          throw error;
        });
        if (!stats) return false;
        if (stats.isSymbolicLink()) {
          // Only checked, never followed: unlink removes the link itself, not its target.
          const target = await confinement.followLink(folder, name, path);
          await target.folder.close();
        }
        await fs.unlink(folder.entry(name));
        return true;
      } finally {
        await folder.close();
      }
    } catch (error) {
      if (isMissing(error)) return false;
      throw mapLocalFsError(error, `delete of file "${path}"`, { path });
    }
  }

  async list(folder?: string): Promise<LocalFileInfo[]> {
    this.#check();
    const segments = folder === undefined ? [] : checkRelativePath(folder);
    const prefix = folder === undefined ? "" : `${folder}/`;
    const files: LocalFileInfo[] = [];
    try {
      const start = await (await this.#rootConfinement()).openFolder(segments, folder ?? "", false);
      if (!start) return [];
      try {
        await walkFiles(start, prefix, async (parent, name, relativePath) => {
          // A name a caller could not pass back (and the temporary files of writes) is not listed.
          if (!isUsablePath(relativePath)) return;
          const stats = await fs.lstat(parent.entry(name)).catch((error: unknown) => {
            if (isMissing(error)) return undefined;
            throw error;
          });
          // A symlink is not listed, so its target (maybe outside the root) is never examined.
          if (stats?.isFile()) files.push(infoOf(relativePath, stats));
        });
      } finally {
        await start.close();
      }
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
    let folder: OpenFolder;
    try {
      folder = (await this.#openTempFolder(true)) as OpenFolder;
    } catch (error) {
      throw mapLocalFsError(error, "creation of the temporary folder");
    }
    const name = `${prefix}${randomBytes(12).toString("hex")}${extension}`;
    try {
      let result: T;
      try {
        result = await work(join(folder.realPath, name));
      } catch (error) {
        await removeTree(folder, name).catch(() => undefined);
        throw error;
      }
      try {
        // Through the folder checked before `work` ran, so a swapped folder cannot redirect it.
        await removeTree(folder, name);
      } catch (error) {
        throw mapLocalFsError(error, "removal of a temporary file");
      }
      return result;
    } finally {
      await folder.close();
    }
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
    const cutoff = Date.now() - olderThanMs;
    const path = options.path;
    if (path !== undefined) {
      const segments = checkRelativePath(path);
      try {
        const folder = await (await this.#rootConfinement()).openFolder(segments, path, false);
        if (!folder) return 0;
        try {
          return await sweepFiles(
            folder,
            cutoff,
            (name, relativePath) => TEMP_FILE_NAME.test(name) || isUsablePath(`${path}/${relativePath}`),
          );
        } finally {
          await folder.close();
        }
      } catch (error) {
        throw mapLocalFsError(error, `sweep of folder "${path}"`, { path });
      }
    }
    try {
      let removed = 0;
      const temp = await this.#openTempFolder(false);
      if (temp) {
        try {
          removed += await sweepFiles(temp, cutoff, () => true);
        } finally {
          await temp.close();
        }
      }
      // The temporary files of writes killed midway, anywhere under the root; nothing else.
      const root = await (await this.#rootConfinement()).openRoot("");
      try {
        removed += await sweepFiles(root, cutoff, (name) => TEMP_FILE_NAME.test(name));
      } finally {
        await root.close();
      }
      return removed;
    } catch (error) {
      throw mapLocalFsError(error, "sweep of the temporary folder");
    }
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

  #rootConfinement(): Promise<Confinement> {
    this.#confinement ??= (async () => {
      await fs.mkdir(this.root, { recursive: true });
      return new Confinement(await fs.realpath(this.root), "path");
    })().catch((error: unknown) => {
      this.#confinement = undefined;
      throw mapLocalFsError(error, "opening of the root folder");
    });
    return this.#confinement;
  }

  #place(): Promise<TempPlace> {
    this.#tempPlace ??= (async (): Promise<TempPlace> => {
      const inRoot = relative(this.root, this.#tempDir);
      if (inRoot !== "" && !inRoot.startsWith(`..${sep}`) && inRoot !== ".." && !isAbsolute(inRoot)) {
        const shown = inRoot.split(sep).join("/");
        return { confinement: await this.#rootConfinement(), segments: checkRelativePath(shown), shown };
      }
      // A temporary folder the operator placed elsewhere is a root of its own.
      await fs.mkdir(this.#tempDir, { recursive: true });
      return {
        confinement: new Confinement(await fs.realpath(this.#tempDir), "path"),
        segments: [],
        shown: "(temporary folder)",
      };
    })().catch((error: unknown) => {
      this.#tempPlace = undefined;
      throw mapLocalFsError(error, "opening of the temporary folder");
    });
    return this.#tempPlace;
  }

  async #openTempFolder(create: boolean): Promise<OpenFolder | undefined> {
    const place = await this.#place();
    return place.confinement.openFolder(place.segments, place.shown, create);
  }

  /** Opens a file for reading, following a symlink only to a file inside the root. */
  async #openFile(segments: string[], name: string, path: string, what: string): Promise<FileHandle> {
    const confinement = await this.#rootConfinement();
    const folder = await confinement.openFolder(segments, path, false);
    if (!folder) throw notFound(path);
    try {
      const handle = await confinement.openEntry(folder, name, path);
      if (!handle) throw notFound(path);
      const stats = await handle.stat().catch(async (error: unknown) => {
        await handle.close().catch(() => undefined);
        throw error;
      });
      if (!stats.isFile()) {
        await handle.close().catch(() => undefined);
        throw notAFile(what, path);
      }
      return handle;
    } finally {
      await folder.close();
    }
  }

  /** The stats of an entry, a symlink's being those of its target inside the root; undefined when missing. */
  async #statOf(segments: string[], name: string, path: string): Promise<Stats | undefined> {
    const confinement = await this.#rootConfinement();
    const folder = await confinement.openFolder(segments, path, false);
    if (!folder) return undefined;
    try {
      const stats = await fs.lstat(folder.entry(name)).catch((error: unknown) => {
        if (isMissing(error)) return undefined;
        throw error;
      });
      if (!stats?.isSymbolicLink()) return stats;
      const handle = await confinement.openEntry(folder, name, path);
      if (!handle) return undefined;
      try {
        return await handle.stat();
      } finally {
        await handle.close().catch(() => undefined);
      }
    } finally {
      await folder.close();
    }
  }
}

/**
 * Calls `visit` for every entry below a checked folder that is not a folder. Subfolders are opened
 * without following symlinks, so the walk never leaves the folder it started in.
 */
async function walkFiles(
  folder: OpenFolder,
  relativePrefix: string,
  visit: (parent: OpenFolder, name: string, relativePath: string) => Promise<void>,
): Promise<void> {
  for (const entry of await entriesOf(folder)) {
    const relativePath = `${relativePrefix}${entry.name}`;
    if (!entry.isDirectory()) {
      await visit(folder, entry.name, relativePath);
      continue;
    }
    const inner = await openSubfolder(folder, entry.name);
    if (!inner) continue;
    try {
      await walkFiles(inner, `${relativePath}/`, visit);
    } finally {
      await inner.close();
    }
  }
}

/** Removes the entries `eligible` accepts that were last modified before `cutoff`; returns how many. */
async function sweepFiles(
  folder: OpenFolder,
  cutoff: number,
  eligible: (name: string, relativePath: string) => boolean,
): Promise<number> {
  let removed = 0;
  await walkFiles(folder, "", async (parent, name, relativePath) => {
    if (!eligible(name, relativePath)) return;
    try {
      const stats = await fs.lstat(parent.entry(name));
      if (stats.mtimeMs >= cutoff) return;
      await fs.unlink(parent.entry(name));
      removed++;
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  });
  return removed;
}

/** A `LocalFileManager` over `options.root`. */
export function createLocalFileManager(options: LocalFileManagerOptions): LocalFileManager {
  return new LocalFsFileManager(options);
}
