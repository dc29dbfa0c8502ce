import type { Cache, CacheCallOptions } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";

const INVALID_TIMEOUTS: ReadonlyArray<readonly [string, number]> = [
  ["zero", 0],
  ["a negative number", -1],
  ["a fraction", 1.5],
  ["NaN", Number.NaN],
];

/** Every method of the port, called with `options`. */
function everyCall(
  cache: Cache,
  options: CacheCallOptions,
): Array<readonly [string, () => Promise<unknown>]> {
  return [
    ["get", () => cache.get("k", options)],
    ["set", () => cache.set("k", "v", options)],
    ["has", () => cache.has("k", options)],
    ["delete", () => cache.delete("k", options)],
    ["deletePrefix", () => cache.deletePrefix("k", options)],
    ["clear", () => cache.clear(options)],
    ["getOrSet", () => cache.getOrSet("k", async () => "loaded", options)],
    ["stats", () => cache.stats(options)],
    ...(cache.capabilities.tags ? ([["deleteByTag", () => cache.deleteByTag("t", options)]] as const) : []),
    ...(cache.capabilities.batchWrites
      ? ([
          [
            "setMany",
            () => (cache.setMany as NonNullable<Cache["setMany"]>)([{ key: "k", value: "v" }], options),
          ],
        ] as const)
      : []),
    ...(cache.capabilities.memberSets
      ? ([
          ["addMembers", () => (cache.addMembers as NonNullable<Cache["addMembers"]>)("k", ["m"], options)],
          ["hasMember", () => (cache.hasMember as NonNullable<Cache["hasMember"]>)("k", "m", options)],
        ] as const)
      : []),
  ];
}

export function callOptionsTests(cache: () => Cache): void {
  describe("per-call deadline and signal", () => {
    it("answers every method as usual with a timeoutMs, Infinity or a live signal", async () => {
      for (const options of [
        { timeoutMs: 10_000 },
        { timeoutMs: Number.POSITIVE_INFINITY },
        { signal: new AbortController().signal },
      ]) {
        await cache().set("k", "v", options);
        expect(await cache().get("k", options)).toBe("v");
        expect(await cache().has("k", options)).toBe(true);
        expect(await cache().getOrSet("k", async () => "loaded", options)).toBe("v");
        expect(await cache().delete("k", options)).toBe(true);
        await cache().set("p:1", 1, options);
        expect(await cache().deletePrefix("p:", options)).toBe(1);
        if (cache().capabilities.tags) {
          await cache().set("t:1", 1, { ...options, tags: ["t"] });
          expect(await cache().deleteByTag("t", options)).toBe(1);
        }
        if (cache().capabilities.batchWrites) {
          await (cache().setMany as NonNullable<Cache["setMany"]>)([{ key: "m", value: 1 }], options);
          expect(await cache().get("m")).toBe(1);
        }
        if (cache().capabilities.memberSets) {
          await (cache().addMembers as NonNullable<Cache["addMembers"]>)("s", ["a"], {
            ...options,
            ttlMs: 60_000,
          });
          expect(await (cache().hasMember as NonNullable<Cache["hasMember"]>)("s", "a", options)).toBe(true);
          expect(await (cache().hasMember as NonNullable<Cache["hasMember"]>)("s", "b", options)).toBe(false);
        }
        await cache().clear(options);
        expect((await cache().stats(options)).size).toBe(0);
      }
    });

    it.each(INVALID_TIMEOUTS)(
      "rejects a timeoutMs of %s with INVALID_ARGUMENT on every method",
      async (_label, timeoutMs) => {
        await cache().set("k", "kept");
        for (const [name, call] of everyCall(cache(), { timeoutMs })) {
          const error = await expectErrorCode(call, "INVALID_ARGUMENT");
          expect(error.message, name).toContain("timeoutMs");
        }
        expect(await cache().get("k"), "a refused call changed the cache").toBe("kept");
        if (cache().capabilities.memberSets) {
          expect(
            await (cache().hasMember as NonNullable<Cache["hasMember"]>)("k", "m"),
            "a refused addMembers added its member",
          ).toBe(false);
        }
      },
    );

    it("fails every method whose signal already fired with CANCELLED, and changes nothing", async () => {
      await cache().set("k", "kept");
      const controller = new AbortController();
      controller.abort();
      let loaderCalls = 0;
      for (const [name, call] of everyCall(cache(), { signal: controller.signal })) {
        await expectErrorCode(call, "CANCELLED").catch((error: unknown) => {
          throw new Error(`${name}: ${String(error)}`, { cause: error });
        });
      }
      await expectErrorCode(
        cache().getOrSet(
          "fresh",
          async () => {
            loaderCalls += 1;
            return 1;
          },
          { signal: controller.signal },
        ),
        "CANCELLED",
      );
      expect(loaderCalls).toBe(0);
      expect(await cache().get("k"), "a cancelled call changed the cache").toBe("kept");
      if (cache().capabilities.memberSets) {
        expect(
          await (cache().hasMember as NonNullable<Cache["hasMember"]>)("k", "m"),
          "a cancelled addMembers added its member",
        ).toBe(false);
      }
    });
  });
}
