import { expectErrorCode, uniqueName } from "@proj/contract-tests";
import { type InfrastructureError, isInfrastructureError } from "@proj/ports";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createRedisCache, type RedisCache } from "../src/index.js";
import { destroyCache, openCache, REDIS_URL } from "./support/redis.js";
import { TcpProxy } from "./support/tcp-proxy.js";

let admin: Redis;
const opened: RedisCache<unknown>[] = [];

function track<V>(cache: RedisCache<V>): RedisCache<V> {
  opened.push(cache as RedisCache<unknown>);
  return cache;
}

beforeAll(() => {
  admin = new Redis(REDIS_URL);
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((cache) => destroyCache(cache)));
});
afterAll(async () => {
  await admin.quit();
});

async function eventually(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Fails the test if ioredis reports an error event nobody listened to. */
function watchUnhandledErrors() {
  const consoleError = vi.spyOn(console, "error");
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on("uncaughtException", onUncaught);
  return () => {
    process.off("uncaughtException", onUncaught);
    const unhandled = consoleError.mock.calls.filter((args) => String(args[0]).includes("Unhandled error"));
    consoleError.mockRestore();
    expect(unhandled, "ioredis printed an unhandled error event").toEqual([]);
    expect(uncaught).toEqual([]);
  };
}

describe("storage layout", () => {
  it("stores JSON under <namespace>:<key> with the TTL in Redis", async () => {
    const cache = track(openCache());
    await cache.set("tenant:1", { plan: "pro" }, { ttlMs: 60_000 });
    await cache.set("forever", [1, 2]);
    expect(await admin.get(`${cache.namespace}:tenant:1`)).toBe('{"plan":"pro"}');
    const ttl = await admin.pttl(`${cache.namespace}:tenant:1`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await admin.pttl(`${cache.namespace}:forever`)).toBe(-1);
  });

  it("uses a custom serializer both ways", async () => {
    const cache = track(
      openCache<Date>({
        serializer: {
          serialize: (date) => `date:${date.toISOString()}`,
          deserialize: (text) => new Date(text.slice(5)),
        },
      }),
    );
    const when = new Date("2026-01-02T03:04:05.000Z");
    await cache.set("when", when);
    expect(await admin.get(`${cache.namespace}:when`)).toBe("date:2026-01-02T03:04:05.000Z");
    expect(await cache.get("when")).toEqual(when);
  });

  it("rejects a value JSON cannot represent with INVALID_ARGUMENT", async () => {
    const cache = track(openCache<unknown>());
    await expectErrorCode(cache.set("big", 10n), "INVALID_ARGUMENT");
    await expectErrorCode(
      cache.set("fn", () => 1),
      "INVALID_ARGUMENT",
    );
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expectErrorCode(cache.set("circular", circular), "INVALID_ARGUMENT");
    await expectErrorCode(
      cache.getOrSet("loaded", async () => Symbol("x")),
      "INVALID_ARGUMENT",
    );
    expect(await cache.has("loaded")).toBe(false);
  });

  it("reports a stored value that does not parse as INTERNAL, naming the key", async () => {
    const cache = track(openCache());
    await admin.set(`${cache.namespace}:broken`, "{not json");
    const error = await expectErrorCode(cache.get("broken"), "INTERNAL");
    expect(error.message).toContain('"broken"');
  });

  it("unlinks a prefix over many SCAN steps", async () => {
    const cache = track(openCache({ scanCount: 7 }));
    await Promise.all(Array.from({ length: 100 }, (_, i) => cache.set(`t:${i}`, i)));
    await cache.set("u:1", 1);
    expect(await cache.deletePrefix("t:")).toBe(100);
    expect(await admin.exists(`${cache.namespace}:u:1`)).toBe(1);
  });

  it("names its connection after the namespace", async () => {
    const cache = track(openCache());
    await cache.get("warm-up");
    expect(await cache.client.client("GETNAME")).toBe(`proj-cache:${cache.namespace}`);
  });

  it("quits its connection on close", async () => {
    const cache = track(openCache());
    await cache.get("warm-up");
    const id = await cache.client.client("ID");
    await cache.close();
    expect(cache.client.status).toBe("end");
    const clients = String(await admin.client("LIST"));
    expect(clients).not.toMatch(new RegExp(`^id=${id} `, "m"));
  });

  it("rejects an empty namespace with INVALID_ARGUMENT", async () => {
    await expectErrorCode(() => createRedisCache({ namespace: "" }), "INVALID_ARGUMENT");
  });
});

describe("single-flight", () => {
  it("shares one GET and one loader between concurrent callers, and counts each caller", async () => {
    const cache = track(openCache());
    let loads = 0;
    const loader = async () => {
      loads += 1;
      return "v";
    };
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSet("k", loader)));
    expect(values).toEqual(Array(20).fill("v"));
    expect(loads).toBe(1);
    expect((await cache.stats()).misses).toBe(20);
  });

  it("does not store a load overtaken by a set from this process", async () => {
    const cache = track(openCache());
    let release!: (value: string) => void;
    const waiting = cache.getOrSet(
      "k",
      () =>
        new Promise<string>((resolve) => {
          release = resolve;
        }),
    );
    await eventually(async () => release !== undefined, "the loader has started");
    await cache.set("k", "written");
    release("loaded");
    expect(await waiting).toBe("loaded");
    expect(await cache.get("k")).toBe("written");
  });
});

