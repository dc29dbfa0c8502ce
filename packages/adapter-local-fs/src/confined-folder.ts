import { constants, type Dirent, existsSync, promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { InfrastructureError } from "@proj/ports";
import { hasErrno, isMissing, mapLocalFsError } from "./map-local-fs-error.js";

/**
 * Node has no `openat`. On Linux, `/proc/self/fd/<fd>/<name>` names `<name>` inside the folder the
 * descriptor was opened on, wherever that folder is now and whatever replaced its old path: every
 * call made through such a path acts in the folder that was checked, not in whatever the path
 * leads to later. Elsewhere the checked real path is used, and a swap between check and use is
 * not caught (the README says so).
 */
const BOUND_PATHS = process.platform === "linux" && existsSync("/proc/self/fd");

const FOLDER = constants.O_RDONLY | constants.O_DIRECTORY;
const FOLDER_NO_FOLLOW = FOLDER | constants.O_NOFOLLOW;
/** A FIFO planted where a file is expected must not block the open. */
const READ_FOLLOW = constants.O_RDONLY | constants.O_NONBLOCK;
export const READ_NO_FOLLOW = READ_FOLLOW | constants.O_NOFOLLOW;
const CREATE_ATTEMPTS = 3;

/** A folder held open: names inside it are reached through the descriptor, never by re-walking a path. */
export class OpenFolder {
  readonly handle: FileHandle;
  /** Where the folder was when it was checked; for messages to the caller and for hand-out paths. */
  readonly realPath: string;

  constructor(handle: FileHandle, realPath: string) {
    this.handle = handle;
    this.realPath = realPath;
  }

  /** The folder itself, for `readdir`. */
  get path(): string {
    return BOUND_PATHS ? `/proc/self/fd/${this.handle.fd}` : this.realPath;
  }

  /** `name` (one segment) inside this very folder. */
  entry(name: string): string {
    return BOUND_PATHS ? `/proc/self/fd/${this.handle.fd}/${name}` : join(this.realPath, name);
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** Where an open descriptor really is; a removed file or folder keeps its last path. */
async function realPathOf(handle: FileHandle, openedAs: string): Promise<string> {
  if (!BOUND_PATHS) return fs.realpath(openedAs);
  const found = await fs.readlink(`/proc/self/fd/${handle.fd}`);
  return found.endsWith(" (deleted)") ? found.slice(0, -" (deleted)".length) : found;
}

/**
 * A root folder and the rule that nothing outside it is ever touched: every folder is opened and
 * then checked by what was opened, files are reached through the checked folder's descriptor, and
 * names read from disk are checked before they are used.
 */
export class Confinement {
  readonly realRoot: string;
  readonly #subject: "path" | "object key";

  constructor(realRoot: string, subject: "path" | "object key") {
    this.realRoot = realRoot;
    this.#subject = subject;
  }

  #isInside(candidate: string): boolean {
    return (
      candidate === this.realRoot ||
      candidate.startsWith(this.realRoot.endsWith(sep) ? this.realRoot : this.realRoot + sep)
    );
  }

  /** The segments of `real` (inside the root) relative to the root. */
  #segmentsOf(real: string): string[] {
    const inside = relative(this.realRoot, real);
    return inside === "" ? [] : inside.split(sep);
  }

  refused(shown: string, why: string): InfrastructureError {
    return new InfrastructureError("INVALID_ARGUMENT", `${this.#subject} ${JSON.stringify(shown)} ${why}`, {
      retryable: false,
      details: this.#details(shown),
    });
  }

  async #verified(handle: FileHandle, openedAs: string, shown: string): Promise<string> {
    let real: string;
    try {
      real = await realPathOf(handle, openedAs);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw mapLocalFsError(error, `check of ${this.#subject} "${shown}"`, this.#details(shown));
    }
    if (this.#isInside(real)) return real;
    await handle.close().catch(() => undefined);
    throw this.refused(shown, "resolves through a symlink to outside the root");
  }

  #details(shown: string): Record<string, unknown> {
    return this.#subject === "path" ? { path: shown } : { key: shown };
  }

  async openRoot(shown: string): Promise<OpenFolder> {
    const handle = await fs.open(this.realRoot, FOLDER);
    return new OpenFolder(handle, await this.#verified(handle, this.realRoot, shown));
  }

  /**
   * Opens the folder `segments` below the root, following symlinks only where they lead to a
   * folder inside it. Resolves undefined when the folder (or a folder on the way) is missing, unless
   * `create`, which creates it. A dangling symlink on the way is refused.
   */
  async openFolder(
    segments: readonly string[],
    shown: string,
    create: boolean,
  ): Promise<OpenFolder | undefined> {
    let current = await this.openRoot(shown);
    try {
      for (const segment of segments) {
        const next = await this.#openChild(current, segment, shown, create);
        await current.close();
        if (!next) return undefined;
        current = next;
      }
      return current;
    } catch (error) {
      await current.close();
      throw error;
    }
  }

  async #openChild(
    parent: OpenFolder,
    segment: string,
    shown: string,
    create: boolean,
  ): Promise<OpenFolder | undefined> {
    const path = parent.entry(segment);
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      try {
        const handle = await fs.open(path, FOLDER);
        return new OpenFolder(handle, await this.#verified(handle, path, shown));
      } catch (error) {
        if (!isMissing(error)) throw error;
        // A symlink to a file, or to nowhere: still refused when it leads outside the root.
        if (await isSymlink(path)) {
          const target = await this.#openTarget(path, shown);
          await target.close().catch(() => undefined);
        }
        if (hasErrno(error, "ENOTDIR")) {
          if (!create) return undefined;
          throw this.refused(shown, "has a file where a folder is expected");
        }
      }
      if (!create) return undefined;
      await fs.mkdir(path).catch((error: unknown) => {
        if (!hasErrno(error, "EEXIST")) throw error;
      });
    }
    throw new InfrastructureError("UNAVAILABLE", `the folders of ${this.#subject} "${shown}" kept changing`, {
      details: this.#details(shown),
    });
  }

  /**
   * Opens the entry `name` of a checked folder, following a final symlink only to somewhere inside
   * the root. Resolves undefined when it does not exist; a dangling symlink is refused.
   */
  async openEntry(folder: OpenFolder, name: string, shown: string): Promise<FileHandle | undefined> {
    const path = folder.entry(name);
    let handle: FileHandle;
    try {
      handle = await fs.open(path, READ_FOLLOW);
    } catch (error) {
      if (!isMissing(error)) throw error;
      if (await isSymlink(path)) throw this.refused(shown, "passes through a dangling symlink");
      return undefined;
    }
    await this.#verified(handle, path, shown);
    return handle;
  }

  /** Opens what the symlink at `path` leads to, refused unless that is inside the root. */
  async #openTarget(path: string, shown: string): Promise<FileHandle> {
    let handle: FileHandle;
    try {
      handle = await fs.open(path, READ_FOLLOW);
    } catch (error) {
      if (isMissing(error)) throw this.refused(shown, "passes through a dangling symlink");
      throw error;
    }
    await this.#verified(handle, path, shown);
    return handle;
  }

  /**
   * Where a symlink `name` in a checked folder really leads, as a folder inside the root (opened)
   * and a name in it; refused when it leads outside or nowhere.
   */
  async followLink(
    folder: OpenFolder,
    name: string,
    shown: string,
  ): Promise<{ folder: OpenFolder; name: string }> {
    const handle = await this.openEntry(folder, name, shown);
    if (!handle) throw this.refused(shown, "passes through a dangling symlink");
    let real: string;
    try {
      real = await realPathOf(handle, folder.entry(name));
    } finally {
      await handle.close().catch(() => undefined);
    }
    const segments = this.#segmentsOf(real);
    const last = segments.pop();
    if (last === undefined) throw this.refused(shown, "is the root folder");
    const target = await this.openFolder(segments, shown, false);
    if (!target) throw this.refused(shown, "passes through a dangling symlink");
    return { folder: target, name: last };
  }
}

