import { Readable } from "node:stream";
import { createMemoryDocumentDatabase, createMemoryObjectStorage } from "@proj/adapter-memory";
import { createMemoryCache } from "@proj/cache-memory";
import {
  type ChaosRule,
  createChaos,
  withChaosCache,
  withChaosDocumentDatabase,
  withChaosObjectStorage,
} from "@proj/chaos";
import { collectBytes, expectErrorCode, sleep } from "@proj/contract-tests";
import { withoutBatchWrites, withoutMemberSets } from "@proj/decorator-contracts";
import { type InfrastructureError, isInfrastructureError, isOutcomeUnknown } from "@proj/ports";
import { describe, expect, it } from "vitest";
import {
  createResiliencePolicy,
  type ResilienceEvent,
  type ResilienceOptions,
  withResilienceCache,
  withResilienceDocumentDatabase,
  withResilienceObjectStorage,
} from "../src/index.js";

/** Fast retries and nothing else, unless a test turns more on. */
const BASE: ResilienceOptions = {
  retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5, budget: false },
  timeoutMs: false,
  circuitBreaker: false,
};

/** A memory cache behind chaos behind resilience: faults are injected under the policies. */
function cacheUnder(rules: ChaosRule[], options: ResilienceOptions = {}) {
  const events: ResilienceEvent[] = [];
  const chaos = createChaos({ seed: 7, rules });
  const inner = createMemoryCache<string>({ maxEntries: 100 });
  const policy = createResiliencePolicy({
    ...BASE,
    ...options,
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  const cache = withResilienceCache(withChaosCache(inner, chaos), policy);
  return { chaos, inner, policy, cache, events };
}

/** As `cacheUnder`, over a cache with member sets (`capabilities.memberSets`). */
function setsUnder(rules: ChaosRule[]) {
  const events: ResilienceEvent[] = [];
  const chaos = createChaos({ seed: 7, rules });
  const inner = createMemoryCache<string>({ maxEntries: 100 });
  const cache = withResilienceCache(withChaosCache(inner, chaos), {
    ...BASE,
    onEvent: (event) => events.push(event),
  });
  const addMembers = cache.addMembers as NonNullable<typeof cache.addMembers>;
  const hasMember = cache.hasMember as NonNullable<typeof cache.hasMember>;
  const retries = () => events.filter((event) => event.type === "retry");
  return { chaos, inner, cache, addMembers, hasMember, retries };
}

async function rejection(promise: Promise<unknown>): Promise<InfrastructureError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isInfrastructureError(error)) throw new Error(`expected a taxonomy error, got ${String(error)}`);
  return error;
}

