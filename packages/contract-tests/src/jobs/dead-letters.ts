import { type DeadLetter, InfrastructureError, type JobQueue } from "@proj/ports";
import { expect } from "vitest";
import {
  cancels,
  Deliveries,
  eventually,
  type JobCheck,
  quietFor,
  TEST_BACKOFF,
  transientFailure,
} from "./harness.js";

/** Every dead letter of `queue`, page by page (`limit` per page). */
export async function allDeadLetters(queue: JobQueue, name: string, limit = 100): Promise<DeadLetter[]> {
  const all: DeadLetter[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 1_000; pages++) {
    const page = await queue.listDeadLetters(name, { limit, ...(after === undefined ? {} : { after }) });
    all.push(...page.items);
    if (page.nextCursor === undefined) return all;
    after = page.nextCursor;
  }
  throw new Error("listDeadLetters never ended (1,000 pages)");
}

async function deadLetterOf(queue: JobQueue, name: string, id: string): Promise<DeadLetter> {
  let found: DeadLetter | undefined;
  await eventually(async () => {
    found = (await allDeadLetters(queue, name)).find((dead) => dead.id === id);
    return found !== undefined;
  }, `job ${id} is listed among the dead letters`);
  return found!;
}

/** Dead letters: non-retryable errors, used-up attempts, listing, redrive. */
export const deadLetterChecks: Readonly<Record<string, JobCheck>> = {
  "dead-letters a job at once on a non-retryable error, keeping payload, attempts and the error": async (
    ctx,
  ) => {
    const queue = ctx.name("final");
    const seen = new Deliveries();
    const before = Date.now();
    const { id } = await ctx.queue.enqueue(queue, { bad: "input" }, { maxAttempts: 5 });
    ctx.work(
      ctx.queue,
      queue,
      seen.handler(() => {
        throw new InfrastructureError("INVALID_ARGUMENT", "the report definition is invalid", {
          retryable: false,
        });
      }),
    );
    const dead = await deadLetterOf(ctx.queue, queue, id);
    const after = Date.now();
    expect(dead).toMatchObject({
      id,
      queue,
      payload: { bad: "input" },
      attempts: 1,
      error: { code: "INVALID_ARGUMENT", message: "the report definition is invalid" },
      failedAt: expect.any(Number),
    });
    expect(dead.failedAt).toBeGreaterThanOrEqual(before - 1_000);
    expect(dead.failedAt).toBeLessThanOrEqual(after + 1_000);
    await quietFor(TEST_BACKOFF.maxMs + ctx.resolutionMs);
    expect(seen.of(id), "a non-retryable failure was retried").toHaveLength(1);
  },

  "treats any error marked retryable: false as final, and records INTERNAL for a non-taxonomy error": async (
    ctx,
  ) => {
    const queue = ctx.name("final-plain");
    const seen = new Deliveries();
    const { id } = await ctx.queue.enqueue(queue, { n: 1 }, { maxAttempts: 5 });
    ctx.work(
      ctx.queue,
      queue,
      seen.handler(() => {
        throw Object.assign(new TypeError("cannot read the template"), { retryable: false });
      }),
    );
    const dead = await deadLetterOf(ctx.queue, queue, id);
    expect(dead.attempts).toBe(1);
    expect(dead.error).toEqual({ code: "INTERNAL", message: "cannot read the template" });
    expect(seen.of(id)).toHaveLength(1);
  },

  "dead-letters a job whose last attempt fails, after exactly maxAttempts deliveries": async (ctx) => {
    const queue = ctx.name("used-up");
    const seen = new Deliveries();
    const { id } = await ctx.queue.enqueue(queue, { n: 1 }, { maxAttempts: 2 });
    ctx.work(
      ctx.queue,
      queue,
      seen.handler((delivery) => {
        throw transientFailure(`boom ${delivery.attempt}`);
      }),
    );
    const dead = await deadLetterOf(ctx.queue, queue, id);
    expect(dead).toMatchObject({ id, queue, payload: { n: 1 }, attempts: 2 });
    expect(dead.error).toEqual({ code: "INTERNAL", message: "boom 2" });
    await quietFor(TEST_BACKOFF.maxMs + ctx.resolutionMs);
    expect(seen.of(id).map((s) => s.delivery.attempt)).toEqual([1, 2]);
  },

  "lists dead letters page by page, each once, and only the queue's own": async (ctx) => {
    const queue = ctx.name("dl-pages");
    const other = ctx.name("dl-other");
    const ids = new Set<string>();
    for (let n = 0; n < 5; n++) ids.add((await ctx.queue.enqueue(queue, { n }, { maxAttempts: 1 })).id);
    const { id: stranger } = await ctx.queue.enqueue(other, { n: 99 }, { maxAttempts: 1 });
    const fail = () => {
      throw transientFailure("no");
    };
    ctx.work(ctx.queue, queue, fail, { concurrency: 5 });
    ctx.work(ctx.queue, other, fail);
    await eventually(
      async () => (await allDeadLetters(ctx.queue, queue)).length >= 5,
      "5 jobs are dead letters",
    );
    await deadLetterOf(ctx.queue, other, stranger);
    const listed: string[] = [];
    // What each page held, shown when the check fails.
    const trail: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await ctx.queue.listDeadLetters(queue, {
        limit: 2,
        ...(after === undefined ? {} : { after }),
      });
      pages += 1;
      expect(page.items.length).toBeLessThanOrEqual(2);
      listed.push(...page.items.map((dead) => dead.id));
      trail.push(
        `after ${after ?? "-"}: ${page.items.map((dead) => `${dead.id}@${dead.failedAt}`).join(", ")} -> ${page.nextCursor ?? "end"}`,
      );
      after = page.nextCursor;
      expect(pages, "listDeadLetters keeps handing out cursors").toBeLessThanOrEqual(10);
    } while (after !== undefined);
    expect(pages, "5 dead letters fit on fewer pages of 2 than possible").toBeGreaterThanOrEqual(3);
    expect(listed.sort(), `pages:\n${trail.join("\n")}`).toEqual([...ids].sort());
    expect(await ctx.queue.listDeadLetters(ctx.name("dl-empty"))).toEqual({ items: [] });
  },

  "redrives a dead letter: true, gone from the list, delivered again with a fresh set of attempts": async (
    ctx,
  ) => {
    const queue = ctx.name("redrive");
    const seen = new Deliveries();
    let healed = false;
    const { id } = await ctx.queue.enqueue(queue, { n: 7 }, { maxAttempts: 2 });
    ctx.work(
      ctx.queue,
      queue,
      seen.handler(() => {
        if (!healed) throw transientFailure("not yet");
      }),
    );
    await deadLetterOf(ctx.queue, queue, id);
    expect(seen.of(id)).toHaveLength(2);
    healed = true;
    expect(await ctx.queue.redrive(id)).toBe(true);
    const deliveries = await seen.waitFor(id, 3);
    const again = deliveries[2]!.delivery;
    expect(again.attempt, "a redriven job starts a fresh set of attempts").toBe(1);
    expect(again.maxAttempts).toBe(2);
    expect(again.payload).toEqual({ n: 7 });
    expect((await allDeadLetters(ctx.queue, queue)).map((dead) => dead.id)).not.toContain(id);
    expect(await ctx.queue.redrive(id), "a second redrive of the same job").toBe(false);
    await quietFor(ctx.resolutionMs);
    expect(seen.of(id)).toHaveLength(3);
  },

  "a redriven job that fails again uses up a fresh maxAttempts, then is a dead letter again": async (ctx) => {
    const queue = ctx.name("redrive-again");
    const seen = new Deliveries();
    const { id } = await ctx.queue.enqueue(queue, { n: 1 }, { maxAttempts: 2 });
    ctx.work(
      ctx.queue,
      queue,
      seen.handler(() => {
        throw transientFailure("still broken");
      }),
    );
    await deadLetterOf(ctx.queue, queue, id);
    expect(await ctx.queue.redrive(id)).toBe(true);
    await seen.waitFor(id, 4);
    const dead = await deadLetterOf(ctx.queue, queue, id);
    expect(dead.attempts).toBe(2);
    expect(seen.of(id).map((s) => s.delivery.attempt)).toEqual([1, 2, 1, 2]);
  },

  "redrive returns false for an unknown id and for a job that is not a dead letter": async (ctx) => {
    const queue = ctx.name("redrive-none");
    expect(await ctx.queue.redrive("no-such-job")).toBe(false);
    const { id } = await ctx.queue.enqueue(queue, { n: 1 }, { delayMs: 60_000 });
    expect(await ctx.queue.redrive(id), "a waiting job is not a dead letter").toBe(false);
    if (cancels(ctx)) {
      expect(await ctx.queue.cancel(id)).toBe(true);
      expect(await ctx.queue.redrive(id), "a cancelled job is not a dead letter").toBe(false);
    }
    const seen = new Deliveries();
    const { id: done } = await ctx.queue.enqueue(queue, { n: 2 });
    ctx.work(ctx.queue, queue, seen.handler());
    await seen.waitFor(done);
    await quietFor(100);
    expect(await ctx.queue.redrive(done), "a finished job is not a dead letter").toBe(false);
    await quietFor(ctx.resolutionMs);
    expect(seen.all, "redrive put back a job that was not a dead letter").toHaveLength(1);
  },
};
