import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
  closedError,
  destroyOnAbort,
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
  type SignedUrlOptions,
  throwIfAborted,
  validateListPageSize,
  validateObjectMetadata,
} from "@proj/ports";
import { startDeadline, validateTimeout } from "./deadline.js";
import { Janitor } from "./janitor.js";
import { mapS3Error } from "./map-s3-error.js";
import { abortStrayUploads, type UploadContext, uploadClient } from "./s3-upload-client.js";
import { rangeHeader, validateExpiry, validateKey } from "./validate.js";

const MIB = 1024 * 1024;
/** S3's floor for every part but the last. */
const MIN_PART_SIZE = 5 * MIB;
const DELETE_BATCH = 1000;
const DEFAULT_CONTENT_TYPE = "application/octet-stream";
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_IDLE_TIMEOUT_MS = 15_000;
/** How long an abort that could not reach the server is retried in the background. */
const CLEANUP_GIVE_UP_MS = 10 * 60_000;

/** What every factory accepts besides where the bucket lives. */
export interface S3CommonOptions {
  bucket: string;
  /**
   * Every key is stored under this prefix and `list` only sees keys under it, so several stores (or
   * test runs) can share one bucket. Default: none.
   */
  keyPrefix?: string;
  /**
   * Bytes per multipart part for streamed puts and byte arrays larger than this, at least 5 MiB.
   * A streamed put holds about `(queueSize + 1) × partSize` bytes of parts at a time, and objects
   * are limited to `10,000 × partSize` (48.8 GiB by default). Default 5 MiB.
   */
  partSize?: number;
  /** Parts uploaded concurrently by one streamed put; more is faster on a fast link and holds more memory. Default 2. */
  queueSize?: number;
  /**
   * Attempts per request, including the first, with jittered backoff on throttling, 5xx and dropped
   * connections, all within the call's deadline. Requests that must not be repeated once they may
   * have reached the server (creating and completing a multipart upload, a conditional put) are
   * sent again only when the server provably did not act. Default 4.
   */
  maxAttempts?: number;
  /** Time to establish a connection, in ms. Default 5,000. */
  connectionTimeoutMs?: number;
  /**
   * Longest silence on a connection, per attempt, before that attempt fails, in ms; it also bounds
   * a stall in the middle of a `get` body (`TIMEOUT`). Default 15,000.
   */
  idleTimeoutMs?: number;
  /**
   * Deadline of every call, retries and back-off included, in ms: connect, send, wait and read.
   * For `get` it runs until the response headers (the body then streams at the reader's pace,
   * bounded by `idleTimeoutMs`); for a multipart put it applies to each request of the upload.
   * Overridable per call with `{ timeoutMs }`. `Infinity` turns it off. Default 30,000.
   */
  timeoutMs?: number;
  /**
   * `WHEN_SUPPORTED` (default) sends the SDK's CRC32 checksums with every upload. Set
   * `WHEN_REQUIRED` for S3-compatible endpoints that reject the `x-amz-checksum-*` headers or
   * `aws-chunked` bodies; then only operations that require a checksum (`DeleteObjects`) send one.
   */
  requestChecksumCalculation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /** `WHEN_SUPPORTED` (default) validates checksums the endpoint returns on download. */
  responseChecksumValidation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /** Whether the endpoint honours `If-None-Match: *` on writes (`ifNoneMatch`). */
  conditionalPut?: boolean;
  /** Extra S3 client settings, applied last (a logger, a custom request handler...). */
  clientConfig?: S3ClientConfig;
}

/** Where the bucket lives and how to sign, as each factory resolves it. */
export interface S3Endpoint {
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: S3ClientConfig["credentials"];
}

/** What every call of an `S3ObjectStorage` accepts on top of the port's options. */
export interface S3CallOptions {
  /** This call's deadline in ms, instead of the store's `timeoutMs`; `Infinity` for none. */
  timeoutMs?: number;
}

