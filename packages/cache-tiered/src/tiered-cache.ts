import {
  abortable,
  type Cache,
  type CacheCallOptions,
  type CacheCapabilities,
  type CacheGetOrSetOptions,
  type CacheLoader,
  type CacheSetOptions,
  type CacheStats,
  closedError,
  InfrastructureError,
  isInfrastructureError,
  validateCacheCallOptions,
  validateCacheKey,
  validateCacheTags,
} from "@proj/ports";
import type { Invalidation, InvalidationBus, InvalidationListener, LoaderLease, LoaderLock } from "./bus.js";
import { checkPositive, checkTimeout } from "./redis-errors.js";

/** Options of `createTieredCache`. */
export interface TieredCacheOptions<V> {
  /** The in-process tier (e.g. `@proj/cache-memory`), one per process. Owned: `close()` closes it. */
  l1: Cache<V>;
  /**
   * The shared tier (e.g. `@proj/cache-redis`), one namespace per tiered cache. It stores envelopes
   * (`{ v, e, t }`: the value, its expiry, its tags), so nothing else should write that namespace.
   * Owned: `close()` closes it.
   */
  l2: Cache<unknown>;
  /** Carries invalidations between the processes sharing `l2`. Owned: `close()` closes it. */
  bus: InvalidationBus;
  /** One loader per key across processes on a miss. Absent: one per key per process. Owned. */
  lock?: LoaderLock;
  /** TTL for entries stored without `ttlMs`. Absent: such entries do not expire. */
  defaultTtlMs?: number;
  /**
   * The staleness bound: an L1 entry is served only while the bus has confirmed delivery within
   * this many milliseconds (see the README, _Failure behaviour_). Default 5000.
   */
  maxStaleMs?: number;
  /**
   * When L2 fails, `getOrSet` answers from the loader instead of failing (reported as an
   * `l2-failed` event with `fallback: "loader"`). Default true; false gives the port's plain failure
   * (`UNAVAILABLE` / `TIMEOUT`, the loader not called).
   */
  grace?: boolean;
  /** Longest life of an L1 entry, whatever its TTL. Absent: the entry's TTL. */
  l1MaxTtlMs?: number;
  /** TTL of a loader lock; the holder's fencing check extends it before it stores. Default 10000. */
  lockTtlMs?: number;
  /** Longest a `getOrSet` waits for another process's loader before running its own. Default 15000. */
  lockWaitMs?: number;
  /** How often a waiting `getOrSet` looks at L2 between the bus's wake-ups. Default 100. */
  lockPollMs?: number;
  /** Default deadline of the invalidation publish of a write. Default 2000. */
  publishTimeoutMs?: number;
  /** Told about degraded service and bus traffic (see `TieredCacheEvent`). Must not throw. */
  onEvent?: (event: TieredCacheEvent) => void;
}

/**
 * What the tiered cache reports through `onEvent`:
 *
 * - `l2-failed`: a call on L2 failed; `fallback` says what answered instead (`l1`: an L1 entry,
 *   `loader`: the loader, `none`: the call failed with the error).
 * - `bus-down`: invalidations may be missed from now on; L1 is still served for at most
 *   `maxStaleMs` after the last confirmed delivery, then bypassed.
 * - `bus-up`: subscribed; after a `bus-down`, L1 was dropped (`droppedL1Entries` of them).
 * - `publish-failed`: a write reached L2 but its invalidation could not be published (the write
 *   failed with that error); it is retried in the background, `pending` invalidations wait.
 * - `publish-recovered`: the pending invalidations went out.
 * - `invalidated`: an invalidation from another process was applied, `delayMs` after it was sent.
 * - `lock-failed`: the loader lock could not be asked (the load ran without it).
 * - `lock-lost`: the fencing check failed (the lock expired under the loader): its value was
 *   returned but not stored.
 * - `lock-wait-expired`: another process held the lock past `lockWaitMs`; this one loaded itself.
 */
export type TieredCacheEvent =
  | {
      type: "l2-failed";
      operation: string;
      key?: string;
      error: InfrastructureError;
      fallback: "l1" | "loader" | "none";
    }
  | { type: "bus-down"; error: InfrastructureError }
  | { type: "bus-up"; afterDown: boolean; droppedL1Entries: number; downForMs?: number }
  | { type: "publish-failed"; invalidation: Invalidation; error: InfrastructureError; pending: number }
  | { type: "publish-recovered"; published: number }
  | { type: "invalidated"; invalidation: Invalidation; delayMs: number }
  | { type: "lock-failed"; key: string; error: InfrastructureError }
  | { type: "lock-lost"; key: string }
  | { type: "lock-wait-expired"; key: string; waitedMs: number };

