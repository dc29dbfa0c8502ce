import { randomBytes } from "node:crypto";
import { constants, type Dirent, promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import { Readable } from "node:stream";
import {
  closedError,
  compareObjectKeys,
  decodeKeyCursor,
  destroyOnAbort,
  encodeKeyCursor,
  type GetObjectOptions,
  InfrastructureError,
  type ListObjectsOptions,
  type ListPageOptions,
  listAllPages,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStorage,
  type ObjectStorageCapabilities,
  type ObjectSummary,
  type OperationOptions,
  type Page,
  type PutObjectOptions,
  resolveByteRange,
  type SignedUrlOptions,
  throwIfAborted,
  validateListPageSize,
  validateObjectMetadata,
} from "@proj/ports";
import { syncFolder, writeNewFile } from "./atomic-write.js";
import { hasErrno, isMissing, mapLocalFsError } from "./map-local-fs-error.js";
import {
  BODY_MARK,
  decodeSegment,
  prefixFolder,
  SIDECAR_SUFFIX,
  storedSegments,
  TEMP_MARK,
} from "./object-keys.js";
import { resolveInside } from "./paths.js";

export interface LocalObjectStorageOptions {
  /** The folder holding the objects; created when missing. */
  root: string;
}

/** `ObjectStorage` on a folder, plus what only a folder can offer. */
export interface LocalObjectStorage extends ObjectStorage {
  /** Absolute path of the folder: the escape hatch for tools that want the files themselves. */
  readonly root: string;
  /**
   * Removes what a crash can leave behind: temporary files and bodies no sidecar points to, last
   * modified longer ago than `olderThanMs`. Returns how many files it removed.
   */
  sweep(options: { olderThanMs: number }): Promise<number>;
}

/** What the sidecar `<name>~m` holds. Written to a temporary file, then renamed: the commit point. */
interface Sidecar {
  /**
   * Version of the body file, and the object's etag: every put and copy writes a new version, so
   * the tag changes with the content without hashing whole bodies on the event loop.
   */
  body: string;
  size: number;
  lastModified: number;
  contentType: string;
  cacheControl?: string;
  metadata: Record<string, string>;
}

const CAPABILITIES: ObjectStorageCapabilities = Object.freeze({
  signedUrls: false,
  conditionalPut: true,
  rangeReads: true,
});

const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** A reader may find a body already replaced by a concurrent put; it then rereads the sidecar. */
const READ_ATTEMPTS = 5;
const DELETE_CONCURRENCY = 16;
/** Sidecars and bodies are never symlinks; one planted in the folder must not lead outside it. */
const READ_NO_SYMLINK = constants.O_RDONLY | constants.O_NOFOLLOW;

function notFound(key: string): InfrastructureError {
  return new InfrastructureError("NOT_FOUND", `object "${key}" does not exist`, { details: { key } });
}

function conflict(key: string, cause?: unknown): InfrastructureError {
  return new InfrastructureError("CONFLICT", `object "${key}" already exists`, {
    ...(cause === undefined ? {} : { cause }),
    details: { key },
  });
}

function infoOf(key: string, sidecar: Sidecar): ObjectInfo {
  return {
    key,
    size: sidecar.size,
    etag: sidecar.body,
    lastModified: new Date(sidecar.lastModified),
    contentType: sidecar.contentType,
    ...(sidecar.cacheControl === undefined ? {} : { cacheControl: sidecar.cacheControl }),
    metadata: { ...sidecar.metadata },
  };
}

/** Where one key lives on disk. */
interface Location {
  key: string;
  folder: string;
  name: string;
  sidecar: string;
}

/** An object opened for reading: the handle stays valid even if a put replaces the object. */
interface OpenObject {
  sidecar: Sidecar;
  handle: FileHandle;
}

class LocalFsObjectStorage implements LocalObjectStorage {
  readonly capabilities = CAPABILITIES;
  readonly root: string;
  #realRoot: Promise<string> | undefined;
  #closed = false;

  constructor(options: LocalObjectStorageOptions) {
    if (typeof options.root !== "string" || options.root.length === 0) {
      throw new InfrastructureError("INVALID_ARGUMENT", "local object storage needs a root folder");
    }
    this.root = resolvePath(options.root);
  }

  async put(key: string, body: ObjectBody, options: PutObjectOptions = {}): Promise<ObjectInfo> {
    const what = `put of object "${key}"`;
    this.#check(options.signal, what);
    const location = await this.#locate(key);
    const metadata = validateObjectMetadata(options.metadata);
    if (options.ifNoneMatch !== undefined && options.ifNoneMatch !== "*") {
      throw new InfrastructureError("INVALID_ARGUMENT", 'ifNoneMatch accepts only "*"');
    }
    try {
      if (options.ifNoneMatch === "*" && (await readSidecarFile(location.sidecar))) {
        // Checked again atomically at commit; this only spares writing a body that cannot win.
        throw conflict(location.key);
      }
      const version = randomBytes(8).toString("hex");
      const bodyPath = join(location.folder, `${location.name}${BODY_MARK}${version}`);
      const { size } = await writeNewFile(bodyPath, body, options.signal, what, true);
      const sidecar: Sidecar = {
        body: version,
        size,
        lastModified: Date.now(),
        contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
        ...(options.cacheControl === undefined ? {} : { cacheControl: options.cacheControl }),
        metadata,
      };
      await this.#commit(location, sidecar, bodyPath, options.ifNoneMatch === "*", options.signal, what);
      return infoOf(key, sidecar);
    } catch (error) {
      throw mapLocalFsError(error, what, { key });
    }
  }

  async get(key: string, options: GetObjectOptions = {}): Promise<{ info: ObjectInfo; body: Readable }> {
    const what = `get of object "${key}"`;
    this.#check(options.signal, what);
    const location = await this.#locate(key);
    const { sidecar, handle } = await this.#open(location, what);
    try {
      const span = resolveByteRange(options.range, sidecar.size, key);
      if (span && span.end < span.start) {
        await handle.close();
        return { info: infoOf(key, sidecar), body: Readable.from([]) };
      }
      const body = handle.createReadStream({ ...span, highWaterMark: 64 * 1024 });
      return { info: infoOf(key, sidecar), body: destroyOnAbort(body, options.signal, what) };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw mapLocalFsError(error, what, { key });
    }
  }

  async getBytes(
    key: string,
    options: GetObjectOptions = {},
  ): Promise<{ info: ObjectInfo; bytes: Uint8Array }> {
    const what = `get of object "${key}"`;
    this.#check(options.signal, what);
    const location = await this.#locate(key);
    const { sidecar, handle } = await this.#open(location, what);
    try {
      const span = resolveByteRange(options.range, sidecar.size, key) ?? { start: 0, end: sidecar.size - 1 };
      const bytes = Buffer.alloc(Math.max(0, span.end - span.start + 1));
      let filled = 0;
      while (filled < bytes.byteLength) {
        throwIfAborted(options.signal, what);
        const { bytesRead } = await handle.read(
          bytes,
          filled,
          bytes.byteLength - filled,
          span.start + filled,
        );
        if (bytesRead === 0)
          throw new InfrastructureError("INTERNAL", `${what} failed: the body is shorter than recorded`);
        filled += bytesRead;
      }
      return { info: infoOf(key, sidecar), bytes };
    } catch (error) {
      throw mapLocalFsError(error, what, { key });
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async head(key: string, options: OperationOptions = {}): Promise<ObjectInfo> {
    const what = `head of object "${key}"`;
    this.#check(options.signal, what);
    const sidecar = await this.#readSidecar(await this.#locate(key), what);
    if (!sidecar) throw notFound(key);
    return infoOf(key, sidecar);
  }

  async exists(key: string, options: OperationOptions = {}): Promise<boolean> {
    const what = `check of object "${key}"`;
    this.#check(options.signal, what);
    return (await this.#readSidecar(await this.#locate(key), what)) !== undefined;
  }

  async delete(key: string, options: OperationOptions = {}): Promise<void> {
    const what = `delete of object "${key}"`;
    this.#check(options.signal, what);
    await this.#delete(await this.#locate(key), what);
  }

  async deleteMany(keys: Iterable<string>, options: OperationOptions = {}): Promise<void> {
    this.#check(options.signal, "delete of objects");
    // Every key is checked before the first one is deleted.
    const locations = await Promise.all(Array.from(keys, (key) => this.#locate(key)));
    let next = 0;
    const workers = Array.from({ length: Math.min(DELETE_CONCURRENCY, locations.length) }, async () => {
      while (next < locations.length) {
        const location = locations[next++] as Location;
        this.#check(options.signal, "delete of objects");
        await this.#delete(location, `delete of object "${location.key}"`);
      }
    });
    await Promise.all(workers);
  }

  list(options: ListObjectsOptions = {}): AsyncIterable<ObjectSummary> {
    return listAllPages((page) => this.listPage(page), options);
  }

  async listPage(options: ListPageOptions = {}): Promise<Page<ObjectSummary>> {
    const what = "list of objects";
    this.#check(options.signal, what);
    const pageSize = validateListPageSize(options.pageSize);
    const prefix = options.prefix ?? "";
    const after = options.after === undefined ? undefined : decodeKeyCursor(options.after);
    const start = prefixFolder(prefix);
    if (start === undefined) return { items: [] };
    const startKey = start.length === 0 ? "" : `${start.map(decodeSegment).join("/")}/`;
    const items: ObjectSummary[] = [];
    let more = false;
    try {
      const folder = await resolveInside(await this.#realRootPath(), start, prefix);
      for await (const found of walkKeys(folder, startKey, prefix, after)) {
        throwIfAborted(options.signal, what);
        if (items.length === pageSize) {
          more = true;
          break;
        }
        const sidecar = await readSidecarFile(found.sidecar);
        // Deleted since the folder was read: not part of this listing.
        if (!sidecar) continue;
        items.push({
          key: found.key,
          size: sidecar.size,
          etag: sidecar.body,
          lastModified: new Date(sidecar.lastModified),
        });
      }
    } catch (error) {
      throw mapLocalFsError(error, what, { prefix });
    }
    const last = items.at(-1);
    return more && last ? { items, nextCursor: encodeKeyCursor(last.key) } : { items };
  }

  async copy(sourceKey: string, destinationKey: string, options: OperationOptions = {}): Promise<ObjectInfo> {
    const what = `copy of object "${sourceKey}" to "${destinationKey}"`;
    this.#check(options.signal, what);
    const source = await this.#locate(sourceKey);
    const destination = await this.#locate(destinationKey);
    const { sidecar, handle } = await this.#open(source, what);
    try {
      const version = randomBytes(8).toString("hex");
      const bodyPath = join(destination.folder, `${destination.name}${BODY_MARK}${version}`);
      // The open handle keeps the source body readable even if a put replaces it meanwhile.
      await writeNewFile(bodyPath, handle.createReadStream({ autoClose: false }), options.signal, what, true);
      const copied: Sidecar = {
        ...sidecar,
        body: version,
        lastModified: Date.now(),
        metadata: { ...sidecar.metadata },
      };
      await this.#commit(destination, copied, bodyPath, false, options.signal, what);
      return infoOf(destinationKey, copied);
    } catch (error) {
      throw mapLocalFsError(error, what, { sourceKey, destinationKey });
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async signedUrl(key: string, _options: SignedUrlOptions): Promise<string> {
    this.#check(undefined, "signing of a URL");
    storedSegments(key);
    throw new InfrastructureError(
      "NOT_SUPPORTED",
      "the local object storage cannot sign URLs: no server answers them",
      {
        retryable: false,
      },
    );
  }

  async sweep(options: { olderThanMs: number }): Promise<number> {
    this.#check(undefined, "sweep");
    const { olderThanMs } = options;
    if (typeof olderThanMs !== "number" || !Number.isFinite(olderThanMs) || olderThanMs < 0) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        "sweep needs olderThanMs, a number of milliseconds ≥ 0",
      );
    }
    try {
      return await sweepFolder(this.root, Date.now() - olderThanMs);
    } catch (error) {
      throw mapLocalFsError(error, "sweep of the object folder");
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(signal: AbortSignal | undefined, what: string): void {
    if (this.#closed) throw closedError("local object storage");
    throwIfAborted(signal, what);
  }

  /** Where `key` lives, after the key checks and with the folder resolved inside the root. */
  async #locate(key: string): Promise<Location> {
    const segments = storedSegments(key);
    const name = segments.pop() as string;
    const folder = await resolveInside(await this.#realRootPath(), segments, key);
    return { key, folder, name, sidecar: join(folder, `${name}${SIDECAR_SUFFIX}`) };
  }

  #realRootPath(): Promise<string> {
    this.#realRoot ??= (async () => {
      await fs.mkdir(this.root, { recursive: true });
      return fs.realpath(this.root);
    })().catch((error: unknown) => {
      this.#realRoot = undefined;
      throw mapLocalFsError(error, "opening of the object folder");
    });
    return this.#realRoot;
  }

  async #readSidecar(location: Location, what: string): Promise<Sidecar | undefined> {
    try {
      return await readSidecarFile(location.sidecar);
    } catch (error) {
      throw mapLocalFsError(error, what, { key: location.key });
    }
  }

  /** Opens the body the sidecar points to, rereading the sidecar if a put replaced it meanwhile. */
  async #open(location: Location, what: string): Promise<OpenObject> {
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const sidecar = await this.#readSidecar(location, what);
      if (!sidecar) throw notFound(location.key);
      try {
        const handle = await fs.open(
          join(location.folder, `${location.name}${BODY_MARK}${sidecar.body}`),
          READ_NO_SYMLINK,
        );
        return { sidecar, handle };
      } catch (error) {
        if (!isMissing(error)) throw mapLocalFsError(error, what, { key: location.key });
      }
    }
    throw new InfrastructureError(
      "UNAVAILABLE",
      `${what} failed: the object kept changing while being opened`,
      {
        details: { key: location.key },
      },
    );
  }

  /**
   * Makes `bodyPath` the object's body by replacing its sidecar (with `exclusive`, only if there is
   * none), then removes the body it replaced. On failure the new body is removed.
   */
  async #commit(
    location: Location,
    sidecar: Sidecar,
    bodyPath: string,
    exclusive: boolean,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    const temp = join(location.folder, `${TEMP_MARK}${randomBytes(8).toString("hex")}`);
    let committed = false;
    try {
      // A damaged previous sidecar is simply replaced; its body is left for `sweep`.
      const previous = await readSidecarFile(location.sidecar).catch(() => undefined);
      await writeNewFile(temp, JSON.stringify(sidecar), undefined, what);
      throwIfAborted(signal, what);
      if (exclusive) {
        // link() fails when the name exists, so two conditional puts cannot both win.
        await fs.link(temp, location.sidecar).catch((error: unknown) => {
          if (hasErrno(error, "EEXIST")) throw conflict(location.key, error);
          throw error;
        });
        committed = true;
        await fs.unlink(temp);
      } else {
        await fs.rename(temp, location.sidecar);
        committed = true;
      }
      await syncFolder(location.folder);
      if (previous && previous.body !== sidecar.body) {
        await fs
          .unlink(join(location.folder, `${location.name}${BODY_MARK}${previous.body}`))
          .catch(() => undefined);
      }
    } catch (error) {
      await fs.unlink(temp).catch(() => undefined);
      // Once the sidecar points to the new body, removing it would break the object.
      if (!committed) await fs.unlink(bodyPath).catch(() => undefined);
      throw error;
    }
  }

  async #delete(location: Location, what: string): Promise<void> {
    try {
      const sidecar = await readSidecarFile(location.sidecar);
      if (!sidecar) return;
      await fs.unlink(location.sidecar).catch((error: unknown) => {
        if (!isMissing(error)) throw error;
      });
      await fs
        .unlink(join(location.folder, `${location.name}${BODY_MARK}${sidecar.body}`))
        .catch((error: unknown) => {
          if (!isMissing(error)) throw error;
        });
    } catch (error) {
      throw mapLocalFsError(error, what, { key: location.key });
    }
  }
}

/** The sidecar at `path`, or undefined when there is no object. */
async function readSidecarFile(path: string): Promise<Sidecar | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, { encoding: "utf8", flag: READ_NO_SYMLINK });
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as Sidecar;
  } catch (error) {
    throw new InfrastructureError("INTERNAL", `the sidecar ${path} is damaged`, { cause: error });
  }
}