describe("retry", () => {
  it("recovers from injected retryable errors, retrying up to maxAttempts", async () => {
    const { chaos, inner, cache, events } = cacheUnder([
      { operations: "get", error: "UNAVAILABLE", times: 2 },
    ]);
    await inner.set("k", "v");
    expect(await cache.get("k")).toBe("v");
    expect(chaos.injectedCount).toBe(2);
    expect(
      events.filter((event) => event.type === "retry").map((event) => "attempt" in event && event.attempt),
    ).toEqual([1, 2]);
  });

  it("gives up after maxAttempts with the last error", async () => {
    const { chaos, cache } = cacheUnder([{ operations: "get", error: "UNAVAILABLE" }]);
    const error = await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    expect(error.details.injected).toBe(true);
    expect(chaos.injectedCount).toBe(3);
  });

  it("never retries an error whose outcome is unknown", async () => {
    const { chaos, cache } = cacheUnder([
      { operations: "set", error: { code: "UNAVAILABLE", outcome: "unknown" }, phase: "after" },
    ]);
    const error = await rejection(cache.set("k", "v"));
    expect(isOutcomeUnknown(error)).toBe(true);
    expect(error.details.injected).toBe(true);
    expect(chaos.injectedCount).toBe(1);
  });

  it("retries setMany as it retries set, never after an unknown outcome", async () => {
    const { chaos, inner, cache, events } = cacheUnder([
      { name: "down", operations: "setMany", error: "UNAVAILABLE", times: 2 },
      { name: "lost", operations: "setMany", error: { code: "TIMEOUT", outcome: "unknown" }, phase: "after" },
    ]);
    const setMany = cache.setMany as NonNullable<typeof cache.setMany>;
    // Two refusals, then a third attempt whose writes happen and whose reply is lost.
    const error = await rejection(
      setMany([
        { key: "a", value: "1" },
        { key: "b", value: "2" },
      ]),
    );
    expect(isOutcomeUnknown(error)).toBe(true);
    expect(events.filter((event) => event.type === "retry")).toHaveLength(2);
    expect(chaos.injections.map((injection) => injection.rule)).toEqual([
      "down",
      "lost",
      "down",
      "lost",
      "lost",
    ]);
    expect(await inner.get("a")).toBe("1");
    expect(await inner.get("b")).toBe("2");
  });

  it("offers setMany exactly when the adapter does", async () => {
    const inner = createMemoryCache<string>({ maxEntries: 10 });
    expect(typeof withResilienceCache(inner, BASE).setMany).toBe("function");
    const single = withResilienceCache(withoutBatchWrites(inner), BASE);
    expect("setMany" in single).toBe(false);
    expect(single.capabilities.batchWrites).toBe(false);
    await inner.close();
  });

  it("retries addMembers after refusals and after an unknown outcome: adding again is harmless", async () => {
    const { chaos, inner, addMembers, retries } = setsUnder([
      { name: "down", operations: "addMembers", error: "UNAVAILABLE", times: 1 },
      {
        name: "lost",
        operations: "addMembers",
        error: { code: "TIMEOUT", outcome: "unknown" },
        phase: "after",
        times: 2,
      },
    ]);
    // A refusal, then an attempt whose members are added and whose reply is lost, then one that
    // adds them again and answers.
    await addMembers("seen", ["a", "b"], { ttlMs: 60_000 });
    expect(retries()).toHaveLength(2);
    expect(retries()[1]?.error.details.outcome).toBe("unknown");
    expect(chaos.injections.map((injection) => injection.rule)).toEqual(["down", "lost", "lost"]);
    expect(await inner.hasMember?.("seen", "a")).toBe(true);
    expect(await inner.hasMember?.("seen", "b")).toBe(true);
  });

  it("gives up on addMembers after maxAttempts of unknown outcomes, and never retries a cancellation", async () => {
    const lost = setsUnder([
      { operations: "addMembers", error: { code: "UNAVAILABLE", outcome: "unknown" }, phase: "after" },
    ]);
    const error = await rejection(lost.addMembers("seen", ["a"]));
    expect(isOutcomeUnknown(error)).toBe(true);
    expect(lost.retries()).toHaveLength(2);
    expect(lost.chaos.injectedCount).toBe(3);
    const cancelled = setsUnder([
      { operations: "addMembers", error: { code: "CANCELLED", outcome: "unknown" }, phase: "after" },
    ]);
    const stopped = await rejection(cancelled.addMembers("seen", ["a"]));
    expect(stopped.code).toBe("CANCELLED");
    expect(cancelled.retries()).toHaveLength(0);
    expect(cancelled.chaos.injectedCount).toBe(1);
  });

  it("never retries set after an unknown outcome, where addMembers is", async () => {
    const rule: ChaosRule = {
      operations: ["set", "addMembers"],
      error: { code: "TIMEOUT", outcome: "unknown" },
      phase: "after",
      times: 2,
    };
    const { cache, addMembers, retries } = setsUnder([rule]);
    const error = await rejection(cache.set("k", "v"));
    expect(isOutcomeUnknown(error)).toBe(true);
    expect(retries()).toHaveLength(0);
    await addMembers("seen", ["a"]);
    expect(retries()).toHaveLength(1);
  });

  it("retries hasMember as it retries has", async () => {
    const { chaos, inner, hasMember, retries } = setsUnder([
      { operations: "hasMember", error: "UNAVAILABLE", times: 2 },
    ]);
    await inner.addMembers?.("seen", ["a"]);
    expect(await hasMember("seen", "a")).toBe(true);
    expect(retries()).toHaveLength(2);
    expect(chaos.injectedCount).toBe(2);
  });

  it("offers addMembers and hasMember exactly when the adapter does", async () => {
    const inner = createMemoryCache<string>({ maxEntries: 10 });
    const withSets = withResilienceCache(inner, BASE);
    expect(typeof withSets.addMembers).toBe("function");
    expect(typeof withSets.hasMember).toBe("function");
    expect(withSets.capabilities.memberSets).toBe(true);
    const without = withResilienceCache(withoutMemberSets(inner), BASE);
    expect("addMembers" in without).toBe(false);
    expect("hasMember" in without).toBe(false);
    expect(without.capabilities.memberSets).toBe(false);
    await inner.close();
  });

  it("never retries an error that is not retryable", async () => {
    const { chaos, cache } = cacheUnder([{ operations: "get", error: "PERMISSION_DENIED" }]);
    await expectErrorCode(cache.get("k"), "PERMISSION_DENIED");
    expect(chaos.injectedCount).toBe(1);
  });

  it("never retries a write that is not idempotent, even for a retryable error", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [{ operations: "insertOne", error: "UNAVAILABLE", phase: "after", times: 1 }],
    });
    const inner = createMemoryDocumentDatabase();
    const db = withResilienceDocumentDatabase(withChaosDocumentDatabase(inner, chaos), BASE);
    // The insert happened, its reply was lost: a retry would store a second document.
    await expectErrorCode(db.collection("orders").insertOne({ total: 10 }), "UNAVAILABLE");
    expect(chaos.injectedCount).toBe(1);
    expect(await inner.collection("orders").count()).toBe(1);
  });

  it("retries an idempotent delete of many documents, which leaves the same state", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [{ operations: "deleteMany", error: "UNAVAILABLE", times: 1 }],
    });
    const inner = createMemoryDocumentDatabase();
    await inner.collection("orders").insertMany([{ total: 1 }, { total: 2 }]);
    const db = withResilienceDocumentDatabase(withChaosDocumentDatabase(inner, chaos), BASE);
    expect(await db.collection("orders").deleteMany({})).toBe(2);
    expect(chaos.injectedCount).toBe(1);
  });

  it("retries a put of bytes, never a put of a stream or a conditional put", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [
        { operations: "put", keys: "a", error: "UNAVAILABLE", times: 1 },
        { operations: "put", keys: /^[bc]$/, error: "UNAVAILABLE" },
      ],
    });
    const storage = withResilienceObjectStorage(
      withChaosObjectStorage(createMemoryObjectStorage(), chaos),
      BASE,
    );
    expect((await storage.put("a", "bytes")).size).toBe(5);
    expect(chaos.injectedCount).toBe(1);
    await expectErrorCode(storage.put("b", Readable.from([Buffer.from("stream")])), "UNAVAILABLE");
    expect(chaos.injectedCount).toBe(2);
    await expectErrorCode(storage.put("c", "x", { ifNoneMatch: "*" }), "UNAVAILABLE");
    expect(chaos.injectedCount).toBe(3);
    expect(await storage.exists("b")).toBe(false);
  });

  it("retries a get that fails before its body is handed over", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ operations: "get", error: "UNAVAILABLE", times: 1 }] });
    const inner = createMemoryObjectStorage();
    await inner.put("k", "0123456789");
    const storage = withResilienceObjectStorage(withChaosObjectStorage(inner, chaos), BASE);
    expect((await collectBytes((await storage.get("k")).body)).toString()).toBe("0123456789");
    expect(chaos.injectedCount).toBe(1);
  });

  it("never retries a get whose body fails while it is read: bytes were delivered", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [{ operations: "get", error: "UNAVAILABLE", phase: "after", times: 1 }],
    });
    const inner = createMemoryObjectStorage();
    await inner.put("k", "0123456789");
    const storage = withResilienceObjectStorage(withChaosObjectStorage(inner, chaos), BASE);
    const { body } = await storage.get("k");
    const chunks: Buffer[] = [];
    const read = await (async () => {
      for await (const chunk of body) chunks.push(chunk);
    })().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isInfrastructureError(read, "UNAVAILABLE")).toBe(true);
    expect(Buffer.concat(chunks).toString()).toBe("0123456789");
    expect(chaos.injectedCount).toBe(1);
  });

  it("stops at once when the caller aborts during the back-off", async () => {
    const controller = new AbortController();
    const { chaos, cache } = cacheUnder([{ operations: "get", error: "UNAVAILABLE" }], {
      retry: { maxAttempts: 5, initialDelayMs: 5_000, maxDelayMs: 5_000, budget: false },
      onEvent: (event) => {
        if (event.type === "retry") controller.abort();
      },
    });
    const started = performance.now();
    await expectErrorCode(cache.get("k", { signal: controller.signal }), "CANCELLED");
    expect(performance.now() - started).toBeLessThan(1_000);
    await sleep(50);
    expect(chaos.injectedCount).toBe(1);
  });

  it("a retry budget caps retries across calls, and says so", async () => {
    const { chaos, cache, events, policy } = cacheUnder([{ operations: "get", error: "UNAVAILABLE" }], {
      retry: {
        maxAttempts: 3,
        initialDelayMs: 1,
        maxDelayMs: 2,
        budget: { ratio: 0, minRetriesPerSecond: 1, windowMs: 60_000 },
      },
    });
    // The window allows 60 retries in all: 30 calls use them up, the 31st is not retried.
    for (let i = 0; i < 30; i++) await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    expect(chaos.injectedCount).toBe(90);
    expect(policy.stats().retryBudget).toBe(0);
    await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    expect(chaos.injectedCount).toBe(91);
    expect(events.at(-1)?.type).toBe("retry-budget-exhausted");
  });
});

