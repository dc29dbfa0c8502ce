import { createHash } from "node:crypto";
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
  objectBodyChunks,
  type Page,
  type PutObjectOptions,
  resolveByteRange,
  type SignedUrlOptions,
  throwIfAborted,
  validateListPageSize,
  validateObjectKey,
  validateObjectMetadata,
} from "@proj/ports";

export interface MemoryObjectStorageOptions {
  /** Clock for `lastModified`; tests may pass their own. Default `() => new Date()`. */
  now?: () => Date;
  /** Largest body accepted; a bigger put fails with `RESOURCE_EXHAUSTED`. Default: no limit. */
  maxObjectBytes?: number;
}

interface StoredObject {
  bytes: Buffer;
  contentType: string;
  cacheControl?: string;
  metadata: Record<string, string>;
  etag: string;
  lastModified: Date;
}

const CAPABILITIES: ObjectStorageCapabilities = Object.freeze({
  signedUrls: false,
  conditionalPut: true,
  rangeReads: true,
});

const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** Size of the chunks `get` streams, so a consumer sees ordinary back-pressured chunks. */
const READ_CHUNK_BYTES = 64 * 1024;

/** `validateObjectKey` that hands the key back, for use inside expressions. */
function validateKey(key: string): string {
  validateObjectKey(key);
  return key;
}

/**
 * Reads the whole body, honouring `signal` between and during chunk reads. The chunks are copied,
 * so the caller may reuse its buffers once `put` resolves.
 */
async function readBody(body: ObjectBody, signal: AbortSignal | undefined, key: string, limit: number) {
  const what = `put of object "${key}"`;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const value of objectBodyChunks(body, signal, what)) {
      const chunk = Buffer.from(value);
      size += chunk.byteLength;
      if (size > limit) {
        throw new InfrastructureError("RESOURCE_EXHAUSTED", `object "${key}" is larger than ${limit} bytes`, {
          retryable: false,
          details: { key, limit },
        });
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (isInfrastructureError(error)) throw error;
    throw new InfrastructureError("INTERNAL", `${what} failed: the body could not be read`, {
      cause: error,
      details: { key },
    });
  }
  return Buffer.concat(chunks, size);
}

function summaryOf(key: string, stored: StoredObject): ObjectSummary {
  return {
    key,
    size: stored.bytes.byteLength,
    etag: stored.etag,
    lastModified: new Date(stored.lastModified),
  };
}

function infoOf(key: string, stored: StoredObject): ObjectInfo {
  return {
    ...summaryOf(key, stored),
    contentType: stored.contentType,
    ...(stored.cacheControl === undefined ? {} : { cacheControl: stored.cacheControl }),
    metadata: { ...stored.metadata },
  };
}

/**
 * An `ObjectStorage` held in memory: the reference the contract suite is proven on, and a faithful
 * double for unit tests. Bodies are copied on the way in and out, etags are content hashes, keys
 * list in UTF-8 byte order. It cannot sign URLs (no server answers them).
 */
class MemoryObjectStorage implements ObjectStorage {
  readonly capabilities = CAPABILITIES;
  readonly #objects = new Map<string, StoredObject>();
  readonly #now: () => Date;
  readonly #maxObjectBytes: number;
  /** Keys in byte order, rebuilt lazily after a write. */
  #sortedKeys: string[] | undefined;
  #closed = false;

  constructor(options: MemoryObjectStorageOptions) {
    this.#now = options.now ?? (() => new Date());
    this.#maxObjectBytes = options.maxObjectBytes ?? Number.POSITIVE_INFINITY;
  }

