import type { Closeable, OperationOptions } from "./resources.js";

/**
 * Options of every call that may reach a backend. An adapter without I/O (an in-process cache)
 * accepts and ignores them.
 */
export interface CacheCallOptions extends OperationOptions {
  /**
   * Deadline of this call in milliseconds, replacing the adapter's documented default: a positive
   * integer, or `Infinity` for none. Past it the call fails with `TIMEOUT`.
   */
  timeoutMs?: number;
}

export interface CacheSetOptions extends CacheCallOptions {
  /**
   * Time to live in milliseconds (a positive integer). Absent: the adapter's default TTL, or no
   * expiry when it has none.
   */
  ttlMs?: number;
  /**
   * Tags of the entry, for `deleteByTag` (`capabilities.tags`). Each follows the key rule
   * (`validateCacheTags`); at most `MAX_CACHE_TAGS` distinct tags; duplicates count once; an empty
   * array is the same as none. The tags belong to the entry written: a later `set` of the key
   * replaces them (a `set` without tags leaves the entry untagged). On `getOrSet` they tag the
   * loaded value when it is stored. An adapter without the capability refuses non-empty `tags`
   * with `NOT_SUPPORTED` rather than store an entry that `deleteByTag` could never reach.
   */
  tags?: readonly string[];
}

export interface CacheGetOrSetOptions extends CacheSetOptions {
  /**
   * Stale-while-revalidate window in milliseconds. Once the entry is past its TTL but within this
   * window, `getOrSet` returns the stale value at once and runs one background refresh; a refresh
   * that fails keeps the stale value until the window ends. Adapters without the capability
   * (`capabilities.staleWhileRevalidate === false`) treat the option as absent.
   */
  staleWhileRevalidateMs?: number;
  /**
   * Cancels the call, waiting for the loader included; the loader itself receives its own signal.
   * `timeoutMs` bounds each backend command of the call, not the loader.
   */
  signal?: AbortSignal;
}

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Entries currently held (may count expired entries not yet swept). */
  size: number;
}

export interface CacheCapabilities {
  /** Values survive the process and are shared between processes (Redis). */
  shared: boolean;
  /** `staleWhileRevalidateMs` is honoured. */
  staleWhileRevalidate: boolean;
  /**
   * `set(key, value, { tags })` and `deleteByTag(tag)` are implemented. Without it, `deleteByTag`
   * and a `set` or `getOrSet` with non-empty `tags` fail with `NOT_SUPPORTED` (after the usual
   * argument checks) and change nothing.
   */
  tags: boolean;
  /**
   * `setMany()` is offered: several entries written in one call (one round trip on a shared
   * cache). Absent means `false`.
   */
  batchWrites?: boolean;
  /**
   * `addMembers()` and `hasMember()` are offered: sets of strings under keys of their own (see
   * `Cache.addMembers`). Absent means `false`.
   */
  memberSets?: boolean;
}

/** Options of `addMembers`. */
export interface CacheAddMembersOptions extends CacheCallOptions {
  /**
   * The set's time to live from this call, in milliseconds (a positive integer), as
   * `CacheSetOptions.ttlMs`. Absent: the adapter's default TTL, or no expiry when it has none.
   */
  ttlMs?: number;
}

/** One entry of `setMany`: written as `set(key, value, { ttlMs, tags })` would write it. */
export interface CacheEntry<V = unknown> {
  key: string;
  value: V;
  /** As `CacheSetOptions.ttlMs`: absent, the adapter's default TTL (or none). */
  ttlMs?: number;
  /** As `CacheSetOptions.tags`. */
  tags?: readonly string[];
}

/** Loads a value on a miss. It receives a signal that fires when the cache is closed. */
export type CacheLoader<V> = (key: string, signal: AbortSignal) => Promise<V>;