describe("circuit breaker", () => {
  const breaker: ResilienceOptions = {
    retry: false,
    circuitBreaker: { consecutiveFailures: 3, halfOpenAfterMs: 200 },
  };

  it("opens after N consecutive failures and then fails fast without calling the adapter", async () => {
    const { chaos, cache, policy } = cacheUnder([{ operations: "get", error: "UNAVAILABLE" }], breaker);
    for (let i = 0; i < 3; i++) await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    expect(policy.stats().circuit).toBe("open");
    const error = await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    expect(error.details).toMatchObject({ resilience: "circuit-open", port: "cache", operation: "get" });
    expect((error.cause as InfrastructureError).details.injected).toBe(true);
    expect(chaos.injectedCount).toBe(3);
  });

  it("half-opens after its delay, and closes when the probe succeeds", async () => {
    const { chaos, inner, cache, policy, events } = cacheUnder(
      [{ operations: "get", error: "UNAVAILABLE", times: 3 }],
      breaker,
    );
    await inner.set("k", "v");
    for (let i = 0; i < 3; i++) await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    await sleep(250);
    expect(await cache.get("k")).toBe("v");
    expect(policy.stats().circuit).toBe("closed");
    expect(chaos.injectedCount).toBe(3);
    expect(events.map((event) => event.type).filter((type) => type.startsWith("circuit"))).toEqual([
      "circuit-open",
      "circuit-half-open",
      "circuit-closed",
    ]);
  });

  it("opens again when the half-open probe fails", async () => {
    const { chaos, cache, policy } = cacheUnder([{ operations: "get", error: "TIMEOUT" }], breaker);
    for (let i = 0; i < 3; i++) await expectErrorCode(cache.get("k"), "TIMEOUT");
    await sleep(250);
    await expectErrorCode(cache.get("k"), "TIMEOUT");
    expect(chaos.injectedCount).toBe(4);
    expect(policy.stats().circuit).toBe("open");
    expect((await expectErrorCode(cache.get("k"), "UNAVAILABLE")).details.resilience).toBe("circuit-open");
  });

  it("counts no answer (NOT_FOUND, CONFLICT, INVALID_ARGUMENT) and no caller's cancellation as a failure", async () => {
    const { cache, policy } = cacheUnder(
      [
        { operations: "get", error: "NOT_FOUND", times: 3 },
        { operations: "has", error: "CONFLICT", times: 3 },
        { operations: "stats", latencyMs: 1_000 },
      ],
      breaker,
    );
    for (let i = 0; i < 3; i++) await expectErrorCode(cache.get("k"), "NOT_FOUND");
    for (let i = 0; i < 3; i++) await expectErrorCode(cache.has("k"), "CONFLICT");
    for (let i = 0; i < 3; i++) await expectErrorCode(cache.delete(""), "INVALID_ARGUMENT");
    for (let i = 0; i < 3; i++)
      await expectErrorCode(cache.stats({ signal: AbortSignal.timeout(10) }), "TIMEOUT");
    expect(policy.stats().circuit).toBe("closed");
    // The same breaker does open on failures of the backend.
    const { cache: failing, policy: opened } = cacheUnder(
      [{ operations: "get", error: "UNAVAILABLE" }],
      breaker,
    );
    for (let i = 0; i < 3; i++) await expectErrorCode(failing.get("k"), "UNAVAILABLE");
    expect(opened.stats().circuit).toBe("open");
  });

  it("never counts what a getOrSet loader throws, nor retries it", async () => {
    const { cache, policy } = cacheUnder([], { ...breaker, retry: BASE.retry });
    let loads = 0;
    const loader = async () => {
      loads++;
      throw new Error("the loader's own backend is down");
    };
    for (let i = 0; i < 5; i++)
      await expect(cache.getOrSet("k", loader)).rejects.toThrow("loader's own backend");
    expect(loads).toBe(5);
    expect(policy.stats().circuit).toBe("closed");
  });
});

