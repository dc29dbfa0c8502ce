import type { EnqueueOptions, JsonValue, WorkOptions } from "@proj/ports";
import { expect } from "vitest";
import { expectErrorCode } from "../harness.js";
import { cancels, Deliveries, type JobCheck, quietFor } from "./harness.js";

const BAD_QUEUE_NAMES: readonly unknown[] = [
  "",
  "has space",
  "-leading-dash",
  "_leading_underscore",
  "dot.ted",
  "slash/ed",
  "colon:ed",
  "é",
  "q".repeat(65),
  "new\nline",
  undefined,
  42,
];

function cycle(): JsonValue {
  const value: Record<string, unknown> = { a: 1 };
  value.self = value;
  return value as JsonValue;
}

/** Values outside JSON, each smuggled past the types as a caller without them would. */
const NOT_JSON: ReadonlyArray<readonly [string, () => unknown]> = [
  ["undefined", () => undefined],
  ["a property holding undefined", () => ({ a: undefined })],
  ["an array holding undefined", () => [1, undefined]],
  ["a function", () => () => 1],
  ["a symbol", () => Symbol("s")],
  ["a bigint", () => 10n],
  ["NaN", () => Number.NaN],
  ["Infinity", () => ({ n: Number.POSITIVE_INFINITY })],
  ["a lone surrogate", () => "\ud800"],
  ["a lone surrogate in a key", () => ({ "\udc00": 1 })],
  ["a Date", () => new Date(0)],
  ["a Map", () => new Map([["a", 1]])],
  ["a class instance", () => new (class Point {})()],
  ["a cycle", cycle],
];

/** Input the port refuses, and the payload size limit. */
export const validationChecks: Readonly<Record<string, JobCheck>> = {
  "refuses a bad queue name with INVALID_ARGUMENT on every call": async (ctx) => {
    for (const name of BAD_QUEUE_NAMES) {
      const queue = name as string;
      await expectErrorCode(() => ctx.queue.enqueue(queue, { n: 1 }), "INVALID_ARGUMENT");
      await expectErrorCode(() => ctx.queue.work(queue, async () => undefined), "INVALID_ARGUMENT");
      await expectErrorCode(() => ctx.queue.listDeadLetters(queue), "INVALID_ARGUMENT");
    }
    // The longest and the oddest names allowed work.
    const longest = ctx.name("l".repeat(46));
    expect(longest).toHaveLength(64);
    for (const name of [longest, ctx.name("0-z")]) {
      const { id } = await ctx.queue.enqueue(name, { n: 1 }, { delayMs: 60_000 });
      if (cancels(ctx)) expect(await ctx.queue.cancel(id)).toBe(true);
    }
  },

  "refuses a payload outside JSON with INVALID_ARGUMENT, and enqueues nothing": async (ctx) => {
    const queue = ctx.name("not-json");
    for (const [what, make] of NOT_JSON) {
      const error = await expectErrorCode(
        () => ctx.queue.enqueue(queue, make() as JsonValue),
        "INVALID_ARGUMENT",
      );
      expect(error.retryable, what).toBe(false);
    }
    const seen = new Deliveries();
    const { id } = await ctx.queue.enqueue(queue, { sentinel: true });
    ctx.work(ctx.queue, queue, seen.handler());
    await seen.waitFor(id);
    await quietFor(ctx.resolutionMs);
    expect(seen.all.map((s) => s.delivery.payload)).toEqual([{ sentinel: true }]);
  },

  "accepts a payload of exactly maxPayloadBytes and refuses one byte more with RESOURCE_EXHAUSTED": async (
    ctx,
  ) => {
    const queue = ctx.name("size");
    const limit = ctx.queue.capabilities.maxPayloadBytes;
    // JSON text of a string is the string plus two quotes; "é" is two UTF-8 bytes.
    const fits = `${"é".repeat(Math.floor((limit - 2) / 2))}${"a".repeat((limit - 2) % 2)}`;
    const over = `${fits}a`;
    const error = await expectErrorCode(() => ctx.queue.enqueue(queue, over), "RESOURCE_EXHAUSTED");
    expect(error.retryable).toBe(false);
    const seen = new Deliveries();
    const { id } = await ctx.queue.enqueue(queue, fits);
    ctx.work(ctx.queue, queue, seen.handler());
    const [delivery] = await seen.waitFor(id);
    expect(delivery!.delivery.payload === fits, "the largest payload came back changed").toBe(true);
    await quietFor(ctx.resolutionMs);
    expect(seen.all).toHaveLength(1);
  },

  "refuses invalid enqueue options with INVALID_ARGUMENT": async (ctx) => {
    const queue = ctx.name("bad-options");
    const bad: EnqueueOptions[] = [
      { delayMs: -1 },
      { delayMs: 1.5 },
      { delayMs: Number.NaN },
      { maxAttempts: 0 },
      { maxAttempts: 2.5 },
      { maxAttempts: 1_001 },
      { idempotencyKey: "" },
      { idempotencyKey: "k".repeat(257) },
      { idempotencyKey: "\ud800" },
      { idempotencyKey: 5 as unknown as string },
      { timeoutMs: 0 },
      { timeoutMs: -5 },
    ];
    for (const options of bad) {
      await expectErrorCode(() => ctx.queue.enqueue(queue, { n: 1 }, options), "INVALID_ARGUMENT");
    }
    expect(await ctx.queue.listDeadLetters(queue)).toEqual({ items: [] });
    const seen = new Deliveries();
    const { id } = await ctx.queue.enqueue(queue, { sentinel: true });
    ctx.work(ctx.queue, queue, seen.handler());
    await seen.waitFor(id);
    await quietFor(ctx.resolutionMs);
    expect(seen.all, "a refused enqueue was delivered").toHaveLength(1);
  },

  "refuses invalid work options and dead-letter page sizes with INVALID_ARGUMENT": async (ctx) => {
    const queue = ctx.name("bad-work");
    const handler = async () => undefined;
    const bad: WorkOptions[] = [
      { concurrency: 0 },
      { concurrency: 1.5 },
      { leaseMs: 999 },
      { leaseMs: 1_000.5 },
      { backoff: { initialMs: 0 } },
      { backoff: { initialMs: 500, maxMs: 100 } },
    ];
    for (const options of bad) {
      await expectErrorCode(() => ctx.queue.work(queue, handler, options), "INVALID_ARGUMENT");
    }
    for (const limit of [0, 1_001, 2.5]) {
      await expectErrorCode(() => ctx.queue.listDeadLetters(queue, { limit }), "INVALID_ARGUMENT");
    }
  },

  "an enqueue whose signal has fired rejects with CANCELLED and enqueues nothing": async (ctx) => {
    const queue = ctx.name("aborted");
    const controller = new AbortController();
    controller.abort();
    await expectErrorCode(
      () => ctx.queue.enqueue(queue, { n: 1 }, { signal: controller.signal }),
      "CANCELLED",
    );
    const seen = new Deliveries();
    const { id } = await ctx.queue.enqueue(queue, { sentinel: true });
    ctx.work(ctx.queue, queue, seen.handler());
    await seen.waitFor(id);
    await quietFor(ctx.resolutionMs);
    expect(seen.all.map((s) => s.delivery.payload)).toEqual([{ sentinel: true }]);
  },
};
