import { isInfrastructureError } from "@proj/ports";
import { expect } from "vitest";
import { expectErrorCode } from "../harness.js";
import { allDeadLetters } from "./dead-letters.js";
import {
  cancels,
  Deliveries,
  deferred,
  eventually,
  type JobCheck,
  quietFor,
  requireCancel,
  SLACK_MS,
  TEST_BACKOFF,
  TEST_LEASE_MS,
  transientFailure,
} from "./harness.js";

/** `cancel` of waiting, delayed, retrying and running jobs, and of jobs it cannot cancel. */
export const cancelChecks: Readonly<Record<string, JobCheck>> = {
  "cancels a delayed job: true, then it is never delivered": async (ctx) => {
    requireCancel(ctx);
    const queue = ctx.name("cancel-delayed");
    const seen = new Deliveries();
    ctx.work(ctx.queue, queue, seen.handler());
    // Long enough for a slow broker's cancel to come well before the job is due.
    const { id } = await ctx.queue.enqueue(queue, { n: 1 }, { delayMs: 2_000 });
    const { id: kept } = await ctx.queue.enqueue(queue, { n: 2 }, { delayMs: 2_000 });
    expect(await ctx.queue.cancel(id)).toBe(true);
    await seen.waitFor(kept, 1, 2_000 + ctx.resolutionMs + SLACK_MS * 3);
    await quietFor(ctx.resolutionMs);
    expect(seen.of(id), "a cancelled job was delivered").toHaveLength(0);
    expect(await ctx.queue.cancel(id), "cancelling it again").toBe(false);
  },

  "cancels a queued job before a worker takes it": async (ctx) => {
    requireCancel(ctx);
    const queue = ctx.name("cancel-queued");
    const { id } = await ctx.queue.enqueue(queue, { n: 1 });
    const { id: kept } = await ctx.queue.enqueue(queue, { n: 2 });
    expect(await ctx.queue.cancel(id)).toBe(true);
    const seen = new Deliveries();
    ctx.work(ctx.queue, queue, seen.handler());
    await seen.waitFor(kept);
    await quietFor(ctx.resolutionMs);
    expect(seen.of(id), "a cancelled job was delivered").toHaveLength(0);
  },

  "cancels a job waiting between attempts: true, then it is never delivered again": async (ctx) => {
    requireCancel(ctx);
    const queue = ctx.name("cancel-retry");
    const seen = new Deliveries();
    const { id } = await ctx.queue.enqueue(queue, { n: 1 }, { maxAttempts: 5 });
    ctx.work(
      ctx.queue,
      queue,
      seen.handler((delivery) => {
        if (delivery.attempt === 1) throw transientFailure();
        // Should the retry come before the cancel, it is a running job: it stops when told.
        return new Promise<void>((_resolve, reject) => {
          delivery.signal.addEventListener("abort", () => reject(delivery.signal.reason), { once: true });
        });
      }),
      // The retry is due within 3 s: room to cancel it while it waits.
      { backoff: { initialMs: 3_000, maxMs: 3_000 } },
    );
    await seen.waitFor(id);
    expect(await ctx.queue.cancel(id)).toBe(true);
    const deliveredBeforeCancel = seen.of(id).length;
    await quietFor(3_000 + ctx.resolutionMs);
    expect(seen.of(id), "delivered again after cancel").toHaveLength(deliveredBeforeCancel);
    expect((await allDeadLetters(ctx.queue, queue)).map((d) => d.id)).not.toContain(id);
  },

  "cancels a running job: true, its signal fires with CANCELLED, and it is never delivered again": async (
    ctx,
  ) => {
    requireCancel(ctx);
    const queue = ctx.name("cancel-running");
    const seen = new Deliveries();
    const reason = deferred<unknown>();
    const { id } = await ctx.queue.enqueue(queue, { n: 1 });
    ctx.work(
      ctx.queue,
      queue,
      seen.handler(
        (delivery) =>
          new Promise<void>((_resolve, reject) => {
            delivery.signal.addEventListener(
              "abort",
              () => {
                reason.resolve(delivery.signal.reason);
                reject(delivery.signal.reason);
              },
              { once: true },
            );
          }),
      ),
      { leaseMs: TEST_LEASE_MS },
    );
    await seen.waitFor(id);
    expect(await ctx.queue.cancel(id)).toBe(true);
    const timer = setTimeout(
      () => reason.reject(new Error("the running handler's signal did not fire after cancel")),
      TEST_LEASE_MS + ctx.resolutionMs + SLACK_MS,
    );
    const why = await reason.promise.finally(() => clearTimeout(timer));
    expect(isInfrastructureError(why, "CANCELLED"), `signal reason: ${String(why)}`).toBe(true);
    await quietFor(TEST_BACKOFF.maxMs + ctx.resolutionMs);
    expect(seen.of(id), "a cancelled job was delivered again").toHaveLength(1);
    expect((await allDeadLetters(ctx.queue, queue)).map((d) => d.id)).not.toContain(id);
    expect(await ctx.queue.cancel(id)).toBe(false);
  },

  "returns false for an unknown id, a finished job and a dead letter": async (ctx) => {
    requireCancel(ctx);
    const queue = ctx.name("cancel-false");
    expect(await ctx.queue.cancel("no-such-job")).toBe(false);
    const seen = new Deliveries();
    const { id: done } = await ctx.queue.enqueue(queue, { ok: true });
    const { id: dead } = await ctx.queue.enqueue(queue, { ok: false }, { maxAttempts: 1 });
    ctx.work(
      ctx.queue,
      queue,
      seen.handler((delivery) => {
        if (delivery.id === dead) throw transientFailure();
      }),
    );
    await seen.waitFor(done);
    await eventually(
      async () => (await allDeadLetters(ctx.queue, queue)).some((d) => d.id === dead),
      "the failing job is a dead letter",
    );
    await quietFor(100);
    expect(await ctx.queue.cancel(done), "a finished job").toBe(false);
    expect(await ctx.queue.cancel(dead), "a dead letter").toBe(false);
    expect(
      (await allDeadLetters(ctx.queue, queue)).map((d) => d.id),
      "cancel removed a dead letter",
    ).toContain(dead);
  },

  "fails cancel with NOT_SUPPORTED when capabilities.cancel is false, and the job still runs": async (
    ctx,
  ) => {
    if (cancels(ctx)) ctx.skip("capabilities.cancel is not false: cancel is offered");
    const queue = ctx.name("cancel-unsupported");
    const { id } = await ctx.queue.enqueue(queue, { n: 1 });
    await expectErrorCode(() => ctx.queue.cancel(id), "NOT_SUPPORTED");
    await expectErrorCode(() => ctx.queue.cancel("no-such-job"), "NOT_SUPPORTED");
    const seen = new Deliveries();
    ctx.work(ctx.queue, queue, seen.handler());
    await seen.waitFor(id);
  },
};