describe("connection faults", () => {
  it("reconnects after its connection is killed from another client, without an unhandled error", async () => {
    const check = watchUnhandledErrors();
    const cache = track(openCache());
    await cache.set("k", "before");
    const name = `proj-cache:${cache.namespace}`;
    const line = String(await admin.client("LIST"))
      .split("\n")
      .find((entry) => entry.includes(` name=${name} `));
    const id = line?.match(/^id=(\d+) /)?.[1];
    expect(id, `no client named ${name} in CLIENT LIST`).toBeDefined();
    expect(await admin.client("KILL", "ID", id!)).toBe(1);
    expect(await cache.get("k")).toBe("before");
    await cache.set("k", "after");
    expect(await cache.get("k")).toBe("after");
    expect(await cache.client.client("ID")).not.toBe(Number(id));
    check();
  });

  it("fails with UNAVAILABLE while Redis is down and recovers when it is back on the same port", async () => {
    const check = watchUnhandledErrors();
    const proxy = await TcpProxy.start("127.0.0.1", Number(new URL(REDIS_URL).port || 6379));
    const connectionErrors: InfrastructureError[] = [];
    const cache = track(
      openCache({
        url: proxy.url,
        onError: (error) => connectionErrors.push(error),
        commandTimeoutMs: 1_000,
      }),
    );
    try {
      await cache.set("k", "kept");
      await proxy.stop();
      const error = await cache.get("k").then(
        () => "resolved",
        (caught: unknown) => (isInfrastructureError(caught) ? caught.code : String(caught)),
      );
      expect(["UNAVAILABLE", "TIMEOUT"]).toContain(error);
      await eventually(async () => connectionErrors.length > 0, "a refused reconnect is reported to onError");
      await proxy.restart();
      await eventually(
        async () => (await cache.get("k")) === "kept",
        "the cache reads through the restarted proxy",
      );
      expect(connectionErrors.length).toBeGreaterThan(0);
      expect(connectionErrors.every((e) => e.code === "UNAVAILABLE" || e.code === "TIMEOUT")).toBe(true);
    } finally {
      await proxy.stop();
    }
    check();
  });

  it("fails with TIMEOUT when Redis stops answering", async () => {
    const proxy = await TcpProxy.start("127.0.0.1", Number(new URL(REDIS_URL).port || 6379));
    const cache = track(openCache({ url: proxy.url, commandTimeoutMs: 200 }));
    try {
      await cache.set("k", 1);
      proxy.stall();
      await expectErrorCode(cache.get("k"), "TIMEOUT");
    } finally {
      await proxy.stop();
    }
  });

  it("fails with UNAVAILABLE when nothing listens, within the command timeout", async () => {
    const cache = track(openCache({ url: "redis://127.0.0.1:1", namespace: uniqueName("down") }));
    const started = Date.now();
    await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(2_500);
  });
});