/** Counters and state of one tiered cache (this process), from `health()`. */
export interface TieredCacheHealth {
  /** Whether L1 entries are served now (the bus confirmed delivery within `maxStaleMs`). */
  l1Trusted: boolean;
  /** The bus subscription: `connecting` until the first subscription, then `up` or `down`. */
  bus: "connecting" | "up" | "down";
  /** Milliseconds since the bus last confirmed delivery; undefined before the first subscription. */
  confirmedAgoMs: number | undefined;
  l1Hits: number;
  l2Hits: number;
  misses: number;
  /** Loader calls by this process (`degradedLoads` included). */
  loads: number;
  /** Loader calls made because L2 failed (grace). */
  degradedLoads: number;
  l2Failures: number;
  invalidationsReceived: number;
  /** Times L1 was dropped because the bus came back after being down. */
  l1Drops: number;
  /** Invalidations waiting to be published again. */
  pendingInvalidations: number;
}

/** What `l2` holds per entry. */
interface Envelope<V> {
  v: V;
  /** Expiry on the writer's wall clock (ms since the epoch); absent for none. */
  e?: number;
  /** Tags. */
  t?: readonly string[];
}

interface Lookup<V> {
  value: V;
  hit: boolean;
}

interface Flight<V> {
  promise: Promise<Lookup<V>>;
  /** False once a write of this process overtook the load: its value must not be stored. */
  current: boolean;
  tags: readonly string[] | undefined;
}

/** Per key with an L2 call in flight: bumped by every invalidation of the key. */
interface Generation {
  gen: number;
  refs: number;
}

interface Snapshot {
  key: string;
  entry: Generation;
  gen: number;
  epoch: number;
  l1Epoch: number;
}

/** The write of `@proj/cache-redis` that publishes a message once the entry is written. */
interface PublishingL2 {
  setAndPublish(
    key: string,
    value: unknown,
    publication: { channel: string; message: string },
    options?: CacheSetOptions,
  ): Promise<void>;
}

/** The synchronous face of `@proj/cache-memory`, used when L1 offers it. */
interface SyncL1<V> {
  getSync(key: string): V | undefined;
  hasSync(key: string): boolean;
  setSync(key: string, value: V, options?: CacheSetOptions): void;
  deleteSync(key: string): boolean;
  deletePrefixSync(prefix: string): number;
  deleteByTagSync(tag: string): number;
  clearSync(): void;
  statsSync(): CacheStats;
}

const WHAT = "tiered cache";
const MAX_PENDING = 1_000;

/**
 * `Cache` in two tiers with an invalidation bus. See the package README for the guarantees; in
 * short: a write goes to L2, then to this process's L1, then to the bus, which makes every other
 * process drop the key from its L1; a read is served from L1 while the bus is known to deliver,
 * else from L2.
 */
export class TieredCache<V = unknown> implements Cache<V> {
  readonly capabilities: CacheCapabilities;

  private readonly l1: Cache<V>;
  private readonly sync: SyncL1<V> | undefined;
  private readonly l2: Cache<unknown>;
  /** L2 itself, when it can carry a `set`'s invalidation in the write and the bus can attach one. */
  private readonly publishingL2: (Cache<unknown> & PublishingL2) | undefined;
  private readonly bus: InvalidationBus;
  private readonly lock: LoaderLock | undefined;
  private readonly defaultTtlMs: number;
  private readonly maxStaleMs: number;
  private readonly grace: boolean;
  private readonly l1MaxTtlMs: number;
  private readonly lockTtlMs: number;
  private readonly lockWaitMs: number;
  private readonly lockPollMs: number;
  private readonly publishTimeoutMs: number;
  private readonly onEvent: ((event: TieredCacheEvent) => void) | undefined;

  /** L1 is served while `performance.now()` is below this. */
  private trustedUntil = Number.NEGATIVE_INFINITY;
  private busState: "connecting" | "up" | "down" = "connecting";
  private confirmedAt: number | undefined;
  private downSince = 0;

  private readonly inflight = new Map<string, Generation>();
  /** Bumped by invalidations too wide to track per key (tag, clear): they overtake every load. */
  private epoch = 0;
  /** Bumped when L1 is dropped for a new subscription: spoils L1 fills, not L2 writes. */
  private l1Epoch = 0;
  private readonly flights = new Map<string, Flight<V>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly pending = new Map<string, Invalidation>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelayMs = 500;
  private readonly lifetime = new AbortController();
  private closing: Promise<void> | undefined;

  private hits = 0;
  private misses = 0;
  private l1Hits = 0;
  private l2Hits = 0;
  private loads = 0;
  private degradedLoads = 0;
  private l2Failures = 0;
  private received = 0;
  private l1Drops = 0;

