import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
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
import { mapS3Error } from "./map-s3-error.js";
import { rangeHeader, validateExpiry, validateKey } from "./validate.js";

const MIB = 1024 * 1024;
/** S3's floor for every part but the last. */
const MIN_PART_SIZE = 5 * MIB;
const DELETE_BATCH = 1000;
const DEFAULT_CONTENT_TYPE = "application/octet-stream";

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
  /** Attempts per request, including the first, with jittered backoff on throttling, 5xx and dropped connections. Default 4. */
  maxAttempts?: number;
  /** Time to establish a connection, in ms. Default 5,000. */
  connectionTimeoutMs?: number;
  /**
   * Longest silence on an open connection before the request fails with `TIMEOUT`, in ms.
   * Default 120,000. There is no limit on a whole request, which may stream for long: pass
   * `signal: AbortSignal.timeout(ms)` for a deadline.
   */
  idleTimeoutMs?: number;
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

/** `ObjectStorage` over the S3 API, with the underlying client for what the port does not cover. */
export interface S3ObjectStorage extends ObjectStorage {
  /** The S3 client this store sends through. Keys used with it directly must include `keyPrefix`. */
  readonly client: S3Client;
  readonly bucket: string;
  readonly keyPrefix: string;
}

type S3Send = S3Client["send"];

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
  private closed = false;

  constructor(endpoint: S3Endpoint, options: S3CommonOptions, conditionalPutDefault: boolean) {
    this.bucket = options.bucket;
    this.keyPrefix = options.keyPrefix ?? "";
    this.partSize = options.partSize ?? MIN_PART_SIZE;
    this.queueSize = options.queueSize ?? 2;
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
      maxAttempts: options.maxAttempts ?? 4,
      retryMode: "standard",
      requestChecksumCalculation: options.requestChecksumCalculation ?? "WHEN_SUPPORTED",
      responseChecksumValidation: options.responseChecksumValidation ?? "WHEN_SUPPORTED",
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 5_000,
        socketTimeout: options.idleTimeoutMs ?? 120_000,
      },
      ...options.clientConfig,
    };
    this.client = new S3Client(config);
    this.presigner = new S3Client({ ...config, requestChecksumCalculation: "WHEN_REQUIRED" });
  }

  async put(key: string, body: ObjectBody, options: PutObjectOptions = {}): Promise<ObjectInfo> {
    const what = `put of "${key}"`;
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    validateObjectMetadata(options.metadata);
    if (options.ifNoneMatch !== undefined && !this.capabilities.conditionalPut) {
      throw new InfrastructureError("NOT_SUPPORTED", "this endpoint is not configured for conditional puts");
    }
    const { signal } = options;
    throwIfAborted(signal, what);
    const params: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.keyPrefix + key,
      ContentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
      ...(options.cacheControl !== undefined ? { CacheControl: options.cacheControl } : {}),
      ...(options.metadata !== undefined ? { Metadata: options.metadata } : {}),
      ...(options.ifNoneMatch !== undefined ? { IfNoneMatch: options.ifNoneMatch } : {}),
    };
    try {
      const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
      if (bytes instanceof Uint8Array && bytes.byteLength <= this.partSize) {
        await this.client.send(new PutObjectCommand({ ...params, Body: bytes }), { abortSignal: signal });
      } else {
        await this.upload(params, bytes, signal, what);
      }
      // The object is stored: a cancel arriving now must not report a put that happened as failed.
      return await this.headStored(key, undefined);
    } catch (error) {
      throw mapS3Error(error, what, signal);
    }
  }

  /**
   * Streams `body` through lib-storage's multipart upload: parts of `partSize`, `queueSize` at a
   * time, and on any failure the multipart upload is aborted before this rejects.
   */
  private async upload(
    params: PutObjectCommandInput,
    body: Exclude<ObjectBody, string>,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    const source = body instanceof Uint8Array ? body : toReadable(body, signal, what);
    const upload = new Upload({
      client: this.clientWithSignal(signal),
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

  /**
   * The client as lib-storage should see it: every request carries the put's signal, so a
   * cancelled put stops its in-flight parts, except the abort of the multipart upload itself,
   * which must still reach the server after the signal fired.
   */
  private clientWithSignal(signal: AbortSignal | undefined): S3Client {
    if (signal === undefined) return this.client;
    const client = this.client;
    const view: S3Client = Object.create(client);
    const send = (command: Parameters<S3Send>[0], options?: Parameters<S3Send>[1]) =>
      client.send(
        command,
        command instanceof AbortMultipartUploadCommand ? options : { ...options, abortSignal: signal },
      );
    view.send = send as S3Send;
    return view;
  }

  async get(key: string, options: GetObjectOptions = {}): Promise<{ info: ObjectInfo; body: Readable }> {
    const what = `get of "${key}"`;
    const output = await this.getObject(key, options, what);
    // The SDK aborts the socket; the body should fail with the taxonomy error, not a raw AbortError.
    const body = destroyOnAbort(output.Body as Readable, options.signal, what);
    return { info: this.infoFrom(key, output), body };
  }

  async getBytes(
    key: string,
    options: GetObjectOptions = {},
  ): Promise<{ info: ObjectInfo; bytes: Uint8Array }> {
    const what = `get of "${key}"`;
    const output = await this.getObject(key, options, what);
    const body = output.Body as Readable;
    try {
      return { info: this.infoFrom(key, output), bytes: await readAll(body, output.ContentLength) };
    } catch (error) {
      throw mapS3Error(error, what, options.signal);
    }
  }

  private async getObject(
    key: string,
    options: GetObjectOptions,
    what: string,
  ): Promise<GetObjectCommandOutput> {
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    const range = rangeHeader(options.range, key);
    throwIfAborted(options.signal, what);
    try {
      return await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.keyPrefix + key,
          ...(range !== undefined ? { Range: range } : {}),
        }),
        { abortSignal: options.signal },
      );
    } catch (error) {
      throw mapS3Error(error, what, options.signal);
    }
  }

  async head(key: string, options: OperationOptions = {}): Promise<ObjectInfo> {
    const what = `head of "${key}"`;
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    throwIfAborted(options.signal, what);
    try {
      return await this.headStored(key, options.signal);
    } catch (error) {
      throw mapS3Error(error, what, options.signal);
    }
  }

  private async headStored(key: string, signal: AbortSignal | undefined): Promise<ObjectInfo> {
    const output = await this.client.send(
      new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }),
      {
        abortSignal: signal,
      },
    );
    return this.infoFrom(key, output);
  }

  async exists(key: string, options: OperationOptions = {}): Promise<boolean> {
    try {
      await this.head(key, options);
      return true;
    } catch (error) {
      if (isInfrastructureError(error, "NOT_FOUND")) return false;
      throw error;
    }
  }

  async delete(key: string, options: OperationOptions = {}): Promise<void> {
    const what = `delete of "${key}"`;
    this.ensureOpen(what);
    validateKey(key, this.keyPrefix);
    throwIfAborted(options.signal, what);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }), {
        abortSignal: options.signal,
      });
    } catch (error) {
      throw mapS3Error(error, what, options.signal);
    }
  }

  async deleteMany(keys: Iterable<string>, options: OperationOptions = {}): Promise<void> {
    const what = "deleteMany";
    this.ensureOpen(what);
    const all = [...keys];
    for (const key of all) validateKey(key, this.keyPrefix);
    for (let start = 0; start < all.length; start += DELETE_BATCH) {
      throwIfAborted(options.signal, what);
      const batch = all.slice(start, start + DELETE_BATCH);
      let failures: { Key?: string; Code?: string; Message?: string }[];
      try {
        const output = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((key) => ({ Key: this.keyPrefix + key })), Quiet: true },
          }),
          { abortSignal: options.signal },
        );
        failures = output.Errors ?? [];
      } catch (error) {
        throw mapS3Error(error, `${what} of ${batch.length} keys`, options.signal);
      }
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

  list(options: ListObjectsOptions = {}): AsyncIterable<ObjectSummary> {
    return listAllPages((page) => this.listPage(page), options);
  }

  async listPage(options: ListPageOptions = {}): Promise<Page<ObjectSummary>> {
    const what = `list of "${options.prefix ?? ""}"`;
    this.ensureOpen(what);
    const pageSize = validateListPageSize(options.pageSize);
    throwIfAborted(options.signal, what);
    try {
      const output = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.keyPrefix + (options.prefix ?? ""),
          MaxKeys: pageSize,
          ...(options.after !== undefined ? { ContinuationToken: options.after } : {}),
        }),
        { abortSignal: options.signal },
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
    } catch (error) {
      throw mapS3Error(error, what, options.signal);
    }
  }

  async copy(sourceKey: string, destinationKey: string, options: OperationOptions = {}): Promise<ObjectInfo> {
    const what = `copy of "${sourceKey}" to "${destinationKey}"`;
    this.ensureOpen(what);
    validateKey(sourceKey, this.keyPrefix);
    validateKey(destinationKey, this.keyPrefix);
    throwIfAborted(options.signal, what);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.keyPrefix + destinationKey,
          CopySource: `${this.bucket}/${encodeKeyPath(this.keyPrefix + sourceKey)}`,
          MetadataDirective: "COPY",
        }),
        { abortSignal: options.signal },
      );
      // As for put: the copy exists now, whatever the signal does next.
      return await this.headStored(destinationKey, undefined);
    } catch (error) {
      throw mapS3Error(error, what, options.signal);
    }
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
    this.client.destroy();
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
