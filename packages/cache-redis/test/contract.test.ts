import { type CacheHarness, cacheContract } from "@proj/contract-tests";
import type { RedisCache } from "../src/index.js";
import { destroyCache, openCache, UNREACHABLE_URL } from "./support/redis.js";

cacheContract("cache-redis", {
  capabilities: {
    shared: true,
    staleWhileRevalidate: false,
    tags: true,
    batchWrites: true,
    memberSets: true,
  },
  create: async () => openCache(),
  destroy: (cache) => destroyCache(cache as RedisCache),
  createWithDefaultTtl: async (defaultTtlMs) => openCache({ defaultTtlMs }),
  createPeer: async (cache) => openCache({ namespace: (cache as RedisCache).namespace }),
  createUnreachable: async () => openCache({ url: UNREACHABLE_URL }),
  createInNamespace: async (namespace) => openCache({ namespace }),
  valuesOutsideJson: "refused",
} satisfies CacheHarness);
