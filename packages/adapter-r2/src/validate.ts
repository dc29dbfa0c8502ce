import {
  type GetObjectOptions,
  InfrastructureError,
  MAX_OBJECT_KEY_BYTES,
  utf8ByteLength,
  validateByteRange,
  validateObjectKey,
} from "@proj/ports";

const LONE_SURROGATE = /\p{Surrogate}/u;
const MAX_SIGNED_URL_SECONDS = 604_800;

function invalid(message: string, details: Record<string, unknown> = {}): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false, details });
}

/**
 * Throws `INVALID_ARGUMENT` unless `key` is a key the port allows and S3 stores unchanged: the
 * bucket's limit applies to `prefix` + `key`, and UTF-8 cannot carry a lone surrogate.
 */
export function validateKey(key: unknown, prefix = ""): asserts key is string {
  validateObjectKey(key);
  if (prefix !== "" && utf8ByteLength(prefix + key) > MAX_OBJECT_KEY_BYTES) {
    throw invalid(`object key with the key prefix is longer than ${MAX_OBJECT_KEY_BYTES} UTF-8 bytes`, {
      key,
    });
  }
  if (LONE_SURROGATE.test(key)) throw invalid("object key is not well-formed unicode", { key });
}

export function validateExpiry(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_SIGNED_URL_SECONDS) {
    throw invalid(`expiresInSeconds must be an integer from 1 to ${MAX_SIGNED_URL_SECONDS}`, {
      expiresInSeconds: seconds,
    });
  }
}

/** The HTTP `Range` header for an inclusive byte range; the server clamps the end. */
export function rangeHeader(range: GetObjectOptions["range"], key: string): string | undefined {
  validateByteRange(range, key);
  if (range === undefined) return undefined;
  return range.end === undefined ? `bytes=${range.start}-` : `bytes=${range.start}-${range.end}`;
}
