import type { Cache } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep } from "../harness.js";
import { busyWait, type CacheHarness, PAST_SHORT_TTL_MS, SHORT_TTL_MS, withExtraCache } from "./harness.js";

const INVALID_TTLS: ReadonlyArray<readonly [string, number]> = [
  ["zero", 0],
  ["a negative number", -1],
  ["a fraction", 1.5],
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
];

export function ttlTests(cache: () => Cache, harness: CacheHarness): void {
  describe("time to live", () => {
    it("returns an entry before its TTL and never after it from get, has or getOrSet", async () => {
      await cache().set("short", "v", { ttlMs: SHORT_TTL_MS });
      await cache().set("forever", "w");
      expect(await cache().get("short")).toBe("v");
      await sleep(PAST_SHORT_TTL_MS);
      expect(await cache().get("short")).toBeUndefined();
      expect(await cache().has("short")).toBe(false);
      let calls = 0;
      const got = await cache().getOrSet("short", async () => {
        calls += 1;
        return "reloaded";
      });
      expect(got).toBe("reloaded");
      expect(calls).toBe(1);
      expect(await cache().get("forever"), "an entry set without a TTL must not expire").toBe("w");
    });

    it("never returns an entry past its TTL after long synchronous work with no lookup in between", async () => {
      // Each set is followed at once by blocking work longer than the TTL: no timer can fire, so an
      // adapter that judges expiry against a timer-refreshed clock sample would still serve it.
      await cache().set("k", "v", { ttlMs: SHORT_TTL_MS });
      busyWait(PAST_SHORT_TTL_MS);
      expect(await cache().get("k"), "get served an expired entry").toBeUndefined();
      await cache().set("k", "v", { ttlMs: SHORT_TTL_MS });
      busyWait(PAST_SHORT_TTL_MS);
      expect(await cache().has("k"), "has reported an expired entry").toBe(false);
      await cache().set("k", "v", { ttlMs: SHORT_TTL_MS });
      busyWait(PAST_SHORT_TTL_MS);
      expect(await cache().getOrSet("k", async () => "reloaded"), "getOrSet served an expired entry").toBe(
        "reloaded",
      );
    });

    it("answers has with false for an expired entry that get was never asked about", async () => {
      await cache().set("short", "v", { ttlMs: SHORT_TTL_MS });
      await sleep(PAST_SHORT_TTL_MS);
      expect(await cache().has("short")).toBe(false);
    });

    it("stores a getOrSet value with the call's TTL", async () => {
      const opts = { ttlMs: SHORT_TTL_MS };
      expect(await cache().getOrSet("k", async () => "first", opts)).toBe("first");
      expect(await cache().getOrSet("k", async () => "second", opts)).toBe("first");
      await sleep(PAST_SHORT_TTL_MS);
      expect(await cache().getOrSet("k", async () => "third", opts)).toBe("third");
    });

    it("replaces the TTL along with the value on set", async () => {
      await cache().set("k", "short-lived", { ttlMs: SHORT_TTL_MS });
      await cache().set("k", "kept");
      await sleep(PAST_SHORT_TTL_MS);
      expect(await cache().get("k")).toBe("kept");
    });

    it.each(INVALID_TTLS)("rejects a ttlMs of %s with INVALID_ARGUMENT", async (_label, ttlMs) => {
      await expectErrorCode(cache().set("k", 1, { ttlMs }), "INVALID_ARGUMENT");
      let calls = 0;
      await expectErrorCode(
        cache().getOrSet(
          "k",
          async () => {
            calls += 1;
            return 1;
          },
          { ttlMs },
        ),
        "INVALID_ARGUMENT",
      );
      expect(calls).toBe(0);
      expect(await cache().has("k")).toBe(false);
    });

    it.skipIf(!harness.createWithDefaultTtl)(
      "applies the default TTL when set has none, and an explicit ttlMs over it",
      async () => {
        const create = harness.createWithDefaultTtl!;
        await withExtraCache(
          harness,
          () => create(SHORT_TTL_MS),
          async (withDefault) => {
            await withDefault.set("default", "v");
            await withDefault.set("explicit", "w", { ttlMs: 60_000 });
            await withDefault.getOrSet("loaded", async () => "x");
            expect(await withDefault.get("default")).toBe("v");
            await sleep(PAST_SHORT_TTL_MS);
            expect(await withDefault.get("default")).toBeUndefined();
            expect(await withDefault.get("loaded")).toBeUndefined();
            expect(await withDefault.get("explicit")).toBe("w");
          },
        );
      },
    );
  });
}
