import { createRedisCache } from "@proj/cache-redis";
import { type FaultProxy, sleep, startFaultProxy } from "@proj/contract-tests";
import { isInfrastructureError } from "@proj/ports";
import { afterEach, describe, expect, it } from "vitest";
import { createRedisLoaderLock, type TieredCache, type TieredCacheEvent } from "../src/index.js";
import {
  destroyTiered,
  namespaceOf,
  type OpenOptions,
  openTiered,
  REDIS_TARGET,
  untilTrusted,
} from "./support/tiered.js";

/**
 * Redis (L2, or the bus) made unreachable or silent by the kit's fault proxy in front of it: the
 * shared Redis itself is never touched.
 */
const opened: TieredCache<unknown>[] = [];
const proxies: FaultProxy[] = [];

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await Promise.all(opened.splice(0).map((cache) => destroyTiered(cache)));
});

function open(options: OpenOptions = {}) {
  const events: TieredCacheEvent[] = [];
  const cache = openTiered<unknown>({ onEvent: (event) => events.push(event), ...options });
  opened.push(cache);
  return { cache, events };
}

async function proxy(): Promise<{ proxy: FaultProxy; url: string }> {
  const started = await startFaultProxy({ target: REDIS_TARGET });
  proxies.push(started);
  return { proxy: started, url: `redis://${started.host}:${started.port}` };
}

async function eventually(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

async function failure(action: Promise<unknown>) {
  try {
    await action;
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
}

describe("L2 down, bus up", () => {
  it("serves L1 hits and the loader, reports it, fails what neither can answer, and recovers", async () => {
    const { proxy: l2Proxy, url } = await proxy();
    const { cache, events } = open({ l2Url: url, commandTimeoutMs: 500 });
    await untilTrusted(cache);
    await cache.set("held", "in L1");
    await l2Proxy.set("outage");

    expect(await cache.get("held"), "an L1 hit needs no L2").toBe("in L1");
    let calls = 0;
    const loaded = await cache.getOrSet("absent", async () => {
      calls++;
      return "from the loader";
    });
    expect(loaded).toBe("from the loader");
    expect(calls).toBe(1);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "l2-failed",
        operation: "getOrSet",
        key: "absent",
        fallback: "loader",
      }),
    );
    expect(cache.health().degradedLoads).toBe(1);
    // The loaded value is kept in L1 (the bus still delivers): the next call needs neither.
    expect(await cache.getOrSet("absent", async () => "again")).toBe("from the loader");

    const missed = await failure(cache.get("never-held"));
    expect(isInfrastructureError(missed, "UNAVAILABLE") || isInfrastructureError(missed, "TIMEOUT")).toBe(
      true,
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: "l2-failed", operation: "get", fallback: "none" }),
    );
    const write = await failure(cache.set("held", "new"));
    expect(isInfrastructureError(write), String(write)).toBe(true);
    // The write may or may not have reached L2: L1 must not keep serving the old value.
    const after = await failure(cache.get("held"));
    expect(isInfrastructureError(after), "a failed write leaves no old value in L1").toBe(true);

    await l2Proxy.heal();
    await eventually(
      async () =>
        (await cache.set("after", 1).then(
          () => true,
          () => false,
        )) && (await cache.get("after")) === 1,
      "L2 serves again",
    );
  });

  it("with grace off, fails getOrSet without calling the loader", async () => {
    const { proxy: l2Proxy, url } = await proxy();
    const { cache } = open({ l2Url: url, commandTimeoutMs: 500, grace: false });
    await untilTrusted(cache);
    await l2Proxy.set("outage");
    let calls = 0;
    const error = await failure(
      cache.getOrSet("k", async () => {
        calls++;
        return 1;
      }),
    );
    expect(isInfrastructureError(error, "UNAVAILABLE") || isInfrastructureError(error, "TIMEOUT")).toBe(true);
    expect(calls).toBe(0);
  });
});

