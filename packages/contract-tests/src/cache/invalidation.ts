import type { Cache } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { type CacheHarness, withExtraCache } from "./harness.js";

export function invalidationTests(cache: () => Cache, harness: CacheHarness): void {
  describe("deletePrefix", () => {
    it("removes every key starting with the prefix and returns how many", async () => {
      for (const key of ["tenant:1:plan", "tenant:1:seats", "tenant:10:plan", "tenant:2:plan", "tenant:1"]) {
        await cache().set(key, key);
      }
      expect(await cache().deletePrefix("tenant:1:")).toBe(2);
      expect(await cache().has("tenant:1:plan")).toBe(false);
      expect(await cache().has("tenant:1:seats")).toBe(false);
      expect(await cache().get("tenant:10:plan")).toBe("tenant:10:plan");
      expect(await cache().get("tenant:2:plan")).toBe("tenant:2:plan");
      expect(await cache().get("tenant:1")).toBe("tenant:1");
    });

    it("returns 0 when no key starts with the prefix", async () => {
      await cache().set("a", 1);
      expect(await cache().deletePrefix("b")).toBe(0);
      expect(await cache().get("a")).toBe(1);
    });

    it("matches the prefix literally, wildcard and escape characters included", async () => {
      for (const key of ["a*1", "a*2", "ab", "a?x", "a[b]c", "ab]c", "a\\b", "a\\\\b"])
        await cache().set(key, key);
      expect(await cache().deletePrefix("a*")).toBe(2);
      expect(await cache().deletePrefix("a?")).toBe(1);
      expect(await cache().deletePrefix("a[b]")).toBe(1);
      expect(await cache().deletePrefix("a\\b")).toBe(1);
      expect(await cache().get("ab")).toBe("ab");
      expect(await cache().get("ab]c")).toBe("ab]c");
      expect(await cache().get("a\\\\b")).toBe("a\\\\b");
    });

    it("removes a prefix spanning many keys", async () => {
      const count = 1_200;
      await Promise.all(Array.from({ length: count }, (_, i) => cache().set(`bulk:${i}`, i)));
      await cache().set("other", 1);
      expect(await cache().deletePrefix("bulk:")).toBe(count);
      expect(await cache().has("bulk:0")).toBe(false);
      expect(await cache().has(`bulk:${count - 1}`)).toBe(false);
      expect(await cache().get("other")).toBe(1);
    });

    it("rejects an empty prefix with INVALID_ARGUMENT and removes nothing", async () => {
      await cache().set("a", 1);
      await expectErrorCode(cache().deletePrefix(""), "INVALID_ARGUMENT");
      expect(await cache().get("a")).toBe(1);
    });

    it("leaves another cache's entries alone", async () => {
      await withExtraCache(
        harness,
        () => harness.create(),
        async (other) => {
          await other.set("tenant:1:plan", "other's");
          await cache().set("tenant:1:plan", "mine");
          expect(await cache().deletePrefix("tenant:1:")).toBe(1);
          expect(await other.get("tenant:1:plan")).toBe("other's");
        },
      );
    });
  });

  describe("clear", () => {
    it("removes every entry of this cache and nothing of another", async () => {
      await withExtraCache(
        harness,
        () => harness.create(),
        async (other) => {
          await other.set("a", "other's");
          for (const key of ["a", "b", "c:d"]) await cache().set(key, key);
          await cache().clear();
          for (const key of ["a", "b", "c:d"]) expect(await cache().has(key), key).toBe(false);
          expect((await cache().stats()).size).toBe(0);
          expect(await other.get("a")).toBe("other's");
          await cache().set("a", "again");
          expect(await cache().get("a"), "the cache stays usable after clear").toBe("again");
        },
      );
    });
  });
}
