import { type Cache, type CacheLoader, type InfrastructureError, isInfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { type CacheHarness, eventually, withExtraCache } from "./harness.js";

const BACKEND_FAILURE_CODES = ["UNAVAILABLE", "TIMEOUT"];

/** Every method of the port, called once with harmless arguments. */
function everyMethod(
  cache: Cache,
  loader: CacheLoader<unknown> = async () => 1,
): Array<readonly [string, () => Promise<unknown>]> {
  return [
    ["get", () => cache.get("k")],
    ["set", () => cache.set("k", 1)],
    ["has", () => cache.has("k")],
    ["delete", () => cache.delete("k")],
    ["deletePrefix", () => cache.deletePrefix("k")],
    ["clear", () => cache.clear()],
    ["getOrSet", () => cache.getOrSet("k", loader)],
    ["stats", () => cache.stats()],
    ...(cache.capabilities.tags
      ? ([
          ["deleteByTag", () => cache.deleteByTag("t")],
          ["set with tags", () => cache.set("k", 1, { tags: ["t"] })],
        ] as const)
      : []),
    ...(cache.capabilities.batchWrites
      ? ([
          ["setMany", () => (cache.setMany as NonNullable<Cache["setMany"]>)([{ key: "k", value: 1 }])],
        ] as const)
      : []),
    ...(cache.capabilities.memberSets
      ? ([
          ["addMembers", () => (cache.addMembers as NonNullable<Cache["addMembers"]>)("k", ["m"])],
          ["hasMember", () => (cache.hasMember as NonNullable<Cache["hasMember"]>)("k", "m")],
        ] as const)
      : []),
  ];
}

export function lifecycleTests(cache: () => Cache, harness: CacheHarness): void {
  describe("capabilities", () => {
    it("reports the capabilities the harness declares", () => {
      expect(cache().capabilities).toEqual(harness.capabilities);
    });

    it.skipIf(!harness.capabilities.shared)(
      "shares entries with another instance over the same namespace",
      async () => {
        expect(harness.createPeer, "a shared cache's harness must offer createPeer").toBeDefined();
        const peer = await harness.createPeer!(cache());
        try {
          await cache().set("k", { from: "first" });
          expect(await peer.get("k")).toEqual({ from: "first" });
          await peer.delete("k");
          expect(await cache().has("k")).toBe(false);
        } finally {
          await peer.close();
        }
      },
    );
  });

  describe("close", () => {
    it("fails every call after close with CLOSED", async () => {
      await cache().set("k", 1);
      await cache().close();
      for (const [name, call] of everyMethod(cache())) {
        const error = await expectErrorCode(call, "CLOSED");
        expect(error.message, name).toBeTruthy();
      }
    });

    it("is idempotent", async () => {
      await cache().close();
      await expect(cache().close()).resolves.toBeUndefined();
    });

    it("closes through Symbol.asyncDispose", async () => {
      await cache()[Symbol.asyncDispose]();
      await expectErrorCode(cache().get("k"), "CLOSED");
    });

    it("fires the loader's signal when the cache is closed", async () => {
      let loaderSignal: AbortSignal | undefined;
      const pending = cache().getOrSet("k", (_key, signal) => {
        loaderSignal = signal;
        return new Promise((_resolve, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      });
      const outcome = pending.then(
        () => "resolved",
        () => "rejected",
      );
      await eventually(async () => loaderSignal !== undefined, "the loader has started");
      expect(loaderSignal?.aborted).toBe(false);
      await cache().close();
      expect(loaderSignal?.aborted).toBe(true);
      expect(await outcome).toBe("rejected");
    });
  });

  describe("backend failure", () => {
    it.skipIf(!harness.createUnreachable)(
      "fails every backend call with UNAVAILABLE or TIMEOUT when the backend cannot be reached",
      async () => {
        const create = harness.createUnreachable!;
        await withExtraCache(harness, create, async (unreachable) => {
          let loaderCalls = 0;
          const calls = everyMethod(unreachable, async () => {
            loaderCalls += 1;
            return 1;
          });
          for (const [name, call] of calls) {
            let caught: unknown;
            try {
              await call();
            } catch (error) {
              caught = error;
            }
            expect(
              isInfrastructureError(caught),
              `${name} must fail with a taxonomy error: ${String(caught)}`,
            ).toBe(true);
            expect(BACKEND_FAILURE_CODES, `${name}: ${String(caught)}`).toContain(
              (caught as InfrastructureError).code,
            );
          }
          expect(loaderCalls, "getOrSet must not call the loader when the lookup failed").toBe(0);
        });
      },
    );
  });
}