describe("timeout", () => {
  it("aborts the inner call through its signal and rejects with TIMEOUT", async () => {
    const { chaos, cache } = cacheUnder([{ operations: "get", latencyMs: 5_000 }], {
      retry: false,
      timeoutMs: 50,
    });
    const started = performance.now();
    const error = await expectErrorCode(cache.get("k"), "TIMEOUT");
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(error.details).toMatchObject({ resilience: "timeout", timeoutMs: 50, started: true });
    expect(error.retryable).toBe(true);
    expect(error.cause).toBeInstanceOf(Error);
    // The chaos layer under the policy saw its signal fire during the delay.
    expect(chaos.injections).toHaveLength(1);
    expect(chaos.injections[0]?.cancelled).toBe(true);
  });

  it("says the outcome is unknown when a write that is not idempotent timed out", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ operations: "insertOne", latencyMs: 5_000 }] });
    const db = withResilienceDocumentDatabase(
      withChaosDocumentDatabase(createMemoryDocumentDatabase(), chaos),
      {
        ...BASE,
        timeoutMs: 50,
      },
    );
    const error = await expectErrorCode(db.collection("orders").insertOne({ total: 1 }), "TIMEOUT");
    expect(isOutcomeUnknown(error)).toBe(true);
    expect(error.retryable).toBe(false);
    expect(chaos.injections[0]?.cancelled).toBe(true);
  });

  it("retries an idempotent call that timed out", async () => {
    const { chaos, inner, cache } = cacheUnder([{ operations: "get", latencyMs: 5_000, times: 1 }], {
      timeoutMs: 300,
    });
    await inner.set("k", "v");
    expect(await cache.get("k")).toBe("v");
    expect(chaos.injectedCount).toBe(1);
  });

  it("passes a caller's own cancellation through as CANCELLED, unretried", async () => {
    const { chaos, cache } = cacheUnder([{ operations: "get", latencyMs: 5_000 }], { timeoutMs: 1_000 });
    const error = await expectErrorCode(cache.get("k", { signal: AbortSignal.timeout(30) }), "TIMEOUT");
    expect(error.details.resilience).toBeUndefined();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await expectErrorCode(cache.get("k", { signal: controller.signal }), "CANCELLED");
    expect(chaos.injectedCount).toBe(2);
  });

  it("keeps a handed-over body alive past the deadline", async () => {
    const inner = createMemoryObjectStorage();
    await inner.put("k", "content");
    const storage = withResilienceObjectStorage(inner, { ...BASE, timeoutMs: 200 });
    const { body } = await storage.get("k");
    await sleep(300);
    expect((await collectBytes(body)).toString()).toBe("content");
  });
});

