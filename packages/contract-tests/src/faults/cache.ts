import { type Cache, isOutcomeUnknown } from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sleep } from "../harness.js";
import { FaultProxy } from "./fault-proxy.js";
import { expectFailsWithin, expectRecoversWithin, expectSettlesWithin } from "./settle.js";

/**
 * What a `Cache` adapter over the network hands the fault suite. The suite puts a TCP
 * `FaultProxy` between the cache and its real server and reads what the server holds through a
 * second cache on the same namespace that bypasses the proxy.
 */
export interface CacheFaultHarness {
  /** The real server's TCP address. */
  target(): { host: string; port: number };
  /** A cache on a fresh, empty namespace that connects to `via` (the proxy) instead of the server. */
  create(via: { host: string; port: number }): Promise<Cache<unknown>>;
  /** A cache on the same namespace as `cache`, straight to the server: the suite's view of it. */
  direct(cache: Cache<unknown>): Promise<Cache<unknown>>;
  /** Empties the namespace and closes `cache` (some cases have closed it already). */
  destroy(cache: Cache<unknown>): Promise<void>;
  /** The adapter's documented bounds, as configured in `create`. */
  deadlines: {
    /** A call on one key settles within this. */
    callMs: number;
    /** Once the network is back, calls succeed again within this (reconnect back-off included). */
    recoverMs: number;
  };
}

/** Head room over the documented bounds for a loaded machine. */
const SLACK_MS = 3_000;

/**
 * Registers the fault suite for a `Cache` adapter: latency, a connection reset under a call, a
 * network gone silent (idle and under a call), an outage that ends, and a write whose reply is lost
 * after the server applied it. Every case checks that each call settles within the adapter's
 * documented deadline with a taxonomy error, that a write that may have been applied says so
 * (`isOutcomeUnknown`, never retryable), that the cache serves again by itself once the fault ends,
 * and that an outage does not turn into a loop of connection attempts.
 */
export function cacheFaultContract(name: string, harness: CacheFaultHarness): void {
  const { callMs, recoverMs } = harness.deadlines;
  const timeout = 4 * (callMs + recoverMs) + 4 * SLACK_MS;
  describe(`${name}: Cache under network faults`, { timeout }, () => {
    let proxy: FaultProxy;
    let cache: Cache<unknown>;
    let server: Cache<unknown>;

    beforeEach(async () => {
      proxy = await FaultProxy.start({ target: harness.target() });
      cache = await harness.create({ host: proxy.host, port: proxy.port });
      server = await harness.direct(cache);
    });
    afterEach(async () => {
      await proxy.heal().catch(() => undefined);
      await server?.close();
      await harness.destroy(cache);
      await proxy.close();
    });

    const recovers = (what: string) =>
      expectRecoversWithin(
        async () => {
          await cache.set("recovered", what);
          expect(await cache.get("recovered")).toBe(what);
        },
        recoverMs + SLACK_MS,
        { what: `the cache after ${what}` },
      );

    it("answers within its deadline under 100 ms of added latency each way", async () => {
      proxy.setLatency(100);
      await expectSettlesWithin(cache.set("slow", { n: 1 }), callMs + SLACK_MS, "a set");
      const read = await expectSettlesWithin(cache.get("slow"), callMs + SLACK_MS, "a get");
      expect(read.ok && read.value).toEqual({ n: 1 });
    });

    it("fails a call whose connection is reset with a taxonomy error, then serves again", async () => {
      await cache.set("k", "before");
      proxy.cutAll("reset");
      const settled = await expectSettlesWithin(
        cache.get("k"),
        callMs + SLACK_MS,
        "a get on a reset connection",
      );
      // A read on a connection reset before it was sent may be answered on a new connection.
      if (settled.ok) expect(settled.value).toBe("before");
      await recovers("a reset");
    });

    it("fails a read on a silent connection with TIMEOUT within its deadline, then serves again", async () => {
      await cache.set("k", "before");
      await proxy.set("silent");
      await expectFailsWithin(cache.get("k"), callMs + SLACK_MS, "TIMEOUT", "a get on a silent network");
      await expectFailsWithin(cache.has("k"), callMs + SLACK_MS, "TIMEOUT", "a second call, still silent");
      await proxy.heal();
      await recovers("a silent network");
    });

    it("reports a write whose reply was lost as an unknown outcome, never as retryable", async () => {
      await cache.set("k", "before");
      await proxy.set("lose-replies");
      const error = await expectFailsWithin(
        cache.set("k", "after"),
        callMs + SLACK_MS,
        ["TIMEOUT", "UNAVAILABLE"],
        "a set whose reply is lost",
      );
      expect(isOutcomeUnknown(error), `expected details.outcome "unknown": ${error.message}`).toBe(true);
      expect(error.retryable).toBe(false);
      // The server applied it: the caller was right not to assume either way.
      expect(await server.get("k")).toBe("after");
      await proxy.heal();
      await recovers("lost replies");
    });

    it("reports a setMany whose reply was lost as an unknown outcome (capabilities.batchWrites)", async (context) => {
      if (cache.setMany === undefined) {
        context.skip();
        return;
      }
      await cache.set("k", "before");
      await proxy.set("lose-replies");
      const error = await expectFailsWithin(
        cache.setMany([
          { key: "m1", value: 1 },
          { key: "m2", value: 2 },
        ]),
        callMs + SLACK_MS,
        ["TIMEOUT", "UNAVAILABLE"],
        "a setMany whose reply is lost",
      );
      expect(isOutcomeUnknown(error), `expected details.outcome "unknown": ${error.message}`).toBe(true);
      expect(error.retryable).toBe(false);
      expect(await server.get("m2")).toBe(2);
      await proxy.heal();
      await recovers("lost replies");
    });

    it("reports an addMembers whose reply was lost as an unknown outcome (capabilities.memberSets)", async (context) => {
      const addMembers = cache.addMembers;
      const hasMember = server.hasMember;
      if (addMembers === undefined || hasMember === undefined) {
        context.skip();
        return;
      }
      await addMembers.call(cache, "s", ["before"]);
      await proxy.set("lose-replies");
      const error = await expectFailsWithin(
        addMembers.call(cache, "s", ["m1", "m2"], { ttlMs: 60_000 }),
        callMs + SLACK_MS,
        ["TIMEOUT", "UNAVAILABLE"],
        "an addMembers whose reply is lost",
      );
      expect(isOutcomeUnknown(error), `expected details.outcome "unknown": ${error.message}`).toBe(true);
      expect(error.retryable).toBe(false);
      // The server applied it, all of it: the call is atomic.
      expect(await hasMember.call(server, "s", "m1")).toBe(true);
      expect(await hasMember.call(server, "s", "m2")).toBe(true);
      expect(await hasMember.call(server, "s", "before")).toBe(true);
      await proxy.heal();
      await recovers("lost replies");
    });

    it("fails calls in time during an outage without a loop of reconnects, and serves again after it", async () => {
      await cache.set("k", "before");
      await proxy.set("outage-reset");
      proxy.resetCounters();
      await expectFailsWithin(
        cache.get("k"),
        callMs + SLACK_MS,
        ["UNAVAILABLE", "TIMEOUT"],
        "a get in an outage",
      );
      await sleep(3_000);
      // Connection attempts back off: a loop would make hundreds in three seconds.
      expect(proxy.rejectedConnections, "connection attempts while the server was down").toBeLessThan(40);
      await proxy.heal();
      await recovers("an outage");
      expect(await cache.get("k")).toBe("before");
    });
  });
}
