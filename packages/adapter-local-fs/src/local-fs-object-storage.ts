import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { Readable } from "node:stream";
import {
  closedError,
  compareObjectKeys,
  decodeKeyCursor,
  destroyOnAbort,
  encodeKeyCursor,
  type GetObjectOptions,
  InfrastructureError,
  isInfrastructureError,
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
import { writeNewFile } from "./atomic-write.js";
import { Confinement, entriesOf, type OpenFolder, openSubfolder, READ_NO_FOLLOW } from "./confined-folder.js";
import { KeyLocks } from "./key-locks.js";
import { hasErrno, isMissing, mapLocalFsError } from "./map-local-fs-error.js";
import {
  BODY_MARK,
  decodeSegment,
  isUsableKey,
  prefixFolder,
  SIDECAR_SUFFIX,
  segmentOfStoredName,
  storedSegments,
  TEMP_MARK,
} from "./object-keys.js";

export interface LocalObjectStorageOptions {
  /** The folder holding the objects; created when missing. */
  root: string;
  /**
   * Told the key of an object whose sidecar is damaged (unreadable JSON, or values no put writes),
   * which `list` then skips. `get`, `head` and `copy` of it reject with `INTERNAL`. What it throws
   * is ignored.
   */
  onDamagedObject?: (key: string) => void;
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
/** Sidecars are small; a bigger file in a sidecar's place was not written by a put. */
const MAX_SIDECAR_BYTES = 1024 * 1024;
const VERSION = /^[0-9a-f]{16}$/;
/** The temporary files of sidecars being written and of objects being deleted. */
const TEMP_NAME = /^~t-[0-9a-f]{16}$/;
const BODY_NAME = /^([^~]+)~d-([0-9a-f]{16})$/;

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

function damaged(key: string, cause?: unknown): InfrastructureError {
  return new InfrastructureError("INTERNAL", `the sidecar of object "${key}" is damaged`, {
    ...(cause === undefined ? {} : { cause }),
    retryable: false,
    details: { key, damaged: true },
  });
}

function isDamaged(error: unknown): boolean {
  return isInfrastructureError(error, "INTERNAL") && error.details.damaged === true;
}

function versionName(): string {
  return randomBytes(8).toString("hex");
}

function bodyName(name: string, version: string): string {
  return `${name}${BODY_MARK}${version}`;
}

/**
 * What a sidecar's text holds, or undefined unless it has exactly the shape a put writes: the
 * body version in particular names a file, so it is checked like a caller's key.
 */
function parseSidecar(text: string): Sidecar | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { body, size, lastModified, contentType, cacheControl, metadata } = value as Record<string, unknown>;
  if (typeof body !== "string" || !VERSION.test(body)) return undefined;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) return undefined;
  if (typeof lastModified !== "number" || !Number.isFinite(lastModified)) return undefined;
  if (typeof contentType !== "string") return undefined;
  if (cacheControl !== undefined && typeof cacheControl !== "string") return undefined;
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return undefined;
  let checked: Record<string, string>;
  try {
    checked = validateObjectMetadata(metadata as Record<string, string>);
  } catch {
    return undefined;
  }
  return {
    body,
    size,
    lastModified,
    contentType,
    ...(cacheControl === undefined ? {} : { cacheControl }),
    metadata: checked,
  };
}

/**
 * The sidecar `file` of a checked folder, or undefined when there is none. Never follows a
 * symlink (ELOOP); a file that is not a sidecar a put wrote is `damaged`, with no path in the
 * message.
 */
async function readSidecarFile(folder: OpenFolder, file: string, key: string): Promise<Sidecar | undefined> {
  let handle: FileHandle;
  try {
    handle = await fs.open(folder.entry(file), READ_NO_FOLLOW);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  let text: string;
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size > MAX_SIDECAR_BYTES) throw damaged(key);
    text = await handle.readFile("utf8");
  } finally {
    await handle.close().catch(() => undefined);
  }
  const sidecar = parseSidecar(text);
  if (!sidecar) throw damaged(key);
  return sidecar;
}