  async put(key: string, body: ObjectBody, options: PutObjectOptions = {}): Promise<ObjectInfo> {
    this.#check(options.signal, "put object");
    validateKey(key);
    const metadata = validateObjectMetadata(options.metadata);
    if (options.ifNoneMatch !== undefined && options.ifNoneMatch !== "*") {
      throw new InfrastructureError("INVALID_ARGUMENT", 'ifNoneMatch accepts only "*"');
    }
    const bytes = await readBody(body, options.signal, key, this.#maxObjectBytes);
    this.#check(options.signal, "put object");
    if (options.ifNoneMatch === "*" && this.#objects.has(key)) {
      throw new InfrastructureError("CONFLICT", `object "${key}" already exists`, { details: { key } });
    }
    const stored: StoredObject = {
      bytes,
      contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
      ...(options.cacheControl === undefined ? {} : { cacheControl: options.cacheControl }),
      metadata,
      etag: createHash("md5").update(bytes).digest("hex"),
      lastModified: this.#now(),
    };
    this.#store(key, stored);
    return infoOf(key, stored);
  }

  async get(key: string, options: GetObjectOptions = {}): Promise<{ info: ObjectInfo; body: Readable }> {
    const { info, bytes } = this.#read(key, options, "get object");
    const body = destroyOnAbort(
      Readable.from(chunksOf(bytes), { objectMode: false }),
      options.signal,
      `get of object "${key}"`,
    );
    return { info, body };
  }

  async getBytes(
    key: string,
    options: GetObjectOptions = {},
  ): Promise<{ info: ObjectInfo; bytes: Uint8Array }> {
    const { info, bytes } = this.#read(key, options, "get object");
    return { info, bytes: Buffer.from(bytes) };
  }

  async head(key: string, options: OperationOptions = {}): Promise<ObjectInfo> {
    this.#check(options.signal, "head object");
    return infoOf(key, this.#require(validateKey(key)));
  }

  async exists(key: string, options: OperationOptions = {}): Promise<boolean> {
    this.#check(options.signal, "check object");
    return this.#objects.has(validateKey(key));
  }

  async delete(key: string, options: OperationOptions = {}): Promise<void> {
    this.#check(options.signal, "delete object");
    if (this.#objects.delete(validateKey(key))) this.#sortedKeys = undefined;
  }

  async deleteMany(keys: Iterable<string>, options: OperationOptions = {}): Promise<void> {
    this.#check(options.signal, "delete objects");
    const all = Array.from(keys, validateKey);
    for (const key of all) this.#objects.delete(key);
    if (all.length > 0) this.#sortedKeys = undefined;
  }

  list(options: ListObjectsOptions = {}): AsyncIterable<ObjectSummary> {
    return listAllPages((page) => this.listPage(page), options);
  }

  async listPage(options: ListPageOptions = {}): Promise<Page<ObjectSummary>> {
    this.#check(options.signal, "list objects");
    const pageSize = validateListPageSize(options.pageSize);
    const prefix = options.prefix ?? "";
    const after = options.after === undefined ? undefined : decodeKeyCursor(options.after);
    const keys = this.#keysInOrder();
    // Keys sharing a prefix are contiguous in byte order, so the page is one slice of `keys`.
    let index =
      after === undefined || compareObjectKeys(after, prefix) < 0
        ? lowerBound(keys, prefix, false)
        : lowerBound(keys, after, true);
    const items: ObjectSummary[] = [];
    for (; index < keys.length && items.length < pageSize; index++) {
      const key = keys[index] as string;
      if (!key.startsWith(prefix)) break;
      items.push(summaryOf(key, this.#objects.get(key) as StoredObject));
    }
    const more = index < keys.length && (keys[index] as string).startsWith(prefix);
    const last = items.at(-1);
    return more && last ? { items, nextCursor: encodeKeyCursor(last.key) } : { items };
  }

  async copy(sourceKey: string, destinationKey: string, options: OperationOptions = {}): Promise<ObjectInfo> {
    this.#check(options.signal, "copy object");
    validateObjectKey(sourceKey, "source key");
    validateObjectKey(destinationKey, "destination key");
    const source = this.#require(sourceKey);
    const copy: StoredObject = {
      ...source,
      bytes: Buffer.from(source.bytes),
      metadata: { ...source.metadata },
      lastModified: this.#now(),
    };
    this.#store(destinationKey, copy);
    return infoOf(destinationKey, copy);
  }

  async signedUrl(key: string, _options: SignedUrlOptions): Promise<string> {
    this.#check(undefined, "sign URL");
    validateKey(key);
    throw new InfrastructureError(
      "NOT_SUPPORTED",
      "the memory object storage cannot sign URLs: no server answers them",
      {
        retryable: false,
      },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#objects.clear();
    this.#sortedKeys = undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(signal: AbortSignal | undefined, what: string): void {
    if (this.#closed) throw closedError("memory object storage");
    throwIfAborted(signal, what);
  }

  #require(key: string): StoredObject {
    const stored = this.#objects.get(key);
    if (!stored)
      throw new InfrastructureError("NOT_FOUND", `object "${key}" does not exist`, { details: { key } });
    return stored;
  }

  #read(key: string, options: GetObjectOptions, what: string): { info: ObjectInfo; bytes: Buffer } {
    this.#check(options.signal, what);
    const stored = this.#require(validateKey(key));
    const span = resolveByteRange(options.range, stored.bytes.byteLength, key);
    const bytes = span ? stored.bytes.subarray(span.start, span.end + 1) : stored.bytes;
    return { info: infoOf(key, stored), bytes };
  }

  #store(key: string, stored: StoredObject): void {
    if (!this.#objects.has(key)) this.#sortedKeys = undefined;
    this.#objects.set(key, stored);
  }

  #keysInOrder(): string[] {
    this.#sortedKeys ??= [...this.#objects.keys()].sort(compareObjectKeys);
    return this.#sortedKeys;
  }
}

/** Index of the first key at or after `target` (strictly after when `exclusive`), by binary search. */
function lowerBound(keys: readonly string[], target: string, exclusive: boolean): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const order = compareObjectKeys(keys[middle] as string, target);
    if (order < 0 || (exclusive && order === 0)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Copies out the body in chunks, so the stored bytes never leave the adapter. */
function* chunksOf(bytes: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < bytes.byteLength; offset += READ_CHUNK_BYTES) {
    yield Buffer.from(bytes.subarray(offset, offset + READ_CHUNK_BYTES));
  }
}

/** An `ObjectStorage` in memory, for tests and as the contract suite's reference. */
export function createMemoryObjectStorage(options: MemoryObjectStorageOptions = {}): ObjectStorage {
  return new MemoryObjectStorage(options);
}
