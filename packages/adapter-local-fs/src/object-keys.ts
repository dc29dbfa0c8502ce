import { InfrastructureError, validateObjectKey } from "@proj/ports";

/**
 * How keys map to files, reversibly and without escaping the root:
 *
 * - A key is split at `/`; every segment but the last is a folder, the last names the object.
 * - Each segment is stored with `%` written as `%25` and `~` as `%7E`, so no stored name holds `~`.
 *   Names with `~` belong to the adapter: `<name>~m` is the object's sidecar (its metadata, and the
 *   commit point of a put), `<name>~d-<version>` its body, `~t-<random>` a temporary file. The
 *   folder `a` and the object `a` can therefore coexist, as keys `a` and `a/b` require.
 *
 * Beyond the contract's rules, a key is refused (`INVALID_ARGUMENT`) when it has an empty, `.` or
 * `..` segment (so also a leading or trailing `/`), a backslash, a percent-encoded separator
 * (`%2F`, `%5C`), or a segment longer than 200 bytes once stored.
 */
export const SIDECAR_SUFFIX = "~m";
export const BODY_MARK = "~d-";
export const TEMP_MARK = "~t-";

const MAX_SEGMENT_BYTES = 200;
const ENCODED_SEPARATOR = /%(2f|5c)/i;

function invalid(key: string, why: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", `object key ${JSON.stringify(key)} ${why}`, {
    retryable: false,
    details: { key },
  });
}

export function encodeSegment(segment: string): string {
  return segment.replace(/[%~]/g, (character) => (character === "%" ? "%25" : "%7E"));
}

export function decodeSegment(stored: string): string {
  return stored.replace(/%(25|7E)/g, (sequence) => (sequence === "%25" ? "%" : "~"));
}

/** Checks a key against the contract and this adapter's rules, and returns its stored segments. */
export function storedSegments(key: unknown): string[] {
  validateObjectKey(key);
  if (key.includes("\\")) throw invalid(key, "holds a backslash, which this adapter refuses");
  if (ENCODED_SEPARATOR.test(key))
    throw invalid(key, "holds a percent-encoded separator, which this adapter refuses");
  return key.split("/").map((segment) => {
    if (segment === "" || segment === "." || segment === "..") {
      throw invalid(key, "has an empty, `.` or `..` segment, which this adapter refuses");
    }
    const stored = encodeSegment(segment);
    if (Buffer.byteLength(stored, "utf8") > MAX_SEGMENT_BYTES) {
      throw invalid(key, `has a segment longer than ${MAX_SEGMENT_BYTES} bytes, which this adapter refuses`);
    }
    return stored;
  });
}

/**
 * The folder segments a listing with `prefix` starts in, or undefined when no valid key can
 * start with `prefix` (so the listing is empty).
 */
export function prefixFolder(prefix: string): string[] | undefined {
  const cut = prefix.lastIndexOf("/");
  if (cut < 0) return [];
  const folders = prefix.slice(0, cut);
  if (folders.includes("\\") || ENCODED_SEPARATOR.test(folders)) return undefined;
  const segments = folders.split("/");
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) return undefined;
  const stored = segments.map(encodeSegment);
  if (stored.some((segment) => Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES)) return undefined;
  return stored;
}

/**
 * The segment a name found on disk stands for, or undefined unless a caller's key could have
 * produced exactly that name: names that are not are neither listed nor acted on.
 */
export function segmentOfStoredName(stored: string): string | undefined {
  if (stored.includes("~")) return undefined;
  const segment = decodeSegment(stored);
  if (encodeSegment(segment) !== stored) return undefined;
  if (segment === "." || segment === ".." || segment.includes("\\") || ENCODED_SEPARATOR.test(segment)) {
    return undefined;
  }
  if (Buffer.byteLength(stored, "utf8") > MAX_SEGMENT_BYTES) return undefined;
  return segment;
}

/** Whether `key` (built from names found on disk) is one a caller could pass. */
export function isUsableKey(key: string): boolean {
  try {
    storedSegments(key);
    return true;
  } catch {
    return false;
  }
}
