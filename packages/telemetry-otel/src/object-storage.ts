import { Readable } from "node:stream";
import { context, type Span, SpanKind } from "@opentelemetry/api";
import type {
  GetObjectOptions,
  ListObjectsOptions,
  ListPageOptions,
  ObjectBody,
  ObjectInfo,
  ObjectStorage,
  ObjectStorageCapabilities,
  ObjectSummary,
  OperationOptions,
  Page,
  PutObjectOptions,
  SignedUrlOptions,
} from "@proj/ports";
import { ATTR } from "./attributes.js";
import { PORT_DURATION, portOperations } from "./generic.js";
import { tracedIterable, tracedReadable } from "./streams.js";
import { type InstrumentOptions, type Operation, Telemetry } from "./telemetry.js";

const METHODS = [
  "put",
  "get",
  "getBytes",
  "head",
  "exists",
  "delete",
  "deleteMany",
  "list",
  "listPage",
  "copy",
  "signedUrl",
] as const;

type Method = (typeof METHODS)[number];

const storedBytes = (span: Span, info: ObjectInfo) => {
  if (typeof info?.size === "number") span.setAttribute(ATTR.bytes, info.size);
};
const readBytes = (span: Span, result: { bytes: Uint8Array }) => {
  if (result?.bytes instanceof Uint8Array) span.setAttribute(ATTR.bytes, result.bytes.byteLength);
};
const listedItems = (span: Span, page: Page<unknown>) => {
  if (Array.isArray(page?.items)) span.setAttribute(ATTR.items, page.items.length);
};

/**
 * Traces and measures every call of an `ObjectStorage`: one `CLIENT` span per call named
 * `ObjectStorage.{method}`, `proj.bytes` for what was stored or read, and `error.type` on failure.
 * The span of a `get` lasts until its body has been read to the end (or failed, or was destroyed),
 * with the bytes read; a `list` is one span over the whole iteration, with the objects seen. Keys,
 * metadata, bodies and signed URLs are never recorded.
 */
export function instrumentObjectStorage(
  storage: ObjectStorage,
  options: InstrumentOptions = {},
): ObjectStorage {
  const telemetry = new Telemetry(options, [PORT_DURATION]);
  return new InstrumentedObjectStorage(
    storage,
    telemetry,
    portOperations(telemetry, "ObjectStorage", METHODS, SpanKind.CLIENT),
  );
}

class InstrumentedObjectStorage implements ObjectStorage {
  readonly #inner: ObjectStorage;
  readonly #t: Telemetry;
  readonly #ops: Record<Method, Operation>;

  constructor(inner: ObjectStorage, telemetry: Telemetry, operations: Record<Method, Operation>) {
    this.#inner = inner;
    this.#t = telemetry;
    this.#ops = operations;
  }

  get capabilities(): ObjectStorageCapabilities {
    return this.#inner.capabilities;
  }

  put(key: string, body: ObjectBody, options?: PutObjectOptions): Promise<ObjectInfo> {
    if (this.#t.passthrough()) return this.#inner.put(key, body, options);
    return this.#t.run(this.#ops.put, () => this.#inner.put(key, body, options), storedBytes);
  }

  get(key: string, options?: GetObjectOptions): Promise<{ info: ObjectInfo; body: Readable }> {
    const telemetry = this.#t;
    if (telemetry.passthrough()) return this.#inner.get(key, options);
    const call = telemetry.start(this.#ops.get);
    let pending: Promise<{ info: ObjectInfo; body: Readable }>;
    try {
      pending = context.with(call.context, () => this.#inner.get(key, options));
    } catch (error) {
      telemetry.end(call, error, true);
      throw error;
    }
    return pending.then(
      (result) => {
        if (!(result?.body instanceof Readable)) {
          telemetry.end(call);
          return result;
        }
        return { ...result, body: tracedReadable(telemetry, result.body, call) };
      },
      (error: unknown) => {
        telemetry.end(call, error, true);
        throw error;
      },
    );
  }

  getBytes(key: string, options?: GetObjectOptions): Promise<{ info: ObjectInfo; bytes: Uint8Array }> {
    if (this.#t.passthrough()) return this.#inner.getBytes(key, options);
    return this.#t.run(this.#ops.getBytes, () => this.#inner.getBytes(key, options), readBytes);
  }

  head(key: string, options?: OperationOptions): Promise<ObjectInfo> {
    if (this.#t.passthrough()) return this.#inner.head(key, options);
    return this.#t.run(this.#ops.head, () => this.#inner.head(key, options));
  }

  exists(key: string, options?: OperationOptions): Promise<boolean> {
    if (this.#t.passthrough()) return this.#inner.exists(key, options);
    return this.#t.run(this.#ops.exists, () => this.#inner.exists(key, options));
  }

  delete(key: string, options?: OperationOptions): Promise<void> {
    if (this.#t.passthrough()) return this.#inner.delete(key, options);
    return this.#t.run(this.#ops.delete, () => this.#inner.delete(key, options));
  }

  deleteMany(keys: Iterable<string>, options?: OperationOptions): Promise<void> {
    if (this.#t.passthrough()) return this.#inner.deleteMany(keys, options);
    return this.#t.run(this.#ops.deleteMany, () => this.#inner.deleteMany(keys, options));
  }

  list(options?: ListObjectsOptions): AsyncIterable<ObjectSummary> {
    const objects = this.#inner.list(options);
    const telemetry = this.#t;
    if (telemetry.passthrough()) return objects;
    return tracedIterable(telemetry, objects, () => telemetry.start(this.#ops.list), ATTR.items);
  }

  listPage(options?: ListPageOptions): Promise<Page<ObjectSummary>> {
    if (this.#t.passthrough()) return this.#inner.listPage(options);
    return this.#t.run(this.#ops.listPage, () => this.#inner.listPage(options), listedItems);
  }

  copy(sourceKey: string, destinationKey: string, options?: OperationOptions): Promise<ObjectInfo> {
    if (this.#t.passthrough()) return this.#inner.copy(sourceKey, destinationKey, options);
    return this.#t.run(
      this.#ops.copy,
      () => this.#inner.copy(sourceKey, destinationKey, options),
      storedBytes,
    );
  }

  signedUrl(key: string, options: SignedUrlOptions): Promise<string> {
    if (this.#t.passthrough()) return this.#inner.signedUrl(key, options);
    return this.#t.run(this.#ops.signedUrl, () => this.#inner.signedUrl(key, options));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#inner.close();
  }
}
