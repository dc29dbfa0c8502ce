import { MemoryCache, type MemoryCacheOptions } from "./memory-cache.js";

export type { MemoryCache, MemoryCacheOptions } from "./memory-cache.js";

/**
 * An in-process LRU cache. The returned object is the `Cache` port plus a synchronous path
 * (`getSync`, `setSync`, `hasSync`, `deleteSync`, `deletePrefixSync`, `deleteByTagSync`,
 * `clearSync`, `statsSync`, `addMembersSync`, `hasMemberSync`) for hot code that should not pay for a promise per lookup.
 */
export function createMemoryCache<V = unknown>(options: MemoryCacheOptions<V>): MemoryCache<V> {
  return new MemoryCache<V>(options);
}
