import { createMemoryCache } from "@proj/cache-memory";
import { createRedisCache } from "@proj/cache-redis";
import { uniqueName } from "@proj/contract-tests";
import type { Cache } from "@proj/ports";
import {
  createRedisInvalidationBus,
  createRedisLoaderLock,
  createTieredCache,
  type TieredCache,
  type TieredCacheOptions,
} from "../../src/index.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const REDIS_TARGET = (() => {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379) };
})();
/** A port nothing listens on. */
export const UNREACHABLE_URL = "redis://127.0.0.1:1";

export interface OpenOptions
  extends Partial<Omit<TieredCacheOptions<unknown>, "l1" | "l2" | "bus" | "lock">> {
  namespace?: string;
  /** Where L2 connects (default REDIS_URL). */
  l2Url?: string;
  /** Where the bus and the lock connect (default REDIS_URL). */
  busUrl?: string;
  /** Without a loader lock. */
  noLock?: boolean;
  commandTimeoutMs?: number;
  heartbeatMs?: number;
  silenceMs?: number;
  maxEntries?: number;
}

const namespaces = new WeakMap<Cache<unknown>, string>();

export function openTiered<V = unknown>(options: OpenOptions = {}): TieredCache<V> {
  const namespace = options.namespace ?? uniqueName("tiered");
  const {
    l2Url = REDIS_URL,
    busUrl = REDIS_URL,
    noLock,
    commandTimeoutMs,
    heartbeatMs,
    silenceMs,
    maxEntries = 10_000,
    namespace: _namespace,
    ...rest
  } = options;
  const l2 = createRedisCache<unknown>({ namespace, url: l2Url, commandTimeoutMs, pipelineReads: true });
  const l1 = createMemoryCache<V>({ maxEntries });
  const bus = createRedisInvalidationBus({ channel: namespace, url: busUrl, heartbeatMs, silenceMs });
  const lock = noLock ? undefined : createRedisLoaderLock({ namespace, url: busUrl, commandTimeoutMs });
  const cache = createTieredCache<V>({ l1, l2, bus, lock, ...rest });
  namespaces.set(cache as Cache<unknown>, namespace);
  return cache;
}

export function namespaceOf(cache: Cache<unknown>): string {
  const namespace = namespaces.get(cache);
  if (namespace === undefined) throw new Error("not a cache opened by openTiered");
  return namespace;
}

/** Closes `cache` and empties its L2 namespace through a connection of its own. */
export async function destroyTiered(cache: Cache<unknown>): Promise<void> {
  await cache.close();
  const cleaner = createRedisCache({ namespace: namespaceOf(cache), url: REDIS_URL });
  try {
    await cleaner.clear();
  } finally {
    await cleaner.close();
  }
}

/** Resolves once `cache` serves from L1 (its bus subscribed and confirmed). */
export async function untilTrusted(cache: TieredCache<unknown>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cache.health().l1Trusted) {
    if (Date.now() > deadline) throw new Error("the tiered cache never trusted its L1 (bus not subscribed)");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
