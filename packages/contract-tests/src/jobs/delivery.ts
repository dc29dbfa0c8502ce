import type { JsonValue } from "@proj/ports";
import { expect } from "vitest";
import {
  Deliveries,
  deferred,
  eventually,
  type JobCheck,
  quietFor,
  SLACK_MS,
  SOON_MS,
  transientFailure,
} from "./harness.js";

/** Payloads of every JSON shape, each with something a careless encoding would change. */
export const PAYLOADS: readonly JsonValue[] = [
  { report: "sales", tenant: "t-1", rows: [1, 2.5, -0.125, 1e21], ok: true, none: null },
  'a plain string with "quotes", \\ and a\nnewline',
  "unicode: é 中文 😀 \u2028 \u0000",
  42,
  -1.5,
  0,
  true,
  false,
  null,
  [],
  {},
  [[[{ deep: [{ deeper: "yes" }] }]]],
  { "": "empty key", "key with spaces": 1, __proto__x: 2, ünï: "cödé" },
  { big: Number.MAX_SAFE_INTEGER, small: Number.MIN_SAFE_INTEGER, tiny: 5e-324 },
];

/** Delivery, payloads and the concurrency limit. */
export const deliveryChecks: Readonly<Record<string, JobCheck>> = {
  "delivers each job once, with its id, queue, attempt 1 and a payload equal to the one enqueued": async (
    ctx,
  ) => {
    const queue = ctx.name("deliver");
    const seen = new Deliveries();
    const enqueued = new Map<string, JsonValue>();
    for (const payload of PAYLOADS) {
      const result = await ctx.queue.enqueue(queue, payload);
      expect(result.duplicate).toBe(false);
      expect(typeof result.id).toBe("string");
      expect(result.id.length).toBeGreaterThan(0);
      enqueued.set(result.id, payload);
    }
    expect(enqueued.size, "every enqueue returns a distinct id").toBe(PAYLOADS.length);
    ctx.work(ctx.queue, queue, seen.handler(), { concurrency: 4 });
    await eventually(() => seen.all.length >= PAYLOADS.length, `all ${PAYLOADS.length} jobs were delivered`);
    // A job acknowledged by its handler is never delivered again.
    await quietFor(ctx.resolutionMs);
    expect(seen.all).toHaveLength(PAYLOADS.length);
    for (const { delivery } of seen.all) {
      expect(enqueued.has(delivery.id), `delivered an id never enqueued: ${delivery.id}`).toBe(true);
      expect(delivery.payload).toStrictEqual(enqueued.get(delivery.id));
      expect(delivery.queue).toBe(queue);
      expect(delivery.attempt).toBe(1);
      expect(delivery.maxAttempts).toBe(3);
      expect(delivery.signal).toBeInstanceOf(AbortSignal);
      expect(delivery.signal.aborted).toBe(false);
    }
    expect(new Set(seen.all.map((s) => s.delivery.id)).size).toBe(PAYLOADS.length);
  },

  "delivers jobs enqueued while a worker waits, and only on the queue it works": async (ctx) => {
    const queue = ctx.name("live");
    const other = ctx.name("other");
    const seen = new Deliveries();
    const strangers = new Deliveries();
    ctx.work(ctx.queue, queue, seen.handler());
    ctx.work(ctx.queue, other, strangers.handler());
    await quietFor(100);
    const { id } = await ctx.queue.enqueue(queue, { n: 1 });
    await seen.waitFor(id);
    const { id: second } = await ctx.queue.enqueue(queue, { n: 2 });
    await seen.waitFor(second);
    expect(strangers.all, "a worker of another queue took a job").toHaveLength(0);
  },

  "hands each delivery a copy: changing the enqueued value or a delivered one changes no job": async (
    ctx,
  ) => {
    const queue = ctx.name("copy");
    const payload = { list: [1, 2], nested: { value: "before" } };
    const { id } = await ctx.queue.enqueue(queue, payload);
    payload.list.push(3);
    payload.nested.value = "after";
    const received: JsonValue[] = [];
    const seen = new Deliveries<{ list: number[]; nested: { value: string } }>();
    ctx.work(
      ctx.queue,
      queue,
      seen.handler((delivery) => {
        received.push(structuredClone(delivery.payload));
        // The first delivery scribbles on its payload, then fails: the retry must not see it.
        delivery.payload.list.push(99);
        delivery.payload.nested.value = "scribbled";
        if (received.length === 1) throw transientFailure("fail once");
      }),
    );
    await seen.waitFor(id, 2);
    expect(received).toStrictEqual([
      { list: [1, 2], nested: { value: "before" } },
      { list: [1, 2], nested: { value: "before" } },
    ]);
  },

  "never runs more handlers at once than the worker's concurrency, and does use it": async (ctx) => {
    const queue = ctx.name("limit");
    const gate = deferred();
    let running = 0;
    let most = 0;
    let started = 0;
    const worker = ctx.work(
      ctx.queue,
      queue,
      async () => {
        running += 1;
        started += 1;
        most = Math.max(most, running);
        try {
          await gate.promise;
        } finally {
          running -= 1;
        }
      },
      { concurrency: 3 },
    );
    try {
      await Promise.all(Array.from({ length: 9 }, (_, n) => ctx.queue.enqueue(queue, { n })));
      await eventually(() => running >= 3, "3 handlers run at once");
      expect(worker.running).toBe(3);
      // Six jobs wait; a worker that ignores its limit takes them meanwhile.
      await quietFor(ctx.resolutionMs);
      expect(most, "handlers running at once").toBe(3);
      expect(started).toBe(3);
    } finally {
      gate.resolve();
    }
    await eventually(
      () => started === 9,
      () => `all 9 jobs were handled (so far ${started})`,
    );
    expect(most, "handlers running at once").toBe(3);
    await eventually(() => worker.running === 0, "the worker reports no running handler", SLACK_MS);
  },

  "runs one handler at a time by default": async (ctx) => {
    const queue = ctx.name("single");
    let running = 0;
    let most = 0;
    let done = 0;
    ctx.work(ctx.queue, queue, async () => {
      running += 1;
      most = Math.max(most, running);
      await quietFor(30);
      running -= 1;
      done += 1;
    });
    await Promise.all(Array.from({ length: 5 }, (_, n) => ctx.queue.enqueue(queue, { n })));
    await eventually(() => done === 5, "5 jobs were handled", SOON_MS);
    expect(most).toBe(1);
  },
};
