import type { Readable } from "node:stream";
import { fromBase64Url, toBase64Url } from "./base64url.js";
import { abortable, cancelledError, InfrastructureError, throwIfAborted } from "./errors.js";
import type {
  GetObjectOptions,
  ListObjectsOptions,
  ListPageOptions,
  ObjectBody,
  ObjectSummary,
} from "./object-storage.js";
import type { Page } from "./resources.js";

/**
 * The `ObjectStorage` contract's own rules as code, so every adapter applies the same ones with the
 * same error. An adapter that refuses more (a file system adapter refuses `..` segments) checks its
 * extra rules after these.
 */

/** Longest key the contract allows, in UTF-8 bytes. */
export const MAX_OBJECT_KEY_BYTES = 1024;
/** Largest `pageSize` of a listing, and the default. */
export const MAX_LIST_PAGE_SIZE = 1000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const METADATA_KEY = /^[a-z0-9-]+$/;
const METADATA_VALUE = /^[\x20-\x7e]*$/;

function invalid(message: string, details: Record<string, unknown> = {}): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false, details });
}

/**
 * Bytes `text` takes in UTF-8, without encoding it. A lone surrogate counts as the 3 bytes of the
 * replacement character an encoder writes for it.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && (text.charCodeAt(index + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Throws `INVALID_ARGUMENT` unless `key` follows the contract: a non-empty string of at most 1024
 * UTF-8 bytes with no NUL or control character. `what` names the key in the message
 * ("source key", "object key").
 */
export function validateObjectKey(key: unknown, what = "object key"): asserts key is string {
  if (typeof key !== "string" || key.length === 0) throw invalid(`${what} must be a non-empty string`);
  const bytes = utf8ByteLength(key);
  if (bytes > MAX_OBJECT_KEY_BYTES) {
    throw invalid(`${what} is ${bytes} UTF-8 bytes long, more than ${MAX_OBJECT_KEY_BYTES}`, { key });
  }
  if (CONTROL_CHARACTERS.test(key)) {
    throw invalid(`${what} ${JSON.stringify(key)} holds a NUL or control character`, { key });
  }
}

/**
 * Throws `INVALID_ARGUMENT` unless every metadata key is lower-case ASCII letters, digits and `-`,
 * and every value printable ASCII. Returns a copy, so later changes to the caller's object do not
 * reach a stored one.
 */
export function validateObjectMetadata(
  metadata: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const copy: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) {
    if (!METADATA_KEY.test(name)) {
      throw invalid(`metadata key ${JSON.stringify(name)} must be lower-case ASCII letters, digits and "-"`, {
        metadataKey: name,
      });
    }
    if (typeof value !== "string" || !METADATA_VALUE.test(value)) {
      throw invalid(`metadata value of ${JSON.stringify(name)} must be printable ASCII`, {
        metadataKey: name,
      });
    }
    copy[name] = value;
  }
  return copy;
}

/** The page size a listing uses: `pageSize`, or 1000 when absent; `INVALID_ARGUMENT` outside 1 to 1000. */
export function validateListPageSize(pageSize: number | undefined): number {
  if (pageSize === undefined) return MAX_LIST_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_LIST_PAGE_SIZE) {
    throw invalid(`list page size must be an integer from 1 to ${MAX_LIST_PAGE_SIZE}`, { pageSize });
  }
  return pageSize;
}

/**
 * Orders keys as `list` must: by their UTF-8 bytes, which is code point order. JavaScript's `<`
 * compares UTF-16 code units, which puts U+E000–U+FFFF after the astral characters; this moves
 * surrogates above them instead, with no encoding. Lone surrogates sort by code unit.
 */
export function compareObjectKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = a.charCodeAt(index);
    const y = b.charCodeAt(index);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

const encoder = new TextEncoder();

/** Every shape a body arrives in; string chunks come from a Node stream with an encoding set. */
export type ObjectBodySource = ObjectBody | AsyncIterable<Uint8Array | string>;