describe("bus down, L2 up", () => {
  it("serves L1 within the staleness bound while the bus is down, and drops L1 when it comes back", async () => {
    const { proxy: busProxy, url } = await proxy();
    const { cache, events } = open({ busUrl: url, maxStaleMs: 60_000, heartbeatMs: 200, silenceMs: 500 });
    const writer = open({ namespace: namespaceOf(cache) }).cache;
    await Promise.all([untilTrusted(cache), untilTrusted(writer)]);
    await writer.set("tenant:1", "active");
    // The writer's invalidation reaches `cache` through Redis (another connection): let it land first.
    await eventually(() => cache.health().invalidationsReceived === 1, "the first invalidation arrived");
    expect(await cache.get("tenant:1")).toBe("active");
    expect(cache.health().l1Hits).toBe(0);
    expect(await cache.get("tenant:1")).toBe("active");
    expect(cache.health().l1Hits, "the second read is an L1 hit").toBe(1);

    await busProxy.set("outage");
    await eventually(() => events.some((event) => event.type === "bus-down"), "the bus is reported down");
    await writer.set("tenant:1", "suspended");
    // Within maxStaleMs of the last confirmed delivery, L1 is still served: the documented staleness.
    expect(await cache.get("tenant:1")).toBe("active");
    expect(cache.health().bus).toBe("down");

    await busProxy.heal();
    await eventually(
      () => events.some((event) => event.type === "bus-up" && event.afterDown),
      "the bus is back",
    );
    const up = events.find((event) => event.type === "bus-up" && event.afterDown);
    expect(up).toMatchObject({ droppedL1Entries: 1 });
    expect(await cache.get("tenant:1"), "no silent staleness after the reconnect").toBe("suspended");
    expect(cache.health().l1Drops).toBe(1);
  });

  it("bypasses L1 once the bus has been silent for longer than maxStaleMs", async () => {
    const { proxy: busProxy, url } = await proxy();
    const maxStaleMs = 1_500;
    const { cache, events } = open({ busUrl: url, maxStaleMs, heartbeatMs: 200, silenceMs: 600 });
    const writer = open({ namespace: namespaceOf(cache) }).cache;
    await Promise.all([untilTrusted(cache), untilTrusted(writer)]);
    await writer.set("k", "v1");
    expect(await cache.get("k")).toBe("v1");
    await busProxy.set("silent");
    const silentAt = Date.now();
    await writer.set("k", "v2");
    await eventually(() => !cache.health().l1Trusted, "L1 is no longer trusted", 10_000);
    expect(Date.now() - silentAt, "trust lasts at most maxStaleMs past the last confirmation").toBeLessThan(
      maxStaleMs + 3_000,
    );
    expect(await cache.get("k"), "past the bound, reads go to L2").toBe("v2");
    expect(events.some((event) => event.type === "bus-down")).toBe(true);
    await busProxy.heal();
    await eventually(() => cache.health().l1Trusted, "L1 is trusted again after the bus came back");
    expect(await cache.get("k")).toBe("v2");
  });

  it("fails a write whose invalidation cannot be published, and publishes it once the bus is back", async () => {
    const { proxy: busProxy, url } = await proxy();
    const { cache, events } = open({ busUrl: url, publishTimeoutMs: 500 });
    const reader = open({ namespace: namespaceOf(cache) }).cache;
    await Promise.all([untilTrusted(cache), untilTrusted(reader)]);
    await cache.set("k", "v1");
    // Through Redis (the writer's bus goes through the proxy): let the invalidation land first.
    await eventually(() => reader.health().invalidationsReceived === 1, "the first invalidation arrived");
    expect(await reader.get("k")).toBe("v1");
    expect(await reader.get("k")).toBe("v1");
    expect(reader.health().l1Hits).toBe(1);

    await busProxy.set("outage");
    const error = await failure(cache.set("k", "v2"));
    expect(isInfrastructureError(error), String(error)).toBe(true);
    const infra = error as { code: string; details: Record<string, unknown>; retryable: boolean };
    expect(["UNAVAILABLE", "TIMEOUT"]).toContain(infra.code);
    expect(infra.details).toMatchObject({ l2: "written", invalidation: "pending" });
    expect(cache.health().pendingInvalidations).toBe(1);
    // The reader's bus is healthy and its L1 still holds v1: the write's caller was told.
    expect(await reader.get("k")).toBe("v1");

    await busProxy.heal();
    await eventually(
      () => events.some((event) => event.type === "publish-recovered"),
      "the invalidation went out",
    );
    await eventually(async () => (await reader.get("k")) === "v2", "the reader dropped v1");
    expect(cache.health().pendingInvalidations).toBe(0);
  });
});

describe("the loader lock", () => {
  it("does not store a value whose lock expired under the loader (fencing check)", async () => {
    const { cache, events } = open({ lockTtlMs: 100 });
    await untilTrusted(cache);
    const other = createRedisLoaderLock({ namespace: namespaceOf(cache), url: undefined });
    try {
      const loading = cache.getOrSet("k", async () => {
        await sleep(300);
        return "late";
      });
      // The loader's lock expires after 100 ms; another holder takes it.
      await sleep(200);
      const lease = await other.tryAcquire("k", 5_000);
      expect(lease, "the expired lock can be taken").toBeDefined();
      expect(await loading).toBe("late");
      expect(events).toContainEqual({ type: "lock-lost", key: "k" });
      const direct = createRedisCache({ namespace: namespaceOf(cache) });
      expect(await direct.get("k"), "a holder that lost its lock stores nothing").toBeUndefined();
      await direct.close();
      await lease?.release();
    } finally {
      await other.close();
    }
  });

  it("loads without the lock when the lock cannot be asked, and says so", async () => {
    const { proxy: lockProxy, url } = await proxy();
    // The bus and the lock through the proxy; L2 direct.
    const { cache, events } = open({ busUrl: url, commandTimeoutMs: 500, maxStaleMs: 60_000 });
    await untilTrusted(cache);
    await lockProxy.set("outage");
    expect(await cache.getOrSet("k", async () => "loaded")).toBe("loaded");
    expect(events).toContainEqual(expect.objectContaining({ type: "lock-failed", key: "k" }));
  });
});
