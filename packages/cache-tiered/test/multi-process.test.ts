import { createRedisCache } from "@proj/cache-redis";
import { sleep, uniqueName } from "@proj/contract-tests";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildChild, Child } from "./support/children.js";
import { REDIS_URL } from "./support/tiered.js";

/**
 * Four child processes, each with its own tiered cache (memory L1, Redis L2, Redis bus and lock) on
 * one namespace: writes and deletes in one, reads in the others.
 */
const PROCESSES = 4;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe("four processes on one namespace", { timeout: 180_000 }, () => {
  let children: Child[] = [];
  const namespace = uniqueName("tiered_mp");

  beforeAll(async () => {
    const script = await buildChild();
    children = Array.from({ length: PROCESSES }, () => new Child(script));
    await Promise.all(children.map((child) => child.next("ready")));
    for (const child of children) child.send({ cmd: "open", namespace, url: REDIS_URL });
    await Promise.all(children.map((child) => child.next("opened")));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop()));
    const cleaner = createRedisCache({ namespace, url: REDIS_URL });
    await cleaner.clear();
    await cleaner.close();
  });

  it("drops every other process's L1 entry after a write or delete: no stale read once the bus delivered", async () => {
    const keys = ["tenant:1", "tenant:2", "tenant:3", "tenant:4"];
    // Op 5, 10, … deletes; the last op (201) is a set.
    const ops = 201;
    const [writer, ...readers] = children as [Child, ...Child[]];
    for (const reader of readers) reader.send({ cmd: "read", keys, ops });
    await sleep(200);
    writer.send({ cmd: "write", keys, ops, pauseMs: 2 });
    await writer.next("write-done", 150_000);
    await sleep(1_000);
    for (const reader of readers) reader.send({ cmd: "stop-reading" });
    const results = await Promise.all(readers.map((reader) => reader.next("read-done")));

    const delays: number[] = [];
    let reads = 0;
    for (const [index, result] of results.entries()) {
      expect(result.stale, `reader ${index + 1} read values older than what the bus delivered`).toEqual([]);
      expect(result.staleCount).toBe(0);
      for (const key of keys) {
        expect((result.messages as Record<string, number>)[key], `reader ${index + 1}, ${key}`).toBe(ops);
      }
      reads += result.reads as number;
      delays.push(...(result.delays as number[]));
    }
    expect(reads).toBeGreaterThan(0);
    delays.sort((a, b) => a - b);
    const p50 = percentile(delays, 50);
    const p99 = percentile(delays, 99);
    console.log(
      `invalidation delay over ${delays.length} deliveries to ${readers.length} processes: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${delays.at(-1)!.toFixed(2)} ms; ${reads} reads, 0 stale`,
    );
    // The healthy-bus bound: far below the staleness bound of a bus outage (maxStaleMs, 5 s).
    expect(p99).toBeLessThan(5_000);

    for (const reader of readers) reader.send({ cmd: "final", keys });
    for (const final of await Promise.all(readers.map((reader) => reader.next("final")))) {
      expect(final.values).toEqual(keys.map(() => ({ n: ops })));
    }
  });

  it("runs one loader for 1,000 concurrent misses of one key over the four processes", async () => {
    const key = `stampede:${uniqueName("k")}`;
    const startAt = Date.now() + 500;
    for (const child of children)
      child.send({ cmd: "stampede", keys: [key], perKey: 250, loaderMs: 200, startAt });
    const results = await Promise.all(children.map((child) => child.next("stampede-done")));
    const loaderCalls = results.reduce((sum, result) => sum + (result.loaderCalls as number), 0);
    const calls = results.reduce((sum, result) => sum + (result.calls as number), 0);
    console.log(
      `1 key: ${calls} concurrent misses over ${PROCESSES} processes -> ${loaderCalls} loader call(s)`,
    );
    expect(calls).toBe(1_000);
    for (const result of results) expect(result.wrong).toBe(0);
    expect(loaderCalls).toBeGreaterThanOrEqual(1);
    expect(loaderCalls).toBeLessThanOrEqual(2);
  });

  it("runs one loader per key for 1,000 concurrent misses over ten keys and four processes", async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `spread:${i}:${uniqueName("k")}`);
    const startAt = Date.now() + 500;
    for (const child of children) child.send({ cmd: "stampede", keys, perKey: 25, loaderMs: 200, startAt });
    const results = await Promise.all(children.map((child) => child.next("stampede-done")));
    const loaderCalls = results.reduce((sum, result) => sum + (result.loaderCalls as number), 0);
    const calls = results.reduce((sum, result) => sum + (result.calls as number), 0);
    console.log(
      `10 keys: ${calls} concurrent misses over ${PROCESSES} processes -> ${loaderCalls} loader call(s)`,
    );
    expect(calls).toBe(1_000);
    for (const result of results) expect(result.wrong).toBe(0);
    expect(loaderCalls).toBeGreaterThanOrEqual(10);
    expect(loaderCalls).toBeLessThanOrEqual(12);
  });

  it("for comparison, without the lock: one loader per process", async () => {
    const unlocked = `${namespace}_nolock`;
    for (const child of children)
      child.send({ cmd: "open", namespace: unlocked, url: REDIS_URL, noLock: true });
    await Promise.all(children.map((child) => child.next("opened")));
    try {
      const key = `stampede:${uniqueName("k")}`;
      const startAt = Date.now() + 500;
      for (const child of children)
        child.send({ cmd: "stampede", keys: [key], perKey: 250, loaderMs: 200, startAt });
      const results = await Promise.all(children.map((child) => child.next("stampede-done")));
      const loaderCalls = results.reduce((sum, result) => sum + (result.loaderCalls as number), 0);
      console.log(
        `without the lock: 1,000 concurrent misses over ${PROCESSES} processes -> ${loaderCalls} loader calls`,
      );
      for (const result of results) expect(result.loaderCalls, "one flight per key in each process").toBe(1);
    } finally {
      const cleaner = createRedisCache({ namespace: unlocked, url: REDIS_URL });
      await cleaner.clear();
      await cleaner.close();
    }
  });
});