/** Where one key lives on disk: its folders below the root, and its stored name. */
interface Location {
  key: string;
  segments: string[];
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
  readonly #onDamagedObject: ((key: string) => void) | undefined;
  readonly #locks = new KeyLocks();
  #confinement: Promise<Confinement> | undefined;
  #closed = false;

  constructor(options: LocalObjectStorageOptions) {
    if (typeof options.root !== "string" || options.root.length === 0) {
      throw new InfrastructureError("INVALID_ARGUMENT", "local object storage needs a root folder");
    }
    if (options.onDamagedObject !== undefined && typeof options.onDamagedObject !== "function") {
      throw new InfrastructureError("INVALID_ARGUMENT", "onDamagedObject must be a function");
    }
    this.root = resolvePath(options.root);
    this.#onDamagedObject = options.onDamagedObject;
  }

  async put(key: string, body: ObjectBody, options: PutObjectOptions = {}): Promise<ObjectInfo> {
    const what = `put of object "${key}"`;
    this.#check(options.signal, what);
    const location = locate(key);
    const metadata = validateObjectMetadata(options.metadata);
    if (options.ifNoneMatch !== undefined && options.ifNoneMatch !== "*") {
      throw new InfrastructureError("INVALID_ARGUMENT", 'ifNoneMatch accepts only "*"');
    }
    try {
      const folder = (await this.#openFolder(location, true)) as OpenFolder;
      try {
        if (options.ifNoneMatch === "*" && (await this.#objectExists(folder, location))) {
          // Checked again atomically at commit; this only spares writing a body that cannot win.
          throw conflict(location.key);
        }
        const version = versionName();
        const { size } = await writeNewFile(
          folder,
          bodyName(location.name, version),
          body,
          options.signal,
          what,
        );
        const sidecar: Sidecar = {
          body: version,
          size,
          lastModified: Date.now(),
          contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
          ...(options.cacheControl === undefined ? {} : { cacheControl: options.cacheControl }),
          metadata,
        };
        await this.#commit(folder, location, sidecar, options.ifNoneMatch === "*", options.signal, what);
        return infoOf(key, sidecar);
      } finally {
        await folder.close();
      }
    } catch (error) {
      throw mapLocalFsError(error, what, { key });
    }
  }

  async get(key: string, options: GetObjectOptions = {}): Promise<{ info: ObjectInfo; body: Readable }> {
    const what = `get of object "${key}"`;
    this.#check(options.signal, what);
    const { sidecar, handle } = await this.#openObject(locate(key), what);
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
    const { sidecar, handle } = await this.#openObject(locate(key), what);
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
    const sidecar = await this.#readSidecar(locate(key), what);
    if (!sidecar) throw notFound(key);
    return infoOf(key, sidecar);
  }

  async exists(key: string, options: OperationOptions = {}): Promise<boolean> {
    const what = `check of object "${key}"`;
    this.#check(options.signal, what);
    const location = locate(key);
    try {
      const folder = await this.#openFolder(location, false);
      if (!folder) return false;
      try {
        return await this.#objectExists(folder, location);
      } finally {
        await folder.close();
      }
    } catch (error) {
      throw mapLocalFsError(error, what, { key });
    }
  }

  async delete(key: string, options: OperationOptions = {}): Promise<void> {
    const what = `delete of object "${key}"`;
    this.#check(options.signal, what);
    await this.#delete(locate(key), what);
  }

  async deleteMany(keys: Iterable<string>, options: OperationOptions = {}): Promise<void> {
    this.#check(options.signal, "delete of objects");
    // Every key is checked before the first one is deleted.
    const locations = Array.from(keys, (key) => locate(key));
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
    if (typeof prefix !== "string" || prefix.includes("\u0000")) {
      throw new InfrastructureError("INVALID_ARGUMENT", "list prefix must be a string without NUL", {
        retryable: false,
      });
    }
    const after = options.after === undefined ? undefined : decodeKeyCursor(options.after);
    const start = prefixFolder(prefix);
    if (start === undefined) return { items: [] };
    const startKey = start.length === 0 ? "" : `${start.map(decodeSegment).join("/")}/`;
    const items: ObjectSummary[] = [];
    let more = false;
    try {
      const folder = await (await this.#rootConfinement()).openFolder(start, prefix, false);
      if (!folder) return { items: [] };
      try {
        for await (const found of walkKeys(folder, startKey, prefix, after)) {
          throwIfAborted(options.signal, what);
          if (items.length === pageSize) {
            more = true;
            break;
          }
          const sidecar = await this.#listedSidecar(found);
          // Deleted since the folder was read, or damaged: not part of this listing.
          if (!sidecar) continue;
          items.push({
            key: found.key,
            size: sidecar.size,
            etag: sidecar.body,
            lastModified: new Date(sidecar.lastModified),
          });
        }
      } finally {
        await folder.close();
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
    const source = locate(sourceKey);
    const destination = locate(destinationKey);
    const { sidecar, handle } = await this.#openObject(source, what);
    try {
      const folder = (await this.#openFolder(destination, true)) as OpenFolder;
      try {
        const version = versionName();
        // The open handle keeps the source body readable even if a put replaces it meanwhile.
        await writeNewFile(
          folder,
          bodyName(destination.name, version),
          handle.createReadStream({ autoClose: false }),
          options.signal,
          what,
        );
        const copied: Sidecar = {
          ...sidecar,
          body: version,
          lastModified: Date.now(),
          metadata: { ...sidecar.metadata },
        };
        await this.#commit(folder, destination, copied, false, options.signal, what);
        return infoOf(destinationKey, copied);
      } finally {
        await folder.close();
      }
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
      const root = await (await this.#rootConfinement()).openRoot("");
      try {
        return await sweepFolder(root, Date.now() - olderThanMs);
      } finally {
        await root.close();
      }
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

  #rootConfinement(): Promise<Confinement> {
    this.#confinement ??= (async () => {
      await fs.mkdir(this.root, { recursive: true });
      return new Confinement(await fs.realpath(this.root), "object key");
    })().catch((error: unknown) => {
      this.#confinement = undefined;
      throw mapLocalFsError(error, "opening of the object folder");
    });
    return this.#confinement;
  }

  /** The key's folder, opened and checked to be inside the root; undefined when missing (unless `create`). */
  async #openFolder(location: Location, create: boolean): Promise<OpenFolder | undefined> {
    return (await this.#rootConfinement()).openFolder(location.segments, location.key, create);
  }

  async #objectExists(folder: OpenFolder, location: Location): Promise<boolean> {
    try {
      return (await readSidecarFile(folder, location.sidecar, location.key)) !== undefined;
    } catch (error) {
      if (isDamaged(error)) return true;
      throw error;
    }
  }

  async #readSidecar(location: Location, what: string): Promise<Sidecar | undefined> {
    try {
      const folder = await this.#openFolder(location, false);
      if (!folder) return undefined;
      try {
        return await readSidecarFile(folder, location.sidecar, location.key);
      } finally {
        await folder.close();
      }
    } catch (error) {
      throw mapLocalFsError(error, what, { key: location.key });
    }
  }

  /** The sidecar of a listed key; a damaged one is reported and skipped. */
  async #listedSidecar(found: FoundKey): Promise<Sidecar | undefined> {
    try {
      return await readSidecarFile(found.folder, found.sidecar, found.key);
    } catch (error) {
      // ELOOP: a symlink swapped in since the folder was read, which is no object either.
      if (!isDamaged(error) && !hasErrno(error, "ELOOP")) throw error;
      try {
        this.#onDamagedObject?.(found.key);
      } catch {
        // A listener's failure must not fail the listing it observes.
      }
      return undefined;
    }
  }

  /** Opens the body the sidecar points to, rereading the sidecar if a put replaced it meanwhile. */
  async #openObject(location: Location, what: string): Promise<OpenObject> {
    let folder: OpenFolder | undefined;
    try {
      folder = await this.#openFolder(location, false);
    } catch (error) {
      throw mapLocalFsError(error, what, { key: location.key });
    }
    if (!folder) throw notFound(location.key);
    try {
      for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        const sidecar = await readSidecarFile(folder, location.sidecar, location.key);
        if (!sidecar) throw notFound(location.key);
        try {
          const handle = await fs.open(folder.entry(bodyName(location.name, sidecar.body)), READ_NO_FOLLOW);
          return { sidecar, handle };
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      }
    } catch (error) {
      throw mapLocalFsError(error, what, { key: location.key });
    } finally {
      await folder.close();
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
   * Makes the body `sidecar.body` (already in `folder`) the object's body by replacing its sidecar
   * (with `exclusive`, only if there is none), then removes the body it replaced. On failure the
   * new body is removed.
   */
  async #commit(
    folder: OpenFolder,
    location: Location,
    sidecar: Sidecar,
    exclusive: boolean,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    const newBody = folder.entry(bodyName(location.name, sidecar.body));
    await this.#locks.run(`${folder.realPath}/${location.sidecar}`, async () => {
      const tempName = `${TEMP_MARK}${versionName()}`;
      const temp = folder.entry(tempName);
      let committed = false;
      try {
        // A damaged previous sidecar is simply replaced; its body, if any, is left for `sweep`.
        const previous = await readSidecarFile(folder, location.sidecar, location.key).catch(() => undefined);
        await writeNewFile(folder, tempName, JSON.stringify(sidecar), undefined, what);
        throwIfAborted(signal, what);
        if (exclusive) {
          // link() fails when the name exists, so two conditional puts cannot both win.
          await fs.link(temp, folder.entry(location.sidecar)).catch((error: unknown) => {
            if (hasErrno(error, "EEXIST")) throw conflict(location.key, error);
            throw error;
          });
          committed = true;
          await fs.unlink(temp);
        } else {
          await fs.rename(temp, folder.entry(location.sidecar));
          committed = true;
        }
        await folder.handle.sync();
        if (previous && previous.body !== sidecar.body) {
          await fs.unlink(folder.entry(bodyName(location.name, previous.body))).catch(() => undefined);
        }
      } catch (error) {
        await fs.unlink(temp).catch(() => undefined);
        // Once the sidecar points to the new body, removing it would break the object.
        if (!committed) await fs.unlink(newBody).catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * Moves the sidecar to a temporary name first: of several deletes and puts racing, exactly one
   * takes each sidecar, and it removes the body that sidecar names.
   */
  async #delete(location: Location, what: string): Promise<void> {
    try {
      const folder = await this.#openFolder(location, false);
      if (!folder) return;
      try {
        await this.#locks.run(`${folder.realPath}/${location.sidecar}`, async () => {
          // Refuses a planted symlink (ELOOP) before anything is touched; a damaged one is removed.
          if (!(await this.#objectExists(folder, location))) return;
          const claim = `${TEMP_MARK}${versionName()}`;
          try {
            await fs.rename(folder.entry(location.sidecar), folder.entry(claim));
          } catch (error) {
            if (isMissing(error)) return;
            throw error;
          }
          const claimed = await readSidecarFile(folder, claim, location.key).catch(() => undefined);
          if (claimed) {
            await fs.unlink(folder.entry(bodyName(location.name, claimed.body))).catch((error: unknown) => {
              if (!isMissing(error)) throw error;
            });
          }
          await fs.unlink(folder.entry(claim));
        });
      } finally {
        await folder.close();
      }
    } catch (error) {
      throw mapLocalFsError(error, what, { key: location.key });
    }
  }
}

/** Where `key` lives, after the key checks. */
function locate(key: string): Location {
  const segments = storedSegments(key);
  const name = segments.pop() as string;
  return { key, segments, name, sidecar: `${name}${SIDECAR_SUFFIX}` };
}

interface FoundKey {
  key: string;
  /** The folder holding the sidecar, open while the key is being read. */
  folder: OpenFolder;
  sidecar: string;
}

/**
 * Yields the keys below `folder` in ascending UTF-8 byte order, lazily. Within a folder, an object
 * sorts by its name and a subfolder by its name plus `/`: every key inside the subfolder starts
 * with that, so a depth-first walk in this order is the global key order. Subtrees that cannot
 * hold a key matching `prefix`, or after the cursor `after`, are not read at all. Symlinks are
 * neither objects nor folders, and a name no caller's key could produce is skipped.
 */
async function* walkKeys(
  folder: OpenFolder,
  folderKey: string,
  prefix: string,
  after: string | undefined,
): AsyncGenerator<FoundKey> {
  const entries: Array<{ sortKey: string; stored: string; kind: "object" | "folder" }> = [];
  for (const dirent of await entriesOf(folder)) {
    const stored = dirent.name;
    if (dirent.isFile() && stored.endsWith(SIDECAR_SUFFIX)) {
      const segment = segmentOfStoredName(stored.slice(0, -SIDECAR_SUFFIX.length));
      if (segment === undefined || !isUsableKey(folderKey + segment)) continue;
      entries.push({ sortKey: folderKey + segment, stored, kind: "object" });
    } else if (dirent.isDirectory()) {
      const segment = segmentOfStoredName(stored);
      if (segment === undefined) continue;
      entries.push({ sortKey: `${folderKey}${segment}/`, stored, kind: "folder" });
    }
  }
  entries.sort((a, b) => compareObjectKeys(a.sortKey, b.sortKey));
  for (const entry of entries) {
    if (entry.kind === "object") {
      if (!entry.sortKey.startsWith(prefix)) continue;
      if (after !== undefined && compareObjectKeys(entry.sortKey, after) <= 0) continue;
      yield { key: entry.sortKey, folder, sidecar: entry.stored };
      continue;
    }
    const inside = entry.sortKey;
    if (!inside.startsWith(prefix) && !prefix.startsWith(inside)) continue;
    if (after !== undefined && !after.startsWith(inside) && compareObjectKeys(inside, after) < 0) continue;
    const inner = await openSubfolder(folder, entry.stored);
    if (!inner) continue;
    try {
      yield* walkKeys(inner, inside, prefix, after);
    } finally {
      await inner.close();
    }
  }
}

/**
 * Removes, below a checked folder, the stale files only this adapter writes: temporary files
 * (`~t-<version>`) and bodies (`<name>~d-<version>`) that the object's valid sidecar does not
 * name. A body whose sidecar is damaged is kept; any other name is never touched. Returns how many.
 */
async function sweepFolder(folder: OpenFolder, cutoff: number): Promise<number> {
  let removed = 0;
  const current = new Map<string, string | undefined | null>();
  for (const entry of await entriesOf(folder)) {
    const stored = entry.name;
    if (entry.isDirectory()) {
      if (segmentOfStoredName(stored) === undefined) continue;
      const inner = await openSubfolder(folder, stored);
      if (!inner) continue;
      try {
        removed += await sweepFolder(inner, cutoff);
      } finally {
        await inner.close();
      }
      continue;
    }
    if (!entry.isFile()) continue;
    const body = BODY_NAME.exec(stored);
    if (!TEMP_NAME.test(stored) && !(body && segmentOfStoredName(body[1] as string) !== undefined)) continue;
    const stats = await fs.lstat(folder.entry(stored)).catch(() => undefined);
    if (!stats?.isFile() || stats.mtimeMs >= cutoff) continue;
    if (body) {
      const name = body[1] as string;
      if (!current.has(name)) current.set(name, await bodyInUse(folder, name));
      const inUse = current.get(name);
      // null: the sidecar is damaged or unreadable, so which body is live is unknown.
      if (inUse === null || inUse === body[2]) continue;
    }
    await fs.unlink(folder.entry(stored)).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
    removed++;
  }
  return removed;
}

/** The body version the sidecar of `name` names; undefined without a sidecar, null when it cannot be read. */
async function bodyInUse(folder: OpenFolder, name: string): Promise<string | undefined | null> {
  try {
    return (await readSidecarFile(folder, `${name}${SIDECAR_SUFFIX}`, name))?.body;
  } catch {
    return null;
  }
}

/** An `ObjectStorage` whose objects are files under `options.root` (see README for the layout). */
export function createLocalObjectStorage(options: LocalObjectStorageOptions): LocalObjectStorage {
  return new LocalFsObjectStorage(options);
}
