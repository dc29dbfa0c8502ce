import { createMemoryCache } from "@proj/cache-memory";
import { cacheContract } from "@proj/contract-tests";
import type { Cache } from "@proj/ports";
import { afterAll } from "vitest";
import { instrumentCache } from "../src/index.js";
import { expectSpansRecordedAndClosed } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();
const traced = (cache: Cache) => instrumentCache(cache, telemetry.options);

cacheContract("cache-memory through instrumentCache", {
  capabilities: { shared: false, staleWhileRevalidate: true, tags: true },
  create: async () => traced(createMemoryCache({ maxEntries: 10_000 })),
  createWithDefaultTtl: async (defaultTtlMs) =>
    traced(createMemoryCache({ maxEntries: 10_000, defaultTtlMs })),
  createBounded: async (maxEntries) => traced(createMemoryCache({ maxEntries })),
  valuesOutsideJson: "kept",
});
expectSpansRecordedAndClosed(telemetry, "Cache");

// No SDK registered and none given: the decorator passes every call straight through.
cacheContract("cache-memory through instrumentCache with no SDK", {
  capabilities: { shared: false, staleWhileRevalidate: true, tags: true },
  create: async () => instrumentCache(createMemoryCache({ maxEntries: 10_000 })),
  createWithDefaultTtl: async (defaultTtlMs) =>
    instrumentCache(createMemoryCache({ maxEntries: 10_000, defaultTtlMs })),
  createBounded: async (maxEntries) => instrumentCache(createMemoryCache({ maxEntries })),
  valuesOutsideJson: "kept",
});

afterAll(() => telemetry.shutdown());
