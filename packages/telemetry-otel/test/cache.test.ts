import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { createMemoryCache } from "@proj/cache-memory";
import { expectErrorCode } from "@proj/contract-tests";
import { withoutBatchWrites, withoutMemberSets } from "@proj/decorator-contracts";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { instrumentCache } from "../src/index.js";
import { isChildOf, TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();
beforeEach(() => telemetry.reset());
afterAll(() => telemetry.shutdown());

describe("instrumentCache", () => {
  it("records one CLIENT span per call, named and attributed by the database conventions", async () => {
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), telemetry.options);
    await cache.set("k", 1);
    await cache.get("k");
    await cache.has("k");
    await cache.delete("k");
    await cache.deletePrefix("k");
    await cache.set("t", 1, { tags: ["group"] });
    expect(await cache.deleteByTag("group")).toBe(1);
    await cache.setMany?.([{ key: "m", value: 1 }]);
    await cache.addMembers?.("s", ["a"]);
    await cache.hasMember?.("s", "a");
    await cache.clear();
    await cache.stats();
    await cache.close();
    expect(telemetry.spans().map((span) => span.name)).toEqual([
      "set",
      "get",
      "has",
      "delete",
      "deletePrefix",
      "set",
      "deleteByTag",
      "setMany",
      "addMembers",
      "hasMember",
      "clear",
      "stats",
    ]);
    const get = telemetry.one("get");
    expect(get.kind).toBe(SpanKind.CLIENT);
    expect(get.attributes).toEqual({
      "db.system.name": "other_cache",
      "db.operation.name": "get",
      "proj.port": "Cache",
      "proj.method": "get",
      "proj.cache.hit": true,
    });
    expect(get.status.code).toBe(SpanStatusCode.UNSET);
    expect(get.instrumentationScope.name).toBe("test");
  });

  it("records a setMany's entry count as db.operation.batch.size, on its span only", async () => {
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), telemetry.options);
    const setMany = cache.setMany as NonNullable<typeof cache.setMany>;
    await setMany([
      { key: "a", value: 1 },
      { key: "b", value: 2, ttlMs: 60_000, tags: ["t"] },
      { key: "c", value: 3 },
    ]);
    await setMany([{ key: "d", value: 4 }]);
    await expectErrorCode(
      setMany([
        { key: "e", value: 5 },
        { key: "", value: 6 },
      ]),
      "INVALID_ARGUMENT",
    );
    const [three, one, refused] = telemetry.named("setMany");
    expect(three?.attributes).toEqual({
      "db.system.name": "other_cache",
      "db.operation.name": "setMany",
      "db.operation.batch.size": 3,
      "proj.port": "Cache",
      "proj.method": "setMany",
    });
    expect(one?.attributes["db.operation.batch.size"], "one entry is no batch").toBeUndefined();
    expect(refused?.attributes).toMatchObject({
      "db.operation.batch.size": 2,
      "error.type": "INVALID_ARGUMENT",
    });
    const points = (await telemetry.points()).filter(
      (point) => point.attributes["proj.method"] === "setMany",
    );
    expect(points.length).toBeGreaterThan(0);
    for (const point of points) expect(point.attributes).not.toHaveProperty("db.operation.batch.size");
    await cache.close();
  });

  it("offers setMany exactly when the adapter does", async () => {
    const inner = createMemoryCache<unknown>({ maxEntries: 100 });
    expect(typeof instrumentCache(inner, telemetry.options).setMany).toBe("function");
    const single = instrumentCache(withoutBatchWrites(inner), telemetry.options);
    expect("setMany" in single).toBe(false);
    expect(single.capabilities.batchWrites).toBe(false);
    await inner.close();
  });

  it("records an addMembers' member count as db.operation.batch.size, on its span only; hasMember as has", async () => {
    const inner = createMemoryCache<unknown>({ maxEntries: 100 });
    const cache = instrumentCache(inner, telemetry.options);
    const addMembers = cache.addMembers as NonNullable<typeof cache.addMembers>;
    const hasMember = cache.hasMember as NonNullable<typeof cache.hasMember>;
    await addMembers("seen", ["a", "b", "c"], { ttlMs: 60_000 });
    await addMembers("seen", ["d"]);
    await expectErrorCode(addMembers("seen", ["e", ""]), "INVALID_ARGUMENT");
    expect(await hasMember("seen", "d")).toBe(true);
    expect(await hasMember("seen", "e"), "a refused call added nothing").toBe(false);
    await expectErrorCode(hasMember("seen", ""), "INVALID_ARGUMENT");
    expect(await inner.hasMember?.("seen", "b"), "the adapter got the members").toBe(true);
    const [three, one, refused] = telemetry.named("addMembers");
    expect(three?.attributes).toEqual({
      "db.system.name": "other_cache",
      "db.operation.name": "addMembers",
      "db.operation.batch.size": 3,
      "proj.port": "Cache",
      "proj.method": "addMembers",
    });
    expect(three?.kind).toBe(SpanKind.CLIENT);
    expect(one?.attributes["db.operation.batch.size"], "one member is no batch").toBeUndefined();
    expect(refused?.attributes).toMatchObject({
      "db.operation.batch.size": 2,
      "error.type": "INVALID_ARGUMENT",
    });
    expect(refused?.status.code).toBe(SpanStatusCode.ERROR);
    const [found, missing, bad] = telemetry.named("hasMember");
    expect(found?.attributes).toEqual({
      "db.system.name": "other_cache",
      "db.operation.name": "hasMember",
      "proj.port": "Cache",
      "proj.method": "hasMember",
    });
    expect(missing?.status.code).toBe(SpanStatusCode.UNSET);
    expect(bad?.attributes["error.type"]).toBe("INVALID_ARGUMENT");
    const points = (await telemetry.points()).filter((point) =>
      ["addMembers", "hasMember"].includes(String(point.attributes["proj.method"])),
    );
    expect(new Set(points.map((point) => point.attributes["proj.method"]))).toEqual(
      new Set(["addMembers", "hasMember"]),
    );
    for (const point of points) expect(point.attributes).not.toHaveProperty("db.operation.batch.size");
    await cache.close();
  });

  it("offers addMembers and hasMember exactly when the adapter does", async () => {
    const inner = createMemoryCache<unknown>({ maxEntries: 100 });
    const withSets = instrumentCache(inner, telemetry.options);
    expect(typeof withSets.addMembers).toBe("function");
    expect(typeof withSets.hasMember).toBe("function");
    expect(withSets.capabilities.memberSets).toBe(true);
    const without = instrumentCache(withoutMemberSets(inner), telemetry.options);
    expect("addMembers" in without).toBe(false);
    expect("hasMember" in without).toBe(false);
    expect(without.capabilities.memberSets).toBe(false);
    await inner.close();
  });

  it("marks get and getOrSet hits and misses, and nests the loader's calls under the getOrSet span", async () => {
    const source = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), telemetry.options);
    await source.set("upstream", "loaded");
    telemetry.reset();
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), telemetry.options);
    expect(await cache.get("k")).toBeUndefined();
    const loaded = await cache.getOrSet("k", async () => (await source.get("upstream")) as string);
    expect(loaded).toBe("loaded");
    expect(await cache.getOrSet("k", async () => "not called")).toBe("loaded");
    const [miss, hit] = telemetry.named("getOrSet");
    expect(telemetry.named("get").map((span) => span.attributes["proj.cache.hit"])).toEqual([false, true]);
    expect(miss?.attributes["proj.cache.hit"]).toBe(false);
    expect(hit?.attributes["proj.cache.hit"]).toBe(true);
    const loaderCall = telemetry
      .spans()
      .find((span) => span.name === "get" && span.attributes["proj.cache.hit"]);
    expect(loaderCall).toBeDefined();
    expect(isChildOf(loaderCall!, miss!)).toBe(true);
    await Promise.all([source.close(), cache.close()]);
  });

  it("is a child of the span active at the call", async () => {
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), telemetry.options);
    await telemetry.tracer.startActiveSpan("request", async (request) => {
      await cache.get("k");
      request.end();
    });
    expect(isChildOf(telemetry.one("get"), telemetry.one("request"))).toBe(true);
    await cache.close();
  });

  it("takes the system and namespace from the attributes option, into the span name too", async () => {
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), {
      ...telemetry.options,
      attributes: { "db.system.name": "redis", "db.namespace": "sessions" },
    });
    await cache.get("k");
    const span = telemetry.one("get sessions");
    expect(span.attributes["db.system.name"]).toBe("redis");
    expect(span.attributes["db.namespace"]).toBe("sessions");
    await cache.close();
  });

  it("records a failure as error.type with status ERROR, and no message unless asked", async () => {
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), telemetry.options);
    await cache.close();
    await expectErrorCode(cache.get("k"), "CLOSED");
    const span = telemetry.one("get");
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span.attributes["error.type"]).toBe("CLOSED");
    expect(span.events).toEqual([]);

    const verbose = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), {
      ...telemetry.options,
      recordErrorMessages: true,
    });
    await verbose.close();
    telemetry.reset();
    const error = await expectErrorCode(verbose.set("k", 1), "CLOSED");
    const failed = telemetry.one("set");
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: error.message });
    expect(failed.events.map((event) => event.name)).toEqual(["exception"]);
  });

  it("names a loader's own error by its class when it is no taxonomy error", async () => {
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), telemetry.options);
    const thrown = new RangeError("loader broke");
    await expect(cache.getOrSet("k", async () => Promise.reject(thrown))).rejects.toBe(thrown);
    expect(telemetry.one("getOrSet").attributes["error.type"]).toBe("RangeError");
    await cache.close();
  });

  it("passes a non-function loader through, for the adapter to answer as it does undecorated", async () => {
    const plain = createMemoryCache<unknown>({ maxEntries: 100 });
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), telemetry.options);
    const outcome = (call: () => Promise<unknown>) =>
      call().then(
        () => "resolved",
        (error: unknown) => (error as Error).constructor.name,
      );
    const expected = await outcome(() => plain.getOrSet("k", "no loader" as never));
    expect(await outcome(() => cache.getOrSet("k", "no loader" as never))).toBe(expected);
    expect(telemetry.one("getOrSet").attributes["error.type"]).toBe(expected);
    await Promise.all([plain.close(), cache.close()]);
  });
});