describe("tags", () => {
  const members = (key: string) => admin.smembers(key).then((list) => list.sort());

  it("keeps a tag record per entry and a member set per tag, with the entry's TTL", async () => {
    const cache = track(openCache());
    const ns = cache.namespace;
    await cache.set("k", 1, { ttlMs: 60_000, tags: ["b", "a"] });
    expect(await members(`${ns}%E:k`)).toEqual(["a", "b"]);
    expect(await members(`${ns}%T:a`)).toEqual(["k"]);
    const recordTtl = await admin.pttl(`${ns}%E:k`);
    expect(recordTtl).toBeGreaterThan(50_000);
    expect(recordTtl).toBeLessThanOrEqual(60_000);
    expect(await admin.pttl(`${ns}%T:a`)).toBeGreaterThan(50_000);
    // A write without tags leaves the old tags' sets and drops the record.
    await cache.set("k", 2);
    expect(await admin.exists(`${ns}%E:k`, `${ns}%T:a`, `${ns}%T:b`)).toBe(0);
    // A delete does the same.
    await cache.set("k", 3, { tags: ["a"] });
    await cache.delete("k");
    expect(await admin.exists(`${ns}%E:k`, `${ns}%T:a`)).toBe(0);
  });

  it("makes a tag set persistent once an entry without TTL joins it", async () => {
    const cache = track(openCache());
    await cache.set("short", 1, { ttlMs: 60_000, tags: ["t"] });
    await cache.set("forever", 2, { tags: ["t"] });
    expect(await admin.pttl(`${cache.namespace}%T:t`)).toBe(-1);
  });

  it("bounds a tag set whose entries expire: tagged writes sweep the dead members", async () => {
    const cache = track(openCache());
    const set = `${cache.namespace}%T:t`;
    for (let i = 0; i < 300; i++) await cache.set(`dead:${i}`, i, { ttlMs: 50, tags: ["t"] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < 300; i++) await cache.set(`live:${i}`, i, { ttlMs: 60_000, tags: ["t"] });
    const size = await admin.scard(set);
    // 300 live members; without sweeping the set would hold 600.
    expect(size).toBeLessThan(400);
    expect(await cache.deleteByTag("t")).toBe(300);
    expect(await admin.exists(set)).toBe(0);
  });

  it("lets a tag set expire with its longest-lived entry", async () => {
    const cache = track(openCache());
    await cache.set("a", 1, { ttlMs: 100, tags: ["t"] });
    await cache.set("b", 2, { ttlMs: 300, tags: ["t"] });
    const ttl = await admin.pttl(`${cache.namespace}%T:t`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    await eventually(async () => (await admin.exists(`${cache.namespace}%T:t`)) === 0, "the tag set expired");
  });

  it("deletes a tag in batches of scanCount", async () => {
    const cache = track(openCache({ scanCount: 10 }));
    for (let i = 0; i < 35; i++) await cache.set(`k${i}`, i, { tags: ["t", `own${i}`] });
    expect(await cache.deleteByTag("t")).toBe(35);
    const left = await admin.keys(`${cache.namespace}*`);
    expect(left, "no entry, record or tag set left behind").toEqual([]);
  });

  it("leaves nothing of the namespace after clear, and nothing of a look-alike namespace is touched", async () => {
    const cache = track(openCache());
    const other = track(openCache({ namespace: `${cache.namespace}:sub` }));
    for (const c of [cache, other]) {
      await c.set("k", 1, { tags: ["t"] });
      await c.set("m", 2, { tags: ["t", "u"], ttlMs: 60_000 });
    }
    await cache.clear();
    expect(await admin.keys(`${cache.namespace}:*`)).toEqual([]);
    expect(await admin.keys(`${cache.namespace}%T:*`)).toEqual([]);
    expect(await admin.keys(`${cache.namespace}%E:*`)).toEqual([]);
    expect(await other.deleteByTag("t")).toBe(2);
  });
});

describe("member sets", () => {
  it("keeps a member set as a Redis SET under <namespace>%S:<key> with the call's TTL", async () => {
    const cache = track(openCache<unknown>({ namespace: `${uniqueName("sets")}:a%b` }));
    const encoded = cache.namespace.replace("%", "%25").replace(":", "%3A");
    await cache.set("k", "value");
    await cache.addMembers("k", ["m1", "m2", "m1"], { ttlMs: 60_000 });
    const full = `${encoded}%S:k`;
    expect(await admin.type(full)).toBe("set");
    expect((await admin.smembers(full)).sort()).toEqual(["m1", "m2"]);
    const ttl = await admin.pttl(full);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await admin.get(`${encoded}:k`), "the value is untouched").toBe('"value"');
    await cache.addMembers("k", ["m3"]);
    expect(await admin.pttl(full), "a call without TTL persists the set").toBe(-1);
    expect(await admin.scard(full)).toBe(3);
  });

  it("sends one command per addMembers and per hasMember", async () => {
    const cache = track(openCache());
    await cache.addMembers("warm", ["x"]);
    const sent: string[] = [];
    const original = cache.client.sendCommand.bind(cache.client);
    const spy = vi.spyOn(cache.client, "sendCommand").mockImplementation((command, stream) => {
      sent.push((command as { name: string }).name);
      return original(command, stream);
    });
    try {
      const members = Array.from({ length: 100 }, (_, i) => `job-${i}`);
      for (let round = 0; round < 5; round++) await cache.addMembers("done", members, { ttlMs: 60_000 });
      expect(await cache.hasMember("done", "job-99")).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(sent).toEqual([...Array(5).fill("evalsha"), "sismember"]);
  });

  it("leaves nothing of the namespace's sets after clear, and a look-alike namespace's are kept", async () => {
    const cache = track(openCache());
    const other = track(openCache({ namespace: `${cache.namespace}:sub` }));
    for (const c of [cache, other]) {
      await c.addMembers("s", ["a"]);
      await c.addMembers("t", ["b"], { ttlMs: 60_000 });
    }
    await cache.clear();
    expect(await admin.keys(`${cache.namespace}%S:*`)).toEqual([]);
    expect(await other.hasMember("s", "a")).toBe(true);
    expect(await other.hasMember("t", "b")).toBe(true);
  });

  it("keeps addMembers out of the read pipeline", async () => {
    const cache = track(openCache({ pipelineReads: true }));
    expect(cache.client.options.autoPipeliningIgnoredCommands).toContain("projCacheAddMembers");
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.addMembers("s", [`m${i}`])));
    const found = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.hasMember("s", `m${i}`)));
    expect(found.every(Boolean)).toBe(true);
  });
});

