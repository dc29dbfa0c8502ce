import { uniqueName } from "@proj/contract-tests";
import { createRedisCache, type RedisCache, type RedisCacheOptions } from "../../src/index.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** A port nothing listens on. */
export const UNREACHABLE_URL = "redis://127.0.0.1:1";

export function openCache<V = unknown>(options: Partial<RedisCacheOptions<V>> = {}): RedisCache<V> {
  return createRedisCache<V>({ namespace: uniqueName("cache"), url: REDIS_URL, ...options });
}

/** Closes `cache` and removes whatever its namespace still holds, through a connection of its own. */
export async function destroyCache(cache: { namespace: string; close(): Promise<void> }): Promise<void> {
  await cache.close();
  const cleaner = createRedisCache({ namespace: cache.namespace, url: REDIS_URL });
  try {
    await cleaner.clear();
  } finally {
    await cleaner.close();
  }
}
