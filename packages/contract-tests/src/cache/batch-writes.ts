import { type Cache, type CacheEntry, MAX_CACHE_BATCH } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep } from "../harness.js";
import { type CacheHarness, deferred, PAST_SHORT_TTL_MS, SHORT_TTL_MS, withExtraCache } from "./harness.js";

/** `setMany` (`capabilities.batchWrites`): each entry written as `set` would, in one call. */
export function batchWriteTests(cache: () => Cache, harness: CacheHarness): void {
  const batchWrites = harness.capabilities.batchWrites === true;
  const setMany = (entries: readonly CacheEntry[], target: Cache = cache()) =>
    (target.setMany as NonNullable<Cache["setMany"]>).call(target, entries);

  describe("setMany", () => {
    it("offers setMany exactly when capabilities.batchWrites is true", () => {
      expect(typeof cache().setMany === "function").toBe(batchWrites);
    });

    it.skipIf(!batchWrites)("writes every entry, values equal to what was given", async () => {
      const values = [null, 0, "", false, "text", { nested: [1, "two", { three: 3 }] }, [1, 2, 3]];
      await setMany(values.map((value, index) => ({ key: `k${index}`, value })));
      for (const [index, value] of values.entries()) expect(await cache().get(`k${index}`)).toEqual(value);
      await cache().set("k0", "overwritten by set");
      await setMany([{ key: "k1", value: "overwritten by setMany" }]);
      expect(await cache().get("k0")).toBe("overwritten by set");
      expect(await cache().get("k1")).toBe("overwritten by setMany");
    });

    it.skipIf(!batchWrites)(
      "resolves at once for no entries, and the later entry of one key wins",
      async () => {
        await setMany([]);
        await setMany([
          { key: "twice", value: "first" },
          { key: "other", value: 1 },
          { key: "twice", value: "second" },
        ]);
        expect(await cache().get("twice")).toBe("second");
        expect(await cache().get("other")).toBe(1);
      },
    );

    it.skipIf(!batchWrites)("gives each entry its own TTL", async () => {
      await setMany([
        { key: "short", value: 1, ttlMs: SHORT_TTL_MS },
        { key: "long", value: 2, ttlMs: 60_000 },
        { key: "forever", value: 3 },
      ]);
      expect(await cache().get("short")).toBe(1);
      await sleep(PAST_SHORT_TTL_MS);
      expect(await cache().has("short"), "past its TTL").toBe(false);
      expect(await cache().get("long")).toBe(2);
      expect(await cache().get("forever")).toBe(3);
    });

    it.skipIf(!batchWrites || !harness.createWithDefaultTtl)(
      "applies the cache's default TTL to an entry without ttlMs",
      async () => {
        const make = harness.createWithDefaultTtl as NonNullable<CacheHarness["createWithDefaultTtl"]>;
        await withExtraCache(
          harness,
          () => make(SHORT_TTL_MS),
          async (withDefault) => {
            await setMany(
              [
                { key: "default", value: 1 },
                { key: "own", value: 2, ttlMs: 60_000 },
              ],
              withDefault,
            );
            await sleep(PAST_SHORT_TTL_MS);
            expect(await withDefault.has("default")).toBe(false);
            expect(await withDefault.get("own")).toBe(2);
          },
        );
      },
    );

    it.skipIf(!batchWrites || !harness.capabilities.tags)(
      "tags each entry with its own tags, replacing the tags of an earlier write",
      async () => {
        await cache().set("retagged", "v1", { tags: ["old"] });
        await setMany([
          { key: "a", value: 1, tags: ["group", "a-only"] },
          { key: "b", value: 2, tags: ["group"] },
          { key: "c", value: 3 },
          { key: "retagged", value: "v2" },
        ]);
        expect(await cache().deleteByTag("old"), "the entry's tags were replaced").toBe(0);
        expect(await cache().get("retagged")).toBe("v2");
        expect(await cache().deleteByTag("group")).toBe(2);
        expect(await cache().has("a")).toBe(false);
        expect(await cache().has("b")).toBe(false);
        expect(await cache().get("c")).toBe(3);
        expect(await cache().deleteByTag("a-only")).toBe(0);
      },
    );

    it.skipIf(!batchWrites || harness.capabilities.tags)(
      "refuses tags with NOT_SUPPORTED on a cache without tags, writing nothing",
      async () => {
        await expectErrorCode(
          setMany([
            { key: "plain", value: 1 },
            { key: "tagged", value: 2, tags: ["t"] },
          ]),
          "NOT_SUPPORTED",
        );
        expect(await cache().has("plain")).toBe(false);
      },
    );

    it.skipIf(!batchWrites)("refuses a bad entry before writing any", async () => {
      const bad: Array<[string, unknown]> = [
        ["not an array", { key: "k", value: 1 }],
        ["an entry that is not an object", [{ key: "first", value: 1 }, null]],
        [
          "an empty key",
          [
            { key: "first", value: 1 },
            { key: "", value: 1 },
          ],
        ],
        [
          "a key with a lone surrogate",
          [
            { key: "first", value: 1 },
            { key: "k\ud800", value: 1 },
          ],
        ],
        [
          "an undefined value",
          [
            { key: "first", value: 1 },
            { key: "k", value: undefined },
          ],
        ],
        [
          "a zero TTL",
          [
            { key: "first", value: 1 },
            { key: "k", value: 1, ttlMs: 0 },
          ],
        ],
        [
          "a fractional TTL",
          [
            { key: "first", value: 1 },
            { key: "k", value: 1, ttlMs: 1.5 },
          ],
        ],
        [
          "a bad tag",
          [
            { key: "first", value: 1 },
            { key: "k", value: 1, tags: [""] },
          ],
        ],
        [
          `more than ${MAX_CACHE_BATCH} entries`,
          Array.from({ length: MAX_CACHE_BATCH + 1 }, (_, i) => ({
            key: i === 0 ? "first" : `k${i}`,
            value: i,
          })),
        ],
      ];
      for (const [what, entries] of bad) {
        await expectErrorCode(setMany(entries as CacheEntry[]), "INVALID_ARGUMENT").catch(
          (error: unknown) => {
            throw new Error(`${what}: ${String(error)}`);
          },
        );
        expect(await cache().has("first"), `${what}: an entry was written`).toBe(false);
      }
      await setMany(Array.from({ length: MAX_CACHE_BATCH }, (_, i) => ({ key: `k${i}`, value: i })));
      expect(await cache().get(`k${MAX_CACHE_BATCH - 1}`), `${MAX_CACHE_BATCH} entries are taken`).toBe(
        MAX_CACHE_BATCH - 1,
      );
    });

    it.skipIf(!batchWrites)("wins over a running getOrSet load of one of its keys", async () => {
      const gate = deferred<string>();
      const load = cache().getOrSet("k", () => gate.promise);
      // Let the load start (a remote cache looks the key up first).
      await sleep(50);
      await setMany([{ key: "k", value: "written" }]);
      gate.resolve("stale");
      expect(await load, "the waiter still gets the loaded value").toBe("stale");
      expect(await cache().get("k"), "the overtaken load must not be stored").toBe("written");
    });

    it.skipIf(!batchWrites || !harness.capabilities.shared)(
      "writes what another instance reads",
      async () => {
        const createPeer = harness.createPeer as NonNullable<CacheHarness["createPeer"]>;
        await withExtraCache(
          harness,
          () => createPeer(cache()),
          async (peer) => {
            await setMany([
              { key: "x", value: { n: 1 } },
              { key: "y", value: "two" },
            ]);
            expect(await peer.get("x")).toEqual({ n: 1 });
            expect(await peer.get("y")).toBe("two");
          },
        );
      },
    );
  });
}