/**
 * A key-value cache of master data.
 *
 * Contract:
 * - Keys are non-empty strings of well-formed UTF-16 (`validateCacheKey`): an empty key, a key
 *   that is not a string, or one holding a lone surrogate is `INVALID_ARGUMENT` on every method
 *   that takes a key, and so is such a `deletePrefix` prefix. Distinct keys address distinct
 *   entries, whatever characters they hold (separators and glob characters included).
 * - Values are anything but `undefined` (`set` with `undefined` is `INVALID_ARGUMENT`); `null`,
 *   `0`, `-0`, `""` and `false` are values and are returned as such (`-0` stays `-0`). A JSON value
 *   (`JsonValue`: finite numbers, strings with any code units, plain objects and arrays thereof)
 *   comes back equal on every adapter. Adapters that serialise (Redis) refuse anything else with
 *   `INVALID_ARGUMENT` rather than store something that would come back different, and say so.
 * - `get` returns the stored value, or `undefined` when absent or expired. An expired entry is
 *   never returned by `get`, `has` or `getOrSet`.
 * - `ttlMs` must be a positive integer, else `INVALID_ARGUMENT`.
 * - `getOrSet` returns the cached value on a hit. On a miss, concurrent callers for one key within
 *   one process share one loader call; its value is stored and returned to all of them. A loader
 *   that throws stores nothing: every waiter gets that error (as thrown), and the next call runs
 *   the loader again. A loader that returns `undefined` is `INVALID_ARGUMENT`. A `set`, `delete`,
 *   `deletePrefix` or `clear` of the key while its load runs wins: the load's value is returned to
 *   its waiters but not stored (so a cache-aside reader never re-stores what a writer invalidated).
 * - `delete` returns whether an entry was removed. `deletePrefix(p)` removes every key starting
 *   with `p` and returns how many; an empty prefix is `INVALID_ARGUMENT` (use `clear`).
 * - `clear` removes every entry of this cache (its namespace, for a shared cache) and nothing else:
 *   no two namespaces overlap, even when one name starts with the other (`P` and `P:sub`).
 * - Tags (`capabilities.tags`): `deleteByTag(t)` removes every entry whose last write carried the
 *   tag `t` and returns how many live entries it removed; a tag follows the key rule (else
 *   `INVALID_ARGUMENT`); tags of one cache (namespace) never reach another's entries. A
 *   `deleteByTag` of a tag a running load was started with wins over that load, as a `delete`
 *   does. Without the capability, `deleteByTag` and non-empty `tags` are `NOT_SUPPORTED`.
 * - `stats` counts hits and misses of `get` and `getOrSet`, and evictions for capacity; its `size`
 *   counts this cache's (namespace's) entries only.
 * - A failure of the backend is `UNAVAILABLE` or `TIMEOUT`; after `close()`, every call is `CLOSED`.
 * - Every call that reaches a backend is bounded by a deadline: the adapter's documented default,
 *   or the call's `timeoutMs`; a fired `signal` ends it at once (`CANCELLED`, or `TIMEOUT` for
 *   `AbortSignal.timeout`). A write whose outcome cannot be known (sent, and no reply) fails with
 *   `details.outcome: "unknown"` and `retryable: false`.
 */
export interface Cache<V = unknown> extends Closeable {
  readonly capabilities: CacheCapabilities;
  get(key: string, options?: CacheCallOptions): Promise<V | undefined>;
  set(key: string, value: V, options?: CacheSetOptions): Promise<void>;
  has(key: string, options?: CacheCallOptions): Promise<boolean>;
  delete(key: string, options?: CacheCallOptions): Promise<boolean>;
  deletePrefix(prefix: string, options?: CacheCallOptions): Promise<number>;
  /** Removes every entry tagged `tag`; returns how many live ones (see `capabilities.tags`). */
  deleteByTag(tag: string, options?: CacheCallOptions): Promise<number>;
  clear(options?: CacheCallOptions): Promise<void>;
  getOrSet(key: string, loader: CacheLoader<V>, options?: CacheGetOrSetOptions): Promise<V>;
  stats(options?: CacheCallOptions): Promise<CacheStats>;
  /**
   * Present exactly when `capabilities.batchWrites` is true. Writes every entry as `set` would
   * (its own `ttlMs` and `tags`), in one call: one round trip on a shared cache.
   * - Every entry is checked before any I/O (`validateCacheEntries`): at most `MAX_CACHE_BATCH`
   *   entries, each with a valid key, a value other than `undefined`, a valid `ttlMs` and valid
   *   `tags`; one bad entry is `INVALID_ARGUMENT` (or `NOT_SUPPORTED` for tags) and nothing is
   *   written. An empty array resolves at once.
   * - A key given twice: the later entry wins.
   * - Like `set`, each write wins over a running `getOrSet` load of its key.
   * - Not transactional: a call that fails (`UNAVAILABLE`, `TIMEOUT`, `CANCELLED`) may have written
   *   some, all or none of the entries (`details.outcome: "unknown"` once anything was sent).
   */
  setMany?(entries: readonly CacheEntry<V>[], options?: CacheCallOptions): Promise<void>;
  /**
   * Present exactly when `capabilities.memberSets` is true. Adds `members` to the member set at
   * `key`, creating it: a set of strings that writers in any number of processes grow together
   * (one `addMembers` never loses another's members, unlike a read-modify-`set` of a value).
   * - Member sets live apart from values: `get`, `has`, `set`, `setMany`, `delete`, `deletePrefix`,
   *   `deleteByTag`, `getOrSet` and `stats` never see them, and a value and a member set may share
   *   a key. `clear` removes them with the values. They have no tags.
   * - The whole set expires `ttlMs` after the last `addMembers` of its key (each call sets its TTL,
   *   as `set` does a value's): the adapter's default TTL when `ttlMs` is absent, or no expiry when
   *   it has none. An expired set is empty.
   * - `members` is an array of at most `MAX_CACHE_BATCH` strings, each following the key rule
   *   (`validateCacheMembers`); otherwise the call is `INVALID_ARGUMENT` and changes nothing. A
   *   member given twice, or already there, is kept once. An empty array resolves at once and
   *   changes nothing (the TTL included).
   * - Atomic: a call that fails added all of its members or none (`details.outcome: "unknown"`
   *   once it was sent), and repeating it is harmless.
   * - An adapter bounded in memory (cache-memory) may evict a member set as it evicts an entry; it
   *   says how in its README.
   */
  addMembers?(key: string, members: readonly string[], options?: CacheAddMembersOptions): Promise<void>;
  /**
   * Present exactly when `capabilities.memberSets` is true. Whether `member` is in the member set
   * at `key` (see `addMembers`): `false` when the set is absent or expired. A `member` that breaks
   * the key rule is `INVALID_ARGUMENT`.
   */
  hasMember?(key: string, member: string, options?: CacheCallOptions): Promise<boolean>;
}
