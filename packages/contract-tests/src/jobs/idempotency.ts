import { DEFAULT_IDEMPOTENCY_WINDOW_MS } from "@proj/ports";
import { expect } from "vitest";
import { cancels, Deliveries, type JobCheck, quietFor, TEST_BACKOFF } from "./harness.js";

/** Idempotency keys, sequential and concurrent. */
export const idempotencyChecks: Readonly<Record<string, JobCheck>> = {
  "states an idempotency window of at least 24 hours and a positive payload limit": async (ctx) => {
    const { idempotencyWindowMs, maxPayloadBytes, shared } = ctx.queue.capabilities;
    expect(typeof shared).toBe("boolean");
    expect(Number.isSafeInteger(idempotencyWindowMs)).toBe(true);
    expect(idempotencyWindowMs).toBeGreaterThanOrEqual(DEFAULT_IDEMPOTENCY_WINDOW_MS);
    expect(Number.isSafeInteger(maxPayloadBytes)).toBe(true);
    expect(maxPayloadBytes).toBeGreaterThanOrEqual(1_024);
  },

  "a second enqueue with the same key returns the first id, duplicate: true, and enqueues nothing": async (
    ctx,
  ) => {
    const queue = ctx.name("idem");
    const key = `report:${ctx.name("key")}`;
    const first = await ctx.queue.enqueue(queue, { version: 1 }, { idempotencyKey: key });
    expect(first.duplicate).toBe(false);
    const second = await ctx.queue.enqueue(queue, { version: 2 }, { idempotencyKey: key });
    expect(second).toEqual({ id: first.id, duplicate: true });
    const plain = await ctx.queue.enqueue(queue, { version: 3 });
    expect(plain.duplicate).toBe(false);
    expect(plain.id).not.toBe(first.id);
    const seen = new Deliveries();
    ctx.work(ctx.queue, queue, seen.handler(), { concurrency: 2 });
    await seen.waitFor(first.id);
    await seen.waitFor(plain.id);
    // The first job finished: the key still names it.
    const third = await ctx.queue.enqueue(queue, { version: 4 }, { idempotencyKey: key });
    expect(third).toEqual({ id: first.id, duplicate: true });
    await quietFor(ctx.resolutionMs);
    expect(seen.all.map((s) => s.delivery.payload)).toHaveLength(2);
    expect(seen.of(first.id)).toHaveLength(1);
    expect(seen.of(first.id)[0]!.delivery.payload).toEqual({ version: 1 });
  },

  "keeps a key after its job was cancelled or dead-lettered": async (ctx) => {
    const queue = ctx.name("idem-after");
    const cancelled = await ctx.queue.enqueue(
      queue,
      { n: 1 },
      { idempotencyKey: "k-cancel", delayMs: 60_000 },
    );
    if (cancels(ctx)) expect(await ctx.queue.cancel(cancelled.id)).toBe(true);
    expect(await ctx.queue.enqueue(queue, { n: 2 }, { idempotencyKey: "k-cancel" })).toEqual({
      id: cancelled.id,
      duplicate: true,
    });
    const failing = await ctx.queue.enqueue(queue, { n: 3 }, { idempotencyKey: "k-dead", maxAttempts: 1 });
    const seen = new Deliveries();
    ctx.work(
      ctx.queue,
      queue,
      seen.handler(() => {
        throw new Error("fails");
      }),
    );
    await seen.waitFor(failing.id);
    await quietFor(TEST_BACKOFF.maxMs);
    expect(await ctx.queue.enqueue(queue, { n: 4 }, { idempotencyKey: "k-dead" })).toEqual({
      id: failing.id,
      duplicate: true,
    });
    await quietFor(ctx.resolutionMs);
    expect(seen.all, "a duplicate enqueue was delivered").toHaveLength(1);
  },

  "scopes keys to their queue: the same key on another queue is another job": async (ctx) => {
    const a = ctx.name("idem-a");
    const b = ctx.name("idem-b");
    const first = await ctx.queue.enqueue(a, { on: "a" }, { idempotencyKey: "shared-key" });
    const second = await ctx.queue.enqueue(b, { on: "b" }, { idempotencyKey: "shared-key" });
    expect(second.duplicate).toBe(false);
    expect(second.id).not.toBe(first.id);
    const seenB = new Deliveries();
    ctx.work(ctx.queue, b, seenB.handler());
    const [delivery] = await seenB.waitFor(second.id);
    expect(delivery!.delivery.payload).toEqual({ on: "b" });
  },

  "concurrent enqueues with one key create one job: exactly one returns duplicate: false": async (ctx) => {
    const queue = ctx.name("idem-race");
    const peers = await Promise.all([ctx.peer(), ctx.peer()]);
    const key = "one-key-many-callers";
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, n) =>
        (n % 3 === 0 ? ctx.queue : peers[n % 2]!).enqueue(queue, { n }, { idempotencyKey: key }),
      ),
    );
    const fresh = results.filter((r) => !r.duplicate);
    expect(fresh, "callers told they created the job").toHaveLength(1);
    expect(new Set(results.map((r) => r.id))).toEqual(new Set([fresh[0]!.id]));
    const seen = new Deliveries();
    ctx.work(ctx.queue, queue, seen.handler(), { concurrency: 4 });
    await seen.waitFor(fresh[0]!.id);
    await quietFor(ctx.resolutionMs);
    expect(seen.all, "jobs delivered for one idempotency key").toHaveLength(1);
  },

  "accepts keys of any Unicode up to 256 UTF-8 bytes and tells them apart exactly": async (ctx) => {
    const queue = ctx.name("idem-keys");
    const keys = ["a", "A", "a ", "é", "e\u0301", "😀", "x".repeat(256), "é".repeat(128), "k:1", "k:01"];
    const ids = [];
    for (const key of keys) {
      const result = await ctx.queue.enqueue(queue, { key }, { idempotencyKey: key, delayMs: 60_000 });
      expect(result.duplicate, `key ${JSON.stringify(key)} was taken for another`).toBe(false);
      ids.push(result.id);
    }
    for (const [n, key] of keys.entries()) {
      expect(await ctx.queue.enqueue(queue, { again: key }, { idempotencyKey: key })).toEqual({
        id: ids[n],
        duplicate: true,
      });
    }
    if (cancels(ctx)) for (const id of ids) expect(await ctx.queue.cancel(id)).toBe(true);
  },
};