describe("bulkhead", () => {
  it("runs maxConcurrent calls, queues maxQueued, and refuses the rest with RESOURCE_EXHAUSTED", async () => {
    const { chaos, inner, cache, policy } = cacheUnder([{ operations: "get", latencyMs: 200 }], {
      retry: false,
      bulkhead: { maxConcurrent: 2, maxQueued: 1 },
    });
    await inner.set("k", "v");
    const calls = [cache.get("k"), cache.get("k"), cache.get("k")];
    expect(policy.stats()).toMatchObject({ running: 2, queued: 1 });
    const refused = await expectErrorCode(cache.get("k"), "RESOURCE_EXHAUSTED");
    expect(refused.details).toMatchObject({ resilience: "bulkhead-full", port: "cache", operation: "get" });
    expect(await Promise.all(calls)).toEqual(["v", "v", "v"]);
    // The refused call never reached the adapter.
    expect(chaos.injectedCount).toBe(3);
    expect(policy.stats()).toMatchObject({ running: 0, queued: 0 });
  });

  it("a call that waits too long for a slot times out as not started, with a known outcome", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ operations: "insertOne", latencyMs: 300 }] });
    const db = withResilienceDocumentDatabase(
      withChaosDocumentDatabase(createMemoryDocumentDatabase(), chaos),
      {
        ...BASE,
        retry: false,
        timeoutMs: 100,
        operationTimeoutsMs: { "documents.insertOne": 1_000 },
        bulkhead: { maxConcurrent: 1, maxQueued: 5 },
      },
    );
    const orders = db.collection("orders");
    const first = orders.insertOne({ n: 1 });
    const waiting = await expectErrorCode(orders.count({}), "TIMEOUT");
    expect(waiting.details).toMatchObject({ resilience: "timeout", started: false });
    expect(isOutcomeUnknown(waiting)).toBe(false);
    await first;
  });

  it("frees the slot of a caller who gives up while queued", async () => {
    const { cache, inner, policy } = cacheUnder([{ operations: "get", latencyMs: 100 }], {
      retry: false,
      bulkhead: { maxConcurrent: 1, maxQueued: 1 },
    });
    await inner.set("k", "v");
    const running = cache.get("k");
    const controller = new AbortController();
    const queued = cache.get("k", { signal: controller.signal });
    controller.abort();
    await expectErrorCode(queued, "CANCELLED");
    expect(await running).toBe("v");
    expect(await cache.get("k")).toBe("v");
    expect(policy.stats()).toMatchObject({ running: 0, queued: 0 });
  });

  it("holds a get body's slot until the body is closed", async () => {
    const inner = createMemoryObjectStorage();
    await inner.put("k", "content");
    const policy = createResiliencePolicy({ ...BASE, bulkhead: { maxConcurrent: 1 } });
    const storage = withResilienceObjectStorage(inner, policy);
    const { body } = await storage.get("k");
    expect(policy.stats().running).toBe(1);
    await expectErrorCode(storage.head("k"), "RESOURCE_EXHAUSTED");
    await collectBytes(body);
    await sleep(10);
    expect(policy.stats().running).toBe(0);
    expect((await storage.head("k")).size).toBe(7);
  });
});

