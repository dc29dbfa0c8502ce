import { createMemoryCache } from "@proj/cache-memory";
import { createRedisCache } from "@proj/cache-redis";
import { expectErrorCode, sleep, uniqueName } from "@proj/contract-tests";
import type { InfrastructureError } from "@proj/ports";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import {
  createRedisInvalidationBus,
  createRedisLoaderLock,
  type Invalidation,
  type InvalidationListener,
  type RedisInvalidationBus,
} from "../src/index.js";
import { destroyTiered, namespaceOf, openTiered, REDIS_URL, untilTrusted } from "./support/tiered.js";

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((closer) => closer.close()));
});

interface Recorded {
  received: { invalidation: Invalidation; sentAt: number }[];
  confirmed: number[];
  subscribed: number[];
  errors: InfrastructureError[];
}

function listening(bus: RedisInvalidationBus): Recorded {
  const recorded: Recorded = { received: [], confirmed: [], subscribed: [], errors: [] };
  const listener: InvalidationListener = {
    onInvalidation: (invalidation, sentAt) => recorded.received.push({ invalidation, sentAt }),
    onConfirmed: (at) => recorded.confirmed.push(at),
    onDown: (error) => recorded.errors.push(error),
    onSubscribed: (at) => recorded.subscribed.push(at),
  };
  bus.listen(listener);
  return recorded;
}

function bus(
  channel: string,
  options: { localDelivery?: boolean; onError?: (e: InfrastructureError) => void } = {},
) {
  const made = createRedisInvalidationBus({ channel, url: REDIS_URL, heartbeatMs: 100, ...options });
  closers.push(made);
  return made;
}

