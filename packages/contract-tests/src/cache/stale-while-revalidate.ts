import type { Cache } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { sleep } from "../harness.js";
import { type CacheHarness, deferred, eventually, PAST_SHORT_TTL_MS, SHORT_TTL_MS } from "./harness.js";

export function staleWhileRevalidateTests(cache: () => Cache, harness: CacheHarness): void {
  const swr = harness.capabilities.staleWhileRevalidate;

  describe("stale-while-revalidate", () => {
    it.skipIf(!swr)(
      "serves the stale value at once past the TTL and runs one background refresh",
      async () => {
        const opts = { ttlMs: SHORT_TTL_MS, staleWhileRevalidateMs: 10_000 };
        await cache().getOrSet("k", async () => "v1", opts);
        await sleep(PAST_SHORT_TTL_MS);
        const gate = deferred<string>();
        let calls = 0;
        const refresh = async () => {
          calls += 1;
          return gate.promise;
        };
        // The refresh is still blocked on its gate, so these can only resolve with the stale value.
        const served = await Promise.all([
          cache().getOrSet("k", refresh, opts),
          cache().getOrSet("k", refresh, opts),
        ]);
        expect(served).toEqual(["v1", "v1"]);
        expect(calls).toBe(1);
        gate.resolve("v2");
        await eventually(async () => (await cache().get("k")) === "v2", "the refreshed value is stored");
        expect(await cache().getOrSet("k", async () => "unexpected", opts)).toBe("v2");
        expect(calls).toBe(1);
      },
    );

    it.skipIf(!swr)(
      "keeps serving the stale value after a failed refresh until the window ends",
      async () => {
        const windowMs = 700;
        const opts = { ttlMs: SHORT_TTL_MS, staleWhileRevalidateMs: windowMs };
        await cache().getOrSet("k", async () => "v1", opts);
        await sleep(PAST_SHORT_TTL_MS);
        let failures = 0;
        const failing = async (): Promise<string> => {
          failures += 1;
          throw new Error("refresh failed");
        };
        expect(await cache().getOrSet("k", failing, opts)).toBe("v1");
        await eventually(async () => failures >= 1, "the refresh has run");
        expect(await cache().getOrSet("k", failing, opts)).toBe("v1");
        await sleep(SHORT_TTL_MS + windowMs);
        expect(await cache().getOrSet("k", async () => "v3", opts)).toBe("v3");
      },
    );

    it.skipIf(!swr)("does not return a stale value from get or has", async () => {
      const opts = { ttlMs: SHORT_TTL_MS, staleWhileRevalidateMs: 10_000 };
      await cache().getOrSet("k", async () => "v1", opts);
      await sleep(PAST_SHORT_TTL_MS);
      expect(await cache().get("k")).toBeUndefined();
      expect(await cache().has("k")).toBe(false);
    });

    it.skipIf(swr)("treats staleWhileRevalidateMs as absent: an expired entry is loaded afresh", async () => {
      const opts = { ttlMs: SHORT_TTL_MS, staleWhileRevalidateMs: 10_000 };
      await cache().getOrSet("k", async () => "v1", opts);
      await sleep(PAST_SHORT_TTL_MS);
      let calls = 0;
      const got = await cache().getOrSet(
        "k",
        async () => {
          calls += 1;
          return "v2";
        },
        opts,
      );
      expect(got).toBe("v2");
      expect(calls).toBe(1);
    });
  });
}