describe("pipelineReads", () => {
  it("auto-pipelines reads only, and answers concurrent reads and writes correctly", async () => {
    const cache = track(openCache({ pipelineReads: true }));
    expect(cache.client.options.enableAutoPipelining).toBe(true);
    expect(cache.client.options.autoPipeliningIgnoredCommands).toEqual(
      expect.arrayContaining(["projCacheSet", "projCacheSetPublish", "projCacheDelete", "unlink", "scan"]),
    );
    await Promise.all(Array.from({ length: 200 }, (_, i) => cache.set(`k${i}`, i, { tags: ["t"] })));
    const values = await Promise.all(Array.from({ length: 200 }, (_, i) => cache.get(`k${i}`)));
    expect(values).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(await Promise.all([cache.has("k1"), cache.has("absent")])).toEqual([true, false]);
    expect(await cache.deleteByTag("t")).toBe(200);
  });
});

describe("setAndPublish", () => {
  async function subscribe(channel: string): Promise<{ messages: string[]; close: () => Promise<void> }> {
    const subscriber = new Redis(REDIS_URL);
    const messages: string[] = [];
    subscriber.on("message", (_channel: string, message: string) => messages.push(message));
    await subscriber.subscribe(channel);
    return { messages, close: async () => void (await subscriber.quit()) };
  }

  it("publishes only once the entry is written: a subscriber reading on delivery sees the new value", async () => {
    const cache = track(openCache());
    const channel = uniqueName("publish");
    const reader = new Redis(REDIS_URL);
    // Per message: the write it announces, and what a read sent on its arrival found.
    const seen: { announced: number; read: number }[] = [];
    const subscriber = new Redis(REDIS_URL);
    // The read goes out when the message arrives, on another connection, as another process would.
    subscriber.on("message", (_channel: string, message: string) => {
      void reader.get(`${cache.namespace}:k`).then((text) => {
        seen.push({ announced: Number(message), read: (JSON.parse(text ?? "{}") as { n: number }).n });
      });
    });
    await subscriber.subscribe(channel);
    try {
      for (let n = 0; n < 50; n++) {
        await cache.setAndPublish(
          "k",
          { n },
          { channel, message: String(n) },
          { ttlMs: 60_000, tags: ["t"] },
        );
      }
      await eventually(async () => seen.length === 50, "every message was read back");
      expect(seen.map(({ announced }) => announced)).toEqual(Array.from({ length: 50 }, (_, n) => n));
      // Never older than the write the message announced (a later write may have landed since).
      expect(seen.filter(({ announced, read }) => !(read >= announced))).toEqual([]);
      expect(await admin.pttl(`${cache.namespace}:k`)).toBeGreaterThan(50_000);
      expect(await cache.deleteByTag("t")).toBe(1);
    } finally {
      await Promise.all([subscriber.quit(), reader.quit()]);
    }
  });

  it("publishes nothing when the write fails", async () => {
    const cache = track(openCache());
    const channel = uniqueName("publish");
    const { messages, close } = await subscribe(channel);
    try {
      // A tag record of the wrong type makes the script fail before it reaches PUBLISH.
      await admin.set(`${cache.namespace}%E:k`, "not a set");
      const failed = await cache.setAndPublish("k", 1, { channel, message: "k" }).then(
        () => undefined,
        (error: unknown) => error as InfrastructureError,
      );
      expect(isInfrastructureError(failed)).toBe(true);
      await expectErrorCode(
        cache.setAndPublish("k", undefined as never, { channel, message: "k" }),
        "INVALID_ARGUMENT",
      );
      await cache.setAndPublish("other", 2, { channel, message: "other" });
      await eventually(async () => messages.length > 0, "the successful write's message arrived");
      expect(messages).toEqual(["other"]);
    } finally {
      await admin.del(`${cache.namespace}%E:k`);
      await close();
    }
  });
});
