import type { CacheCallOptions } from "./cache.js";
import { cancelledError, InfrastructureError } from "./errors.js";

/**
 * The `Cache` contract's key rule as code, so every adapter refuses the same keys with the same
 * error before any I/O.
 */

/** `String.prototype.isWellFormed` (Node 20+), which the ES2023 library types do not declare yet. */
interface WellFormedCheck {
  isWellFormed(): boolean;
}

/**
 * Throws `INVALID_ARGUMENT` unless `key` is a non-empty string of well-formed UTF-16: a lone
 * surrogate has no UTF-8 form, so a backend that stores bytes would map `"k\ud800"`, `"k\udc00"` and
 * `"k\ufffd"` to one key. `what` names the argument in the message ("cache key", "prefix",
 * "namespace").
 */
export function validateCacheKey(key: unknown, what = "cache key"): asserts key is string {
  if (typeof key !== "string" || key === "") {
    throw invalid(`${what} must be a non-empty string, got ${key === "" ? "an empty string" : typeof key}`);
  }
  if (!(key as unknown as WellFormedCheck).isWellFormed()) {
    // JSON.stringify writes a lone surrogate as an escape, so the message shows which one.
    throw invalid(`${what} ${JSON.stringify(key)} holds a lone surrogate (not valid Unicode)`);
  }
}

/** Most distinct tags one entry may carry (`CacheSetOptions.tags`). */
export const MAX_CACHE_TAGS = 32;

/**
 * Checks `tags` of a `set` or `getOrSet` (`CacheSetOptions.tags`) and returns them without
 * duplicates, or `undefined` for none (absent or empty). Throws `INVALID_ARGUMENT` unless it is an
 * array of at most `MAX_CACHE_TAGS` distinct tags, each following the key rule
 * (`validateCacheKey`, named "tag"), and `NOT_SUPPORTED` for non-empty tags when `supported` is
 * false (an adapter without `capabilities.tags`).
 */
export function validateCacheTags(tags: unknown, supported = true): readonly string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags)) throw invalid(`tags must be an array of strings, got ${typeof tags}`);
  if (tags.length === 0) return undefined;
  const distinct = new Set<string>();
  for (const tag of tags) {
    validateCacheKey(tag, "tag");
    distinct.add(tag);
  }
  if (distinct.size > MAX_CACHE_TAGS) {
    throw invalid(`an entry may carry at most ${MAX_CACHE_TAGS} tags, got ${distinct.size}`);
  }
  if (!supported) {
    throw new InfrastructureError(
      "NOT_SUPPORTED",
      "this cache does not support tags (capabilities.tags is false)",
      {
        retryable: false,
      },
    );
  }
  return [...distinct];
}

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

/**
 * Throws `INVALID_ARGUMENT` unless `timeoutMs` is a positive integer or `Infinity`, and the
 * cancellation error if the call's `signal` has already fired; returns the deadline to apply
 * (`defaultMs` when the call names none). `what` names the call in the cancellation error.
 */
export function validateCacheCallOptions(options: CacheCallOptions, defaultMs: number, what: string): number {
  const { timeoutMs, signal } = options;
  if (signal?.aborted) throw cancelledError(signal, what);
  if (timeoutMs === undefined) return defaultMs;
  if (timeoutMs !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)) {
    throw invalid(
      `timeoutMs must be a positive integer of milliseconds or Infinity, got ${String(timeoutMs)}`,
    );
  }
  return timeoutMs;
}