interface FoundKey {
  key: string;
  sidecar: string;
}

/**
 * Yields the keys below `folder` in ascending UTF-8 byte order, lazily. Within a folder, an object
 * sorts by its name and a subfolder by its name plus `/`: every key inside the subfolder starts
 * with that, so a depth-first walk in this order is the global key order. Subtrees that cannot
 * hold a key matching `prefix`, or after the cursor `after`, are not read at all.
 */
async function* walkKeys(
  folder: string,
  folderKey: string,
  prefix: string,
  after: string | undefined,
): AsyncGenerator<FoundKey> {
  let found: Dirent[];
  try {
    found = await fs.readdir(folder, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }
  const entries: Array<{ sortKey: string; stored: string; kind: "object" | "folder" }> = [];
  // Symlinks are neither objects nor folders here, so a listing never leaves the root.
  for (const dirent of found) {
    const stored = dirent.name;
    if (
      dirent.isFile() &&
      stored.endsWith(SIDECAR_SUFFIX) &&
      stored.indexOf("~") === stored.length - SIDECAR_SUFFIX.length
    ) {
      entries.push({
        sortKey: folderKey + decodeSegment(stored.slice(0, -SIDECAR_SUFFIX.length)),
        stored,
        kind: "object",
      });
    } else if (dirent.isDirectory() && !stored.includes("~")) {
      entries.push({ sortKey: `${folderKey}${decodeSegment(stored)}/`, stored, kind: "folder" });
    }
  }
  entries.sort((a, b) => compareObjectKeys(a.sortKey, b.sortKey));
  for (const entry of entries) {
    const path = join(folder, entry.stored);
    if (entry.kind === "object") {
      if (!entry.sortKey.startsWith(prefix)) continue;
      if (after !== undefined && compareObjectKeys(entry.sortKey, after) <= 0) continue;
      yield { key: entry.sortKey, sidecar: path };
      continue;
    }
    const inside = entry.sortKey;
    if (!inside.startsWith(prefix) && !prefix.startsWith(inside)) continue;
    if (after !== undefined && !after.startsWith(inside) && compareObjectKeys(inside, after) < 0) continue;
    yield* walkKeys(path, inside, prefix, after);
  }
}

/** Removes stale temporary files and unreferenced bodies below `folder`; returns how many. */
async function sweepFolder(folder: string, cutoff: number): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(folder);
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
  let removed = 0;
  const current = new Map<string, string | undefined>();
  for (const stored of names) {
    const path = join(folder, stored);
    const stats = await fs.lstat(path).catch(() => undefined);
    if (!stats) continue;
    if (stats.isDirectory()) {
      if (!stored.includes("~")) removed += await sweepFolder(path, cutoff);
      continue;
    }
    if (stats.mtimeMs >= cutoff) continue;
    const bodyMark = stored.indexOf(BODY_MARK);
    let stale = stored.startsWith(TEMP_MARK);
    if (bodyMark > 0) {
      const name = stored.slice(0, bodyMark);
      if (!current.has(name)) {
        current.set(
          name,
          (await readSidecarFile(join(folder, `${name}${SIDECAR_SUFFIX}`)).catch(() => undefined))?.body,
        );
      }
      stale = current.get(name) !== stored.slice(bodyMark + BODY_MARK.length);
    }
    if (stale) {
      await fs.unlink(path).catch((error: unknown) => {
        if (!isMissing(error)) throw error;
      });
      removed++;
    }
  }
  return removed;
}

/** An `ObjectStorage` whose objects are files under `options.root` (see README for the layout). */
export function createLocalObjectStorage(options: LocalObjectStorageOptions): LocalObjectStorage {
  return new LocalFsObjectStorage(options);
}
