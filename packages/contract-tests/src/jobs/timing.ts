import { expect } from "vitest";
import {
  cancelIfOffered,
  Deliveries,
  eventually,
  type JobCheck,
  quietFor,
  SLACK_MS,
  TEST_BACKOFF,
  transientFailure,
} from "./harness.js";

/** The delay of the delay tests: long enough to tell "held back" from "delivered at once". */
const DELAY_MS = 1_500;
/** Timers may round a millisecond down: the only leeway on "not before". */
const EARLY_MS = 5;

/** Delay, retry with back-off, attempt numbers. */
export const timingChecks: Readonly<Record<string, JobCheck>> = {
  "holds a delayed job back at least delayMs and delivers it within resolutionMs after": async (ctx) => {
    const queue = ctx.name("delay");
    const seen = new Deliveries();
    ctx.work(ctx.queue, queue, seen.handler());
    const before = Date.now();
    const { id: delayed } = await ctx.queue.enqueue(queue, { later: true }, { delayMs: DELAY_MS });
    const { id: now } = await ctx.queue.enqueue(queue, { later: false });
    await seen.waitFor(now);
    const [first] = await seen.waitFor(delayed, 1, DELAY_MS + ctx.resolutionMs + SLACK_MS * 5);
    const waited = first!.at - before;
    expect(waited, "delivered before its delay").toBeGreaterThanOrEqual(DELAY_MS - EARLY_MS);
    expect(waited, "delivered long after its delay").toBeLessThanOrEqual(
      DELAY_MS + ctx.resolutionMs + SLACK_MS,
    );
    expect(first!.delivery.attempt).toBe(1);
  },

  "delivers a job delayed before any worker started, once one starts": async (ctx) => {
    const queue = ctx.name("delay-idle");
    const { id } = await ctx.queue.enqueue(queue, { n: 1 }, { delayMs: 200 });
    await quietFor(400);
    const seen = new Deliveries();
    ctx.work(ctx.queue, queue, seen.handler());
    await seen.waitFor(id, 1, ctx.resolutionMs + SLACK_MS * 3);
  },

  "retries a failed attempt as a new delivery with attempt + 1, after at most the back-off": async (ctx) => {
    const queue = ctx.name("retry");
    const seen = new Deliveries();
    const { id } = await ctx.queue.enqueue(queue, { retry: "me" }, { maxAttempts: 4 });
    ctx.work(
      ctx.queue,
      queue,
      seen.handler((delivery) => {
        if (delivery.attempt < 3) throw transientFailure(`attempt ${delivery.attempt} failed`);
      }),
    );
    const deliveries = await seen.waitFor(id, 3);
    // The third attempt succeeded: no fourth.
    await quietFor(TEST_BACKOFF.maxMs + ctx.resolutionMs);
    expect(seen.of(id).map((s) => s.delivery.attempt)).toEqual([1, 2, 3]);
    for (const { delivery } of deliveries) {
      expect(delivery.id).toBe(id);
      expect(delivery.payload).toEqual({ retry: "me" });
      expect(delivery.maxAttempts).toBe(4);
    }
    for (let i = 1; i < deliveries.length; i++) {
      const gap = deliveries[i]!.at - deliveries[i - 1]!.at;
      expect(gap, `gap before attempt ${i + 1}`).toBeLessThanOrEqual(
        TEST_BACKOFF.maxMs + ctx.resolutionMs + SLACK_MS,
      );
    }
    const dead = await ctx.queue.listDeadLetters(queue);
    expect(dead.items).toHaveLength(0);
  },

  "waits out the back-off before a retry (a long back-off holds retries back)": async (ctx) => {
    const queue = ctx.name("backoff");
    const seen = new Deliveries();
    const ids = await Promise.all(
      Array.from({ length: 5 }, async (_, n) => (await ctx.queue.enqueue(queue, { n })).id),
    );
    ctx.work(
      ctx.queue,
      queue,
      seen.handler(() => {
        throw transientFailure();
      }),
      { concurrency: 5, backoff: { initialMs: 600_000, maxMs: 600_000 } },
    );
    await eventually(() => ids.every((id) => seen.of(id).length >= 1), "each job's first attempt ran");
    await quietFor(2 * ctx.resolutionMs);
    // Each retry waits a uniform draw from [0, 600 s): a handful may come back within seconds by
    // chance (about 1 in 300 each), three or more out of five essentially never.
    const retried = ids.filter((id) => seen.of(id).length > 1);
    expect(retried.length, "jobs retried at once despite a 10-minute back-off").toBeLessThan(3);
    for (const id of ids) await cancelIfOffered(ctx, id);
  },
};
