import { expectErrorCode } from "@proj/contract-tests";
import type { InfrastructureError } from "@proj/ports";
import { afterEach, describe, expect, it } from "vitest";
import type { RedisCache, RedisCacheOptions } from "../src/index.js";
import { reconnectDelay } from "../src/redis-calls.js";
import { destroyCache, openCache, REDIS_URL } from "./support/redis.js";
import { TcpProxy } from "./support/tcp-proxy.js";

/**
 * Faults made with real sockets: a TCP proxy between the cache and the shared Redis goes silent
 * (half-open), resets every connection, or comes back. Bounds are generous, for a loaded machine.
 */

const REDIS_PORT = Number(new URL(REDIS_URL).port || 6379);
/** Slack over a deadline for timers and a busy event loop on a shared 2-core machine. */
const SLACK_MS = 1_500;

const opened: RedisCache<unknown>[] = [];
const proxies: TcpProxy[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((cache) => destroyCache(cache)));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.stop()));
});

async function throughProxy(options: Partial<RedisCacheOptions<unknown>> = {}) {
  const proxy = await TcpProxy.start("127.0.0.1", REDIS_PORT);
  proxies.push(proxy);
  const cache = openCache<unknown>({ url: proxy.url, ...options });
  opened.push(cache);
  return { proxy, cache };
}

/** Resolves with how long `action` took to fail, and its error. */
async function timeFailure(action: () => Promise<unknown>) {
  const started = performance.now();
  let caught: unknown;
  try {
    await action();
  } catch (error) {
    caught = error;
  }
  return { elapsedMs: performance.now() - started, error: caught };
}

