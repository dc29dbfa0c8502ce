import { metrics, trace } from "@opentelemetry/api";
import { createMemoryCache } from "@proj/cache-memory";
import { afterAll, describe, expect, it } from "vitest";
import { INSTRUMENTATION_SCOPE, instrumentCache } from "../src/index.js";
import { TestTelemetry } from "./support/telemetry.js";

// This file owns the global providers of its worker: no other test file shares them.
const telemetry = new TestTelemetry();
afterAll(async () => {
  trace.disable();
  metrics.disable();
  await telemetry.shutdown();
});

describe("with the global providers", () => {
  it("records nothing while no SDK is registered, then starts recording once one is", async () => {
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 10 }));
    const hasMember = cache.hasMember as NonNullable<typeof cache.hasMember>;
    await cache.set("k", 1);
    expect(await cache.get("k")).toBe(1);
    await cache.addMembers?.("s", ["a"]);
    expect(await hasMember("s", "a")).toBe(true);
    expect(telemetry.spans()).toEqual([]);

    // What the Node SDK's start() does, after the decorator was made.
    expect(trace.setGlobalTracerProvider(telemetry.tracerProvider)).toBe(true);
    expect(metrics.setGlobalMeterProvider(telemetry.meterProvider)).toBe(true);
    expect(await cache.get("k")).toBe(1);
    expect(await hasMember("s", "b")).toBe(false);
    expect(telemetry.named("hasMember")).toHaveLength(1);
    const span = telemetry.one("get");
    expect(span.instrumentationScope.name).toBe(INSTRUMENTATION_SCOPE);
    expect(span.attributes["proj.cache.hit"]).toBe(true);
    const points = await telemetry.points();
    const duration = points.find((point) => point.name === "db.client.operation.duration");
    expect(duration?.attributes).toMatchObject({ "db.operation.name": "get", "proj.cache.hit": true });

    // A decorator made after the registration records from its first call.
    const later = instrumentCache(createMemoryCache<unknown>({ maxEntries: 10 }));
    await later.get("k");
    expect(telemetry.named("get")).toHaveLength(2);
    await Promise.all([cache.close(), later.close()]);
  });
});