  constructor(options: TieredCacheOptions<V>) {
    const { l1, l2, bus } = options;
    if (l1 === undefined || l2 === undefined || bus === undefined) {
      throw invalid("a tiered cache needs l1, l2 and bus");
    }
    if (l1.capabilities.shared) throw invalid("l1 must be an in-process cache (capabilities.shared false)");
    this.l1 = l1;
    this.sync = hasSyncFace<V>(l1) ? l1 : undefined;
    this.l2 = l2;
    this.publishingL2 =
      typeof (l2 as Partial<PublishingL2>).setAndPublish === "function" && typeof bus.attach === "function"
        ? (l2 as Cache<unknown> & PublishingL2)
        : undefined;
    this.bus = bus;
    this.lock = options.lock;
    this.capabilities = Object.freeze({
      shared: l2.capabilities.shared,
      staleWhileRevalidate: false,
      tags: l1.capabilities.tags && l2.capabilities.tags,
    });
    this.defaultTtlMs =
      options.defaultTtlMs === undefined ? 0 : checkPositive(options.defaultTtlMs, "defaultTtlMs");
    this.maxStaleMs = checkPositive(options.maxStaleMs ?? 5_000, "maxStaleMs");
    this.grace = options.grace ?? true;
    this.l1MaxTtlMs = options.l1MaxTtlMs === undefined ? 0 : checkPositive(options.l1MaxTtlMs, "l1MaxTtlMs");
    this.lockTtlMs = checkPositive(options.lockTtlMs ?? 10_000, "lockTtlMs");
    this.lockWaitMs = checkPositive(options.lockWaitMs ?? 15_000, "lockWaitMs");
    this.lockPollMs = checkPositive(options.lockPollMs ?? 100, "lockPollMs");
    this.publishTimeoutMs = checkTimeout(options.publishTimeoutMs ?? 2_000, "publishTimeoutMs");
    this.onEvent = options.onEvent;
    bus.listen(this.listener());
  }

  // ---- reads ---------------------------------------------------------------------------------

  get(key: string, options?: CacheCallOptions): Promise<V | undefined> {
    if (this.closing !== undefined) return Promise.reject(closedError(WHAT));
    // The hot path: an L1 hit with no per-call options allocates nothing but the promise.
    if (options === undefined && this.sync !== undefined && this.trustedUntil > performance.now()) {
      let value: V | undefined;
      try {
        value = this.sync.getSync(key);
      } catch (error) {
        return Promise.reject(error);
      }
      if (value !== undefined) {
        this.hits++;
        this.l1Hits++;
        return Promise.resolve(value);
      }
    }
    return this.getSlow(key, options);
  }

  private async getSlow(key: string, options: CacheCallOptions | undefined): Promise<V | undefined> {
    if (options !== undefined) {
      validateCacheKey(key);
      validateCacheCallOptions(options, 0, `get of cache key "${key}"`);
    }
    // The fast path already missed L1 when it could look (no options, trusted, a sync L1).
    const lookedAlready = options === undefined && this.sync !== undefined && this.trusted();
    if (!lookedAlready && this.trusted()) {
      const value = await this.l1Get(key);
      if (value !== undefined) {
        this.hits++;
        this.l1Hits++;
        return value;
      }
    } else if (!lookedAlready) {
      validateCacheKey(key);
    }
    const snapshot = this.begin(key);
    try {
      let envelope: unknown;
      try {
        envelope = await this.l2.get(key, options);
      } catch (error) {
        this.reportL2(error, "get", key);
        throw error;
      }
      if (envelope === undefined) {
        this.misses++;
        return undefined;
      }
      const value = this.unwrap(envelope, key);
      this.fill(key, envelope as Envelope<V>, snapshot);
      this.hits++;
      this.l2Hits++;
      return value;
    } finally {
      this.end(snapshot);
    }
  }

  async has(key: string, options?: CacheCallOptions): Promise<boolean> {
    this.ensureOpen();
    validateCacheKey(key);
    if (options !== undefined) validateCacheCallOptions(options, 0, `has of cache key "${key}"`);
    if (this.trusted() && (await this.l1Has(key))) return true;
    return this.l2Call("has", key, () => this.l2.has(key, options));
  }

  async getOrSet(key: string, loader: CacheLoader<V>, options?: CacheGetOrSetOptions): Promise<V> {
    this.ensureOpen();
    validateCacheKey(key);
    const ttlMs = this.ttlOf(options);
    const tags =
      options?.tags === undefined ? undefined : validateCacheTags(options.tags, this.capabilities.tags);
    if (options !== undefined) validateCacheCallOptions(options, 0, `getOrSet of cache key "${key}"`);
    if (this.trusted()) {
      const value = await this.l1Get(key);
      if (value !== undefined) {
        this.hits++;
        this.l1Hits++;
        return value;
      }
    }
    let flight = this.flights.get(key);
    if (flight === undefined) {
      const started: Flight<V> = { promise: Promise.resolve() as Promise<never>, current: true, tags };
      started.promise = this.lookUpOrLoad(started, key, loader, ttlMs, options?.timeoutMs);
      this.flights.set(key, started);
      const settle = () => {
        if (this.flights.get(key) === started) this.flights.delete(key);
      };
      // Handled here so that a flight every waiter gave up on never surfaces as an unhandled rejection.
      started.promise.then(settle, settle);
      flight = started;
    }
    const { value, hit } = await abortable(flight.promise, options?.signal, `getOrSet of cache key "${key}"`);
    if (hit) this.hits++;
    else this.misses++;
    return value;
  }

