import { type CacheHarness, cacheContract } from "@proj/contract-tests";
import { destroyTiered, openTiered, UNREACHABLE_URL } from "./support/tiered.js";

cacheContract("cache-tiered (cache-memory over cache-redis, Redis pub/sub bus)", {
  capabilities: { shared: true, staleWhileRevalidate: false, tags: true },
  create: async () => openTiered(),
  destroy: (cache) => destroyTiered(cache),
  createWithDefaultTtl: async (defaultTtlMs) => openTiered({ defaultTtlMs }),
  createPeer: async (cache) => {
    const { namespaceOf } = await import("./support/tiered.js");
    return openTiered({ namespace: namespaceOf(cache) });
  },
  // grace: false gives the port's plain failure sentence; the grace behaviour has tests of its own.
  createUnreachable: async () =>
    openTiered({ l2Url: UNREACHABLE_URL, busUrl: UNREACHABLE_URL, grace: false }),
  createInNamespace: async (namespace) => openTiered({ namespace }),
  valuesOutsideJson: "refused",
} satisfies CacheHarness);
