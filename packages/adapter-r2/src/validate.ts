import { InfrastructureError } from "@proj/ports";

const MAX_KEY_BYTES = 1024;
// C0 controls and DEL: S3 accepts some of them, but they break XML listings and HTTP headers.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /\p{Surrogate}/u;
const METADATA_KEY = /^[a-z0-9-]+$/;
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;
const MAX_SIGNED_URL_SECONDS = 604_800;

function invalid(message: string, details: Record<string, unknown> = {}): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false, details });
}

/** Throws `INVALID_ARGUMENT` unless `key` is a key the port allows; `prefix` counts toward the limit. */
export function validateKey(key: unknown, prefix = ""): asserts key is string {
  if (typeof key !== "string" || key.length === 0) throw invalid("object key must be a non-empty string");
  if (CONTROL_CHARACTERS.test(key)) throw invalid("object key contains a NUL or control character");
  if (Buffer.byteLength(prefix + key, "utf8") > MAX_KEY_BYTES) {
    throw invalid(`object key is longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
  }
  // Lone surrogates cannot be encoded as UTF-8, so S3 would store a different key.
  if (LONE_SURROGATE.test(key)) throw invalid("object key is not well-formed unicode");
}

/** Throws `INVALID_ARGUMENT` for metadata the port does not allow. */
export function validateMetadata(metadata: Record<string, string> | undefined): void {
  if (metadata === undefined) return;
  for (const [name, value] of Object.entries(metadata)) {
    if (!METADATA_KEY.test(name)) {
      throw invalid(`metadata key "${name}" must be lower-case ASCII letters, digits and "-"`);
    }
    if (typeof value !== "string" || !PRINTABLE_ASCII.test(value)) {
      throw invalid(`metadata value for "${name}" must be printable ASCII`);
    }
  }
}

export function validatePageSize(pageSize: number | undefined): number {
  if (pageSize === undefined) return 1000;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw invalid("pageSize must be an integer from 1 to 1000", { pageSize });
  }
  return pageSize;
}

export function validateExpiry(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_SIGNED_URL_SECONDS) {
    throw invalid(`expiresInSeconds must be an integer from 1 to ${MAX_SIGNED_URL_SECONDS}`, {
      expiresInSeconds: seconds,
    });
  }
}

/** The HTTP `Range` header for an inclusive byte range. */
export function rangeHeader(range: { start: number; end?: number } | undefined): string | undefined {
  if (range === undefined) return undefined;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) throw invalid("range.start must be a non-negative integer");
  if (end === undefined) return `bytes=${start}-`;
  if (!Number.isSafeInteger(end) || end < start) {
    throw invalid("range.end must be an integer not smaller than range.start");
  }
  return `bytes=${start}-${end}`;
}
