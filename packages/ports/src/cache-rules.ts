import type { CacheCallOptions, CacheEntry } from "./cache.js";
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

/** Most entries one `setMany` call may write. */
export const MAX_CACHE_BATCH = 1_000;

/** An entry of `setMany` after `validateCacheEntries`: tags without duplicates, or none. */
export interface ValidCacheEntry<V> {
  key: string;
  value: V;
  ttlMs: number | undefined;
  tags: readonly string[] | undefined;
}

/**
 * Checks the entries of a `setMany` call before any I/O and returns them checked (see
 * `Cache.setMany`): `INVALID_ARGUMENT` unless `entries` is an array of at most `MAX_CACHE_BATCH`
 * objects, each with a valid key (`validateCacheKey`), a value other than `undefined`, a `ttlMs`
 * that is absent or a positive integer, and valid `tags` (`validateCacheTags`, which also answers
 * `NOT_SUPPORTED` when `tagsSupported` is false). The message names the entry's index.
 */
export function validateCacheEntries<V>(entries: unknown, tagsSupported = true): ValidCacheEntry<V>[] {
  if (!Array.isArray(entries)) {
    throw invalid(`setMany needs an array of entries, got ${entries === null ? "null" : typeof entries}`);
  }
  if (entries.length > MAX_CACHE_BATCH) {
    throw invalid(`setMany writes at most ${MAX_CACHE_BATCH} entries, got ${entries.length}`);
  }
  const valid: ValidCacheEntry<V>[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Partial<CacheEntry<V>> | null;
    if (entry === null || typeof entry !== "object") throw invalid(`setMany entry ${i} is not an object`);
    const { key, value, ttlMs } = entry;
    validateCacheKey(key, `setMany entry ${i}: cache key`);
    if (value === undefined) throw invalid(`setMany entry ${i}: cannot cache undefined under key "${key}"`);
    if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)) {
      throw invalid(
        `setMany entry ${i}: ttlMs must be a positive integer of milliseconds, got ${String(ttlMs)}`,
      );
    }
    valid[i] = { key, value, ttlMs, tags: validateCacheTags(entry.tags, tagsSupported) };
  }
  return valid;
}

/**
 * Checks the members of an `addMembers` call before any I/O and returns them without duplicates
 * (first occurrence order): `INVALID_ARGUMENT` unless `members` is an array of at most
 * `MAX_CACHE_BATCH` strings, each following the key rule (`validateCacheKey`). The message names the
 * member's index.
 */
export function validateCacheMembers(members: unknown): string[] {
  if (!Array.isArray(members)) {
    throw invalid(`addMembers needs an array of members, got ${members === null ? "null" : typeof members}`);
  }
  if (members.length > MAX_CACHE_BATCH) {
    throw invalid(`addMembers adds at most ${MAX_CACHE_BATCH} members, got ${members.length}`);
  }
  for (let i = 0; i < members.length; i++) validateCacheKey(members[i], `addMembers member ${i}`);
  return members.length < 2 ? [...members] : [...new Set<string>(members)];
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