async function eventually(probe: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<number> {
  const started = performance.now();
  while (!(await probe().catch(() => false))) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return performance.now() - started;
}

describe("a silent (half-open) connection", () => {
  it("fails reads with TIMEOUT and writes with an unknown outcome, each within its deadline", async () => {
    const { proxy, cache } = await throughProxy({ commandTimeoutMs: 500 });
    await cache.set("k", "before");
    proxy.silence();

    const read = await timeFailure(() => cache.get("k"));
    await expectErrorCode(Promise.reject(read.error), "TIMEOUT");
    expect(read.elapsedMs).toBeLessThan(500 + SLACK_MS);

    const write = await timeFailure(() => cache.set("k", "during"));
    const writeError = await expectErrorCode(Promise.reject(write.error), "TIMEOUT");
    expect(write.elapsedMs).toBeLessThan(500 + SLACK_MS);
    expect(writeError.retryable).toBe(false);
    expect(writeError.details.outcome).toBe("unknown");
  });

  it("replaces the dead connection by itself and serves again once the network is back", async () => {
    const { proxy, cache } = await throughProxy({ commandTimeoutMs: 400 });
    await cache.set("k", "kept");
    const before = await cache.client.client("ID");
    proxy.silence();
    await expectErrorCode(cache.get("k"), "TIMEOUT");
    // Still silent: new connections are accepted but never answer; calls keep failing in time.
    const during = await timeFailure(() => cache.get("k"));
    await expectErrorCode(Promise.reject(during.error), "TIMEOUT");
    expect(during.elapsedMs).toBeLessThan(400 + SLACK_MS);

    proxy.heal();
    await eventually(async () => (await cache.get("k")) === "kept", "the cache reads again");
    expect(await cache.client.client("ID"), "the silent connection was not replaced").not.toBe(before);
    // The silenced sockets were destroyed by the client, not left open: one live connection remains.
    await eventually(async () => proxy.openConnections === 1, "only the new connection is open", 5_000);
  });

  it("honours a per-call timeoutMs over the adapter default, and a per-call signal", async () => {
    const { proxy, cache } = await throughProxy({ commandTimeoutMs: 3_000 });
    await cache.set("k", 1);
    proxy.silence();
    const shortened = await timeFailure(() => cache.get("k", { timeoutMs: 300 }));
    await expectErrorCode(Promise.reject(shortened.error), "TIMEOUT");
    expect(shortened.elapsedMs).toBeLessThan(300 + SLACK_MS);

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const cancelled = await timeFailure(() => cache.has("k", { signal: controller.signal }));
    await expectErrorCode(Promise.reject(cancelled.error), "CANCELLED");
    expect(cancelled.elapsedMs).toBeLessThan(200 + SLACK_MS);
  });

  it("fails each of several calls in flight at its own deadline, a shorter one sent after a longer one", async () => {
    const { proxy, cache } = await throughProxy({ commandTimeoutMs: 3_000 });
    await cache.set("k", 1);
    proxy.silence();
    const long = timeFailure(() => cache.get("k"));
    const short = await timeFailure(() => cache.get("k", { timeoutMs: 300 }));
    await expectErrorCode(Promise.reject(short.error), "TIMEOUT");
    expect(short.elapsedMs).toBeLessThan(300 + SLACK_MS);
    const longOutcome = await long;
    await expectErrorCode(Promise.reject(longOutcome.error), "TIMEOUT");
    expect(longOutcome.elapsedMs).toBeGreaterThanOrEqual(2_900);
  });

  it("bounds a call by the documented default of 2 s when nothing else is set", async () => {
    const { proxy, cache } = await throughProxy();
    await cache.set("k", 1);
    proxy.silence();
    const silent = await timeFailure(() => cache.get("k"));
    await expectErrorCode(Promise.reject(silent.error), "TIMEOUT");
    expect(silent.elapsedMs).toBeGreaterThanOrEqual(1_900);
    expect(silent.elapsedMs).toBeLessThan(2_000 + SLACK_MS);
  });

  it("bounds deletePrefix, clear and stats by one deadline for the whole walk", async () => {
    const { proxy, cache } = await throughProxy({ commandTimeoutMs: 300, scanTimeoutMs: 600 });
    await cache.set("a:1", 1);
    proxy.silence();
    for (const call of [() => cache.deletePrefix("a:"), () => cache.clear(), () => cache.stats()]) {
      const outcome = await timeFailure(call);
      await expectErrorCode(Promise.reject(outcome.error), "TIMEOUT");
      expect(outcome.elapsedMs).toBeLessThan(600 + SLACK_MS);
    }
  });

  it("closes within the command deadline although QUIT gets no answer", async () => {
    const { proxy, cache } = await throughProxy({ commandTimeoutMs: 300 });
    await cache.set("k", 1);
    proxy.silence();
    const started = performance.now();
    await cache.close();
    expect(performance.now() - started).toBeLessThan(300 + SLACK_MS);
    expect(cache.client.status).toBe("end");
  });
});

describe("close during a fault", () => {
  it("fails a call waiting for a connection with CLOSED at once, and ends the client", async () => {
    const proxy = await TcpProxy.start("127.0.0.1", REDIS_PORT);
    proxies.push(proxy);
    proxy.silence();
    const cache = openCache<unknown>({ url: proxy.url, commandTimeoutMs: 10_000 });
    opened.push(cache);
    const waiting = cache.get("k").then(
      () => "resolved",
      (error: unknown) => error,
    );
    const started = performance.now();
    await cache.close();
    await expectErrorCode(Promise.reject(await waiting), "CLOSED");
    expect(performance.now() - started).toBeLessThan(SLACK_MS);
    expect(cache.client.status).toBe("end");
  });
});

describe("an outage", () => {
  it("fails calls fast with UNAVAILABLE, reconnects with backoff instead of a loop, and recovers", async () => {
    const { proxy, cache } = await throughProxy({ commandTimeoutMs: 1_000 });
    await cache.set("k", "kept");
    proxy.resetNewConnections();
    await eventually(async () => proxy.accepted >= 2, "a reconnect attempt was refused");

    const refused = await timeFailure(() => cache.get("k"));
    const error = await expectErrorCode(Promise.reject(refused.error), "UNAVAILABLE");
    expect(error.retryable).toBe(true);
    expect(refused.elapsedMs).toBeLessThan(1_000 + SLACK_MS);

    // Back-off from 100 ms doubling to a 2 s cap, halved at worst by jitter: at most ~8 attempts in
    // 4 s. A loop without delay would make thousands.
    const attemptsBefore = proxy.accepted;
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const attempts = proxy.accepted - attemptsBefore;
    expect(attempts, "no reconnect attempt during the outage").toBeGreaterThanOrEqual(1);
    expect(attempts, "reconnect attempts came too fast").toBeLessThanOrEqual(10);

    proxy.heal();
    await eventually(async () => (await cache.get("k")) === "kept", "the cache reads again");
  });

  it("sends a read once more when the peer closes the connection under it; a write's outcome is unknown", async () => {
    const { proxy, cache } = await throughProxy({ commandTimeoutMs: 5_000 });
    await cache.set("k", "kept");
    proxy.silence();
    const read = cache.get("k");
    const write = cache.set("k2", "lost?").then(
      () => undefined,
      (error: unknown) => error as InfrastructureError,
    );
    // Both are on the wire, unanswered, when Redis goes away and comes back.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await proxy.stop();
    await proxy.restart();
    expect(await read).toBe("kept");
    const failed = await write;
    expect(failed?.code).toBe("UNAVAILABLE");
    expect(failed?.details).toMatchObject({ outcome: "unknown" });
  });

  it("waits for the connection within the deadline while Redis restarts, then answers", async () => {
    const { proxy, cache } = await throughProxy({ commandTimeoutMs: 5_000 });
    await cache.set("k", "kept");
    await proxy.stop();
    await proxy.restart();
    // The peer closed the connection; reads made meanwhile wait for the next one instead of failing.
    expect(await cache.get("k")).toBe("kept");
  });
});

describe("reconnect delays", () => {
  it("grow exponentially to a cap, with jitter over the upper half of each step", () => {
    expect(reconnectDelay(1, () => 0)).toBe(50);
    expect(reconnectDelay(1, () => 1)).toBe(100);
    expect(reconnectDelay(2, () => 0)).toBe(100);
    expect(reconnectDelay(4, () => 1)).toBe(800);
    expect(reconnectDelay(30, () => 0)).toBe(1_000);
    expect(reconnectDelay(30, () => 1)).toBe(2_000);
    const draws = new Set(Array.from({ length: 20 }, () => reconnectDelay(5)));
    expect(draws.size, "the delays are not jittered").toBeGreaterThan(1);
    for (const delay of draws) {
      expect(delay).toBeGreaterThanOrEqual(800);
      expect(delay).toBeLessThanOrEqual(1_600);
    }
  });
});
