import type { Readable } from "node:stream";
import type { Closeable, OperationOptions, Page } from "./resources.js";

/** What can be stored: bytes, a string (stored as UTF-8), or a Node or Web stream of bytes. */
export type ObjectBody =
  | Uint8Array
  | string
  | Readable
  | AsyncIterable<Uint8Array>
  | ReadableStream<Uint8Array>;

export interface PutObjectOptions extends OperationOptions {
  /** Stored and returned as is. Default `application/octet-stream`. */
  contentType?: string;
  cacheControl?: string;
  /**
   * User metadata. Keys are lower-case ASCII letters, digits and `-` (`INVALID_ARGUMENT`
   * otherwise); values are printable ASCII. Round-trips unchanged.
   */
  metadata?: Record<string, string>;
  /** Fail with `CONFLICT` if the key already exists (where `capabilities.conditionalPut`). */
  ifNoneMatch?: "*";
}

export interface ObjectInfo {
  key: string;
  /** Bytes. */
  size: number;
  contentType: string;
  cacheControl?: string;
  metadata: Record<string, string>;
  /** Opaque version tag; changes whenever the content changes. */
  etag: string;
  lastModified: Date;
}

/** A listed object. `list` does not read metadata. */
export interface ObjectSummary {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ListObjectsOptions extends OperationOptions {
  /** Only keys starting with this string. Default: all keys. */
  prefix?: string;
  /** Page size hint, 1 to 1000. Default 1000. */
  pageSize?: number;
}

export interface ListPageOptions extends ListObjectsOptions {
  /** `nextCursor` of the previous page. */
  after?: string;
}

export interface GetObjectOptions extends OperationOptions {
  /** Inclusive byte range; `end` past the object's end is clamped. */
  range?: { start: number; end?: number };
}

export interface SignedUrlOptions {
  /** `GET` to download, `PUT` to upload. */
  method: "GET" | "PUT";
  /** Lifetime in seconds, 1 to 604800 (7 days). */
  expiresInSeconds: number;
  /** For `PUT`: the content type the uploader must send. */
  contentType?: string;
}

export interface ObjectStorageCapabilities {
  /** `signedUrl` works; otherwise it rejects with `NOT_SUPPORTED`. */
  signedUrls: boolean;
  /** `ifNoneMatch: "*"` is honoured; otherwise it rejects with `NOT_SUPPORTED`. */
  conditionalPut: boolean;
  /** `range` is honoured; otherwise it rejects with `NOT_SUPPORTED`. */
  rangeReads: boolean;
}

/**
 * A bucket of objects addressed by string keys.
 *
 * Contract:
 * - Keys are non-empty strings of at most 1024 UTF-8 bytes, with no NUL or control characters;
 *   anything else is `INVALID_ARGUMENT`. `/` is an ordinary character (no folders exist), and keys
 *   with spaces, unicode and dots round-trip. An adapter may reject more keys (a file system adapter
 *   rejects `..` segments) and documents which.
 * - `put` stores the whole body or nothing: a failed or cancelled put leaves no object and no
 *   partial upload behind (a previous object under the key stays). Streams are consumed with
 *   back-pressure, never buffered whole. It returns the stored object's info.
 * - `get` streams the body; `getBytes` buffers it. Both reject with `NOT_FOUND` for a missing key
 *   before any byte is delivered. `head` returns the info or `NOT_FOUND`; `exists` returns false
 *   instead. Metadata, content type and cache control round-trip from `put`.
 * - `delete` removes the key; deleting a missing key succeeds (idempotent). `deleteMany` removes
 *   all given keys, in batches as the backend needs, and also ignores missing ones.
 * - `list` yields every object under `prefix` exactly once, in ascending UTF-8 byte order of key,
 *   fetching pages lazily; `listPage` returns one page with a cursor. Objects written during a
 *   listing may or may not appear.
 * - `copy` duplicates content, content type and metadata within the bucket; a missing source is
 *   `NOT_FOUND`.
 * - `signedUrl` returns an absolute URL that performs the request without other credentials until
 *   it expires, or `NOT_SUPPORTED` where `capabilities.signedUrls` is false.
 * - Backend failures map to the taxonomy (`PERMISSION_DENIED`, `UNAVAILABLE`, `TIMEOUT`...);
 *   after `close()` every call is `CLOSED`.
 */
export interface ObjectStorage extends Closeable {
  readonly capabilities: ObjectStorageCapabilities;
  put(key: string, body: ObjectBody, options?: PutObjectOptions): Promise<ObjectInfo>;
  get(key: string, options?: GetObjectOptions): Promise<{ info: ObjectInfo; body: Readable }>;
  getBytes(key: string, options?: GetObjectOptions): Promise<{ info: ObjectInfo; bytes: Uint8Array }>;
  head(key: string, options?: OperationOptions): Promise<ObjectInfo>;
  exists(key: string, options?: OperationOptions): Promise<boolean>;
  delete(key: string, options?: OperationOptions): Promise<void>;
  deleteMany(keys: Iterable<string>, options?: OperationOptions): Promise<void>;
  list(options?: ListObjectsOptions): AsyncIterable<ObjectSummary>;
  listPage(options?: ListPageOptions): Promise<Page<ObjectSummary>>;
  copy(sourceKey: string, destinationKey: string, options?: OperationOptions): Promise<ObjectInfo>;
  signedUrl(key: string, options: SignedUrlOptions): Promise<string>;
}