export async function isSymlink(path: string): Promise<boolean> {
  return fs.lstat(path).then(
    (stats) => stats.isSymbolicLink(),
    () => false,
  );
}

/** Opens the subfolder `name` of a checked folder without following a symlink; undefined if it is not a folder. */
export async function openSubfolder(folder: OpenFolder, name: string): Promise<OpenFolder | undefined> {
  try {
    const handle = await fs.open(folder.entry(name), FOLDER_NO_FOLLOW);
    return new OpenFolder(handle, join(folder.realPath, name));
  } catch (error) {
    // A symlink (ELOOP, or ENOTDIR with O_DIRECTORY), a file, or gone since the folder was read.
    if (isMissing(error) || hasErrno(error, "ELOOP")) return undefined;
    throw error;
  }
}

/** The entries of a checked folder; none when it vanished. */
export async function entriesOf(folder: OpenFolder): Promise<Dirent[]> {
  try {
    return await fs.readdir(folder.path, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

/**
 * Removes `name` from a checked folder, and everything below it if it is a folder, never
 * following a symlink: a link is removed, not what it points to.
 */
export async function removeTree(folder: OpenFolder, name: string): Promise<void> {
  try {
    await fs.unlink(folder.entry(name));
    return;
  } catch (error) {
    if (isMissing(error)) return;
    if (!hasErrno(error, "EISDIR") && !hasErrno(error, "EPERM")) throw error;
  }
  const inner = await openSubfolder(folder, name);
  if (!inner) return;
  try {
    for (const entry of await entriesOf(inner)) await removeTree(inner, entry.name);
  } finally {
    await inner.close();
  }
  await fs.rmdir(folder.entry(name)).catch((error: unknown) => {
    if (!isMissing(error)) throw error;
  });
}
