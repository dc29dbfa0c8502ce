import type { Cache } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { type CacheHarness, withExtraCache } from "./harness.js";

export function statsTests(cache: () => Cache, harness: CacheHarness): void {
  describe("stats", () => {
    it("starts at zero for a fresh cache", async () => {
      expect(await cache().stats()).toEqual({ hits: 0, misses: 0, evictions: 0, size: 0 });
    });

    it("counts hits and misses of get and getOrSet, and not of has", async () => {
      await cache().set("present", 1);
      await cache().get("present");
      await cache().get("absent");
      await cache().getOrSet("present", async () => 2);
      await cache().getOrSet("loaded", async () => 3);
      await cache().has("present");
      await cache().has("absent");
      const stats = await cache().stats();
      expect(stats.hits).toBe(2);
      expect(stats.misses).toBe(2);
    });

    it("reports the entries held as size", async () => {
      for (const key of ["a", "b", "c"]) await cache().set(key, key);
      expect((await cache().stats()).size).toBe(3);
      await cache().delete("b");
      expect((await cache().stats()).size).toBe(2);
    });

    it.skipIf(!harness.createBounded)("counts evictions for capacity and stays within it", async () => {
      const create = harness.createBounded!;
      await withExtraCache(
        harness,
        () => create(2),
        async (bounded) => {
          for (const key of ["a", "b", "c", "d"]) await bounded.set(key, key);
          const stats = await bounded.stats();
          expect(stats.evictions).toBe(2);
          expect(stats.size).toBe(2);
          expect(await bounded.get("d")).toBe("d");
        },
      );
    });
  });
}
