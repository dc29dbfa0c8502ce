import { cacheContract } from "@proj/contract-tests";
import { createMemoryCache } from "../src/index.js";

cacheContract("cache-memory", {
  capabilities: {
    shared: false,
    staleWhileRevalidate: true,
    tags: true,
    batchWrites: true,
    memberSets: true,
  },
  create: async () => createMemoryCache({ maxEntries: 10_000 }),
  createWithDefaultTtl: async (defaultTtlMs) => createMemoryCache({ maxEntries: 10_000, defaultTtlMs }),
  createBounded: async (maxEntries) => createMemoryCache({ maxEntries }),
  valuesOutsideJson: "kept",
});
