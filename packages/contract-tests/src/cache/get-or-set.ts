import type { Cache } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { deferred, eventually } from "./harness.js";

export function getOrSetTests(cache: () => Cache): void {
  describe("getOrSet", () => {
    it("calls the loader on a miss, stores its value and returns it", async () => {
      const seen: string[] = [];
      const got = await cache().getOrSet("tenant:1", async (key) => {
        seen.push(key);
        return { plan: "pro" };
      });
      expect(got).toEqual({ plan: "pro" });
      expect(seen).toEqual(["tenant:1"]);
      expect(await cache().get("tenant:1")).toEqual({ plan: "pro" });
    });

    it("shares one loader call between concurrent callers for one key", async () => {
      const gate = deferred<string>();
      let calls = 0;
      const loader = async () => {
        calls += 1;
        return gate.promise;
      };
      const waiters = Array.from({ length: 10 }, () => cache().getOrSet("k", loader));
      gate.resolve("loaded once");
      expect(await Promise.all(waiters)).toEqual(Array(10).fill("loaded once"));
      expect(calls).toBe(1);
      expect(await cache().get("k")).toBe("loaded once");
    });

    it("does not store a load that a delete or set overtook: the later write wins", async () => {
      const overtakenByDelete = deferred<string>();
      const deleted = cache().getOrSet("overtaken-by-delete", () => overtakenByDelete.promise);
      await cache().delete("overtaken-by-delete");
      overtakenByDelete.resolve("stale");
      expect(await deleted).toBe("stale");
      expect(await cache().get("overtaken-by-delete")).toBeUndefined();

      const overtakenBySet = deferred<string>();
      const set = cache().getOrSet("overtaken-by-set", () => overtakenBySet.promise);
      await cache().set("overtaken-by-set", "fresh");
      overtakenBySet.resolve("stale");
      await set;
      expect(await cache().get("overtaken-by-set")).toBe("fresh");
    });

    it("runs separate loaders for different keys", async () => {
      const loaded: string[] = [];
      const loader = async (key: string) => {
        loaded.push(key);
        return key.toUpperCase();
      };
      const [a, b] = await Promise.all([cache().getOrSet("a", loader), cache().getOrSet("b", loader)]);
      expect([a, b]).toEqual(["A", "B"]);
      expect(loaded.sort()).toEqual(["a", "b"]);
    });

    it("gives every waiter the loader's error as thrown, stores nothing, and retries on the next call", async () => {
      const gate = deferred<string>();
      const failure = new Error("database down");
      let calls = 0;
      const failing = async () => {
        calls += 1;
        await gate.promise;
        throw failure;
      };
      const waiters = Array.from({ length: 3 }, () =>
        cache()
          .getOrSet("k", failing)
          .catch((e: unknown) => e),
      );
      gate.resolve("go");
      const errors = await Promise.all(waiters);
      for (const error of errors) expect(error).toBe(failure);
      expect(calls).toBe(1);
      expect(await cache().has("k")).toBe(false);
      expect(await cache().get("k")).toBeUndefined();
      expect(await cache().getOrSet("k", async () => "recovered")).toBe("recovered");
      expect(await cache().get("k")).toBe("recovered");
    });

    it("rejects a loader that returns undefined with INVALID_ARGUMENT and stores nothing", async () => {
      await expectErrorCode(
        cache().getOrSet("k", async () => undefined),
        "INVALID_ARGUMENT",
      );
      expect(await cache().has("k")).toBe(false);
      expect(await cache().getOrSet("k", async () => "second try")).toBe("second try");
    });

    it("stores falsy loader values and serves them as hits", async () => {
      for (const [key, value] of [
        ["null", null],
        ["zero", 0],
        ["empty", ""],
        ["false", false],
      ] as const) {
        expect(await cache().getOrSet(key, async () => value)).toBe(value);
        let calls = 0;
        const again = await cache().getOrSet(key, async () => {
          calls += 1;
          return "reloaded";
        });
        expect(again, key).toBe(value);
        expect(calls, key).toBe(0);
      }
    });

    it("rejects with CANCELLED when the caller's signal fires, while the loader runs on and stores", async () => {
      const gate = deferred<string>();
      let loaderSignal: AbortSignal | undefined;
      const loader = async (_key: string, signal: AbortSignal) => {
        loaderSignal = signal;
        return gate.promise;
      };
      const controller = new AbortController();
      const cancelled = cache().getOrSet("k", loader, { signal: controller.signal });
      const patient = cache().getOrSet("k", loader);
      await eventually(async () => loaderSignal !== undefined, "the loader has started");
      controller.abort();
      await expectErrorCode(cancelled, "CANCELLED");
      expect(loaderSignal?.aborted, "the loader's own signal must not fire").toBe(false);
      gate.resolve("done");
      expect(await patient).toBe("done");
      await eventually(async () => (await cache().get("k")) === "done", "the loader's value is stored");
    });

    it("rejects with CANCELLED at once for an already aborted signal, without calling the loader", async () => {
      let calls = 0;
      await expectErrorCode(
        cache().getOrSet(
          "k",
          async () => {
            calls += 1;
            return 1;
          },
          { signal: AbortSignal.abort() },
        ),
        "CANCELLED",
      );
      expect(calls).toBe(0);
    });

    it("rejects with TIMEOUT when a timeout signal fires while waiting", async () => {
      const gate = deferred<string>();
      await expectErrorCode(
        cache().getOrSet("k", async () => gate.promise, { signal: AbortSignal.timeout(30) }),
        "TIMEOUT",
      );
      gate.resolve("late");
    });
  });
}
