import { RedisInvalidationBus, type RedisInvalidationBusOptions } from "./redis-bus.js";
import { RedisLoaderLock, type RedisLoaderLockOptions } from "./redis-lock.js";
import { TieredCache, type TieredCacheOptions } from "./tiered-cache.js";

export type {
  AttachedInvalidation,
  Invalidation,
  InvalidationBus,
  InvalidationListener,
  LoaderLease,
  LoaderLock,
  PublishOptions,
} from "./bus.js";
export type { RedisInvalidationBus, RedisInvalidationBusOptions } from "./redis-bus.js";
export type { RedisTarget } from "./redis-connection.js";
export type { RedisLoaderLock, RedisLoaderLockOptions } from "./redis-lock.js";
export type { TieredCache, TieredCacheEvent, TieredCacheHealth, TieredCacheOptions } from "./tiered-cache.js";

/**
 * A `Cache` in two tiers: `l1` in this process, `l2` shared by every process, and `bus` telling the
 * other processes which L1 entries to drop after a write. The returned cache owns the three (and
 * `lock`): closing it closes them. Also exposes `health()`.
 */
export function createTieredCache<V = unknown>(options: TieredCacheOptions<V>): TieredCache<V> {
  return new TieredCache<V>(options);
}

/**
 * An `InvalidationBus` over Redis pub/sub, from a URL (`redis://…`, default
 * `redis://127.0.0.1:6379`) or an ioredis client of yours (used to publish; the subscriber is a
 * duplicate of it). Use one `channel` per L2 namespace.
 */
export function createRedisInvalidationBus(options: RedisInvalidationBusOptions): RedisInvalidationBus {
  return new RedisInvalidationBus(options);
}

/** A `LoaderLock` over Redis (`SET NX PX` with a token, checked before the holder stores). */
export function createRedisLoaderLock(options: RedisLoaderLockOptions): RedisLoaderLock {
  return new RedisLoaderLock(options);
}