  private async lookUpOrLoad(
    flight: Flight<V>,
    key: string,
    loader: CacheLoader<V>,
    ttlMs: number,
    timeoutMs: number | undefined,
  ): Promise<Lookup<V>> {
    const callOptions = timeoutMs === undefined ? undefined : { timeoutMs };
    const startedAt = performance.now();
    for (;;) {
      if (this.closing !== undefined) throw closedError(WHAT);
      const snapshot = this.begin(key);
      try {
        let envelope: unknown;
        try {
          envelope = await this.l2.get(key, callOptions);
        } catch (error) {
          return await this.degraded("getOrSet", key, error, () =>
            this.loadDegraded(flight, key, loader, ttlMs, snapshot),
          );
        }
        if (envelope !== undefined) {
          const value = this.unwrap(envelope, key);
          this.fill(key, envelope as Envelope<V>, snapshot);
          this.l2Hits++;
          return { value, hit: true };
        }
        if (this.lock === undefined) {
          return await this.loadAndStore(flight, key, loader, ttlMs, callOptions, snapshot, undefined);
        }
        const waited = performance.now() - startedAt;
        if (waited >= this.lockWaitMs) {
          this.emit({ type: "lock-wait-expired", key, waitedMs: Math.round(waited) });
          return await this.loadAndStore(flight, key, loader, ttlMs, callOptions, snapshot, undefined);
        }
        let lease: LoaderLease | undefined;
        try {
          lease = await this.lock.tryAcquire(key, this.lockTtlMs);
        } catch (error) {
          this.emit({ type: "lock-failed", key, error: asInfrastructureError(error) });
          return await this.loadAndStore(flight, key, loader, ttlMs, callOptions, snapshot, undefined);
        }
        if (lease !== undefined) {
          try {
            // Another process may have stored the value between the look-up and the lock.
            const again = await this.l2
              .get(key, callOptions)
              .catch((error: unknown) => this.degraded("getOrSet", key, error, () => undefined));
            if (again !== undefined) {
              const value = this.unwrap(again, key);
              this.fill(key, again as Envelope<V>, snapshot);
              this.l2Hits++;
              return { value, hit: true };
            }
            return await this.loadAndStore(flight, key, loader, ttlMs, callOptions, snapshot, lease);
          } finally {
            void lease.release();
          }
        }
      } finally {
        this.end(snapshot);
      }
      // Another process loads: its write's invalidation wakes this one, or the poll does.
      await this.waitForKey(key, this.lockPollMs * (0.75 + Math.random() / 2));
    }
  }

  private async loadAndStore(
    flight: Flight<V>,
    key: string,
    loader: CacheLoader<V>,
    ttlMs: number,
    callOptions: CacheCallOptions | undefined,
    snapshot: Snapshot,
    lease: LoaderLease | undefined,
  ): Promise<Lookup<V>> {
    const value = await this.runLoader(key, loader);
    // A write, delete or invalidation of the key (here or, through the bus, elsewhere) since the
    // look-up wins: the value is returned to the waiters but not stored.
    if (!flight.current || !this.valid(snapshot) || this.closing !== undefined) return { value, hit: false };
    if (lease !== undefined && !(await lease.confirm(this.lockTtlMs).catch(() => false))) {
      this.emit({ type: "lock-lost", key });
      return { value, hit: false };
    }
    const tags = flight.tags;
    const envelope = this.envelope(value, ttlMs, tags);
    try {
      await this.l2.set(key, envelope, { ...callOptions, ttlMs: ttlMs > 0 ? ttlMs : undefined, tags });
    } catch (error) {
      this.queuePublish({ kind: "keys", keys: [key] }, error);
      return this.degraded("getOrSet", key, error, () => ({ value, hit: false }));
    }
    if (flight.current && this.validForL1(snapshot) && this.trusted()) this.l1Store(key, value, ttlMs, tags);
    // Wakes the processes waiting for this load, and drops any copy an evicted L2 entry left in an L1.
    this.bus
      .publish({ kind: "keys", keys: [key] })
      .catch((error: unknown) => this.queuePublish({ kind: "keys", keys: [key] }, error));
    return { value, hit: false };
  }

  private async loadDegraded(
    flight: Flight<V>,
    key: string,
    loader: CacheLoader<V>,
    ttlMs: number,
    snapshot: Snapshot,
  ): Promise<Lookup<V>> {
    this.degradedLoads++;
    const value = await this.runLoader(key, loader);
    if (flight.current && this.validForL1(snapshot) && this.trusted() && this.closing === undefined) {
      this.l1Store(key, value, ttlMs, flight.tags);
    }
    return { value, hit: false };
  }

  private async runLoader(key: string, loader: CacheLoader<V>): Promise<V> {
    this.loads++;
    const value = await loader(key, this.lifetime.signal);
    if (value === undefined) throw invalid(`the loader for cache key "${key}" returned undefined`);
    return value;
  }

