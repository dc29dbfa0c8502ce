import {
  abortable,
  type Cache,
  type CacheAddMembersOptions,
  type CacheCallOptions,
  type CacheCapabilities,
  type CacheEntry,
  type CacheGetOrSetOptions,
  type CacheLoader,
  type CacheSetOptions,
  type CacheStats,
  closedError,
  InfrastructureError,
  validateCacheCallOptions,
  validateCacheEntries,
  validateCacheKey,
  validateCacheMembers,
  validateCacheTags,
} from "@proj/ports";
import { mapMemoryError } from "./map-memory-error.js";

export interface MemoryCacheOptions<V = unknown> {
  /** Most entries held at once; the least recently used one is evicted beyond it. Required. */
  maxEntries: number;
  /**
   * Most members held at once across all member sets (`addMembers`), apart from `maxEntries`: beyond
   * it, whole sets are evicted, the least recently used first (`addMembers` and a `hasMember` that
   * finds the set count as use). A set that alone would hold more is dropped, and the others kept.
   * Default: `maxEntries`.
   */
  maxMembers?: number;
  /** Most total size held at once, as measured by `sizeOf`; requires `sizeOf`. */
  maxBytes?: number;
  /** Size of one entry in the unit of `maxBytes` (a non-negative finite number). */
  sizeOf?: (value: V, key: string) => number;
  /** TTL for entries stored without `ttlMs`. Absent: such entries do not expire. */
  defaultTtlMs?: number;
  /**
   * Store and return `structuredClone` copies, so callers may mutate what they get and what they
   * passed in. Off by default: values are returned as stored, and callers must not mutate them.
   */
  clone?: boolean;
  /** Told about a background refresh (stale-while-revalidate) that failed; the stale value stays. */
  onRefreshError?: (error: unknown, key: string) => void;
}

const CAPABILITIES: CacheCapabilities = Object.freeze({
  shared: false,
  staleWhileRevalidate: true,
  tags: true,
  batchWrites: true,
  memberSets: true,
});
const WHAT = "memory cache";
/** Shared by every successful `set`: a settled promise can be awaited any number of times. */
const RESOLVED: Promise<void> = Promise.resolve();
/** Shared by every `get` that misses, for the same reason. */
const ABSENT: Promise<undefined> = Promise.resolve(undefined);
/** Slots allocated up front; the typed arrays double from here up to `maxEntries`. */
const INITIAL_SLOTS = 1_024;

/** A member set: its members and its absolute expiry on the `performance.now()` scale, 0 for none. */
interface MemberSet {
  readonly members: Set<string>;
  expiresAt: number;
}

interface Flight<V> {
  promise: Promise<V>;
  /** False once a `set`, `delete` or `clear` overtook the load: its value must not be stored. */
  current: boolean;
  /** The tags the loaded value is stored with; a `deleteByTag` of one of them overtakes the load. */
  tags: readonly string[] | undefined;
}

/**
 * An LRU cache in one process.
 *
 * Entries live in slots addressed by index: a `Map` from key to slot, and the recency list threaded
 * through two typed arrays (`prev`, `next`), so a hit allocates nothing and moves no object. The
 * expiry and size columns exist only once a TTL or `maxBytes` is in use, so a cache without them pays
 * nothing for them on the hot path.
 *
 * The `*Sync` methods are the in-process path; the `Cache` port methods wrap them in promises.
 *
 * State is held in TypeScript-`private` properties, not `#private` fields: once V8 stops
 * specialising the hot methods to one instance (it does after a few caches have come and gone), its
 * generic code for `#` fields ran the mixed benchmark about 35 % slower.
 */
export class MemoryCache<V = unknown> implements Cache<V> {
  readonly capabilities: CacheCapabilities = CAPABILITIES;

  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly sizeOf: ((value: V, key: string) => number) | undefined;
  private readonly defaultTtlMs: number;
  private readonly clone: boolean;
  private readonly onRefreshError: ((error: unknown, key: string) => void) | undefined;