async function until(probe: () => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe("the Redis invalidation bus", () => {
  it("delivers to the other buses on the channel through Redis, never back to the publisher", async () => {
    const channel = uniqueName("bus");
    const a = bus(channel, { localDelivery: false });
    const b = bus(channel, { localDelivery: false });
    const other = bus(uniqueName("bus"), { localDelivery: false });
    const [seenA, seenB, seenOther] = [listening(a), listening(b), listening(other)];
    await until(() => seenA.subscribed.length > 0 && seenB.subscribed.length > 0, "both subscribed");
    const before = performance.timeOrigin + performance.now();
    await a.publish({ kind: "keys", keys: ["k1", "k2"] });
    await a.publish({ kind: "prefix", prefix: "tenant:" });
    await a.publish({ kind: "tag", tag: "t" });
    await a.publish({ kind: "clear" });
    await until(() => seenB.received.length === 4, "b received all four");
    expect(seenB.received.map((r) => r.invalidation)).toEqual([
      { kind: "keys", keys: ["k1", "k2"] },
      { kind: "prefix", prefix: "tenant:" },
      { kind: "tag", tag: "t" },
      { kind: "clear" },
    ]);
    expect(seenB.received[0]!.sentAt).toBeGreaterThanOrEqual(before);
    await sleep(100);
    expect(seenA.received, "a bus never receives its own invalidations").toEqual([]);
    expect(seenOther.received, "another channel hears nothing").toEqual([]);
  });

  it("hands invalidations to a bus of the same process before publish resolves", async () => {
    const channel = uniqueName("bus");
    const a = bus(channel);
    const b = bus(channel);
    listening(a);
    const seenB = listening(b);
    await a.publish({ kind: "keys", keys: ["k"] });
    expect(seenB.received.map((r) => r.invalidation)).toEqual([{ kind: "keys", keys: ["k"] }]);
    await sleep(200);
    expect(seenB.received, "the copy Redis brings back is ignored").toHaveLength(1);
  });

  it("confirms delivery with a heartbeat while subscribed", async () => {
    const seen = listening(bus(uniqueName("bus")));
    await until(() => seen.confirmed.length >= 3, "three confirmations");
    expect(seen.confirmed[2]!).toBeGreaterThan(seen.confirmed[0]!);
    expect(seen.confirmed[0]!).toBeGreaterThanOrEqual(seen.subscribed[0]!);
  });

  it("reports a malformed message and delivers nothing for it", async () => {
    const channel = uniqueName("bus");
    const errors: InfrastructureError[] = [];
    const b = bus(channel, { onError: (error) => errors.push(error) });
    const seen = listening(b);
    await until(() => seen.subscribed.length > 0, "subscribed");
    const raw = new Redis(REDIS_URL);
    try {
      await raw.publish(b.channel, "not json");
      await raw.publish(b.channel, JSON.stringify({ o: "x", s: 0, k: "keys", v: "not an array" }));
      await raw.publish(b.channel, JSON.stringify({ o: "x", s: 0, k: "unknown" }));
    } finally {
      raw.disconnect();
    }
    await until(() => errors.length === 3, "three errors");
    expect(errors.map((error) => error.code)).toEqual(["INTERNAL", "INTERNAL", "INTERNAL"]);
    expect(seen.received).toEqual([]);
  });

  it("refuses a second listener, a bad channel, and publish after close", async () => {
    const b = bus(uniqueName("bus"));
    listening(b);
    expect(() => listening(b)).toThrow(/already has a listener/);
    await expectErrorCode(() => createRedisInvalidationBus({ channel: "" }), "INVALID_ARGUMENT");
    await b.close();
    await b.close();
    await expectErrorCode(b.publish({ kind: "clear" }), "CLOSED");
  });

  it("fails a publish fast with UNAVAILABLE when Redis refuses connections", async () => {
    const b = createRedisInvalidationBus({
      channel: uniqueName("bus"),
      url: "redis://127.0.0.1:1",
      publishTimeoutMs: 1_000,
    });
    closers.push(b);
    await sleep(100);
    const started = performance.now();
    const error = (await b.publish({ kind: "clear" }).then(
      () => undefined,
      (e: unknown) => e,
    )) as InfrastructureError;
    expect(["UNAVAILABLE", "TIMEOUT"]).toContain(error.code);
    expect(performance.now() - started).toBeLessThan(2_500);
  });
});

describe("an invalidation riding on the L2 write", () => {
  it("attaches to an L2 on the bus's Redis, and reaches this process's buses only once sent", async () => {
    const channel = uniqueName("bus");
    const a = bus(channel);
    const sibling = bus(channel);
    const remote = bus(channel, { localDelivery: false });
    listening(a);
    const [seenSibling, seenRemote] = [listening(sibling), listening(remote)];
    await until(() => seenRemote.subscribed.length > 0, "the remote bus subscribed");
    const l2 = createRedisCache({ namespace: channel, url: REDIS_URL });
    closers.push({
      close: async () => {
        await l2.clear();
        await l2.close();
      },
    });
    const invalidation: Invalidation = { kind: "keys", keys: ["k"] };
    const attached = a.attach(invalidation, l2);
    expect(attached?.channel).toBe(a.channel);
    await l2.setAndPublish("k", 1, attached!);
    expect(seenSibling.received, "nothing in this process before sent()").toEqual([]);
    attached!.sent();
    expect(seenSibling.received.map((r) => r.invalidation)).toEqual([invalidation]);
    await until(() => seenRemote.received.length === 1, "the remote bus received it through Redis");
    expect(seenRemote.received[0]!.invalidation).toEqual(invalidation);
    await sleep(100);
    expect(seenSibling.received, "the copy Redis brings back is ignored").toHaveLength(1);

    const elsewhere = createRedisCache({ namespace: channel, url: "redis://127.0.0.1:1" });
    closers.push(elsewhere);
    expect(a.attach(invalidation, elsewhere), "an L2 on another server").toBeUndefined();
    const memory = createMemoryCache({ maxEntries: 10 });
    closers.push(memory);
    expect(a.attach(invalidation, memory), "an L2 that is not Redis").toBeUndefined();
  });

  it("sends one message per set of a tiered cache over Redis, and the other instance drops its L1 entry", async () => {
    const writer = openTiered<string>();
    const reader = openTiered<string>({ namespace: namespaceOf(writer) });
    const raw = new Redis(REDIS_URL);
    const messages: string[] = [];
    raw.on("message", (_channel: string, message: string) => messages.push(message));
    try {
      await raw.subscribe(`proj-cache-invalidation:${namespaceOf(writer)}`);
      await Promise.all([untilTrusted(writer), untilTrusted(reader)]);
      await writer.set("k", "v1");
      expect(await reader.get("k")).toBe("v1");
      await writer.set("k", "v2");
      await until(() => reader.health().invalidationsReceived === 2, "the reader got both invalidations");
      expect(await reader.get("k")).toBe("v2");
      await sleep(100);
      expect(messages.map((text) => (JSON.parse(text) as { v: unknown }).v)).toEqual([["k"], ["k"]]);
    } finally {
      raw.disconnect();
      await Promise.all([destroyTiered(writer), reader.close()]);
    }
  });
});

describe("the Redis loader lock", () => {
  it("gives a key's lock to one holder at a time, and to the next once released or expired", async () => {
    const namespace = uniqueName("lock");
    const lock = createRedisLoaderLock({ namespace, url: REDIS_URL });
    const other = createRedisLoaderLock({ namespace, url: REDIS_URL });
    const elsewhere = createRedisLoaderLock({ namespace: `${namespace}:x`, url: REDIS_URL });
    closers.push(lock, other, elsewhere);
    const lease = await lock.tryAcquire("k", 5_000);
    expect(lease).toBeDefined();
    expect(await other.tryAcquire("k", 5_000), "held").toBeUndefined();
    expect(await other.tryAcquire("k2", 5_000), "another key is free").toBeDefined();
    expect(await elsewhere.tryAcquire("k", 5_000), "another namespace is free").toBeDefined();
    expect(await lease!.confirm(5_000), "the holder passes the fencing check").toBe(true);
    await lease!.release();
    const next = await other.tryAcquire("k", 100);
    expect(next).toBeDefined();
    await sleep(300);
    expect(await next!.confirm(5_000), "an expired lease fails the fencing check").toBe(false);
    const third = await lock.tryAcquire("k", 5_000);
    expect(third, "an expired lock is free").toBeDefined();
    await next!.release();
    expect(
      await other.tryAcquire("k", 5_000),
      "a stale release does not free another's lock",
    ).toBeUndefined();
    await third!.release();
  });
});