function iteratorOf(body: ObjectBodySource): AsyncIterator<Uint8Array | string> {
  if (typeof body === "string" || body instanceof Uint8Array) {
    let sent = false;
    return {
      next: async () => {
        if (sent) return { done: true, value: undefined };
        sent = true;
        return { done: false, value: body };
      },
    };
  }
  if (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) {
    // The reader, not the stream's own iterator, so `return()` cancels the stream on every runtime.
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    return {
      next: async () => {
        const { done, value } = await reader.read();
        return done ? { done: true, value: undefined } : { done: false, value };
      },
      return: async () => {
        await reader.cancel();
        return { done: true, value: undefined };
      },
    };
  }
  return (body as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
}

/**
 * Yields any body shape as byte chunks, one at a time: the consumer's awaits are the
 * back-pressure, and strings become UTF-8. A fired `signal` rejects with the cancellation error at
 * once, even while the source is stalled on its next chunk. When the consumer stops early (break,
 * throw) or the signal fires, the source is released (a Node stream destroyed, a Web stream
 * cancelled) without waiting for it. The chunks are the source's own: copy them to keep them.
 */
export async function* objectBodyChunks(
  body: ObjectBodySource,
  signal: AbortSignal | undefined,
  what: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  const iterator = iteratorOf(body);
  let finished = false;
  try {
    for (;;) {
      throwIfAborted(signal, what);
      const result = await abortable(iterator.next(), signal, what);
      if (result.done) break;
      yield typeof result.value === "string" ? encoder.encode(result.value) : result.value;
    }
    finished = true;
  } finally {
    if (!finished) Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}

/**
 * Checks a `range` option's shape: `start` a non-negative integer, `end` absent or an integer not
 * below `start`; `INVALID_ARGUMENT` otherwise. For adapters that let the server apply the range.
 */
export function validateByteRange(range: GetObjectOptions["range"], key: string): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (
    !Number.isSafeInteger(start) ||
    start < 0 ||
    (end !== undefined && (!Number.isSafeInteger(end) || end < start))
  ) {
    throw invalid(`range ${JSON.stringify(range)} of object ${JSON.stringify(key)} is not valid`, { key });
  }
}

/**
 * The inclusive byte span a `range` selects in an object of `size` bytes, with `end` clamped to the
 * last byte, or `undefined` without a range. A range starting past the end of a non-empty object
 * is `INVALID_ARGUMENT`; on an empty object the span is empty (`end < start`).
 */
export function resolveByteRange(
  range: GetObjectOptions["range"],
  size: number,
  key: string,
): { start: number; end: number } | undefined {
  if (range === undefined) return undefined;
  validateByteRange(range, key);
  if (range.start >= size && size > 0) {
    throw invalid(`range starts past the end of object ${JSON.stringify(key)} (${size} bytes)`, {
      key,
      size,
    });
  }
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}

/**
 * `list` as the contract defines it: every page of `listPage` in turn, fetched only when the
 * consumer reaches it.
 */
export async function* listAllPages(
  listPage: (options: ListPageOptions) => Promise<Page<ObjectSummary>>,
  options: ListObjectsOptions = {},
): AsyncGenerator<ObjectSummary, void, undefined> {
  let after: string | undefined;
  do {
    const page = await listPage({ ...options, ...(after === undefined ? {} : { after }) });
    yield* page.items;
    after = page.nextCursor;
  } while (after !== undefined);
}

/**
 * Makes the body stream `get` returns fail with the cancellation error when `signal` fires (now,
 * if it already has), instead of the raw error the source would give or none at all. The listener
 * goes when the stream closes. Returns `body`.
 */
export function destroyOnAbort<T extends Readable>(
  body: T,
  signal: AbortSignal | undefined,
  what: string,
): T {
  if (!signal) return body;
  const onAbort = () => body.destroy(cancelledError(signal, what));
  if (signal.aborted) {
    onAbort();
    return body;
  }
  signal.addEventListener("abort", onAbort, { once: true });
  body.once("close", () => signal.removeEventListener("abort", onAbort));
  return body;
}

/**
 * A `listPage` cursor for adapters that resume a listing after a key: the key in base64url.
 * `decodeKeyCursor` gives the key back, or `INVALID_ARGUMENT` for anything it did not make.
 */
export function encodeKeyCursor(key: string): string {
  return toBase64Url(key);
}

export function decodeKeyCursor(cursor: unknown): string {
  let key: string;
  try {
    key = fromBase64Url(String(cursor));
  } catch {
    key = "";
  }
  if (key.length === 0 || encodeKeyCursor(key) !== cursor) throw invalid("object list cursor is not valid");
  return key;
}