/** `ObjectStorage` over the S3 API, with the underlying client for what the port does not cover. */
export interface S3ObjectStorage extends ObjectStorage {
  put(key: string, body: ObjectBody, options?: PutObjectOptions & S3CallOptions): Promise<ObjectInfo>;
  get(key: string, options?: GetObjectOptions & S3CallOptions): Promise<{ info: ObjectInfo; body: Readable }>;
  getBytes(
    key: string,
    options?: GetObjectOptions & S3CallOptions,
  ): Promise<{ info: ObjectInfo; bytes: Uint8Array }>;
  head(key: string, options?: OperationOptions & S3CallOptions): Promise<ObjectInfo>;
  exists(key: string, options?: OperationOptions & S3CallOptions): Promise<boolean>;
  delete(key: string, options?: OperationOptions & S3CallOptions): Promise<void>;
  deleteMany(keys: Iterable<string>, options?: OperationOptions & S3CallOptions): Promise<void>;
  list(options?: ListObjectsOptions & S3CallOptions): AsyncIterable<ObjectSummary>;
  listPage(options?: ListPageOptions & S3CallOptions): Promise<Page<ObjectSummary>>;
  copy(
    sourceKey: string,
    destinationKey: string,
    options?: OperationOptions & S3CallOptions,
  ): Promise<ObjectInfo>;
  /**
   * Aborts the unfinished multipart uploads of `key` that no put of this store has in flight: what
   * a process killed in the middle of a put (SIGKILL, a crash) leaves behind, which S3 keeps, and
   * bills, until it is aborted or a lifecycle rule (`AbortIncompleteMultipartUpload`) removes it.
   * Call it from the process that takes the dead one's work over, before it writes the key again.
   * An upload of another store (another process) still in progress is aborted too, and its put
   * fails. Resolves with how many uploads it aborted.
   */
  abortStrayUploads(key: string, options?: OperationOptions & S3CallOptions): Promise<number>;
  /** The S3 client this store sends through. Keys used with it directly must include `keyPrefix`. */
  readonly client: S3Client;
  readonly bucket: string;
  readonly keyPrefix: string;
}

class S3BackedObjectStorage implements S3ObjectStorage {
  readonly capabilities: ObjectStorageCapabilities;
  readonly client: S3Client;
  readonly bucket: string;
  readonly keyPrefix: string;
  /**
   * Presigning never sends a body, so a flexible checksum computed at signing time would be the
   * checksum of nothing, and every real upload through the URL would fail its integrity check.
   */
  private readonly presigner: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly timeoutMs: number;
  private readonly uploads: UploadContext;
  private closed = false;

