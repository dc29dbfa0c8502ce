import { Readable } from "node:stream";
import { context, type Span, SpanKind } from "@opentelemetry/api";
import type {
  LocalFileInfo,
  LocalFileManager,
  OperationOptions,
  SweepOptions,
  TempFileOptions,
} from "@proj/ports";
import { ATTR } from "./attributes.js";
import { PORT_DURATION, portOperations } from "./generic.js";
import { tracedReadable } from "./streams.js";
import { type InstrumentOptions, type Operation, Telemetry } from "./telemetry.js";

const METHODS = [
  "resolve",
  "write",
  "read",
  "createReadStream",
  "exists",
  "stat",
  "delete",
  "list",
  "withTempFile",
  "sweep",
] as const;

type Method = (typeof METHODS)[number];

const writtenBytes = (span: Span, info: LocalFileInfo) => {
  if (typeof info?.size === "number") span.setAttribute(ATTR.bytes, info.size);
};
const readBytes = (span: Span, bytes: Uint8Array) => {
  if (bytes instanceof Uint8Array) span.setAttribute(ATTR.bytes, bytes.byteLength);
};
const listedFiles = (span: Span, files: unknown) => {
  if (Array.isArray(files)) span.setAttribute(ATTR.items, files.length);
};
const sweptFiles = (span: Span, removed: number) => {
  if (typeof removed === "number") span.setAttribute(ATTR.items, removed);
};

/**
 * Traces and measures every call of a `LocalFileManager`: one `INTERNAL` span per call named
 * `LocalFileManager.{method}`, `proj.bytes` for what was written or read, and `error.type` on
 * failure. A `createReadStream` span lasts until the stream has been read to the end (or failed,
 * or was destroyed), with the bytes read; `withTempFile` runs its work inside its span. Paths and
 * contents are never recorded.
 */
export function instrumentLocalFileManager(
  files: LocalFileManager,
  options: InstrumentOptions = {},
): LocalFileManager {
  const telemetry = new Telemetry(options, [PORT_DURATION]);
  return new InstrumentedLocalFileManager(
    files,
    telemetry,
    portOperations(telemetry, "LocalFileManager", METHODS, SpanKind.INTERNAL),
  );
}

class InstrumentedLocalFileManager implements LocalFileManager {
  readonly #inner: LocalFileManager;
  readonly #t: Telemetry;
  readonly #ops: Record<Method, Operation>;

  constructor(inner: LocalFileManager, telemetry: Telemetry, operations: Record<Method, Operation>) {
    this.#inner = inner;
    this.#t = telemetry;
    this.#ops = operations;
  }

  get root(): string {
    return this.#inner.root;
  }

  resolve(path: string): Promise<string> {
    if (this.#t.passthrough()) return this.#inner.resolve(path);
    return this.#t.run(this.#ops.resolve, () => this.#inner.resolve(path));
  }

  write(
    path: string,
    data: Uint8Array | string | Readable | AsyncIterable<Uint8Array>,
    options?: OperationOptions,
  ): Promise<LocalFileInfo> {
    if (this.#t.passthrough()) return this.#inner.write(path, data, options);
    return this.#t.run(this.#ops.write, () => this.#inner.write(path, data, options), writtenBytes);
  }

  read(path: string, options?: OperationOptions): Promise<Uint8Array> {
    if (this.#t.passthrough()) return this.#inner.read(path, options);
    return this.#t.run(this.#ops.read, () => this.#inner.read(path, options), readBytes);
  }

  createReadStream(path: string): Promise<Readable> {
    const telemetry = this.#t;
    if (telemetry.passthrough()) return this.#inner.createReadStream(path);
    const call = telemetry.start(this.#ops.createReadStream);
    let pending: Promise<Readable>;
    try {
      pending = context.with(call.context, () => this.#inner.createReadStream(path));
    } catch (error) {
      telemetry.end(call, error, true);
      throw error;
    }
    return pending.then(
      (stream) => {
        if (!(stream instanceof Readable)) {
          telemetry.end(call);
          return stream;
        }
        return tracedReadable(telemetry, stream, call);
      },
      (error: unknown) => {
        telemetry.end(call, error, true);
        throw error;
      },
    );
  }

  exists(path: string): Promise<boolean> {
    if (this.#t.passthrough()) return this.#inner.exists(path);
    return this.#t.run(this.#ops.exists, () => this.#inner.exists(path));
  }

  stat(path: string): Promise<LocalFileInfo> {
    if (this.#t.passthrough()) return this.#inner.stat(path);
    return this.#t.run(this.#ops.stat, () => this.#inner.stat(path));
  }

  delete(path: string): Promise<boolean> {
    if (this.#t.passthrough()) return this.#inner.delete(path);
    return this.#t.run(this.#ops.delete, () => this.#inner.delete(path));
  }

  list(folder?: string): Promise<LocalFileInfo[]> {
    if (this.#t.passthrough()) return this.#inner.list(folder);
    return this.#t.run(this.#ops.list, () => this.#inner.list(folder), listedFiles);
  }

  withTempFile<T>(work: (absolutePath: string) => Promise<T>, options?: TempFileOptions): Promise<T> {
    if (this.#t.passthrough()) return this.#inner.withTempFile(work, options);
    return this.#t.run(this.#ops.withTempFile, () => this.#inner.withTempFile(work, options));
  }

  sweep(options: SweepOptions): Promise<number> {
    if (this.#t.passthrough()) return this.#inner.sweep(options);
    return this.#t.run(this.#ops.sweep, () => this.#inner.sweep(options), sweptFiles);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#inner.close();
  }
}