describe("options", () => {
  it.each([
    ["a zero maxAttempts", { retry: { maxAttempts: 0 } }],
    ["a maxDelayMs below initialDelayMs", { retry: { initialDelayMs: 100, maxDelayMs: 10 } }],
    ["a negative timeout", { timeoutMs: -1 }],
    ["a fractional operation timeout", { operationTimeoutsMs: { get: 1.5 } }],
    ["a zero breaker threshold", { circuitBreaker: { consecutiveFailures: 0 } }],
    ["a zero bulkhead", { bulkhead: { maxConcurrent: 0 } }],
    ["a negative queue", { bulkhead: { maxConcurrent: 1, maxQueued: -1 } }],
    ["a budget ratio over 1", { retry: { budget: { ratio: 2 } } }],
  ] as const)("refuses %s with INVALID_ARGUMENT", async (_name, options) => {
    await expectErrorCode(() => createResiliencePolicy(options as ResilienceOptions), "INVALID_ARGUMENT");
  });

  it("reports a throwing event listener as a process warning, and the call goes on", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    try {
      const chaos = createChaos({ seed: 1, rules: [{ operations: "get", error: "UNAVAILABLE", times: 1 }] });
      const inner = createMemoryCache<string>({ maxEntries: 10 });
      await inner.set("k", "v");
      const cache = withResilienceCache(withChaosCache(inner, chaos), {
        ...BASE,
        name: "noisy",
        onEvent: () => {
          throw new Error("listener bug");
        },
      });
      expect(await cache.get("k")).toBe("v");
      await sleep(10);
      expect(
        warnings.some((message) => message.includes('"noisy"') && message.includes("listener bug")),
      ).toBe(true);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