  /** On an L2 failure: the fallback's answer when grace allows it, else the error. */
  private async degraded<T>(
    operation: string,
    key: string,
    error: unknown,
    fallback: () => T | Promise<T>,
  ): Promise<T> {
    if (!isBackendFailure(error)) throw error;
    this.l2Failures++;
    const fallsBack = this.grace;
    this.emit({
      type: "l2-failed",
      operation,
      key,
      error: error as InfrastructureError,
      fallback: fallsBack ? "loader" : "none",
    });
    if (!fallsBack) throw error;
    return fallback();
  }

  async stats(options?: CacheCallOptions): Promise<CacheStats> {
    this.ensureOpen();
    if (options !== undefined) validateCacheCallOptions(options, 0, "stats");
    const shared = await this.l2Call("stats", undefined, () => this.l2.stats(options));
    const local = this.sync !== undefined ? this.sync.statsSync() : await this.l1.stats();
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: local.evictions + shared.evictions,
      size: shared.size,
    };
  }

  /** State and counters of this process's tiered cache. */
  health(): TieredCacheHealth {
    return {
      l1Trusted: this.trusted(),
      bus: this.busState,
      confirmedAgoMs: this.confirmedAt === undefined ? undefined : performance.now() - this.confirmedAt,
      l1Hits: this.l1Hits,
      l2Hits: this.l2Hits,
      misses: this.misses,
      loads: this.loads,
      degradedLoads: this.degradedLoads,
      l2Failures: this.l2Failures,
      invalidationsReceived: this.received,
      l1Drops: this.l1Drops,
      pendingInvalidations: this.pending.size,
    };
  }

  // ---- writes ----------------------------------------------------------------------------------

  async set(key: string, value: V, options?: CacheSetOptions): Promise<void> {
    this.ensureOpen();
    validateCacheKey(key);
    if (value === undefined) throw invalid(`cannot cache undefined under key "${key}"`);
    const ttlMs = this.ttlOf(options);
    const tags =
      options?.tags === undefined ? undefined : validateCacheTags(options.tags, this.capabilities.tags);
    if (options !== undefined) validateCacheCallOptions(options, 0, `set of cache key "${key}"`);
    const invalidation: Invalidation = { kind: "keys", keys: [key] };
    if (this.flights.size !== 0) this.overtake((flightKey) => flightKey === key);
    this.bumpKey(key);
    const dropped = this.l1Delete(key);
    if (dropped !== undefined) await dropped;
    // When L2 can publish at the end of its write, on the broker of the bus, the invalidation rides
    // on the write: one round trip instead of two, and still delivered only once the entry is written.
    const attached = this.publishingL2 === undefined ? undefined : this.bus.attach?.(invalidation, this.l2);
    const snapshot = this.begin(key);
    try {
      const envelope = this.envelope(value, ttlMs, tags);
      const l2Options: CacheSetOptions = {
        timeoutMs: options?.timeoutMs,
        signal: options?.signal,
        ttlMs: ttlMs > 0 ? ttlMs : undefined,
        tags,
      };
      await this.write("set", key, invalidation, () =>
        attached === undefined
          ? this.l2.set(key, envelope, l2Options)
          : (this.publishingL2 as PublishingL2).setAndPublish(key, envelope, attached, l2Options),
      );
      if (this.validForL1(snapshot) && this.trusted()) this.l1Store(key, value, ttlMs, tags);
    } finally {
      this.end(snapshot);
    }
    if (attached !== undefined) attached.sent();
    else await this.publish(invalidation, options);
  }

  async delete(key: string, options?: CacheCallOptions): Promise<boolean> {
    this.ensureOpen();
    validateCacheKey(key);
    if (options !== undefined) validateCacheCallOptions(options, 0, `delete of cache key "${key}"`);
    const invalidation: Invalidation = { kind: "keys", keys: [key] };
    if (this.flights.size !== 0) this.overtake((flightKey) => flightKey === key);
    this.bumpKey(key);
    const dropped = this.l1Delete(key);
    if (dropped !== undefined) await dropped;
    const removed = await this.write("delete", key, invalidation, () => this.l2.delete(key, options));
    await this.publish(invalidation, options);
    return removed;
  }

  async deletePrefix(prefix: string, options?: CacheCallOptions): Promise<number> {
    this.ensureOpen();
    if (typeof prefix !== "string" || prefix === "") {
      throw invalid("deletePrefix needs a non-empty prefix (use clear to remove everything)");
    }
    validateCacheKey(prefix, "prefix");
    if (options !== undefined) validateCacheCallOptions(options, 0, `deletePrefix "${prefix}"`);
    const invalidation: Invalidation = { kind: "prefix", prefix };
    this.applyLocally(invalidation);
    const removed = await this.write("deletePrefix", prefix, invalidation, () =>
      this.l2.deletePrefix(prefix, options),
    );
    await this.publish(invalidation, options);
    return removed;
  }

  async deleteByTag(tag: string, options?: CacheCallOptions): Promise<number> {
    this.ensureOpen();
    validateCacheKey(tag, "tag");
    if (options !== undefined) validateCacheCallOptions(options, 0, `deleteByTag "${tag}"`);
    if (!this.capabilities.tags) {
      throw new InfrastructureError("NOT_SUPPORTED", "this tiered cache's L1 or L2 has no tags", {
        retryable: false,
      });
    }
    const invalidation: Invalidation = { kind: "tag", tag };
    this.applyLocally(invalidation);
    const removed = await this.write("deleteByTag", tag, invalidation, () =>
      this.l2.deleteByTag(tag, options),
    );
    await this.publish(invalidation, options);
    return removed;
  }

  async clear(options?: CacheCallOptions): Promise<void> {
    this.ensureOpen();
    if (options !== undefined) validateCacheCallOptions(options, 0, "clear");
    const invalidation: Invalidation = { kind: "clear" };
    this.applyLocally(invalidation);
    await this.write("clear", undefined, invalidation, () => this.l2.clear(options));
    await this.publish(invalidation, options);
  }

  /** Closes the bus, the lock, L1 and L2, and fires the signal of every running loader. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.lifetime.abort(closedError(WHAT));
      for (const flight of this.flights.values()) flight.current = false;
      this.flights.clear();
      for (const wakers of this.waiters.values()) for (const wake of wakers) wake();
      this.waiters.clear();
      if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
      this.pending.clear();
      this.trustedUntil = Number.NEGATIVE_INFINITY;
      this.closing = Promise.allSettled([
        this.bus.close(),
        this.lock?.close(),
        this.l1.close(),
        this.l2.close(),
      ]).then(() => undefined);
    }
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- the bus -----------------------------------------------------------------------------------

  private listener(): InvalidationListener {
    return {
      onInvalidation: (invalidation, sentAt) => {
        if (this.closing !== undefined) return;
        this.received++;
        this.applyLocally(invalidation);
        if (this.onEvent !== undefined) {
          this.emit({
            type: "invalidated",
            invalidation,
            delayMs: performance.timeOrigin + performance.now() - sentAt,
          });
        }
      },
      onConfirmed: (at) => {
        if (this.busState !== "up") return;
        if (this.confirmedAt === undefined || at > this.confirmedAt) {
          this.confirmedAt = at;
          if (this.closing === undefined) this.trustedUntil = at + this.maxStaleMs;
        }
      },
      onDown: (error) => {
        if (this.busState !== "up") return;
        this.busState = "down";
        this.downSince = performance.now();
        this.emit({ type: "bus-down", error });
      },
      onSubscribed: (at) => {
        if (this.closing !== undefined) return;
        const afterDown = this.busState === "down";
        // Whatever L1 holds may have missed invalidations while nobody listened: start afresh.
        const dropped = this.sync !== undefined ? this.sync.statsSync().size : 0;
        this.l1Epoch++;
        this.l1Clear();
        if (afterDown) this.l1Drops++;
        this.busState = "up";
        this.confirmedAt = at;
        this.trustedUntil = at + this.maxStaleMs;
        this.emit({
          type: "bus-up",
          afterDown,
          droppedL1Entries: dropped,
          downForMs: afterDown ? performance.now() - this.downSince : undefined,
        });
      },
    };
  }

  /** Drops what `invalidation` names from L1, spoils in-flight fills and wakes waiting loads. */
  private applyLocally(invalidation: Invalidation): void {
    switch (invalidation.kind) {
      case "keys":
        for (const key of invalidation.keys) {
          this.bumpKey(key);
          this.l1Delete(key);
          this.wake(key);
        }
        return;
      case "prefix": {
        const { prefix } = invalidation;
        this.overtake((key) => key.startsWith(prefix));
        for (const [key, entry] of this.inflight) if (key.startsWith(prefix)) entry.gen++;
        this.run(() =>
          this.sync !== undefined ? this.sync.deletePrefixSync(prefix) : this.l1.deletePrefix(prefix),
        );
        for (const key of [...this.waiters.keys()]) if (key.startsWith(prefix)) this.wake(key);
        return;
      }
      case "tag": {
        const { tag } = invalidation;
        this.overtake((_key, flight) => flight.tags?.includes(tag) === true);
        this.epoch++;
        if (this.capabilities.tags) {
          this.run(() =>
            this.sync !== undefined ? this.sync.deleteByTagSync(tag) : this.l1.deleteByTag(tag),
          );
        } else {
          this.l1Clear();
        }
        this.wakeAll();
        return;
      }
      case "clear":
        this.overtake(() => true);
        this.epoch++;
        this.l1Clear();
        this.wakeAll();
        return;
    }
  }

  private overtake(matches: (key: string, flight: Flight<V>) => boolean): void {
    if (this.flights.size === 0) return;
    for (const [key, flight] of this.flights) {
      if (matches(key, flight)) {
        flight.current = false;
        this.flights.delete(key);
      }
    }
  }

  /** Runs an L2 write; on failure reports it, queues the invalidation when it may have landed, rethrows. */
  private async write<T>(
    operation: string,
    key: string | undefined,
    invalidation: Invalidation,
    call: () => Promise<T>,
  ) {
    try {
      return await call();
    } catch (error) {
      if (isBackendFailure(error) || isInfrastructureError(error, "CANCELLED")) {
        this.l2Failures++;
        this.emit({
          type: "l2-failed",
          operation,
          key,
          error: error as InfrastructureError,
          fallback: "none",
        });
        this.queuePublish(invalidation, error);
      }
      throw error;
    }
  }

  /** Publishes the invalidation of a write that reached L2; a failure fails the write (see README). */
  private async publish(invalidation: Invalidation, options: CacheCallOptions | undefined): Promise<void> {
    try {
      await this.bus.publish(invalidation, {
        timeoutMs: options?.timeoutMs ?? this.publishTimeoutMs,
        signal: options?.signal,
      });
    } catch (error) {
      const cause = asInfrastructureError(error);
      this.queuePublish(invalidation, cause);
      throw new InfrastructureError(
        cause.code === "TIMEOUT" ? "TIMEOUT" : cause.code === "CANCELLED" ? "CANCELLED" : "UNAVAILABLE",
        `the ${describe(invalidation)} reached L2, but its invalidation could not be published: other processes may serve the old value from L1 until it is (retried in the background)`,
        { cause, retryable: true, details: { l2: "written", invalidation: "pending" } },
      );
    }
  }

  private queuePublish(invalidation: Invalidation, error: unknown): void {
    if (this.closing !== undefined) return;
    if (this.pending.size >= MAX_PENDING) {
      this.pending.clear();
      this.pending.set("clear", { kind: "clear" });
    } else {
      this.pending.set(JSON.stringify(invalidation), invalidation);
    }
    this.emit({
      type: "publish-failed",
      invalidation,
      error: asInfrastructureError(error),
      pending: this.pending.size,
    });
    if (this.retryTimer === undefined) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flushPending();
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }

  private async flushPending(): Promise<void> {
    let published = 0;
    for (const [id, invalidation] of [...this.pending]) {
      if (this.closing !== undefined) return;
      try {
        await this.bus.publish(invalidation);
      } catch {
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, 5_000);
        this.scheduleRetry();
        return;
      }
      this.pending.delete(id);
      published++;
    }
    this.retryDelayMs = 500;
    if (published > 0) this.emit({ type: "publish-recovered", published });
  }

  // ---- L1 --------------------------------------------------------------------------------------

  private trusted(): boolean {
    return this.trustedUntil > performance.now();
  }

  private l1Get(key: string): V | undefined | Promise<V | undefined> {
    return this.sync !== undefined ? this.sync.getSync(key) : this.l1.get(key);
  }

  private l1Has(key: string): boolean | Promise<boolean> {
    return this.sync !== undefined ? this.sync.hasSync(key) : this.l1.has(key);
  }

  private l1Delete(key: string): void | Promise<void> {
    if (this.sync !== undefined) {
      this.sync.deleteSync(key);
      return;
    }
    return this.l1.delete(key).then(
      () => undefined,
      () => undefined,
    );
  }

  private l1Clear(): void {
    this.run(() => (this.sync !== undefined ? this.sync.clearSync() : this.l1.clear()));
  }

  /** Stores in L1 for the entry's TTL (capped by `l1MaxTtlMs`); a refusal leaves L1 without it. */
  private l1Store(key: string, value: V, ttlMs: number, tags: readonly string[] | undefined): void {
    const l1Ttl = this.l1MaxTtlMs > 0 && (ttlMs === 0 || ttlMs > this.l1MaxTtlMs) ? this.l1MaxTtlMs : ttlMs;
    const options: CacheSetOptions | undefined =
      l1Ttl > 0 || tags !== undefined ? { ttlMs: l1Ttl > 0 ? l1Ttl : undefined, tags } : undefined;
    if (this.sync !== undefined) {
      // The hot path of an L2 hit: no closure.
      try {
        this.sync.setSync(key, value, options);
      } catch {
        // L1 refused (a value it cannot hold): the entry is simply not in L1.
      }
      return;
    }
    this.run(() => this.l1.set(key, value, options));
  }

  /** Fills L1 from an L2 entry read under `snapshot`, unless an invalidation came in meanwhile. */
  private fill(key: string, envelope: Envelope<V>, snapshot: Snapshot): void {
    if (!this.validForL1(snapshot) || !this.trusted() || this.closing !== undefined) return;
    let ttlMs = 0;
    if (envelope.e !== undefined) {
      ttlMs = Math.floor(envelope.e - Date.now());
      if (ttlMs <= 0) return;
    }
    this.l1Store(key, envelope.v, ttlMs, envelope.t);
  }

  /** Runs an L1 call whose failure only costs a future L1 miss. */
  private run(call: () => unknown): void {
    try {
      const result = call();
      if (result instanceof Promise) result.catch(() => undefined);
    } catch {
      // L1 refused (closed, a value it cannot hold): the entry is simply not in L1.
    }
  }

  // ---- in-flight generations and waiters ------------------------------------------------------

  private begin(key: string): Snapshot {
    let entry = this.inflight.get(key);
    if (entry === undefined) {
      entry = { gen: 0, refs: 0 };
      this.inflight.set(key, entry);
    }
    entry.refs++;
    return { key, entry, gen: entry.gen, epoch: this.epoch, l1Epoch: this.l1Epoch };
  }

  private end(snapshot: Snapshot): void {
    const { entry } = snapshot;
    if (--entry.refs === 0 && this.inflight.get(snapshot.key) === entry) this.inflight.delete(snapshot.key);
  }

  /** No invalidation of the key since the snapshot: what was read or loaded may be stored in L2. */
  private valid(snapshot: Snapshot): boolean {
    return snapshot.entry.gen === snapshot.gen && snapshot.epoch === this.epoch;
  }

  /** Also no new subscription since the snapshot: what was read may go into L1. */
  private validForL1(snapshot: Snapshot): boolean {
    return this.valid(snapshot) && snapshot.l1Epoch === this.l1Epoch;
  }

  private bumpKey(key: string): void {
    const entry = this.inflight.get(key);
    if (entry !== undefined) entry.gen++;
  }

  private waitForKey(key: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let wakers = this.waiters.get(key);
      if (wakers === undefined) {
        wakers = new Set();
        this.waiters.set(key, wakers);
      }
      const wake = () => {
        clearTimeout(timer);
        const set = this.waiters.get(key);
        set?.delete(wake);
        if (set?.size === 0) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  }

  private wake(key: string): void {
    const wakers = this.waiters.get(key);
    if (wakers !== undefined) for (const wake of [...wakers]) wake();
  }

  private wakeAll(): void {
    for (const key of [...this.waiters.keys()]) this.wake(key);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private async l2Call<T>(operation: string, key: string | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      this.reportL2(error, operation, key);
      throw error;
    }
  }

  private reportL2(error: unknown, operation: string, key: string | undefined): void {
    if (!isBackendFailure(error)) return;
    this.l2Failures++;
    this.emit({ type: "l2-failed", operation, key, error: error as InfrastructureError, fallback: "none" });
  }

  private envelope(value: V, ttlMs: number, tags: readonly string[] | undefined): Envelope<V> {
    const envelope: Envelope<V> = { v: value };
    if (ttlMs > 0) envelope.e = Date.now() + ttlMs;
    if (tags !== undefined) envelope.t = tags;
    return envelope;
  }

  private unwrap(envelope: unknown, key: string): V {
    if (typeof envelope !== "object" || envelope === null || !("v" in envelope)) {
      throw new InfrastructureError(
        "INTERNAL",
        `the L2 entry of cache key "${key}" was not written by a tiered cache (no envelope)`,
        { retryable: false },
      );
    }
    return (envelope as Envelope<V>).v;
  }

  private ttlOf(options: CacheSetOptions | undefined): number {
    if (options?.ttlMs === undefined) return this.defaultTtlMs;
    const { ttlMs } = options;
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
      throw invalid(`ttlMs must be a positive integer of milliseconds, got ${String(ttlMs)}`);
    }
    return ttlMs;
  }

  private ensureOpen(): void {
    if (this.closing !== undefined) throw closedError(WHAT);
  }

  private emit(event: TieredCacheEvent): void {
    if (this.onEvent === undefined) return;
    try {
      this.onEvent(event);
    } catch {
      // A listener's failure must not change the cache's answer.
    }
  }
}

function hasSyncFace<V>(cache: Cache<V>): cache is Cache<V> & SyncL1<V> {
  const face = cache as Partial<SyncL1<V>>;
  return (
    typeof face.getSync === "function" &&
    typeof face.hasSync === "function" &&
    typeof face.setSync === "function" &&
    typeof face.deleteSync === "function" &&
    typeof face.deletePrefixSync === "function" &&
    typeof face.deleteByTagSync === "function" &&
    typeof face.clearSync === "function" &&
    typeof face.statsSync === "function"
  );
}

function isBackendFailure(error: unknown): boolean {
  return isInfrastructureError(error, "UNAVAILABLE") || isInfrastructureError(error, "TIMEOUT");
}

function asInfrastructureError(error: unknown): InfrastructureError {
  return isInfrastructureError(error)
    ? error
    : new InfrastructureError("INTERNAL", "unexpected failure", { cause: error });
}

function describe(invalidation: Invalidation): string {
  switch (invalidation.kind) {
    case "keys":
      return `write of cache key "${invalidation.keys[0]}"`;
    case "prefix":
      return `deletePrefix "${invalidation.prefix}"`;
    case "tag":
      return `deleteByTag "${invalidation.tag}"`;
    case "clear":
      return "clear";
  }
}

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}