  private readonly slotOf = new Map<string, number>();
  private readonly keys: (string | undefined)[] = [];
  private readonly values: (V | undefined)[] = [];
  /**
   * Per slot, a settled promise of its value, made by the first port `get` of it and dropped with
   * the value: a hit through the port then allocates nothing, as on the sync path.
   */
  private readonly settled: (Promise<V> | undefined)[] = [];
  private next: Uint32Array;
  private prev: Uint32Array;
  /** Absolute expiry per slot on the `performance.now()` scale; 0 for none. */
  private expiresAt: Float64Array | null = null;
  /** End of the stale-while-revalidate window per slot; 0 when the entry is not kept past expiry. */
  private staleUntil: Float64Array | null = null;
  private sizes: Float64Array | null = null;
  /** Tags per slot; allocated by the first tagged write, so untagged caches pay nothing. */
  private tagsOf: (readonly string[] | undefined)[] | null = null;
  /** Keys per tag, for `deleteByTag`; kept exact as entries are written, removed and evicted. */
  private readonly byTag = new Map<string, Set<string>>();
  private free: Uint32Array;
  private freeCount = 0;
  /** Slots ever handed out; every slot below it is in use or on the free list. */
  private used = 0;
  private capacity: number;
  /** Least recently used slot; valid while the cache holds anything. */
  private head = 0;
  /** Most recently used slot. */
  private tail = 0;
  private bytes = 0;

  private hits = 0;
  private misses = 0;
  private evictions = 0;

  /**
   * Member sets by key, apart from the entries; the `Map`'s order is their recency (a use moves a
   * set to the end), so the first one is evicted first.
   */
  private readonly memberSets = new Map<string, MemberSet>();
  /** Members held across all member sets (expired sets not yet dropped included). */
  private memberCount = 0;
  private readonly maxMembers: number;

  private readonly flights = new Map<string, Flight<V>>();
  private readonly lifetime = new AbortController();
  private closed = false;
  /** The key the last miss validated: strings are immutable, so an equal one needs no second check. */
  private validatedKey: string | undefined;
  /**
   * The `performance` the cache was created under, so fake timers installed before it steer its
   * expiry; held rather than looked up on each read, where the global's getter cost a quarter of
   * the read.
   */
  private readonly clock: { now(): number } = performance;