  constructor(endpoint: S3Endpoint, options: S3CommonOptions, conditionalPutDefault: boolean) {
    this.bucket = options.bucket;
    this.keyPrefix = options.keyPrefix ?? "";
    this.partSize = options.partSize ?? MIN_PART_SIZE;
    this.queueSize = options.queueSize ?? 2;
    this.timeoutMs = validateTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, "timeoutMs");
    const maxAttempts = options.maxAttempts ?? 4;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new InfrastructureError("INVALID_ARGUMENT", "maxAttempts must be a positive integer");
    }
    if (typeof this.bucket !== "string" || this.bucket.length === 0) {
      throw new InfrastructureError("INVALID_ARGUMENT", "bucket must be a non-empty string");
    }
    if (!Number.isInteger(this.partSize) || this.partSize < MIN_PART_SIZE) {
      throw new InfrastructureError("INVALID_ARGUMENT", "partSize must be an integer of at least 5 MiB");
    }
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) {
      throw new InfrastructureError("INVALID_ARGUMENT", "queueSize must be a positive integer");
    }
    this.capabilities = {
      signedUrls: true,
      conditionalPut: options.conditionalPut ?? conditionalPutDefault,
      rangeReads: true,
    };
    const config: S3ClientConfig = {
      region: endpoint.region,
      ...(endpoint.endpoint !== undefined ? { endpoint: endpoint.endpoint } : {}),
      ...(endpoint.forcePathStyle !== undefined ? { forcePathStyle: endpoint.forcePathStyle } : {}),
      ...(endpoint.credentials !== undefined ? { credentials: endpoint.credentials } : {}),
      maxAttempts,
      retryMode: "standard",
      requestChecksumCalculation: options.requestChecksumCalculation ?? "WHEN_SUPPORTED",
      responseChecksumValidation: options.responseChecksumValidation ?? "WHEN_SUPPORTED",
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 5_000,
        socketTimeout: validateTimeout(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, "idleTimeoutMs"),
      },
      ...options.clientConfig,
    };
    this.client = new S3Client(config);
    this.presigner = new S3Client({ ...config, requestChecksumCalculation: "WHEN_REQUIRED" });
    this.uploads = {
      client: this.client,
      onceClient: new S3Client({ ...config, maxAttempts: 1 }),
      maxAttempts,
      timeoutMs: this.timeoutMs,
      bucket: this.bucket,
      inflight: new Map(),
      janitor: new Janitor(this.timeoutMs, CLEANUP_GIVE_UP_MS),
    };
  }

  /** This call's deadline: its own `timeoutMs` when given, else the store's. */
  private timeoutFor(options: S3CallOptions): number {
    return options.timeoutMs === undefined ? this.timeoutMs : validateTimeout(options.timeoutMs, "timeoutMs");
  }

  /** One request under the call's deadline, its failure mapped to the taxonomy. */
  private async call<T>(
    what: string,
    options: OperationOptions & S3CallOptions,
    action: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const deadline = startDeadline(this.timeoutFor(options), options.signal, what);
    try {
      return await deadline.settle(action(deadline.signal));
    } catch (error) {
      throw mapS3Error(error, what, deadline.signal);
    } finally {
      deadline.dispose();
    }
  }

  async put(
    key: string,
    body: ObjectBody,
    options: PutObjectOptions & S3CallOptions = {},
  ): Promise<ObjectInfo> {
    const what = `put of "${key}"`;
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    validateObjectMetadata(options.metadata);
    if (options.ifNoneMatch !== undefined && !this.capabilities.conditionalPut) {
      throw new InfrastructureError("NOT_SUPPORTED", "this endpoint is not configured for conditional puts");
    }
    const { signal } = options;
    throwIfAborted(signal, what);
    const timeoutMs = this.timeoutFor(options);
    const params: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.keyPrefix + key,
      ContentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
      ...(options.cacheControl !== undefined ? { CacheControl: options.cacheControl } : {}),
      ...(options.metadata !== undefined ? { Metadata: options.metadata } : {}),
      ...(options.ifNoneMatch !== undefined ? { IfNoneMatch: options.ifNoneMatch } : {}),
    };
    const uploader = uploadClient({ ...this.uploads, timeoutMs }, this.keyPrefix + key, signal, what);
    try {
      const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
      if (bytes instanceof Uint8Array && bytes.byteLength <= this.partSize) {
        await uploader.client.send(new PutObjectCommand({ ...params, Body: bytes }));
      } else {
        await this.upload(uploader.client, params, bytes, signal, what);
      }
    } catch (error) {
      throw uploader.withLeftovers(mapS3Error(error, what, signal));
    } finally {
      uploader.release();
    }
    // The object is stored: a cancel arriving now must not report a put that happened as failed.
    return await this.call(`${what}: reading back what was stored`, { timeoutMs }, (deadline) =>
      this.headStored(key, deadline),
    );
  }

  /**
   * Streams `body` through lib-storage's multipart upload: parts of `partSize`, `queueSize` at a
   * time, and on any failure the multipart upload is aborted before this rejects.
   */
  private async upload(
    client: S3Client,
    params: PutObjectCommandInput,
    body: Exclude<ObjectBody, string>,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    const source = body instanceof Uint8Array ? body : toReadable(body, signal, what);
    const upload = new Upload({
      client,
      params: { ...params, Body: source },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      if (source instanceof Readable && !source.destroyed) source.destroy();
      throw error;
    }
  }

  async get(
    key: string,
    options: GetObjectOptions & S3CallOptions = {},
  ): Promise<{ info: ObjectInfo; body: Readable }> {
    const what = `get of "${key}"`;
    const output = await this.call(what, options, (signal) => this.getObject(key, options, signal, what));
    const body = taxonomyErrors(output.Body as Readable, what);
    // The SDK aborts the socket; the body should fail with the taxonomy error, not a raw AbortError.
    return { info: this.infoFrom(key, output), body: destroyOnAbort(body, options.signal, what) };
  }

  async getBytes(
    key: string,
    options: GetObjectOptions & S3CallOptions = {},
  ): Promise<{ info: ObjectInfo; bytes: Uint8Array }> {
    const what = `get of "${key}"`;
    return await this.call(what, options, async (signal) => {
      const output = await this.getObject(key, options, signal, what);
      const body = destroyOnAbort(taxonomyErrors(output.Body as Readable, what), signal, what);
      return { info: this.infoFrom(key, output), bytes: await readAll(body, output.ContentLength) };
    });
  }

  private async getObject(
    key: string,
    options: GetObjectOptions,
    signal: AbortSignal,
    what: string,
  ): Promise<GetObjectCommandOutput> {
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    const range = rangeHeader(options.range, key);
    throwIfAborted(signal, what);
    return await this.client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.keyPrefix + key,
        ...(range !== undefined ? { Range: range } : {}),
      }),
      { abortSignal: signal },
    );
  }

  async head(key: string, options: OperationOptions & S3CallOptions = {}): Promise<ObjectInfo> {
    const what = `head of "${key}"`;
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    throwIfAborted(options.signal, what);
    return await this.call(what, options, (signal) => this.headStored(key, signal));
  }

  private async headStored(key: string, signal: AbortSignal): Promise<ObjectInfo> {
    const output = await this.client.send(
      new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }),
      { abortSignal: signal },
    );
    return this.infoFrom(key, output);
  }

  async exists(key: string, options: OperationOptions & S3CallOptions = {}): Promise<boolean> {
    try {
      await this.head(key, options);
      return true;
    } catch (error) {
      if (isInfrastructureError(error, "NOT_FOUND")) return false;
      throw error;
    }
  }

  async delete(key: string, options: OperationOptions & S3CallOptions = {}): Promise<void> {
    const what = `delete of "${key}"`;
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    throwIfAborted(options.signal, what);
    // Deleting is idempotent, so the SDK may send it again after a lost reply.
    await this.call(what, options, (signal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }), {
        abortSignal: signal,
      }),
    );
  }

  async deleteMany(keys: Iterable<string>, options: OperationOptions & S3CallOptions = {}): Promise<void> {
    const what = "deleteMany";
    this.ensureOpen(what);
    const all = [...keys];
    for (const key of all) validateKey(key, this.keyPrefix);
    for (let start = 0; start < all.length; start += DELETE_BATCH) {
      throwIfAborted(options.signal, what);
      const batch = all.slice(start, start + DELETE_BATCH);
      const output = await this.call(`${what} of ${batch.length} keys`, options, (signal) =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((key) => ({ Key: this.keyPrefix + key })), Quiet: true },
          }),
          { abortSignal: signal },
        ),
      );
      const failures = output.Errors ?? [];
      const first = failures[0];
      if (first !== undefined) {
        const key = first.Key?.slice(this.keyPrefix.length) ?? "?";
        const mapped = mapS3Error(
          { name: first.Code, message: first.Message },
          `${what}: deleting "${key}" (and ${failures.length - 1} more)`,
        );
        throw new InfrastructureError(mapped.code, mapped.message, {
          cause: failures,
          retryable: mapped.retryable,
          details: {
            ...mapped.details,
            failedKeys: failures.map((failure) => ({
              key: failure.Key?.slice(this.keyPrefix.length),
              code: failure.Code,
            })),
          },
        });
      }
    }
  }

  async abortStrayUploads(key: string, options: OperationOptions & S3CallOptions = {}): Promise<number> {
    const what = `aborting the stray uploads of "${key}"`;
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    throwIfAborted(options.signal, what);
    return await this.call(what, options, (signal) =>
      abortStrayUploads(this.uploads, this.keyPrefix + key, signal),
    );
  }

  list(options: ListObjectsOptions & S3CallOptions = {}): AsyncIterable<ObjectSummary> {
    return listAllPages((page) => this.listPage({ ...page, timeoutMs: options.timeoutMs }), options);
  }

  async listPage(options: ListPageOptions & S3CallOptions = {}): Promise<Page<ObjectSummary>> {
    const what = `list of "${options.prefix ?? ""}"`;
    this.ensureOpen(what);
    const pageSize = validateListPageSize(options.pageSize);
    throwIfAborted(options.signal, what);
    const output = await this.call(what, options, (signal) =>
      this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.keyPrefix + (options.prefix ?? ""),
          MaxKeys: pageSize,
          ...(options.after !== undefined ? { ContinuationToken: options.after } : {}),
        }),
        { abortSignal: signal },
      ),
    );
    const items = (output.Contents ?? []).map(
      (entry): ObjectSummary => ({
        key: (entry.Key ?? "").slice(this.keyPrefix.length),
        size: entry.Size ?? 0,
        etag: entry.ETag ?? "",
        lastModified: entry.LastModified ?? new Date(0),
      }),
    );
    return output.IsTruncated && output.NextContinuationToken
      ? { items, nextCursor: output.NextContinuationToken }
      : { items };
  }

  async copy(
    sourceKey: string,
    destinationKey: string,
    options: OperationOptions & S3CallOptions = {},
  ): Promise<ObjectInfo> {
    const what = `copy of "${sourceKey}" to "${destinationKey}"`;
    this.ensureOpen(what);
    validateKey(sourceKey, this.keyPrefix);
    validateKey(destinationKey, this.keyPrefix);
    throwIfAborted(options.signal, what);
    // Copying is idempotent (the same source onto the same key), so the SDK may repeat it.
    await this.call(what, options, (signal) =>
      this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.keyPrefix + destinationKey,
          CopySource: `${this.bucket}/${encodeKeyPath(this.keyPrefix + sourceKey)}`,
          MetadataDirective: "COPY",
        }),
        { abortSignal: signal },
      ),
    );
    // As for put: the copy exists now, whatever the signal does next.
    return await this.call(what, { timeoutMs: options.timeoutMs }, (signal) =>
      this.headStored(destinationKey, signal),
    );
  }

  async signedUrl(key: string, options: SignedUrlOptions): Promise<string> {
    const what = `signing a URL for "${key}"`;
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    validateExpiry(options.expiresInSeconds);
    const target = { Bucket: this.bucket, Key: this.keyPrefix + key };
    try {
      if (options.method === "GET") {
        return await getSignedUrl(this.presigner, new GetObjectCommand(target), {
          expiresIn: options.expiresInSeconds,
        });
      }
      if (options.method === "PUT") {
        const { contentType } = options;
        return await getSignedUrl(
          this.presigner,
          new PutObjectCommand({
            ...target,
            ...(contentType !== undefined ? { ContentType: contentType } : {}),
          }),
          {
            expiresIn: options.expiresInSeconds,
            // Signed, so the uploader must send exactly this content type.
            ...(contentType !== undefined ? { signableHeaders: new Set(["content-type"]) } : {}),
          },
        );
      }
    } catch (error) {
      throw mapS3Error(error, what);
    }
    throw new InfrastructureError("INVALID_ARGUMENT", `signed URL method must be GET or PUT`, {
      details: { method: String(options.method) },
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.uploads.janitor.close();
    this.client.destroy();
    this.uploads.onceClient.destroy();
    this.presigner.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw closedError(`the object store (${what})`);
  }

  private infoFrom(key: string, output: HeadObjectCommandOutput | GetObjectCommandOutput): ObjectInfo {
    // For a range read, Content-Length is the slice; the object's size is after the slash.
    const total = output.ContentRange?.match(/\/(\d+)$/)?.[1];
    return {
      key,
      size: total !== undefined ? Number(total) : (output.ContentLength ?? 0),
      contentType: output.ContentType ?? DEFAULT_CONTENT_TYPE,
      ...(output.CacheControl !== undefined ? { cacheControl: output.CacheControl } : {}),
      metadata: { ...output.Metadata },
      etag: output.ETag ?? "",
      lastModified: output.LastModified ?? new Date(0),
    };
  }
}

function toReadable(
  body: Exclude<ObjectBody, string | Uint8Array>,
  signal: AbortSignal | undefined,
  what: string,
): Readable {
  // Destroying a Node stream waits for the chunk it is reading; a cancelled put must not.
  if (signal !== undefined) return Readable.from(objectBodyChunks(body, signal, what));
  if (body instanceof Readable) return body;
  if (body instanceof ReadableStream)
    return Readable.fromWeb(body as import("node:stream/web").ReadableStream);
  return Readable.from(body);
}

/** Reads `body` into one array of its own, sized up front when the length is known. */
async function readAll(body: Readable, length: number | undefined): Promise<Uint8Array> {
  if (length === undefined) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for await (const chunk of body) {
    const part = chunk as Buffer;
    if (offset + part.byteLength > length)
      throw new InfrastructureError("INTERNAL", "the body ran past its Content-Length");
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  if (offset !== length)
    throw new InfrastructureError("UNAVAILABLE", "the body ended before its Content-Length");
  return bytes;
}

/**
 * Makes `body` fail with a taxonomy error whatever breaks it: a cut connection (the socket's
 * `ECONNRESET`, `UNAVAILABLE`) or a stall past the idle timeout (`TIMEOUT`). Every stream error
 * passes through `_destroy`, so this costs nothing per chunk.
 */
function taxonomyErrors<T extends Readable>(body: T, what: string): T {
  const destroy = body._destroy.bind(body);
  body._destroy = (error, callback) =>
    destroy(error, (final) => callback(final ? mapS3Error(final, `${what} (reading the body)`) : final));
  return body;
}

/** `x-amz-copy-source` is a URL path: each segment encoded, the slashes kept. */
function encodeKeyPath(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

export function createS3BackedObjectStorage(
  endpoint: S3Endpoint,
  options: S3CommonOptions,
  conditionalPutDefault: boolean,
): S3ObjectStorage {
  return new S3BackedObjectStorage(endpoint, options, conditionalPutDefault);
}
