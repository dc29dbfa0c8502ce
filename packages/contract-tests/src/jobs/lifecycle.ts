import { isInfrastructureError, type JobQueue } from "@proj/ports";
import { expect } from "vitest";
import { expectErrorCode } from "../harness.js";
import { cancelIfOffered, Deliveries, deferred, type JobCheck, quietFor, SLACK_MS } from "./harness.js";

/** Every method of the port, called once with valid arguments. */
function everyCall(queue: JobQueue, name: string): Array<readonly [string, () => unknown]> {
  return [
    ["enqueue", () => queue.enqueue(name, { n: 1 })],
    ["work", () => queue.work(name, async () => undefined)],
    ["cancel", () => queue.cancel("some-id")],
    ["listDeadLetters", () => queue.listDeadLetters(name)],
    ["redrive", () => queue.redrive("some-id")],
  ];
}

/** Closing workers and adapters. */
export const lifecycleChecks: Readonly<Record<string, JobCheck>> = {
  "worker.close() stops taking jobs and waits for the running handler, which is acknowledged": async (
    ctx,
  ) => {
    const queue = ctx.name("close-wait");
    const seen = new Deliveries();
    const finish = deferred();
    let finished = false;
    const { id } = await ctx.queue.enqueue(queue, { n: 1 });
    const worker = ctx.work(
      ctx.queue,
      queue,
      seen.handler(async () => {
        await finish.promise;
        finished = true;
      }),
    );
    expect(worker.queue).toBe(queue);
    await seen.waitFor(id);
    expect(worker.running).toBe(1);
    let closed = false;
    const closing = worker.close({ deadlineMs: 30_000 }).then(() => {
      closed = true;
    });
    await quietFor(300);
    expect(closed, "close() resolved while a handler was still running").toBe(false);
    const { id: later } = await ctx.queue.enqueue(queue, { n: 2 });
    finish.resolve();
    await closing;
    expect(finished).toBe(true);
    expect(worker.running).toBe(0);
    await expect(worker.close(), "a second close()").resolves.toBeUndefined();
    await quietFor(ctx.resolutionMs);
    expect(seen.of(later), "a closing worker took a new job").toHaveLength(0);
    // The job finished before close() resolved: a fresh worker gets only the later one.
    const fresh = new Deliveries();
    ctx.work(await ctx.peer(), queue, fresh.handler());
    await fresh.waitFor(later);
    await quietFor(ctx.resolutionMs);
    expect(fresh.of(id), "a job acknowledged before close was delivered again").toHaveLength(0);
  },

  "worker.close() past its deadline fires the handler's signal (CLOSED) and releases the job to another worker":
    async (ctx) => {
      const queue = ctx.name("close-deadline");
      const seen = new Deliveries();
      const reason = deferred<unknown>();
      const { id } = await ctx.queue.enqueue(queue, { n: 1 });
      const worker = ctx.work(
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
      );
      await seen.waitFor(id);
      const started = Date.now();
      await worker.close({ deadlineMs: 300 });
      const took = Date.now() - started;
      expect(took, "close() returned before its deadline").toBeGreaterThanOrEqual(290);
      expect(took, "close() outlived its deadline").toBeLessThan(300 + ctx.resolutionMs + SLACK_MS);
      const why = await Promise.race([reason.promise, quietFor(SLACK_MS).then(() => "no abort")]);
      expect(isInfrastructureError(why, "CLOSED"), `signal reason: ${String(why)}`).toBe(true);
      const other = new Deliveries();
      ctx.work(await ctx.peer(), queue, other.handler());
      const [again] = await other.waitFor(id, 1, ctx.resolutionMs + SLACK_MS * 5);
      expect(again!.delivery.attempt, "the released delivery counts as an attempt").toBe(2);
      expect(again!.delivery.payload).toEqual({ n: 1 });
    },

  "aborting the work signal closes the worker: it takes no more jobs": async (ctx) => {
    const queue = ctx.name("work-signal");
    const seen = new Deliveries();
    const controller = new AbortController();
    const { id } = await ctx.queue.enqueue(queue, { n: 1 });
    const worker = ctx.work(ctx.queue, queue, seen.handler(), { signal: controller.signal });
    await seen.waitFor(id);
    controller.abort();
    await quietFor(100);
    const { id: later } = await ctx.queue.enqueue(queue, { n: 2 });
    await quietFor(ctx.resolutionMs);
    expect(seen.of(later), "a worker whose signal was aborted took a job").toHaveLength(0);
    await expect(worker.close()).resolves.toBeUndefined();
    await cancelIfOffered(ctx, later);
  },

  "JobQueue.close() closes its workers, and waits for their running handlers": async (ctx) => {
    const queue = ctx.name("queue-close");
    const mine = await ctx.harness.create();
    let closedQueue = false;
    try {
      const seen = new Deliveries();
      let finished = false;
      const { id } = await mine.enqueue(queue, { n: 1 });
      const worker = mine.work(
        queue,
        seen.handler(async () => {
          await quietFor(300);
          finished = true;
        }),
      );
      await seen.waitFor(id);
      await mine.close();
      closedQueue = true;
      expect(finished, "close() resolved before the running handler finished").toBe(true);
      expect(worker.running).toBe(0);
      await expect(worker.close()).resolves.toBeUndefined();
    } finally {
      if (!closedQueue) await mine.close();
    }
    await (ctx.harness.destroy ? ctx.harness.destroy(mine) : mine.close());
  },

  "fails every call with CLOSED after close(); close() is idempotent and Symbol.asyncDispose closes": async (
    ctx,
  ) => {
    const queue = ctx.name("closed");
    const first = await ctx.harness.create();
    await first.enqueue(queue, { n: 1 });
    await first.close();
    await expect(first.close(), "a second close()").resolves.toBeUndefined();
    for (const [method, call] of everyCall(first, queue)) {
      const error = await expectErrorCode(call, "CLOSED");
      expect(error.message, method).toBeTruthy();
    }
    const second = await ctx.harness.create();
    await second[Symbol.asyncDispose]();
    await expectErrorCode(() => second.enqueue(queue, { n: 1 }), "CLOSED");
    await (ctx.harness.destroy ? ctx.harness.destroy(first) : first.close());
    await (ctx.harness.destroy ? ctx.harness.destroy(second) : second.close());
  },
};