  constructor(options: MemoryCacheOptions<V>) {
    const { maxEntries, maxBytes, sizeOf, defaultTtlMs } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > 0xffff_ffff) {
      throw invalid(`maxEntries must be a positive integer below 2^32, got ${String(maxEntries)}`);
    }
    if (maxBytes !== undefined) {
      if (!(maxBytes > 0) || !Number.isFinite(maxBytes)) {
        throw invalid(`maxBytes must be a positive number, got ${String(maxBytes)}`);
      }
      if (typeof sizeOf !== "function") throw invalid("maxBytes needs a sizeOf function");
    }
    this.maxEntries = maxEntries;
    const maxMembers = options.maxMembers ?? maxEntries;
    if (!Number.isSafeInteger(maxMembers) || maxMembers < 1) {
      throw invalid(`maxMembers must be a positive integer, got ${String(options.maxMembers)}`);
    }
    this.maxMembers = maxMembers;
    this.maxBytes = maxBytes ?? Number.POSITIVE_INFINITY;
    this.sizeOf = maxBytes === undefined ? undefined : sizeOf;
    this.defaultTtlMs = defaultTtlMs === undefined ? 0 : checkTtl(defaultTtlMs, "defaultTtlMs");
    this.clone = options.clone === true;
    this.onRefreshError = options.onRefreshError;
    this.capacity = Math.min(maxEntries, INITIAL_SLOTS);
    this.next = new Uint32Array(this.capacity);
    this.prev = new Uint32Array(this.capacity);
    this.free = new Uint32Array(this.capacity);
    if (this.sizeOf !== undefined) this.sizes = new Float64Array(this.capacity);
    if (this.defaultTtlMs > 0) this.expiresAt = new Float64Array(this.capacity);
  }

  /** The value under `key`, or `undefined` when absent or expired; marks the entry recently used. */
  getSync(key: string): V | undefined {
    const slot = this.lookup(key);
    if (slot === -1) return undefined;
    return this.clone ? this.copy(this.values[slot] as V, key) : (this.values[slot] as V);
  }

  /** Stores `value` under `key`, replacing any entry and its TTL, and drops an in-flight load of it. */
  setSync(key: string, value: V, options?: CacheSetOptions): void {
    if (this.closed) throw closedError(WHAT);
    // Cache-aside sets the key its get just missed, and that miss validated it already.
    if (key !== this.validatedKey) validateCacheKey(key);
    if (value === undefined) throw invalid(`cannot cache undefined under key "${key}"`);
    const ttlMs = options?.ttlMs === undefined ? this.defaultTtlMs : checkTtl(options.ttlMs, "ttlMs");
    const tags = options?.tags === undefined ? undefined : validateCacheTags(options.tags);
    if (this.flights.size !== 0) this.overtakeFlight(key);
    this.store(key, value, ttlMs, 0, tags);
  }

  /** Whether a live entry is under `key`; neither counts as a hit or miss nor changes recency. */
  hasSync(key: string): boolean {
    if (this.closed) throw closedError(WHAT);
    const slot = this.slotOf.get(key);
    if (slot === undefined) {
      validateCacheKey(key);
      return false;
    }
    if (this.isExpired(slot, this.clock.now())) {
      this.expire(slot);
      return false;
    }
    return true;
  }

  /** Removes the entry under `key`; true when a live entry was removed. */
  deleteSync(key: string): boolean {
    if (this.closed) throw closedError(WHAT);
    validateCacheKey(key);
    if (this.flights.size !== 0) this.overtakeFlight(key);
    const slot = this.slotOf.get(key);
    if (slot === undefined) return false;
    const live = !this.isExpired(slot, this.clock.now());
    this.remove(slot);
    return live;
  }

  /** Removes every entry whose key starts with `prefix`; returns how many live ones it removed. */
  deletePrefixSync(prefix: string): number {
    if (this.closed) throw closedError(WHAT);
    if (typeof prefix !== "string" || prefix === "") {
      throw invalid("deletePrefix needs a non-empty prefix (use clear to remove everything)");
    }
    validateCacheKey(prefix, "prefix");
    for (const [key, flight] of this.flights) {
      if (key.startsWith(prefix)) {
        flight.current = false;
        this.flights.delete(key);
      }
    }
    const at = this.clock.now();
    let removed = 0;
    // A full scan keeps the hot path free of any prefix index; invalidation is the rare operation.
    for (const [key, slot] of this.slotOf) {
      if (!key.startsWith(prefix)) continue;
      if (!this.isExpired(slot, at)) removed++;
      this.remove(slot);
    }
    return removed;
  }

  /**
   * Removes every entry whose last write carried `tag`; returns how many live ones it removed.
   * Loads started with the tag are overtaken: their values are not stored.
   */
  deleteByTagSync(tag: string): number {
    if (this.closed) throw closedError(WHAT);
    validateCacheKey(tag, "tag");
    for (const [key, flight] of this.flights) {
      if (flight.tags?.includes(tag)) {
        flight.current = false;
        this.flights.delete(key);
      }
    }
    const keys = this.byTag.get(tag);
    if (keys === undefined) return 0;
    const at = this.clock.now();
    let removed = 0;
    for (const key of [...keys]) {
      const slot = this.slotOf.get(key);
      if (slot === undefined) continue;
      if (!this.isExpired(slot, at)) removed++;
      this.remove(slot);
    }
    this.byTag.delete(tag);
    return removed;
  }

  /** Removes every entry and drops every in-flight load's claim to store. */
  clearSync(): void {
    if (this.closed) throw closedError(WHAT);
    this.dropFlights();
    this.reset();
  }

  /**
   * Adds `members` to the member set at `key` (see `Cache.addMembers`), setting the set's TTL to
   * `ttlMs` (the default TTL when absent, none without one); no members: changes nothing. Checks
   * every argument before any change. May evict member sets (see `maxMembers`).
   */
  addMembersSync(key: string, members: readonly string[], options?: { ttlMs?: number }): void {
    if (this.closed) throw closedError(WHAT);
    validateCacheKey(key);
    const ttlMs = options?.ttlMs === undefined ? this.defaultTtlMs : checkTtl(options.ttlMs, "ttlMs");
    const valid = validateCacheMembers(members);
    if (valid.length === 0) return;
    const now = this.clock.now();
    let set = this.memberSets.get(key);
    if (set !== undefined) {
      // Taken out and put back at the end: the most recently used.
      this.memberSets.delete(key);
      if (set.expiresAt !== 0 && set.expiresAt <= now) {
        this.memberCount -= set.members.size;
        set = undefined;
      }
    }
    if (set === undefined) set = { members: new Set(), expiresAt: 0 };
    const { members: held } = set;
    const before = held.size;
    for (let i = 0; i < valid.length; i++) held.add(valid[i]!);
    this.memberCount += held.size - before;
    set.expiresAt = ttlMs > 0 ? now + ttlMs : 0;
    if (held.size > this.maxMembers) {
      // It would evict every other set and still not fit: keep the others instead.
      this.memberCount -= held.size;
      return;
    }
    this.memberSets.set(key, set);
    while (this.memberCount > this.maxMembers) this.evictOldestMemberSet();
  }

  /**
   * Whether `member` is in the live member set at `key`. A set found counts as used (see
   * `maxMembers`); an expired one is dropped.
   */
  hasMemberSync(key: string, member: string): boolean {
    if (this.closed) throw closedError(WHAT);
    const set = this.memberSets.get(key);
    if (set === undefined) {
      validateCacheKey(key);
      validateCacheKey(member, "member");
      return false;
    }
    if (set.expiresAt !== 0 && set.expiresAt <= this.clock.now()) {
      validateCacheKey(member, "member");
      this.memberSets.delete(key);
      this.memberCount -= set.members.size;
      return false;
    }
    this.memberSets.delete(key);
    this.memberSets.set(key, set);
    // Only members that passed the key rule are held, so a hit needs no check.
    if (set.members.has(member)) return true;
    validateCacheKey(member, "member");
    return false;
  }

  /** Hits, misses and evictions so far, and the entries held (expired ones not yet swept included). */
  statsSync(): CacheStats {
    if (this.closed) throw closedError(WHAT);
    return { hits: this.hits, misses: this.misses, evictions: this.evictions, size: this.slotOf.size };
  }

  // `get` and `set` build their promise by hand: an async function costs measurably more per call,
  // and these two are the port's hot pair.
  get(key: string, options?: CacheCallOptions): Promise<V | undefined> {
    try {
      if (options !== undefined) this.checkCall(options, "get", key);
      const slot = this.lookup(key);
      if (slot === -1) return ABSENT;
      if (this.clone) return Promise.resolve(this.copy(this.values[slot] as V, key));
      return this.settled[slot] ?? this.settle(slot);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  set(key: string, value: V, options?: CacheSetOptions): Promise<void> {
    try {
      if (options !== undefined) this.checkCall(options, "set", key);
      this.setSync(key, value, options);
      return RESOLVED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Every entry as `setSync` would store it, after checking them all (a bad one writes nothing;
   * with `clone`, a value that cannot be copied is found before any is stored).
   */
  setMany(entries: readonly CacheEntry<V>[], options?: CacheCallOptions): Promise<void> {
    try {
      if (this.closed) throw closedError(WHAT);
      if (options !== undefined) this.checkCall(options, "setMany");
      const valid = validateCacheEntries<V>(entries);
      if (this.clone) for (const entry of valid) this.copy(entry.value, entry.key);
      for (const { key, value, ttlMs, tags } of valid) {
        if (this.flights.size !== 0) this.overtakeFlight(key);
        this.store(key, value, ttlMs ?? this.defaultTtlMs, 0, tags);
      }
      return RESOLVED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  addMembers(key: string, members: readonly string[], options?: CacheAddMembersOptions): Promise<void> {
    try {
      if (options !== undefined) this.checkCall(options, "addMembers", key);
      this.addMembersSync(key, members, options);
      return RESOLVED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async hasMember(key: string, member: string, options?: CacheCallOptions): Promise<boolean> {
    if (options !== undefined) this.checkCall(options, "hasMember", key);
    return this.hasMemberSync(key, member);
  }

  async has(key: string, options?: CacheCallOptions): Promise<boolean> {
    if (options !== undefined) this.checkCall(options, "has", key);
    return this.hasSync(key);
  }

  async delete(key: string, options?: CacheCallOptions): Promise<boolean> {
    if (options !== undefined) this.checkCall(options, "delete", key);
    return this.deleteSync(key);
  }

  async deletePrefix(prefix: string, options?: CacheCallOptions): Promise<number> {
    if (options !== undefined) this.checkCall(options, "deletePrefix", prefix);
    return this.deletePrefixSync(prefix);
  }

  async deleteByTag(tag: string, options?: CacheCallOptions): Promise<number> {
    if (options !== undefined) this.checkCall(options, "deleteByTag", tag);
    return this.deleteByTagSync(tag);
  }

  async clear(options?: CacheCallOptions): Promise<void> {
    if (options !== undefined) this.checkCall(options, "clear");
    this.clearSync();
  }

  async stats(options?: CacheCallOptions): Promise<CacheStats> {
    if (options !== undefined) this.checkCall(options, "stats");
    return this.statsSync();
  }

  async getOrSet(key: string, loader: CacheLoader<V>, options?: CacheGetOrSetOptions): Promise<V> {
    if (this.closed) throw closedError(WHAT);
    validateCacheKey(key);
    const ttlMs = options?.ttlMs === undefined ? this.defaultTtlMs : checkTtl(options.ttlMs, "ttlMs");
    const swrMs = checkWindow(options?.staleWhileRevalidateMs);
    const tags = options?.tags === undefined ? undefined : validateCacheTags(options.tags);
    const signal = options?.signal;
    if (options !== undefined) this.checkCall(options, "getOrSet", key);

    const slot = this.slotOf.get(key);
    if (slot !== undefined) {
      const at = this.expiresAt === null ? 0 : this.expiresAt[slot]!;
      const checkedAt = at === 0 ? 0 : this.clock.now();
      if (at === 0 || at > checkedAt) {
        this.touch(slot);
        this.hits++;
        return this.read(slot, key);
      }
      const keptUntil = this.staleUntil === null ? 0 : this.staleUntil[slot]!;
      if (swrMs > 0 && checkedAt < Math.min(at + swrMs, keptUntil)) {
        this.touch(slot);
        this.hits++;
        if (!this.flights.has(key)) this.startFlight(key, loader, ttlMs, swrMs, tags, true);
        return this.read(slot, key);
      }
      this.expire(slot);
    }
    this.misses++;
    const flight = this.flights.get(key) ?? this.startFlight(key, loader, ttlMs, swrMs, tags, false);
    const shared = abortable(flight.promise, signal, `getOrSet of cache key "${key}"`);
    return this.clone ? shared.then((value) => this.copy(value, key)) : shared;
  }

  /** Releases every entry and fires the signal of every running loader. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dropFlights();
    this.reset();
    this.lifetime.abort(closedError(WHAT));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * The port's rules for per-call options, so a call refused on Redis is refused here too. There is
   * no I/O to bound, so a valid `timeoutMs` changes nothing.
   */
  private checkCall(options: CacheCallOptions, method: string, key?: string): void {
    if (this.closed) throw closedError(WHAT);
    if (options.timeoutMs === undefined && options.signal === undefined) return;
    if (key !== undefined) {
      validateCacheKey(
        key,
        method === "deletePrefix" ? "prefix" : method === "deleteByTag" ? "tag" : "cache key",
      );
    }
    validateCacheCallOptions(options, 0, key === undefined ? method : `${method} of cache key "${key}"`);
  }

  /**
   * The slot of the live entry under `key`, marked recently used and counted as a hit, or -1 after
   * counting a miss. Kept small, with the rare paths in methods of their own, so V8 inlines it into
   * `getSync`, `get` and callers' loops.
   *
   * Invariant (issue 21): an entry is returned only if a clock read during this call is before its
   * deadline. A clock sample reused from earlier (refreshed by a timer, or on misses and writes)
   * cannot stand in for that read at any error bound: a timer cannot fire during synchronous work
   * and a caller may do any amount of it between two lookups, so a reused sample gives no upper
   * bound on the present time, and only an upper bound proves an entry alive. Entries without a
   * TTL read no clock.
   */
  private lookup(key: string): number {
    if (this.closed) throw closedError(WHAT);
    const slot = this.slotOf.get(key);
    if (slot === undefined) return this.miss(key);
    const expiresAt = this.expiresAt;
    if (expiresAt !== null) {
      const at = expiresAt[slot]!;
      if (at !== 0 && at <= this.clock.now()) return this.expiredHit(slot);
    }
    this.touch(slot);
    this.hits++;
    return slot;
  }

  private miss(key: string): -1 {
    // Only a key that fails the rule is never stored, so checking it on a miss alone costs hits nothing.
    validateCacheKey(key);
    this.validatedKey = key;
    this.misses++;
    return -1;
  }

  private expiredHit(slot: number): -1 {
    this.expire(slot);
    this.misses++;
    return -1;
  }

  private settle(slot: number): Promise<V> {
    const promise = Promise.resolve(this.values[slot] as V);
    this.settled[slot] = promise;
    return promise;
  }

  private read(slot: number, key: string): V {
    const value = this.values[slot] as V;
    return this.clone ? this.copy(value, key) : value;
  }

  private copy(value: V, key: string): V {
    try {
      return structuredClone(value);
    } catch (error) {
      throw mapMemoryError(error, `cloning the value of cache key "${key}"`);
    }
  }

  private startFlight(
    key: string,
    loader: CacheLoader<V>,
    ttlMs: number,
    swrMs: number,
    tags: readonly string[] | undefined,
    background: boolean,
  ) {
    const flight: Flight<V> = { promise: Promise.resolve() as Promise<V>, current: true, tags };
    flight.promise = this.load(flight, key, loader, ttlMs, swrMs);
    this.flights.set(key, flight);
    const settle = () => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    // Handled here so that a flight every waiter gave up on never surfaces as an unhandled rejection.
    flight.promise.then(settle, (error: unknown) => {
      settle();
      if (background) this.onRefreshError?.(error, key);
    });
    return flight;
  }

  private async load(flight: Flight<V>, key: string, loader: CacheLoader<V>, ttlMs: number, swrMs: number) {
    const value = await loader(key, this.lifetime.signal);
    if (value === undefined) throw invalid(`the loader for cache key "${key}" returned undefined`);
    if (flight.current && !this.closed) this.store(key, value, ttlMs, swrMs, flight.tags);
    return value;
  }

  private overtakeFlight(key: string): void {
    const flight = this.flights.get(key);
    if (flight === undefined) return;
    flight.current = false;
    this.flights.delete(key);
  }

  private dropFlights(): void {
    for (const flight of this.flights.values()) flight.current = false;
    this.flights.clear();
  }

  private store(
    key: string,
    value: V,
    ttlMs: number,
    swrMs: number,
    tags: readonly string[] | undefined,
  ): void {
    const stored = this.clone ? this.copy(value, key) : value;
    let size = 0;
    if (this.sizeOf !== undefined) {
      size = this.measure(stored, key);
      if (size > this.maxBytes) {
        // Storing it would evict everything else and still not fit: keep the rest instead.
        const slot = this.slotOf.get(key);
        if (slot !== undefined) this.remove(slot);
        return;
      }
    }
    let slot = this.slotOf.get(key);
    if (slot === undefined) {
      slot = this.allocate();
      this.keys[slot] = key;
      this.slotOf.set(key, slot);
      this.linkAsNewest(slot);
    } else {
      this.touch(slot);
      if (this.sizes !== null) this.bytes -= this.sizes[slot]!;
    }
    this.values[slot] = stored;
    this.settled[slot] = undefined;
    if (tags !== undefined || this.tagsOf !== null) this.retag(slot, key, tags);
    if (ttlMs > 0) {
      const at = this.clock.now() + ttlMs;
      (this.expiresAt ?? this.addExpiryColumn())[slot] = at;
      if (swrMs > 0) (this.staleUntil ?? this.addStaleColumn())[slot] = at + swrMs;
      else if (this.staleUntil !== null) this.staleUntil[slot] = 0;
    } else if (this.expiresAt !== null) {
      this.expiresAt[slot] = 0;
      if (this.staleUntil !== null) this.staleUntil[slot] = 0;
    }
    if (this.sizes !== null) {
      this.sizes[slot] = size;
      this.bytes += size;
      while (this.bytes > this.maxBytes) this.evictOldest();
    }
  }

  private measure(value: V, key: string): number {
    let size: number;
    try {
      size = this.sizeOf!(value, key);
    } catch (error) {
      throw mapMemoryError(error, `measuring the value of cache key "${key}"`);
    }
    if (!(size >= 0) || !Number.isFinite(size)) {
      throw invalid(`sizeOf returned ${String(size)} for cache key "${key}"; expected a non-negative number`);
    }
    return size;
  }

  /** Replaces the tags of the entry in `slot` (none when `tags` is undefined) in the tag index. */
  private retag(slot: number, key: string, tags: readonly string[] | undefined): void {
    if (this.tagsOf === null) this.tagsOf = [];
    const column = this.tagsOf;
    const old = column[slot];
    if (old !== undefined) this.unindex(key, old);
    column[slot] = tags;
    if (tags === undefined) return;
    for (const tag of tags) {
      let keys = this.byTag.get(tag);
      if (keys === undefined) {
        keys = new Set();
        this.byTag.set(tag, keys);
      }
      keys.add(key);
    }
  }

  private unindex(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.byTag.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.byTag.delete(tag);
    }
  }

  /** Drops the tags of the entry leaving `slot` (removed or evicted). */
  private untag(slot: number, key: string): void {
    const tags = this.tagsOf![slot];
    if (tags === undefined) return;
    this.tagsOf![slot] = undefined;
    this.unindex(key, tags);
  }

  /** A free slot, evicting the least recently used entry when the cache is full. Not yet linked. */
  private allocate(): number {
    if (this.slotOf.size >= this.maxEntries) {
      const slot = this.head;
      this.head = this.next[slot]!;
      if (this.tagsOf !== null) this.untag(slot, this.keys[slot]!);
      this.slotOf.delete(this.keys[slot]!);
      if (this.sizes !== null) this.bytes -= this.sizes[slot]!;
      this.evictions++;
      return slot;
    }
    if (this.freeCount !== 0) return this.free[--this.freeCount]!;
    if (this.used === this.capacity) this.grow();
    return this.used++;
  }

  private evictOldest(): void {
    this.remove(this.head);
    this.evictions++;
  }

  private linkAsNewest(slot: number): void {
    if (this.slotOf.size === 1) {
      this.head = slot;
    } else {
      this.prev[slot] = this.tail;
      this.next[this.tail] = slot;
    }
    this.tail = slot;
  }

  private touch(slot: number): void {
    if (slot === this.tail) return;
    const next = this.next;
    const prev = this.prev;
    if (slot === this.head) {
      this.head = next[slot]!;
    } else {
      const before = prev[slot]!;
      const after = next[slot]!;
      next[before] = after;
      prev[after] = before;
    }
    prev[slot] = this.tail;
    next[this.tail] = slot;
    this.tail = slot;
  }

  private remove(slot: number): void {
    if (this.tagsOf !== null) this.untag(slot, this.keys[slot]!);
    this.slotOf.delete(this.keys[slot]!);
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    this.settled[slot] = undefined;
    if (this.slotOf.size !== 0) {
      if (slot === this.head) {
        this.head = this.next[slot]!;
      } else if (slot === this.tail) {
        this.tail = this.prev[slot]!;
      } else {
        const before = this.prev[slot]!;
        const after = this.next[slot]!;
        this.next[before] = after;
        this.prev[after] = before;
      }
    }
    if (this.sizes !== null) this.bytes -= this.sizes[slot]!;
    this.free[this.freeCount++] = slot;
  }

  private isExpired(slot: number, now: number): boolean {
    if (this.expiresAt === null) return false;
    const at = this.expiresAt[slot]!;
    return at !== 0 && at <= now;
  }

  /** Drops an expired entry, unless a stale-while-revalidate window still keeps it for getOrSet. */
  private expire(slot: number): void {
    if (this.staleUntil !== null && this.staleUntil[slot]! > this.clock.now()) return;
    this.remove(slot);
  }

  private evictOldestMemberSet(): void {
    for (const [key, set] of this.memberSets) {
      this.memberSets.delete(key);
      this.memberCount -= set.members.size;
      return;
    }
  }

  private reset(): void {
    this.memberSets.clear();
    this.memberCount = 0;
    this.slotOf.clear();
    this.byTag.clear();
    if (this.tagsOf !== null) this.tagsOf.length = 0;
    this.keys.length = 0;
    this.values.length = 0;
    this.settled.length = 0;
    this.freeCount = 0;
    this.used = 0;
    this.bytes = 0;
  }

  private grow(): void {
    const capacity = Math.min(this.maxEntries, this.capacity * 2);
    this.next = resized(this.next, capacity);
    this.prev = resized(this.prev, capacity);
    this.free = resized(this.free, capacity);
    if (this.expiresAt !== null) this.expiresAt = resized(this.expiresAt, capacity);
    if (this.staleUntil !== null) this.staleUntil = resized(this.staleUntil, capacity);
    if (this.sizes !== null) this.sizes = resized(this.sizes, capacity);
    this.capacity = capacity;
  }

  private addExpiryColumn(): Float64Array {
    this.expiresAt = new Float64Array(this.capacity);
    return this.expiresAt;
  }

  private addStaleColumn(): Float64Array {
    this.staleUntil = new Float64Array(this.capacity);
    return this.staleUntil;
  }
}

function resized<T extends Uint32Array | Float64Array>(array: T, length: number): T {
  const copy = new (array.constructor as new (length: number) => T)(length);
  copy.set(array);
  return copy;
}

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function checkTtl(ttlMs: number, name: string): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw invalid(`${name} must be a positive integer of milliseconds, got ${String(ttlMs)}`);
  }
  return ttlMs;
}

function checkWindow(windowMs: number | undefined): number {
  if (windowMs === undefined) return 0;
  if (!Number.isSafeInteger(windowMs) || windowMs < 0) {
    throw invalid(`staleWhileRevalidateMs must be a non-negative integer, got ${String(windowMs)}`);
  }
  return windowMs;
}
