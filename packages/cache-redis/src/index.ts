import type { JsonValue } from "@proj/ports";
import { RedisCache, type RedisCacheOptions } from "./redis-cache.js";

export type { RedisCache, RedisCacheOptions, RedisCacheSerializer, RedisPublication } from "./redis-cache.js";

/**
 * A `Cache` shared by every process that opens the same namespace on the same Redis. The returned
 * object also exposes `namespace` and the ioredis `client` for what the port does not cover.
 */
export function createRedisCache<V = JsonValue>(options: RedisCacheOptions<V>): RedisCache<V> {
  return new RedisCache<V>(options);
}
